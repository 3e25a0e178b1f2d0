//! `/api/v2/files`: uploads validated while streaming, owner-only downloads.

use axum::{
    Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use rampart::{
    audit::EventType,
    input::{Path, Query},
    problem::{FieldError, Problem},
    upload::{UploadPolicy, UploadRejection, sanitize_file_name, store_upload},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::Role,
    domain::{PageQuery, PageRequest},
    files::store::{FileRow, NewFile},
    http::error::{ApiError, Result},
    state::AppState,
    store::StoreError,
};

/// A stored file's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    /// Id.
    pub id: i64,
    /// The random name it is stored under.
    pub filename: String,
    /// The client's name, sanitised.
    pub original_name: String,
    /// The detected type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&FileRow> for FileView {
    fn from(f: &FileRow) -> Self {
        Self {
            id: f.id,
            filename: f.stored_name.clone(),
            original_name: f.original_name.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
            created_at: f.created_at.clone(),
        }
    }
}

/// The multipart body of an upload (documentation only): exactly one field.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file: `.jpg .jpeg .png .gif .pdf` whose bytes match the
    /// extension; its name is sanitised and may not hold a card number.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// A page of files.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilePage {
    /// Newest first.
    pub items: Vec<FileView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Uploads one file (multipart field `file`): `.jpg .jpeg .png .gif .pdf`
/// whose content matches the extension, within the size limit and quota.
#[utoipa::path(post, operation_id = "uploadFile", path = "/api/v2/files", tag = "files", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = UploadForm, description = "One field named `file`"),
    responses(
        (status = 201, body = FileView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the size limit or the storage quota", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Extension not allowed, content not matching it, or empty", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let mut multipart = multipart.map_err(|_| {
        Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with_detail("Send the file as multipart/form-data.")
    })?;
    let owner = caller.id;
    let settings = &state.settings;
    let files = state.db.files();
    let used = u64::try_from(files.usage(owner).await?).unwrap_or(0);
    let quota_left = settings.storage.upload_quota_bytes.saturating_sub(used);
    let limit = settings.storage.max_upload_bytes.min(quota_left);
    let policy = UploadPolicy::images_and_pdf(limit);
    let dir = settings.storage.upload_dir();
    crate::private_dir::create_private_dir(&dir).map_err(ApiError::internal)?;

    let field = multipart
        .next_field()
        .await
        .map_err(|_| {
            Problem::new(StatusCode::BAD_REQUEST).with_detail("The multipart body is malformed.")
        })?
        .ok_or_else(|| {
            Problem::validation(vec![rampart::problem::FieldError::new(
                "file",
                "is required",
            )])
        })?;
    if field.name() != Some("file") {
        return Err(Problem::validation(vec![rampart::problem::FieldError::new(
            field.name().unwrap_or("field"),
            "is not an accepted field; send the file as `file`",
        )])
        .into());
    }
    let client_name = field.file_name().unwrap_or_default().to_owned();
    // The name is stored and shown: the card rule applies to it too.
    // Checked as sent and as it would be stored: sanitising drops
    // characters (`+`, `(`) and shortens the name, which can join digits.
    if rampart::pci::contains_card_number(&client_name)
        || rampart::pci::contains_card_number(&sanitize_file_name(&client_name))
    {
        let event = ctx
            .card_data_violation("POST", "/api/v2/files", Some(owner.to_string()))
            .detail("field", "file name");
        state.audit.record_or_log(event).await;
        return Err(rampart::pci::guard::card_data_problem().into());
    }
    let stored = store_upload(field, &client_name, &dir, &policy)
        .await
        .map_err(|e| match e {
            UploadRejection::TooLarge(_) if limit < settings.storage.max_upload_bytes => {
                quota_exceeded()
            }
            // The cause goes to the access log with the request id.
            UploadRejection::Io(e) => ApiError::internal(e),
            other => other.problem().into(),
        })?;
    // Exactly one field: anything after the file is refused, as an unknown
    // field is in a JSON body, and the stored bytes go again.
    let extra = match multipart.next_field().await {
        Ok(None) => None,
        Ok(Some(f)) => Some(FieldError::new(
            f.name()
                .unwrap_or("field")
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>(),
            "is not an accepted field; send only `file`",
        )),
        Err(_) => Some(FieldError::new(
            "body",
            "is not a well-formed multipart body",
        )),
    };
    if let Some(error) = extra {
        let _ = tokio::fs::remove_file(&stored.path).await;
        return Err(Problem::validation(vec![error]).into());
    }
    let original = sanitize_file_name(&client_name);
    let new = NewFile {
        user_id: owner,
        stored_name: &stored.stored_name,
        original_name: &original,
        content_type: stored.content_type,
        size: i64::try_from(stored.size).unwrap_or(i64::MAX),
        sha256: &stored.sha256,
    };
    let event = ctx.event(EventType::FileUpload).user(owner.to_string());
    let row = match files
        .insert(&new, settings.storage.upload_quota_bytes, event)
        .await
    {
        Ok(row) => row,
        Err(e) => {
            // Nothing may stay on disk without its row.
            let _ = tokio::fs::remove_file(&stored.path).await;
            return Err(match e {
                // Another upload committed first; the check at the start
                // only bounded the stream.
                StoreError::QuotaExceeded => quota_exceeded(),
                e => e.into(),
            });
        }
    };
    Ok((StatusCode::CREATED, Json(FileView::from(&row))).into_response())
}

fn quota_exceeded() -> ApiError {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
        .with_detail("This upload would exceed your storage quota.")
        .into()
}

/// The caller's files, newest first.
#[utoipa::path(get, operation_id = "listFiles", path = "/api/v2/files", tag = "files", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = FilePage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<FilePage>> {
    let owner = caller.id;
    let p = PageRequest::try_from(&q).map_err(crate::http::error::invalid_query)?;
    let rows = state.db.files().page(owner, p).await?;
    let (items, next_cursor) = p.split(rows, |r| r.id, |r| FileView::from(r));
    Ok(Json(FilePage { items, next_cursor }))
}

