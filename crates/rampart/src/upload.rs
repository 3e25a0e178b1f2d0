//! Streaming upload validation: size, extension and magic bytes, checked
//! while the bytes arrive, stored only when everything passed.
//!
//! [`store_upload`] reads a stream of chunks (a multipart field) and:
//! - requires the client's file name to end in an allowed extension (415);
//! - counts bytes as they arrive and stops reading at the limit (413): the
//!   body is never buffered whole;
//! - sniffs the first bytes with `infer` and requires the detected type to
//!   be the extension's type (415): a PNG header named `.pdf`, HTML named
//!   `.png` or an empty file are refused;
//! - hashes with SHA-256 while streaming;
//! - writes to a temporary file in the target directory and renames it to a
//!   random name only on success. A failed, refused or abandoned upload
//!   (the request future dropped mid-stream) leaves nothing behind.
//!
//! ```no_run
//! # async fn demo(stream: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin) {
//! use rampart::upload::{UploadPolicy, store_upload};
//! let stored = store_upload(stream, "photo.png", std::path::Path::new("/srv/uploads"), &UploadPolicy::images_and_pdf(10 << 20)).await;
//! # }
//! ```

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use http::StatusCode;

use crate::{audit::hex, problem::Problem};

/// How many leading bytes are sniffed.
const SNIFF: usize = 8192;

/// Allowed extensions with their types, and the size limit.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    max_bytes: u64,
    allowed: Vec<(&'static str, &'static str)>,
}

impl UploadPolicy {
    /// `.jpg .jpeg .png .gif .pdf`, at most `max_bytes` each.
    pub fn images_and_pdf(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            allowed: vec![
                ("jpg", "image/jpeg"),
                ("jpeg", "image/jpeg"),
                ("png", "image/png"),
                ("gif", "image/gif"),
                ("pdf", "application/pdf"),
            ],
        }
    }

    /// The same allow-list with another limit (e.g. a user's remaining quota).
    pub fn with_max_bytes(&self, max_bytes: u64) -> Self {
        Self {
            max_bytes,
            allowed: self.allowed.clone(),
        }
    }

    /// The type an extension must have, if allowed.
    pub fn type_for(&self, extension: &str) -> Option<&'static str> {
        let ext = extension.to_ascii_lowercase();
        self.allowed
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, t)| *t)
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadRejection {
    /// 413: more bytes than allowed.
    #[error("file larger than {0} bytes")]
    TooLarge(u64),
    /// 415: extension not allowed, content not of the extension's type, or empty.
    #[error("unsupported file: {0}")]
    Unsupported(&'static str),
    /// 400: the client's stream failed.
    #[error("upload stream failed")]
    Stream,
    /// 500: the file could not be written.
    #[error("upload could not be stored: {0}")]
    Io(#[from] std::io::Error),
}

impl UploadRejection {
    /// The problem a client gets: 413, 415, 400, or a bare 500 (the I/O
    /// error is for the server's log, never the client).
    pub fn problem(&self) -> Problem {
        match self {
            Self::TooLarge(max) => Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(format!("Files may be at most {max} bytes.")),
            Self::Unsupported(reason) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).with_detail(*reason)
            }
            Self::Stream => {
                Problem::new(StatusCode::BAD_REQUEST).with_detail("The upload was interrupted.")
            }
            Self::Io(_) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl axum::response::IntoResponse for UploadRejection {
    fn into_response(self) -> axum::response::Response {
        if let Self::Io(e) = &self {
            tracing::error!(error = %e, "upload could not be stored");
        }
        self.problem().into_response()
    }
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The random file name it was stored under (`<uuid>.<ext>`).
    pub stored_name: String,
    /// Its full path.
    pub path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// The detected (and allowed) type.
    pub content_type: &'static str,
}

/// The lowercase extension of a client file name, if any.
pub fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// A client file name made safe to display and to put in a header: the
/// last path component, letters, digits, `. _ -` and spaces only, at most
/// 100 characters.
pub fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' '))
        .collect();
    let clean = clean.trim().trim_start_matches('.');
    let mut out: String = clean
        .chars()
        .rev()
        .take(100)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if out.is_empty() {
        out = "file".to_owned();
    }
    out
}

/// Deletes the temporary file unless disarmed: covers errors and a dropped
/// request future alike.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Validates and stores one upload; see the [module docs](self).
pub async fn store_upload<S, E>(
    mut stream: S,
    file_name: &str,
    dir: &Path,
    policy: &UploadPolicy,
) -> Result<StoredUpload, UploadRejection>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let ext = extension(file_name).ok_or(UploadRejection::Unsupported(
        "the file name needs an allowed extension",
    ))?;
    let expected = policy.type_for(&ext).ok_or(UploadRejection::Unsupported(
        "this file extension is not allowed",
    ))?;
    let id = uuid::Uuid::new_v4();
    let tmp = dir.join(format!(".upload-{id}.tmp"));
    let mut guard = TempGuard(Some(tmp.clone()));
    let mut file = tokio::fs::File::create(&tmp).await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF);
    let mut sniffed = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| UploadRejection::Stream)?;
        size += chunk.len() as u64;
        if size > policy.max_bytes {
            // Stop reading here: the rest of the body is never consumed.
            return Err(UploadRejection::TooLarge(policy.max_bytes));
        }
        if !sniffed {
            let take = (SNIFF - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() >= SNIFF {
                check_type(&head, expected)?;
                sniffed = true;
            }
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    if size == 0 {
        return Err(UploadRejection::Unsupported("the file is empty"));
    }
    if !sniffed {
        check_type(&head, expected)?;
    }
    file.sync_all().await?;
    drop(file);
    let stored_name = format!("{id}.{ext}");
    let path = dir.join(&stored_name);
    tokio::fs::rename(&tmp, &path).await?;
    guard.0 = None;
    Ok(StoredUpload {
        stored_name,
        path,
        size,
        sha256: hex(&hasher.finalize()),
        content_type: expected,
    })
}

fn check_type(head: &[u8], expected: &str) -> Result<(), UploadRejection> {
    match infer::get(head) {
        Some(t) if t.mime_type() == expected => Ok(()),
        _ => Err(UploadRejection::Unsupported(
            "the content does not match the file extension",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_and_extensions_found() {
        let cases = [
            ("../../etc/passwd.png", "passwd.png"),
            ("a\0b.png", "ab.png"),
            ("quote\"s and\nnewlines.pdf", "quotes andnewlines.pdf"),
            ("C:\\\\Users\\\\x\\\\photo.JPG", "photo.JPG"),
            ("...", "file"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_file_name(input), expected, "{input:?}");
        }
        assert_eq!(
            sanitize_file_name(&format!("{}.png", "a".repeat(10_000))).len(),
            100
        );
        assert_eq!(extension("x.PNG").as_deref(), Some("png"));
        assert_eq!(extension("noext"), None);
        assert_eq!(extension(".png"), None);
    }
}
