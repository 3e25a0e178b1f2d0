//! Health records: ciphertext only.

use rampart::audit::AuditEvent;
use sqlx::{FromRow, SqlitePool};

use super::{StoreError, audit::append_in, users::now_rfc3339};

/// A stored record; every field is ciphertext.
#[derive(Debug, Clone, FromRow)]
pub struct HealthRow {
    /// Owner.
    pub user_id: i64,
    /// Encrypted diagnosis.
    pub diagnosis: String,
    /// Encrypted JSON array of medications.
    pub medications: String,
    /// Encrypted insurance id.
    pub insurance_id: String,
    /// Encrypted notes.
    pub notes: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// The health-records repository.
#[derive(Debug, Clone)]
pub struct Health {
    pool: SqlitePool,
}

impl Health {
    /// Over `pool`.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Replaces a user's record (all fields already encrypted) with its event.
    pub async fn put(&self, row: &HealthRow, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO health_records (user_id, diagnosis, medications, insurance_id, notes, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET \
             diagnosis = excluded.diagnosis, medications = excluded.medications, \
             insurance_id = excluded.insurance_id, notes = excluded.notes, updated_at = excluded.updated_at",
        )
        .bind(row.user_id)
        .bind(&row.diagnosis)
        .bind(&row.medications)
        .bind(&row.insurance_id)
        .bind(&row.notes)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's record.
    pub async fn get(&self, user_id: i64) -> Result<Option<HealthRow>, StoreError> {
        Ok(sqlx::query_as::<_, HealthRow>(
            "SELECT user_id, diagnosis, medications, insurance_id, notes, updated_at FROM health_records WHERE user_id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
