//! Orders.

use sqlx::{AnyPool, FromRow};

use rampart::audit::AuditEvent;

use crate::{
    audit::store::{Change, audited},
    domain::{PageRequest, UserId},
    store::{StoreError, clock::now_rfc3339},
};

/// A stored order.
#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    /// Id.
    pub id: i64,
    /// Owner; `None` once the owner's account is gone.
    pub user_id: Option<UserId>,
    /// Item name.
    pub item: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price in cents.
    pub unit_price_cents: i64,
    /// quantity × unit price.
    pub total_cents: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const COLUMNS: &str = "id, user_id, item, quantity, unit_price_cents, total_cents, created_at";

/// Escapes `%`, `_` and `\\` so a user's text matches literally in
/// `LIKE … ESCAPE '\\'`.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The orders repository.
#[derive(Debug, Clone)]
pub struct Orders {
    pool: AnyPool,
}

impl Orders {
    /// The repository over `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Creates an order; the total is computed here, never taken from the client.
    pub async fn insert(
        &self,
        user_id: UserId,
        item: &str,
        quantity: i64,
        unit_price_cents: i64,
        event: AuditEvent,
    ) -> Result<OrderRow, StoreError> {
        audited(&self.pool, async |tx| {
            let sql = format!(
                "INSERT INTO orders (user_id, item, quantity, unit_price_cents, total_cents, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            );
            let row = sqlx::query_as::<_, OrderRow>(&sql)
                .bind(user_id)
                .bind(item)
                .bind(quantity)
                .bind(unit_price_cents)
                .bind(quantity * unit_price_cents)
                .bind(now_rfc3339())
                .fetch_one(&mut *tx)
                .await?;
            let event = event.detail("order_id", row.id);
            Ok(Change::Made(row, event))
        })
        .await
    }

    /// One order.
    pub async fn by_id(&self, id: i64) -> Result<Option<OrderRow>, StoreError> {
        crate::store::row_by_id(&self.pool, "orders", COLUMNS, id).await
    }

    /// A page of a user's orders, newest first, with ids below `before`;
    /// fetches `limit + 1` so the caller knows whether a next page exists.
    pub async fn page(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> Result<Vec<OrderRow>, StoreError> {
        crate::store::user_page(&self.pool, "orders", COLUMNS, user_id, page).await
    }

    /// A page of a user's orders whose item contains `text` literally.
    pub async fn search(
        &self,
        user_id: UserId,
        text: &str,
        page: PageRequest,
    ) -> Result<Vec<OrderRow>, StoreError> {
        let sql = format!(
            // lower() on both sides: SQLite's LIKE ignores ASCII case,
            // PostgreSQL's does not; this way both behave the same.
            "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND lower(item) LIKE lower($2) ESCAPE '\\' AND id < $3 \
             ORDER BY id DESC LIMIT $4"
        );
        Ok(sqlx::query_as::<_, OrderRow>(&sql)
            .bind(user_id)
            .bind(like_literal(text))
            .bind(page.before.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await?)
    }
}

impl crate::store::Database {
    /// The orders repository.
    pub fn orders(&self) -> Orders {
        Orders::new(self.pool().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_literal("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_literal("' OR 1=1 --"), "%' OR 1=1 --%");
    }
}
