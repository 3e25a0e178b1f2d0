//! All SQL lives here, written once for both backends through sqlx's `Any`
//! driver: SQLite for one instance (WAL, `synchronous=FULL`) and PostgreSQL
//! for several. The queries use numbered `$N` parameters (both bind them by
//! number), integers instead of booleans (SQLite has none) and explicit
//! `BIGINT` casts where PostgreSQL would widen a sum to `numeric`.
//!
//! Every write transaction starts with [`begin_write`]: SQLite's
//! `BEGIN IMMEDIATE`, or on PostgreSQL a transaction holding one advisory
//! lock, so writers are serialised in both and audit appends (which read the
//! chain head, then insert after it) form one sequence across instances.

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::{Any, AnyPool, Executor as _, Transaction, any::AnyPoolOptions};

use crate::config::Settings;

pub mod accounts;
pub mod changes;
pub mod clock;

/// Embedded SQLite migrations.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Embedded PostgreSQL migrations (the same schema).
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The key of the advisory lock that serialises writers on PostgreSQL.
const WRITE_LOCK: i64 = 0x7261_6d70; // "ramp"

/// Which database the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one instance.
    Sqlite,
    /// Shared by several instances.
    Postgres,
}

fn backend_of(pool: &AnyPool) -> Backend {
    if pool
        .connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
    {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Begins a write transaction; see the module documentation.
pub async fn begin_write(pool: &AnyPool) -> Result<Transaction<'static, Any>, sqlx::Error> {
    match backend_of(pool) {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names a backend this build cannot use.
    #[error("RAMPART_DATABASE_URL: {0}")]
    Unsupported(&'static str),
    /// Opening or querying failed.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database directory could not be created.
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    /// A unique constraint refused the write; the value names the field.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The write would take the owner over a storage quota.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// A background writer is not running.
    #[error("{0}")]
    Unavailable(&'static str),
    /// A group-committed batch failed.
    #[error("audit batch failed: {0}")]
    Batch(String),
}

impl StoreError {
    /// Maps a unique violation to [`StoreError::Conflict`] naming the field,
    /// by the index or constraint name.
    pub fn from_write(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let name = db
                .constraint()
                .map(str::to_owned)
                .unwrap_or_else(|| db.message().to_owned());
            if name.contains("users_username_key") {
                return Self::Conflict("username");
            }
            if name.contains("users_email_key") {
                return Self::Conflict("email");
            }
            return Self::Conflict("value");
        }
        Self::Sqlx(e)
    }
}

/// `SELECT {columns} FROM {table} WHERE id = $1`.
pub async fn row_by_id<R>(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    id: i64,
) -> Result<Option<R>, StoreError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = format!("SELECT {columns} FROM {table} WHERE id = $1");
    Ok(sqlx::query_as::<_, R>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// A keyset page of a user's rows in `table`, newest first, with ids below
/// the page's `before`; fetches `limit + 1` so the caller knows whether a next page
/// exists.
pub async fn user_page<R>(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    user_id: crate::domain::UserId,
    page: crate::domain::PageRequest,
) -> Result<Vec<R>, StoreError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    Ok(sqlx::query_as::<_, R>(&sql)
        .bind(user_id)
        .bind(page.before.unwrap_or(i64::MAX))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(pool)
        .await?)
}

/// The connection pool, and the account cache that the repositories keep
/// coherent with it (see [`accounts`]): it lives here so that no write can
/// reach the database without passing the cache.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    accounts: accounts::AccountCache,
}

impl Database {
    /// Opens the database of `settings`: a `sqlite:` file (created when
    /// missing, in the data directory's private mode) or `postgres://`.
    pub async fn connect(settings: &Settings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = settings.storage.database_url.expose_secret();
        let options = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5));
        let pool = if url.starts_with("sqlite:") {
            crate::private_dir::create_private_dir(&settings.storage.data_dir)?;
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            options
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // Every acknowledged write survives power loss.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            options.connect(url).await?
        } else {
            return Err(StoreError::Unsupported(
                "must start with sqlite: or postgres://",
            ));
        };
        Ok(Self {
            pool,
            accounts: accounts::AccountCache::new(),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        backend_of(&self.pool)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend() {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .is_ok()
    }

    /// The pool, for repositories.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The account cache.
    pub fn accounts(&self) -> &accounts::AccountCache {
        &self.accounts
    }

    /// Closes every connection (shutdown, and readiness tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
