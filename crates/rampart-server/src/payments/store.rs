//! Payments: last four digits and the processor id, never card data.

use rampart::audit::AuditEvent;
use sqlx::{AnyPool, FromRow};

use crate::{
    audit::store::append_in,
    domain::{Currency, IdempotencyKey, Money, PageRequest, UserId},
    store::{
        StoreError,
        clock::{now_rfc3339, unix_now},
    },
};

/// A stored payment.
#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    /// Id.
    pub id: i64,
    /// Owner (null once the account is gone).
    pub user_id: Option<UserId>,
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

/// What claiming an idempotency key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is this request's: charge.
    New,
    /// The key already made this payment: answer it again.
    Replay(PaymentRow),
    /// A request with this key is being charged right now.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

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

    /// Claims `key` for a request with `fingerprint` before the charge is
    /// made, in one write transaction (writers are serialised, so two
    /// requests with one key cannot both claim it). A claim left without a
    /// payment for `stale_secs` (its server stopped mid-charge) may be taken
    /// over; the processor's own idempotency key makes that charge once.
    pub async fn claim(
        &self,
        user_id: UserId,
        key: &IdempotencyKey,
        fingerprint: &str,
        stale_secs: i64,
    ) -> Result<Claim, StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let existing: Option<(String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT fingerprint, payment_id, claimed_at FROM payment_requests \
             WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(user_id)
        .bind(key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let now = unix_now();
        let claim = match existing {
            None => {
                sqlx::query(
                    "INSERT INTO payment_requests (user_id, idempotency_key, fingerprint, payment_id, claimed_at) \
                     VALUES ($1, $2, $3, NULL, $4)",
                )
                .bind(user_id)
                .bind(key.as_str())
                .bind(fingerprint)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Claim::New
            }
            // Keys from before fingerprints were kept match any request.
            Some((stored, _, _)) if !stored.is_empty() && stored != fingerprint => Claim::Mismatch,
            Some((_, Some(payment_id), _)) => {
                let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
                match sqlx::query_as::<_, PaymentRow>(&sql)
                    .bind(payment_id)
                    .fetch_optional(&mut *tx)
                    .await?
                {
                    Some(row) => Claim::Replay(row),
                    None => Claim::InProgress,
                }
            }
            Some((_, None, claimed_at)) if now - claimed_at >= stale_secs => {
                sqlx::query(
                    "UPDATE payment_requests SET claimed_at = $1 WHERE user_id = $2 AND idempotency_key = $3",
                )
                .bind(now)
                .bind(user_id)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await?;
                Claim::New
            }
            Some((_, None, _)) => Claim::InProgress,
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Gives a claim back after a charge that did not happen (declined,
    /// unknown token, processor unavailable), so the client may retry.
    pub async fn release(&self, user_id: UserId, key: &IdempotencyKey) -> Result<(), StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        sqlx::query(
            "DELETE FROM payment_requests WHERE user_id = $1 AND idempotency_key = $2 AND payment_id IS NULL",
        )
        .bind(user_id)
        .bind(key.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a succeeded payment with its `payment` event and completes
    /// the key's claim.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert(
        &self,
        user_id: UserId,
        amount: Money,
        currency: Currency,
        last_four: &str,
        processor_id: &str,
        key: &IdempotencyKey,
        event: AuditEvent,
    ) -> Result<PaymentRow, StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let sql = format!(
            "INSERT INTO payments (user_id, status, amount_cents, currency, last_four, processor_id, idempotency_key, created_at) \
             VALUES ($1, 'succeeded', $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row = sqlx::query_as::<_, PaymentRow>(&sql)
            .bind(user_id)
            .bind(amount.cents())
            .bind(currency.code())
            .bind(last_four)
            .bind(processor_id)
            .bind(key.as_str())
            .bind(now_rfc3339())
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        sqlx::query(
            "UPDATE payment_requests SET payment_id = $1 WHERE user_id = $2 AND idempotency_key = $3",
        )
        .bind(row.id)
        .bind(user_id)
        .bind(key.as_str())
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, &event.detail("payment_id", row.id)).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// One payment.
    pub async fn by_id(&self, id: i64) -> Result<Option<PaymentRow>, StoreError> {
        crate::store::row_by_id(&self.pool, "payments", COLUMNS, id).await
    }

    /// A page of a user's payments, newest first.
    pub async fn page(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        crate::store::user_page(&self.pool, "payments", COLUMNS, user_id, page).await
    }
}

impl crate::store::Database {
    /// The payments repository.
    pub fn payments(&self) -> Payments {
        Payments::new(self.pool().clone())
    }
}