async fn owned(state: &AppState, caller: &Caller, id: i64) -> Result<FileRow> {
    let file = state
        .db
        .files()
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    caller
        .require_owner_or_role(Some(file.user_id), &[Role::Admin])
        .await?;
    Ok(file)
}

/// Downloads a file (owner or admin; 404 for everyone else), always as an
/// attachment with its detected type.
#[utoipa::path(get, operation_id = "downloadFile", path = "/api/v2/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id")),
    responses(
        (status = 200, description = "The bytes, with the type detected at upload", content(
            (String = "image/png"),
            (String = "image/jpeg"),
            (String = "image/gif"),
            (String = "application/pdf"),
        )),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    let file = owned(&state, &caller, id).await?;
    // Streamed from disk in chunks: a download never holds the file whole.
    let opened = tokio::fs::File::open(state.settings.storage.upload_dir().join(&file.stored_name))
        .await
        .map_err(|e| ApiError::internal(format!("stored file unreadable: {e}")))?;
    let length = opened.metadata().await.ok().map(|m| m.len());
    let disposition = format!(
        "attachment; filename=\"{}\"",
        sanitize_file_name(&file.original_name)
    );
    let mut response =
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(opened)).into_response();
    let headers = response.headers_mut();
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    Ok(response)
}

/// Deletes a file (owner or admin; 404 for everyone else).
#[utoipa::path(delete, operation_id = "deleteFile", path = "/api/v2/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let file = owned(&state, &caller, id).await?;
    let event = ctx
        .event(EventType::DataModification)
        .user(caller.id)
        .detail("action", "file_deleted")
        .detail("file_id", id);
    if state.db.files().delete(id, &event).await? {
        let _ = tokio::fs::remove_file(state.settings.storage.upload_dir().join(&file.stored_name))
            .await;
    }
    Ok(StatusCode::NO_CONTENT)
}
