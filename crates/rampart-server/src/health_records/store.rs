//! Health records: ciphertext only.

use rampart::audit::AuditEvent;
use sqlx::{AnyPool, FromRow};

use crate::{
    audit::store::{Change, audited},
    domain::UserId,
    store::{StoreError, clock::now_rfc3339},
};

/// A stored record; every field is ciphertext.
#[derive(Debug, Clone, FromRow)]
pub struct HealthRow {
    /// Owner.
    pub user_id: UserId,
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
    pool: AnyPool,
}

impl Health {
    /// Over `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Replaces a user's record (all fields already encrypted) with its event.
    pub async fn put(&self, row: &HealthRow, event: &AuditEvent) -> Result<(), StoreError> {
        audited(&self.pool, async |tx| {
            sqlx::query(
                "INSERT INTO health_records (user_id, diagnosis, medications, insurance_id, notes, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET \
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
            Ok(Change::Made((), event.clone()))
        })
        .await
    }

    /// Every record's owner, for batch jobs.
    pub async fn user_ids(&self) -> Result<Vec<UserId>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM health_records ORDER BY user_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Replaces a record's ciphertexts if they are still `expected` (so a
    /// concurrent write is never overwritten with older data).
    pub async fn replace_ciphertexts(
        &self,
        expected: &HealthRow,
        new: &HealthRow,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE health_records SET diagnosis = $1, medications = $2, insurance_id = $3, notes = $4 \
             WHERE user_id = $5 AND diagnosis = $6 AND medications = $7 AND insurance_id = $8 AND notes = $9",
        )
        .bind(&new.diagnosis)
        .bind(&new.medications)
        .bind(&new.insurance_id)
        .bind(&new.notes)
        .bind(expected.user_id)
        .bind(&expected.diagnosis)
        .bind(&expected.medications)
        .bind(&expected.insurance_id)
        .bind(&expected.notes)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A user's record.
    pub async fn get(&self, user_id: UserId) -> Result<Option<HealthRow>, StoreError> {
        Ok(sqlx::query_as::<_, HealthRow>(
            "SELECT user_id, diagnosis, medications, insurance_id, notes, updated_at FROM health_records WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

impl crate::store::Database {
    /// The health-records repository.
    pub fn health(&self) -> Health {
        Health::new(self.pool().clone())
    }
}
