//! Strict input: JSON bodies, query strings and path parameters whose
//! rejections are [`Problem`]s with the right status.
//!
//! | extractor | refuses with |
//! | --- | --- |
//! | [`StrictJson<T>`] | 415 when `Content-Type` is not JSON, 413 over the body limit (axum's `DefaultBodyLimit`), 400 for malformed JSON, 422 naming the field for a missing, unknown or mistyped field |
//! | [`ValidJson<T>`] | as `StrictJson`, then 422 with every field [`Validate`] rejects |
//! | [`Query<T>`] | 422 naming the parameter |
//! | [`Path<T>`] | 404: a path segment that does not parse names no resource |
//!
//! Unknown fields are refused by the target type: give every request type
//! `#[serde(deny_unknown_fields)]`. Messages are rewritten so no Rust type
//! name (`u32`, `Option<…>`) reaches the client.
//!
//! ```
//! use axum::{Router, routing::post};
//! use rampart::input::{ValidJson, Validate};
//! use rampart::problem::FieldError;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct NewItem { name: String }
//!
//! impl Validate for NewItem {
//!     fn validate(&self) -> Result<(), Vec<FieldError>> {
//!         if self.name.is_empty() {
//!             return Err(vec![FieldError::new("name", "must not be empty")]);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! async fn create(ValidJson(item): ValidJson<NewItem>) -> String { item.name }
//! let app: Router = Router::new().route("/items", post(create));
//! # let _ = app;
//! ```

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    response::{IntoResponse, Response},
};
use http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem};

/// Domain validation run after a body parsed; report every bad field at once.
pub trait Validate {
    /// `Ok` when valid, else every invalid field.
    fn validate(&self) -> Result<(), Vec<FieldError>>;
}

/// A JSON body that must have a JSON content type, parse and match `T`
/// exactly. Convert it into a domain type afterwards, or use [`ValidJson`]
/// to run [`Validate`] in the extractor.
#[derive(Debug, Clone, Copy, Default)]
pub struct StrictJson<T>(pub T);

/// A [`StrictJson`] body that also passed [`Validate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

/// Why a [`StrictJson`] body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrictJsonRejection {
    /// 415: the `Content-Type` is missing or not JSON.
    #[error("expected a JSON content type")]
    UnsupportedMediaType,
    /// 413: the body is larger than the configured limit.
    #[error("body too large")]
    TooLarge,
    /// 400: the body could not be read.
    #[error("body could not be read")]
    Unreadable,
    /// 400: the body is not well-formed JSON.
    #[error("malformed JSON at line {line}, column {column}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// 422: the JSON does not match the expected shape or fails validation.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
}

impl StrictJsonRejection {
    /// A stable name for metrics and audit.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "too_large",
            Self::Unreadable => "unreadable",
            Self::Syntax { .. } => "syntax",
            Self::Invalid(_) => "invalid",
        }
    }
}

impl From<StrictJsonRejection> for Problem {
    fn from(r: StrictJsonRejection) -> Self {
        match r {
            StrictJsonRejection::UnsupportedMediaType => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                    .with_detail("Send the body as application/json.")
            }
            StrictJsonRejection::TooLarge => Problem::new(StatusCode::PAYLOAD_TOO_LARGE),
            StrictJsonRejection::Unreadable => Problem::new(StatusCode::BAD_REQUEST)
                .with_detail("The request body could not be read."),
            StrictJsonRejection::Syntax { line, column } => Problem::typed(
                StatusCode::BAD_REQUEST,
                "urn:rampart:problem:malformed-json",
                "Malformed JSON",
            )
            .with_detail(format!(
                "The body is not valid JSON (line {line}, column {column})."
            )),
            StrictJsonRejection::Invalid(errors) => Problem::validation(errors),
        }
    }
}

