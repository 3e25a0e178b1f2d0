//! State shared by every handler.

use std::sync::Arc;

use rampart::{jwt::JwtService, password::PasswordHasher};

use crate::{audit::auditor::Auditor, config::Settings, metrics::Metrics, store::Database};

/// Cheap to clone: everything is behind `Arc`s or pools.
#[derive(Debug, Clone)]
pub struct AppState {
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
