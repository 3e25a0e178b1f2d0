//! State shared by every handler.

use std::sync::Arc;

use crate::{config::Settings, metrics::Metrics, store::Database};

/// Cheap to clone: everything is behind `Arc`s or pools.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The database.
    pub db: Database,
    /// Metrics registry.
    pub metrics: Metrics,
}