impl IntoResponse for StrictJsonRejection {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// True for `application/json` and `application/*+json`, any parameters.
pub fn is_json_content_type(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Parses a JSON document as `T`, as [`StrictJson`] does, in this order:
///
/// 1. syntax, trailing bytes included (400): a malformed body is malformed
///    whatever its fields say;
/// 2. the document must be a JSON object (422): serde would otherwise fill
///    a struct from an array by position, so `["alice","pw"]` would log in
///    and anything in front that inspects keys would be bypassed;
/// 3. no control characters in any string or key except tab and newline
///    (422 naming the field): NUL and escapes cannot reach a database or a
///    terminal (single-line fields should refuse tab and newline too);
/// 4. the fields of `T` (422 naming the field; duplicate keys refused).
pub fn parse_json<T>(bytes: &[u8]) -> Result<T, StrictJsonRejection>
where
    T: DeserializeOwned,
{
    let document: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_io() {
            StrictJsonRejection::Unreadable
        } else {
            StrictJsonRejection::Syntax {
                line: e.line(),
                column: e.column(),
            }
        }
    })?;
    if !document.is_object() {
        return Err(StrictJsonRejection::Invalid(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    }
    if let Some(field) = control_character_at(&document, "") {
        return Err(StrictJsonRejection::Invalid(vec![FieldError::new(
            field,
            "must not contain control characters",
        )]));
    }
    // From the bytes again, not the parsed value: the value keeps only the
    // last of duplicate keys, the deserializer refuses them.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(classify(&path, &inner));
        }
    };
    Ok(value)
}

/// A control character other than tab and newline.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\t' && c != '\n'
}

/// The path of the first string or key holding a forbidden control
/// character.
fn control_character_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) => s.chars().any(is_forbidden_control).then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| control_character_at(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            // Field names are echoed in the 422: keep them short and clean.
            let shown: String = k.chars().filter(|c| !c.is_control()).take(64).collect();
            if k.chars().any(char::is_control) {
                Some(join(&shown))
            } else {
                control_character_at(v, &join(&shown))
            }
        }),
        _ => None,
    }
}

fn classify(path: &str, e: &serde_json::Error) -> StrictJsonRejection {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => StrictJsonRejection::Syntax {
            line: e.line(),
            column: e.column(),
        },
        Category::Io => StrictJsonRejection::Unreadable,
        Category::Data => StrictJsonRejection::Invalid(vec![field_error(path, &e.to_string())]),
    }
}

/// Turns serde's message into a client-safe field error. serde names Rust
/// types (`expected u32`), so only the category of the message is kept.
fn field_error(path: &str, message: &str) -> FieldError {
    let base = if path == "." { "" } else { path };
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains('`'))
        .unwrap_or_default();
    let join = |name: &str| {
        if base.is_empty() {
            name.to_owned()
        } else if name.is_empty() {
            base.to_owned()
        } else {
            format!("{base}.{name}")
        }
    };
    if message.starts_with("missing field") {
        FieldError::new(join(quoted), "is required")
    } else if message.starts_with("unknown field") {
        // serde_path_to_error already points at the unknown key.
        let field = if base.ends_with(quoted) {
            base.to_owned()
        } else {
            join(quoted)
        };
        FieldError::new(field, "is not an accepted field")
    } else if message.starts_with("duplicate field") {
        FieldError::new(join(quoted), "appears more than once")
    } else if message.starts_with("invalid type") {
        FieldError::new(join(""), format!("must be {}", expected_kind(message)))
    } else if message.starts_with("unknown variant") {
        FieldError::new(join(""), "is not one of the accepted values")
    } else {
        FieldError::new(join(""), "has an invalid value")
    }
}

fn expected_kind(message: &str) -> &'static str {
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let e = expected.to_ascii_lowercase();
    if e.contains("string") || e.contains("char") {
        "a string"
    } else if e.starts_with('u') || e.starts_with('i') || e.contains("integer") {
        "an integer"
    } else if e.starts_with('f') || e.contains("number") {
        "a number"
    } else if e.contains("bool") {
        "a boolean"
    } else if e.contains("sequence") || e.contains("array") || e.contains("vec") {
        "an array"
    } else if e.contains("map") || e.contains("struct") || e.contains("object") {
        "an object"
    } else {
        "of another type"
    }
}

impl<T, S> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = StrictJsonRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let StrictJson(value) = StrictJson::<T>::from_request(req, state).await?;
        value.validate().map_err(StrictJsonRejection::Invalid)?;
        Ok(ValidJson(value))
    }
}

impl<T, S> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = StrictJsonRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(StrictJsonRejection::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => StrictJsonRejection::TooLarge,
                _ => StrictJsonRejection::Unreadable,
            })?;
        parse_json(&bytes).map(StrictJson)
    }
}

/// The detail of a 422 for query parameters.
pub const QUERY_INVALID: &str = "The query parameters are invalid.";

/// A query string parsed as `T`; any failure is 422 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // NUL and other control characters (decoded) never reach a handler:
        // a database may refuse them, a log may render them.
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.chars().chain(v.chars()).any(char::is_control))
        {
            let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
            return Err(Problem::validation(vec![FieldError::new(
                if name.is_empty() {
                    "query".to_owned()
                } else {
                    name
                },
                "must not contain control characters",
            )])
            .with_detail(QUERY_INVALID));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let mut error = field_error(&path, &message);
                if error.field.is_empty() {
                    error.field = "query".to_owned();
                }
                Problem::validation(vec![error]).with_detail(QUERY_INVALID)
            })
    }
}

