//! The server's background tasks, each stopped by the shutdown signal:
//! the auth change feed, signed audit checkpoints, the secrets refresh and
//! the provider's credential keep-alive.

pub mod auth_changes;
pub mod checkpointer;
pub mod keep_alive;
pub mod secrets_refresh;

use tokio::sync::watch;

/// Resolves once shutdown is signalled (or the sender is gone).
pub(crate) async fn stopped(signal: &mut watch::Receiver<bool>) {
    let _ = signal.wait_for(|stop| *stop).await;
}
