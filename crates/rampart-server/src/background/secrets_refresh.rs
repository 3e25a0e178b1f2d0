//! The periodic re-read of the secrets provider: signing-key rotation by
//! `kid`, data-key changes, and the retirement of replaced signing keys.

use std::{sync::Arc, time::Duration};

use secrecy::ExposeSecret;
use tokio::{sync::watch, task::JoinHandle};

use crate::{config::DataKeys, state::AppState};

use super::stopped;

/// Re-reads the secrets provider every `RAMPART_SECRETS_REFRESH_SECS`: a
/// changed signing key joins the key ring under its own `kid` and signs new
/// tokens (tokens signed before keep verifying until they expire, then the
/// old key leaves the ring); changed data keys replace the cipher (the
/// highest version encrypts). A failed read keeps the last good values and
/// is logged and counted.
pub fn spawn(
    state: AppState,
    mut signal: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.settings.secrets_source.refresh);
        tick.tick().await;
        let mut retired = Retired::default();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    refresh_secrets(&state, &mut retired).await;
                    retired.drop_expired(&state);
                }
                () = stopped(&mut signal) => return Ok(()),
            }
        }
    })
}

/// Signing keys replaced by a rotation, with when they stopped signing. A
/// token they signed is valid for at most the access-token lifetime plus
/// the verifier's leeway; after that the key is dropped from the ring.
#[derive(Default)]
struct Retired(Vec<(String, std::time::Instant)>);

impl Retired {
    fn drop_expired(&mut self, state: &AppState) {
        let grace = state.settings.sessions.access_token_ttl
            + Duration::from_secs(rampart::jwt::MAX_LEEWAY_SECS)
            + Duration::from_secs(1);
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(_, since)| since.elapsed() >= grace);
        self.0 = kept;
        for (kid, _) in expired {
            if state.jwt.update_ring(|ring| ring.remove(&kid)).is_ok() {
                tracing::info!(
                    kid,
                    "retired signing key dropped: its tokens have all expired"
                );
            }
        }
    }
}

async fn refresh_secrets(state: &AppState, retired: &mut Retired) {
    let provider = &state.settings.secrets_source.provider;
    let fetched = provider
        .fetch(crate::config::SECRET_KEYS)
        .await
        .map_err(crate::config::ConfigError::from)
        .and_then(|set| crate::config::Secrets::from_set(&provider.name(), set));
    let secrets = match fetched {
        Ok(s) => s,
        Err(e) => {
            state.metrics.secrets_refresh_failed();
            tracing::warn!(provider = %provider.name(), error = %e, "secrets refresh failed; keeping the last good values");
            return;
        }
    };
    if let Some(key) = &secrets.secret_key {
        let bytes = key.expose_secret().as_bytes();
        let kid = rampart::jwt::key_id(bytes);
        let mut rotated = None;
        let result = state.jwt.update_ring(|ring| {
            let previous = ring.current_kid().to_owned();
            if previous != kid && ring.rotate(bytes).is_ok() {
                rotated = Some(previous);
            }
        });
        if let Some(previous) = &rotated {
            // A key that signs again is no longer retired.
            retired.0.retain(|(k, _)| *k != kid);
            retired
                .0
                .push((previous.clone(), std::time::Instant::now()));
        }
        if result.is_err() {
            state.metrics.secrets_refresh_failed();
        } else if rotated.is_some() {
            tracing::warn!(kid, "signing key changed: new tokens use the new kid");
        }
    } else if !state.settings.secrets_source.key_generated {
        // (A generated development key is not the provider's to refresh.)
        state.metrics.secrets_refresh_failed();
        tracing::warn!(provider = %provider.name(), "secrets refresh found no secret key; keeping the last good one");
    }
    if let Some(Ok(cipher)) = secrets.data_keys.as_ref().map(DataKeys::cipher) {
        if cipher.current_version() != state.cipher().current_version() {
            tracing::warn!(
                version = cipher.current_version(),
                "data keys changed: new values use the new version"
            );
        }
        if let Ok(mut slot) = state.cipher.write() {
            *slot = Arc::new(cipher);
        }
    }
}
