//! Uploaded files' metadata (the bytes live in the upload directory).

use rampart::audit::AuditEvent;
use sqlx::{AnyPool, FromRow};

use crate::{
    audit::store::{Change, append_in, audited},
    domain::{PageRequest, UserId},
    store::{StoreError, clock::now_rfc3339},
};

/// A stored file.
#[derive(Debug, Clone, FromRow)]
pub struct FileRow {
    /// Id.
    pub id: i64,
    /// Owner.
    pub user_id: UserId,
    /// Random name on disk.
    pub stored_name: String,
    /// The client's name, sanitised.
    pub original_name: String,
    /// Detected type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 hex.
    pub sha256: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const COLUMNS: &str =
    "id, user_id, stored_name, original_name, content_type, size, sha256, created_at";

/// New file metadata.
#[derive(Debug)]
pub struct NewFile<'a> {
    /// Owner.
    pub user_id: UserId,
    /// Random name on disk.
    pub stored_name: &'a str,
    /// Sanitised client name.
    pub original_name: &'a str,
    /// Detected type.
    pub content_type: &'a str,
    /// Bytes.
    pub size: i64,
    /// SHA-256 hex.
    pub sha256: &'a str,
}

/// The files repository.
#[derive(Debug, Clone)]
pub struct Files {
    pool: AnyPool,
}

impl Files {
    /// Over `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Bytes stored by a user.
    pub async fn usage(&self, user_id: UserId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records a stored file with its `file_upload` event, unless the
    /// owner's files would then exceed `quota` bytes
    /// ([`StoreError::QuotaExceeded`]). The sum is read inside the write
    /// transaction, which serialises writers, so uploads finishing at the
    /// same moment cannot pass the quota together.
    pub async fn insert(
        &self,
        file: &NewFile<'_>,
        quota: u64,
        event: AuditEvent,
    ) -> Result<FileRow, StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE user_id = $1",
        )
        .bind(file.user_id)
        .fetch_one(&mut *tx)
        .await?;
        let after = u64::try_from(used.saturating_add(file.size)).unwrap_or(u64::MAX);
        if after > quota {
            return Err(StoreError::QuotaExceeded);
        }
        let sql = format!(
            "INSERT INTO files (user_id, stored_name, original_name, content_type, size, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row = sqlx::query_as::<_, FileRow>(&sql)
            .bind(file.user_id)
            .bind(file.stored_name)
            .bind(file.original_name)
            .bind(file.content_type)
            .bind(file.size)
            .bind(file.sha256)
            .bind(now_rfc3339())
            .fetch_one(&mut *tx)
            .await?;
        append_in(
            &mut tx,
            &event.detail("file_id", row.id).detail("size", row.size),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// One file.
    pub async fn by_id(&self, id: i64) -> Result<Option<FileRow>, StoreError> {
        crate::store::row_by_id(&self.pool, "files", COLUMNS, id).await
    }

    /// A page of a user's files, newest first.
    pub async fn page(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> Result<Vec<FileRow>, StoreError> {
        crate::store::user_page(&self.pool, "files", COLUMNS, user_id, page).await
    }

    /// Deletes a file's row with its event; the caller removes the bytes.
    pub async fn delete(&self, id: i64, event: &AuditEvent) -> Result<bool, StoreError> {
        audited(&self.pool, async |tx| {
            let done = sqlx::query("DELETE FROM files WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Ok(Change::Unchanged(false));
            }
            Ok(Change::Made(true, event.clone()))
        })
        .await
    }
}

impl crate::store::Database {
    /// The files repository.
    pub fn files(&self) -> Files {
        Files::new(self.pool().clone())
    }
}
