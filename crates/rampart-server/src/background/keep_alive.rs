//! The secrets provider's own credentials, kept alive.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::state::AppState;

use super::stopped;

/// Keeps the provider's own credentials alive (a Vault token is renewed
/// before it expires, or AppRole logs in again). A failure is logged and
/// counted like a failed refresh, and retried after 5 seconds.
pub fn spawn(
    state: AppState,
    mut signal: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let provider = state.settings.secrets_source.provider.clone();
        loop {
            let wait = match provider.keep_alive().await {
                Ok(None) => return Ok(()),
                Ok(Some(next)) => next,
                Err(e) => {
                    state.metrics.secrets_refresh_failed();
                    tracing::warn!(provider = %provider.name(), error = %e, "secrets provider credentials could not be renewed");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(&mut signal) => return Ok(()),
            }
        }
    })
}
