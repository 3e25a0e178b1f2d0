//! All SQL lives here. SQLite today (WAL, `synchronous=FULL`); the queries
//! are kept portable for the PostgreSQL backend.

use std::{str::FromStr, time::Duration};

use secrecy::ExposeSecret;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::Settings;

pub mod audit;
pub mod audit_writer;
pub mod files;
pub mod health;
pub mod orders;
pub mod payments;
pub mod users;

/// Embedded SQLite migrations.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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

/// Creates `dir` (and parents) readable only by the owner: it holds the
/// database, uploads and generated keys.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The connection pool.
#[derive(Debug, Clone)]
pub struct Database {
    pool: SqlitePool,
}

impl Database {
    /// Opens (creating when missing) the database of `settings`.
    pub async fn connect(settings: &Settings) -> Result<Self, StoreError> {
        let url = settings.database_url.expose_secret();
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Unsupported(
                "PostgreSQL is not supported by this build yet; use a sqlite: URL",
            ));
        }
        create_private_dir(&settings.data_dir)?;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every acknowledged write survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        SQLITE_MIGRATIONS.run(&self.pool).await?;
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
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The audit repository.
    pub fn audit(&self) -> audit::Audit {
        audit::Audit::new(self.pool.clone())
    }

    /// The files repository.
    pub fn files(&self) -> files::Files {
        files::Files::new(self.pool.clone())
    }

    /// The health-records repository.
    pub fn health(&self) -> health::Health {
        health::Health::new(self.pool.clone())
    }

    /// The payments repository.
    pub fn payments(&self) -> payments::Payments {
        payments::Payments::new(self.pool.clone())
    }

    /// The orders repository.
    pub fn orders(&self) -> orders::Orders {
        orders::Orders::new(self.pool.clone())
    }

    /// The users repository.
    pub fn users(&self) -> users::Users {
        users::Users::new(self.pool.clone())
    }

    /// Closes every connection (shutdown, and readiness tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
