//! A signed audit checkpoint every minute.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::state::AppState;

use super::stopped;

/// Writes a signed checkpoint every minute while the chain grows.
pub fn spawn(
    state: AppState,
    mut signal: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = state.audit.checkpoints().write(&state.db).await {
                        tracing::error!(error = %e, "audit checkpoint failed");
                    }
                }
                () = stopped(&mut signal) => return Ok(()),
            }
        }
    })
}
