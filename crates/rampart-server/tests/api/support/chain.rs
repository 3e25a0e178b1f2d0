//! Audit entries written straight into the store, as whoever can write the
//! database could: correctly chained, with any timestamps.

use rampart::audit::{AuditEntry, AuditEvent, EventType};
use sqlx::AnyPool;

/// A pool on `url` (SQLite or PostgreSQL) through sqlx's `Any` driver.
pub(crate) async fn any_pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url).await.unwrap()
}

/// Appends one correctly chained entry per timestamp after the current head
/// (or from the start); returns their seqs.
pub(crate) async fn append_chained(pool: &AnyPool, stamps: &[&str]) -> Vec<i64> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool)
            .await
            .unwrap();
    let (mut seq, mut prev) = head.unwrap_or((0, rampart::audit::GENESIS_HASH.to_owned()));
    let mut seqs = Vec::new();
    for (i, ts) in stamps.iter().enumerate() {
        seq += 1;
        let event = AuditEvent::new(EventType::DataAccess).detail("written_directly", i);
        let entry = AuditEntry::after(seq, prev, ts, &event);
        sqlx::query(
            "INSERT INTO audit_log (seq, ts, event_type, user_id, ip, request_id, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(entry.seq)
        .bind(&entry.ts)
        .bind(&entry.event_type)
        .bind(&entry.user_id)
        .bind(&entry.ip)
        .bind(&entry.request_id)
        .bind(&entry.details)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(pool)
        .await
        .unwrap();
        prev = entry.hash;
        seqs.push(seq);
    }
    seqs
}
