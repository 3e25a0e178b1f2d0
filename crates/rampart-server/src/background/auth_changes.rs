//! Follows the auth change log so that a change made by another instance,
//! the CLI or SQL by hand reaches this instance's account cache within
//! [`STALE_AFTER`](crate::store::accounts::STALE_AFTER) (in practice within one poll, 50 ms). While the feed is
//! down the cache answers nothing: every request reads the database.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use tokio::{sync::watch, task::JoinHandle, time::MissedTickBehavior};

use crate::{
    state::AppState,
    store::{
        StoreError,
        changes::{self, ChangeFeed, Changes},
    },
};

use super::stopped;

/// How often the log is read.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// A read that takes longer is a lost feed (the cache stopped answering
/// long before).
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The wait before reconnecting a lost feed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// How often old changes are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Follows the log until shutdown, reconnecting after each loss.
pub fn spawn(
    state: AppState,
    mut signal: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        loop {
            match follow(&state, &mut signal).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    state.db.accounts().lost();
                    tracing::warn!(error = %e, "auth change feed lost: authenticating from the database until it is back");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(RECONNECT_AFTER) => {}
                () = stopped(&mut signal) => return Ok(()),
            }
        }
    })
}

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

async fn timed<T>(read: impl Future<Output = Result<T, StoreError>>) -> Result<T, FeedError> {
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| FeedError::Timeout(READ_TIMEOUT))?
        .map_err(FeedError::from)
}

/// One connection's life: `Ok` at shutdown, `Err` when the feed is lost.
async fn follow(state: &AppState, signal: &mut watch::Receiver<bool>) -> Result<(), FeedError> {
    let cache = state.db.accounts();
    let url = state.settings.storage.database_url.expose_secret();
    let began = Instant::now();
    let mut feed = timed(ChangeFeed::open(url)).await?;
    // Emptied again (a lookup may have filled it while the feed was being
    // lost), so the changes before the feed's start concern nothing in it.
    cache.lost();
    cache.vouch(began);
    tracing::info!("auth change feed following");
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = poll.tick() => {
                let began = Instant::now();
                match timed(feed.read()).await? {
                    Changes::Users(users) => users.into_iter().for_each(|u| cache.forget(u)),
                    // A table was truncated: every account may have changed.
                    Changes::Everyone => cache.lost(),
                }
                cache.vouch(began);
            }
            _ = prune.tick() => {
                // Bounded, so a busy pool or a held lock cannot stop the polls.
                if let Err(e) = timed(changes::prune(state.db.pool())).await {
                    tracing::warn!(error = %e, "old auth changes not pruned");
                }
            }
            () = stopped(signal) => return Ok(()),
        }
    }
}
