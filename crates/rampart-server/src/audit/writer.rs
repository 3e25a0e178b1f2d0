//! Group commit for audit events that stand alone (a failed login, a
//! refusal, a read): concurrent appends are collected into one transaction,
//! so one fsync makes a whole batch durable. Each caller is answered only
//! after its batch has committed.
//!
//! Events that belong to a change are appended inside that change's own
//! transaction instead ([`crate::audit::store::append_in`]); both paths take
//! SQLite's write lock, so the chain stays one sequence.

use rampart::audit::{AuditEntry, AuditEvent};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::{audit::store::append_in, store::StoreError};

/// Most events per transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<AuditEntry, String>>;

/// The sending side of the group-commit writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<(AuditEvent, Reply)>,
}

impl AuditWriter {
    /// Starts the writer task over `pool`.
    pub fn start(pool: AnyPool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(pool, rx));
        Self { tx }
    }

    /// Appends `event`; returns once it is durable.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| StoreError::Unavailable("audit writer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("audit writer stopped"))?
            .map_err(StoreError::Batch)
    }
}

impl rampart::audit::AuditSink for AuditWriter {
    type Error = StoreError;

    fn append(
        &self,
        event: AuditEvent,
    ) -> impl std::future::Future<Output = Result<AuditEntry, StoreError>> + Send {
        AuditWriter::append(self, event)
    }
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<(AuditEvent, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        match commit(&pool, &batch).await {
            Ok(entries) => {
                for ((_, reply), entry) in batch.drain(..).zip(entries) {
                    let _ = reply.send(Ok(entry));
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, events = batch.len(), "audit batch failed");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

async fn commit(
    pool: &AnyPool,
    batch: &[(AuditEvent, Reply)],
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut tx = crate::store::begin_write(pool).await?;
    let mut entries = Vec::with_capacity(batch.len());
    for (event, _) in batch {
        entries.push(append_in(&mut tx, event).await?);
    }
    tx.commit().await?;
    Ok(entries)
}