/// Path parameters parsed as `T`; a segment that does not parse is 404.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(_) => Err(Problem::new(StatusCode::NOT_FOUND)),
        }
    }
}

/// Sanitises user-supplied HTML down to `p`, `br`, `strong` and `em`,
/// without attributes; scripts, styles and their content are removed and
/// every other tag is stripped to its text.
///
/// ```
/// use rampart::input::sanitize_html;
/// assert_eq!(sanitize_html("<p onclick=x>hi <script>alert(1)</script><b>you</b></p>"), "<p>hi you</p>");
/// ```
#[cfg(feature = "html")]
pub fn sanitize_html(input: &str) -> String {
    use std::sync::OnceLock;
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER
        .get_or_init(|| {
            let mut b = ammonia::Builder::empty();
            b.add_tags(["p", "br", "strong", "em"]);
            b.clean_content_tags(["script", "style"].into_iter().collect());
            b
        })
        .clean(input)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        quantity: u32,
        address: Option<Address>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Address {
        city: String,
    }

    impl Validate for Item {
        fn validate(&self) -> Result<(), Vec<FieldError>> {
            if self.name.is_empty() {
                Err(vec![FieldError::new("name", "must not be empty")])
            } else {
                Ok(())
            }
        }
    }

    fn invalid(body: &str) -> Vec<FieldError> {
        let parsed = parse_json::<Item>(body.as_bytes()).and_then(|item| {
            item.validate()
                .map(|()| item)
                .map_err(StrictJsonRejection::Invalid)
        });
        match parsed {
            Err(StrictJsonRejection::Invalid(errors)) => errors,
            other => panic!("expected 422 for {body}, got {other:?}"),
        }
    }

    #[test]
    fn data_errors_name_the_field_without_rust_types() {
        let cases = [
            ("missing", r#"{"name":"a"}"#, "quantity", "is required"),
            (
                "unknown",
                r#"{"name":"a","quantity":1,"is_admin":true}"#,
                "is_admin",
                "is not an accepted field",
            ),
            (
                "wrong type",
                r#"{"name":"a","quantity":"x"}"#,
                "quantity",
                "must be an integer",
            ),
            (
                "negative",
                r#"{"name":"a","quantity":-1}"#,
                "quantity",
                "has an invalid value",
            ),
            (
                "nested",
                r#"{"name":"a","quantity":1,"address":{"city":5}}"#,
                "address.city",
                "must be a string",
            ),
            (
                "validation",
                r#"{"name":"","quantity":1}"#,
                "name",
                "must not be empty",
            ),
        ];
        for (name, body, field, message) in cases {
            let errors = invalid(body);
            assert_eq!(errors[0].field, field, "case {name}");
            assert_eq!(errors[0].message, message, "case {name}");
            assert!(!errors[0].message.contains("u32"), "case {name}");
        }
    }

    #[cfg(feature = "html")]
    #[test]
    fn html_is_reduced_to_four_tags() {
        let cases = [
            ("script gone", "<script>alert(1)</script>hi", "hi"),
            (
                "strong kept",
                "<strong>bold</strong>",
                "<strong>bold</strong>",
            ),
            (
                "attributes gone",
                "<em style=\"x\" onclick=\"y\">e</em>",
                "<em>e</em>",
            ),
            ("link stripped", "<a href=\"javascript:x\">t</a>", "t"),
            ("img gone", "<img src=x onerror=alert(1)>", ""),
        ];
        for (name, input, expected) in cases {
            assert_eq!(sanitize_html(input), expected, "case {name}");
        }
    }

    #[test]
    fn syntax_errors_are_not_data_errors() {
        for body in [
            "{",
            "{\"name\":}",
            "{\"name\":\"a\"",
            "{\"name\":\"a\",\"quantity\":1} x",
            "",
        ] {
            assert!(
                matches!(
                    parse_json::<Item>(body.as_bytes()),
                    Err(StrictJsonRejection::Syntax { .. })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn json_content_types_are_recognised() {
        let cases = [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("multipart/form-data", false),
        ];
        for (ct, ok) in cases {
            let mut h = http::HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json_content_type(&h), ok, "{ct}");
        }
        assert!(!is_json_content_type(&http::HeaderMap::new()));
    }
}
