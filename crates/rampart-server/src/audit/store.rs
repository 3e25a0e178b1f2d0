//! The audit chain's table.

use futures_util::TryStreamExt as _;
use rampart::audit::{
    AuditEntry, AuditEvent, ChainVerifier, Checkpoint, CheckpointKind, Verification,
};
use sqlx::{AnyConnection, AnyPool, FromRow};

use crate::store::{StoreError, clock::now_rfc3339};

#[derive(FromRow)]
struct Row {
    seq: i64,
    ts: String,
    event_type: String,
    user_id: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    details: String,
    prev_hash: String,
    hash: String,
}

impl From<Row> for AuditEntry {
    fn from(r: Row) -> Self {
        Self {
            seq: r.seq,
            ts: r.ts,
            event_type: r.event_type,
            user_id: r.user_id,
            ip: r.ip,
            request_id: r.request_id,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// What a change run by [`audited`] did.
#[derive(Debug)]
pub enum Change<T> {
    /// Changed: the event is recorded in the same transaction, which then
    /// commits.
    Made(T, AuditEvent),
    /// Nothing to change (no such row): rolled back, nothing recorded.
    Unchanged(T),
}

/// "Begin write, change, record the audit event, commit" in one place:
/// runs `change` in a write transaction ([`crate::store::begin_write`]) and
/// appends its event in the same transaction, so a change and its audit
/// entry are committed together or not at all.
pub async fn audited<T>(
    pool: &sqlx::AnyPool,
    change: impl AsyncFnOnce(&mut AnyConnection) -> Result<Change<T>, StoreError>,
) -> Result<T, StoreError> {
    let mut tx = crate::store::begin_write(pool).await?;
    match change(&mut tx).await? {
        Change::Made(value, event) => {
            append_in(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(value)
        }
        // Dropping the transaction rolls it back.
        Change::Unchanged(value) => Ok(value),
    }
}

/// Appends `event` inside the caller's transaction, which must have been
/// begun with `BEGIN IMMEDIATE` so no other append can interleave.
pub async fn append_in(
    conn: &mut AnyConnection,
    event: &AuditEvent,
) -> Result<AuditEntry, StoreError> {
    let last: Option<(i64, String, String)> =
        sqlx::query_as("SELECT seq, hash, ts FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    // Time never goes backwards along the chain, even when instances'
    // clocks differ a little: the retention purge relies on it.
    let now = now_rfc3339();
    // A previous time far in the future (a broken clock, a forged entry) is
    // not followed: that entry then shows as time going backwards.
    let (seq, prev, ts) = match last {
        Some((s, h, last_ts)) if last_ts <= in_five_minutes() => (s + 1, h, now.max(last_ts)),
        Some((s, h, _)) => (s + 1, h, now),
        None => (1, rampart::audit::GENESIS_HASH.to_owned(), now),
    };
    let entry = AuditEntry::after(seq, prev, &ts, event);
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
    .execute(&mut *conn)
    .await?;
    Ok(entry)
}

async fn insert_checkpoint(
    conn: &mut AnyConnection,
    kind: CheckpointKind,
    checkpoint: &Checkpoint,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (kind, seq, hash, ts, signature) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (kind, seq) DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(checkpoint.seq)
    .bind(&checkpoint.hash)
    .bind(&checkpoint.ts)
    .bind(&checkpoint.signature)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn in_five_minutes() -> String {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(300);
    humantime::format_rfc3339_seconds(later).to_string()
}

/// Filters of the audit listing.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this user.
    pub user_id: Option<String>,
    /// From this time (RFC 3339, inclusive).
    pub since: Option<String>,
    /// Until this time (RFC 3339, inclusive).
    pub until: Option<String>,
}

/// The audit repository.
#[derive(Debug, Clone)]
pub struct Audit {
    pool: AnyPool,
}

impl Audit {
    /// Over `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Appends one event in its own transaction; durable when it returns.
    pub async fn record(&self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let entry = append_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Newest first, `seq` below `before`, `limit + 1` rows.
    pub async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // Timestamps are fixed-width RFC 3339 UTC, so text order is time order.
        let rows = sqlx::query_as::<_, Row>(
            "SELECT seq, ts, event_type, user_id, ip, request_id, details, prev_hash, hash FROM audit_log \
             WHERE seq < $1 AND ($2 IS NULL OR event_type = $3) AND ($4 IS NULL OR user_id = $5) \
               AND ($6 IS NULL OR ts >= $7) AND ($8 IS NULL OR ts <= $9) \
             ORDER BY seq DESC LIMIT $10",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(&filter.event_type)
        .bind(&filter.event_type)
        .bind(&filter.user_id)
        .bind(&filter.user_id)
        .bind(&filter.since)
        .bind(&filter.since)
        .bind(&filter.until)
        .bind(&filter.until)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    /// Every entry concerning a user, oldest first (for a GDPR export).
    pub async fn for_user(&self, user_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query_as::<_, Row>(
            "SELECT seq, ts, event_type, user_id, ip, request_id, details, prev_hash, hash FROM audit_log \
             WHERE user_id = $1 ORDER BY seq",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    /// The entry a purge of everything older than `cutoff` (RFC 3339)
    /// would end at: the last of the contiguous oldest prefix of entries
    /// older than `cutoff`, never after `at_most` (the newest signed
    /// checkpoint) and never the chain's head.
    pub async fn purge_candidate(
        &self,
        cutoff: &str,
        at_most: i64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, hash FROM audit_log \
             WHERE seq < COALESCE((SELECT min(seq) FROM audit_log WHERE ts >= $1), \
                                  (SELECT max(seq) FROM audit_log)) \
               AND seq < (SELECT max(seq) FROM audit_log) AND seq <= $2 \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(cutoff)
        .bind(at_most)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The first entry after `seq` whose time is earlier than its
    /// predecessor's, if any.
    pub async fn first_time_reversal(&self, after: i64) -> Result<Option<i64>, StoreError> {
        let mut rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT seq, ts FROM audit_log WHERE seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch(&self.pool);
        let mut previous: Option<String> = None;
        while let Some((seq, ts)) = rows.try_next().await? {
            if previous.as_ref().is_some_and(|p| ts < *p) {
                return Ok(Some(seq));
            }
            previous = Some(ts);
        }
        Ok(None)
    }

    /// Deletes the chain's prefix through `anchor.seq`, stores the signed
    /// anchor where every instance reads it, and records `event` — in one
    /// transaction.
    pub async fn purge_through(
        &self,
        anchor: &Checkpoint,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        insert_checkpoint(&mut tx, CheckpointKind::PurgeAnchor, anchor).await?;
        let done = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
            .bind(anchor.seq)
            .execute(&mut *tx)
            .await?;
        append_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Stores a signed checkpoint of `kind` (a repeat is ignored). A head
    /// checkpoint replaces the older heads: it vouches for the same chain
    /// further on (the directory keeps every one).
    pub async fn store_checkpoint(
        &self,
        kind: CheckpointKind,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_checkpoint(&mut conn, kind, checkpoint).await?;
        if kind == CheckpointKind::Head {
            sqlx::query("DELETE FROM audit_checkpoints WHERE kind = $1 AND seq < $2")
                .bind(kind.as_str())
                .bind(checkpoint.seq)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Every stored checkpoint of `kind`, newest first (signatures not yet
    /// checked: the caller skips what its key did not sign).
    pub async fn checkpoints(&self, kind: CheckpointKind) -> Result<Vec<Checkpoint>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, hash, ts, signature FROM audit_checkpoints WHERE kind = $1 ORDER BY seq DESC",
        )
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, hash, ts, signature)| Checkpoint {
                seq,
                hash,
                ts,
                signature,
            })
            .collect())
    }

    /// Walks the chain from an anchor (after a purge) or from the start.
    pub async fn verify_from(
        &self,
        anchor: Option<(i64, String)>,
    ) -> Result<Verification, StoreError> {
        self.verify_with(anchor, &[]).await
    }

    /// [`Audit::verify_from`], also checking every entry a signed
    /// checkpoint vouches for.
    pub async fn verify_with(
        &self,
        anchor: Option<(i64, String)>,
        checkpoints: &[Checkpoint],
    ) -> Result<Verification, StoreError> {
        let (after, verifier) = match anchor {
            Some((seq, hash)) => (seq, ChainVerifier::anchored(seq, hash)),
            None => (0, ChainVerifier::new()),
        };
        let mut verifier = verifier.with_checkpoints(checkpoints);
        let mut rows = sqlx::query_as::<_, Row>(
            "SELECT seq, ts, event_type, user_id, ip, request_id, details, prev_hash, hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            verifier.push(&AuditEntry::from(row));
        }
        Ok(verifier.finish())
    }

    /// Entries per event type.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT event_type, CAST(count(*) AS BIGINT) FROM audit_log GROUP BY event_type",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The last entry's `(seq, hash)`.
    pub async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The stored hash of entry `seq`.
    pub async fn hash_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Walks the entries after `seq`, expecting them to continue from `hash`.
    pub async fn verify_after(&self, seq: i64, hash: &str) -> Result<Verification, StoreError> {
        self.verify_with(Some((seq, hash.to_owned())), &[]).await
    }

    /// Walks the whole chain in order.
    pub async fn verify(&self) -> Result<Verification, StoreError> {
        self.verify_with(None, &[]).await
    }
}

impl crate::store::Database {
    /// The audit repository.
    pub fn audit(&self) -> Audit {
        Audit::new(self.pool().clone())
    }
}
