//! The one path by which the server records an audit event: appended by
//! group commit ([`Auditor::record`]) or inside the change's own
//! transaction (the repositories, then [`Auditor::committed`]); a security
//! violation is then alerted and logged, the same way on both paths.

use rampart::audit::{AuditEntry, AuditEvent, EventType};

use super::{alerts::Alerter, checkpoints::Checkpoints, writer::AuditWriter};
use crate::store::{Database, StoreError};

/// Records events, alerts on violations, and holds the trail's signed
/// checkpoints.
#[derive(Debug, Clone)]
pub struct Auditor {
    writer: AuditWriter,
    alerts: Alerter,
    checkpoints: Checkpoints,
}

impl Auditor {
    /// The auditor of `db`'s trail.
    pub fn new(db: &Database, alerts: Alerter, checkpoints: Checkpoints) -> Self {
        Self {
            writer: AuditWriter::start(db.pool().clone()),
            alerts,
            checkpoints,
        }
    }

    /// Appends `event` to the chain on its own (durable when this returns).
    pub async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        let entry = self.writer.append(event).await?;
        self.committed(&entry);
        Ok(())
    }

    /// [`Auditor::record`] where the answer does not depend on it (the
    /// request is refused either way); a failure is logged.
    pub async fn record_or_log(&self, event: AuditEvent) {
        let kind = event.event_type.as_str();
        if let Err(e) = self.record(event).await {
            tracing::error!(error = %e, event_type = kind, "audit append failed");
        }
    }

    /// What follows a committed entry: a security violation is sent to the
    /// alert webhook and logged at error level. Repositories that append
    /// inside a change's transaction hand their entry here after commit.
    pub fn committed(&self, entry: &AuditEntry) {
        if entry.event_type != EventType::SecurityViolation.as_str() {
            return;
        }
        self.alerts.send(entry);
        tracing::error!(
            target: "rampart::security",
            event_type = entry.event_type,
            seq = entry.seq,
            user_id = entry.user_id,
            ip = entry.ip,
            request_id = entry.request_id,
            details = entry.details,
            "security violation"
        );
    }

    /// The trail's signed checkpoints.
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }
}
