//! State shared by every handler.

use std::sync::Arc;

use rampart::{jwt::JwtService, password::PasswordHasher};

use crate::{audit::auditor::Auditor, config::Settings, metrics::Metrics, store::Database};

/// What every handler shares, behind one `Arc`: axum clones the state for
/// each extractor of each request, and one reference count is cheaper than
/// one per field. Fields read through `Deref` (`state.db`).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// The fields of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The database.
    pub db: Database,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Access tokens.
    pub jwt: JwtService,
    /// Password hashing with bounded concurrency.
    pub hasher: PasswordHasher,
    /// Rate-limit counters (single instance).
    pub limiter: Arc<crate::limits::Limiter>,
    /// Login lockout state (in memory, or shared in Redis).
    pub lockout: Arc<crate::limits::Lockout>,
    /// Records audit events and alerts on violations.
    pub audit: Auditor,
    /// The payment processor.
    pub processor: crate::payments::processor::Processor,
    /// Field encryption for PHI; replaced when the data keys change.
    pub cipher: Arc<std::sync::RwLock<Arc<rampart::crypto::FieldCipher>>>,
}

impl AppState {
    /// The current PHI cipher.
    pub fn cipher(&self) -> Arc<rampart::crypto::FieldCipher> {
        match self.cipher.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
