//! The change feed: `auth_changes` (appended by trigger with every change
//! to a user row or a session, see migration 0009) read in `seq` order over
//! a connection of its own, so a saturated pool never delays it.
//!
//! Writers commit in `seq` order (the server's writers and the triggers
//! hold the same writers' lock), so reading "after the last seq seen"
//! never skips a change that commits later with a smaller one.

use sqlx::{AnyConnection, AnyPool, Connection as _};

use crate::{
    domain::UserId,
    store::{StoreError, begin_write, clock::unix_now},
};

/// The feed's connection names itself so on PostgreSQL (`pg_stat_activity`)
/// an operator can tell it from the pool's.
pub const APPLICATION_NAME: &str = "rampart-auth-changes";

/// How long a change stays in the log: an instance whose feed was down
/// longer starts again with an empty cache anyway.
const KEEP_SECS: i64 = 3600;

/// Rows read per query.
const BATCH: i64 = 1000;

/// The user id the PostgreSQL TRUNCATE triggers log: every account.
const EVERYONE: i64 = 0;

/// What changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Changes {
    /// These users' rows or sessions.
    Users(Vec<UserId>),
    /// A whole table (TRUNCATE): forget everything.
    Everyone,
}

/// A connection following `auth_changes`.
pub struct ChangeFeed {
    conn: AnyConnection,
    last_seq: i64,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// `url` with the feed's application name, for PostgreSQL.
fn feed_url(url: &str) -> String {
    if url.starts_with("postgres") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}application_name={APPLICATION_NAME}")
    } else {
        url.to_owned()
    }
}

impl ChangeFeed {
    /// Connects to the (migrated) database at `url` and starts after the
    /// newest change: what came before is not in an empty cache.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut conn = AnyConnection::connect(&feed_url(url)).await?;
        let last_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM auth_changes")
            .fetch_one(&mut conn)
            .await?;
        Ok(Self { conn, last_seq })
    }

    /// The changes committed since the last read.
    pub async fn read(&mut self) -> Result<Changes, StoreError> {
        let mut users = Vec::new();
        loop {
            let rows: Vec<(i64, UserId)> = sqlx::query_as(
                "SELECT seq, user_id FROM auth_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(self.last_seq)
            .bind(BATCH)
            .fetch_all(&mut self.conn)
            .await?;
            let full = rows.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
            if let Some((seq, _)) = rows.last() {
                self.last_seq = *seq;
            }
            users.extend(rows.into_iter().map(|(_, user)| user));
            if !full {
                break;
            }
        }
        // The TRUNCATE triggers log user id 0, which no account has.
        if users.contains(&UserId::new(EVERYONE)) {
            return Ok(Changes::Everyone);
        }
        users.sort_unstable();
        users.dedup();
        Ok(Changes::Users(users))
    }
}

/// Deletes changes older than an hour; returns how many.
pub async fn prune(pool: &AnyPool) -> Result<u64, StoreError> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query("DELETE FROM auth_changes WHERE at < $1")
        .bind(unix_now().saturating_sub(KEEP_SECS))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_names_itself_on_postgres_only() {
        assert_eq!(
            feed_url("postgres://h/db"),
            "postgres://h/db?application_name=rampart-auth-changes"
        );
        assert_eq!(
            feed_url("postgres://h/db?sslmode=require"),
            "postgres://h/db?sslmode=require&application_name=rampart-auth-changes"
        );
        assert_eq!(feed_url("sqlite:/tmp/r.db"), "sqlite:/tmp/r.db");
    }

    #[test]
    fn the_trigger_takes_the_writers_lock() {
        let migration = include_str!("../../migrations/postgres/0009_auth_changes.sql");
        assert!(migration.contains(&format!(
            "pg_advisory_xact_lock({})",
            crate::store::WRITE_LOCK
        )));
    }
}
