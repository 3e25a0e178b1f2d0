//! Payments: last four digits and the processor id, never card data.

use rampart::audit::AuditEvent;
use sqlx::{AnyPool, FromRow};

use super::{StoreError, audit::append_in, users::now_rfc3339};

/// A stored payment.
#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    /// Id.
    pub id: i64,
    /// Owner (null once the account is gone).
    pub user_id: Option<i64>,
    /// `succeeded`.
    pub status: String,
    /// Amount in minor units.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Last four digits.
    pub last_four: String,
    /// The processor's id.
    pub processor_id: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const COLUMNS: &str =
    "id, user_id, status, amount_cents, currency, last_four, processor_id, created_at";

/// The payments repository.
#[derive(Debug, Clone)]
pub struct Payments {
    pool: AnyPool,
}

impl Payments {
    /// Over `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// The payment a user made with an idempotency key, if any.
    pub async fn by_key(&self, user_id: i64, key: &str) -> Result<Option<PaymentRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM payments WHERE user_id = $1 AND idempotency_key = $2");
        Ok(sqlx::query_as::<_, PaymentRow>(&sql)
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records a succeeded payment with its `payment` event.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert(
        &self,
        user_id: i64,
        amount_cents: i64,
        currency: &str,
        last_four: &str,
        processor_id: &str,
        key: &str,
        event: AuditEvent,
    ) -> Result<PaymentRow, StoreError> {
        let mut tx = super::begin_write(&self.pool).await?;
        let sql = format!(
            "INSERT INTO payments (user_id, status, amount_cents, currency, last_four, processor_id, idempotency_key, created_at) \
             VALUES ($1, 'succeeded', $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row = sqlx::query_as::<_, PaymentRow>(&sql)
            .bind(user_id)
            .bind(amount_cents)
            .bind(currency)
            .bind(last_four)
            .bind(processor_id)
            .bind(key)
            .bind(now_rfc3339())
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        append_in(&mut tx, &event.detail("payment_id", row.id)).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// One payment.
    pub async fn by_id(&self, id: i64) -> Result<Option<PaymentRow>, StoreError> {
        super::row_by_id(&self.pool, "payments", COLUMNS, id).await
    }

    /// A page of a user's payments, newest first.
    pub async fn page(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        super::user_page(&self.pool, "payments", COLUMNS, user_id, before, limit).await
    }
}
