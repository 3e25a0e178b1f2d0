//! The outside-in scanner behind `rampart scan URL`: checks a running
//! HTTP API against what SPEC §9 demands of a hardened one. One line per check, exit 1 on
//! any failure. It sends a few dozen ordinary requests and nothing
//! destructive.

use std::{fmt, time::Duration};

use base64::Engine as _;
use reqwest::{Client, Method, Response, header};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable name, e.g. `headers.x-frame-options`.
    pub check: String,
    /// Passed?
    pub passed: bool,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{verdict} {:<40} {}", self.check, self.reason)
    }
}

fn finding(check: impl Into<String>, passed: bool, reason: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        passed,
        reason: reason.into(),
    }
}

const REQUIRED_HEADERS: &[(&str, Option<&str>)] = &[
    ("x-content-type-options", Some("nosniff")),
    ("x-frame-options", Some("DENY")),
    ("content-security-policy", None),
    ("referrer-policy", None),
    ("strict-transport-security", None),
    ("permissions-policy", None),
    ("cross-origin-opener-policy", None),
    ("cross-origin-resource-policy", None),
];

const LEAK_MARKERS: &[&str] = &[
    "panicked at",
    "Traceback",
    "stack backtrace",
    "Exception",
    "SQLSTATE",
    "sqlx",
    "sqlite",
    ".rs:",
    "/src/",
    "at line",
    "syntax error at",
];

async fn get(client: &Client, base: &str, path: &str) -> Result<Response, String> {
    client
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))
}

/// Runs every check against `base` (e.g. `http://127.0.0.1:8080`).
pub async fn scan(base: &str) -> Result<Vec<Finding>, String> {
    let base = base.trim_end_matches('/').to_owned();
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();

    headers(&client, &base, &mut out).await?;
    cors(&client, &base, &mut out).await?;
    host(&client, &base, &mut out).await?;
    docs(&client, &base, &mut out).await?;
    errors(&client, &base, &mut out).await?;
    versions(&client, &base, &mut out).await?;
    unsigned_tokens(&client, &base, &mut out).await?;
    rate_limit(&client, &base, &mut out).await?;
    Ok(out)
}

/// The security headers, on an error response: they must be on every response.
async fn headers(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let r = get(client, base, "/rampart-scan-does-not-exist").await?;
    let h = r.headers().clone();
    for (name, expected) in REQUIRED_HEADERS {
        let value = h.get(*name).and_then(|v| v.to_str().ok());
        let ok = match (value, expected) {
            (Some(v), Some(e)) => v.eq_ignore_ascii_case(e),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let reason = match value {
            Some(v) => format!("{v:?} on a 404"),
            None => "missing on a 404".to_owned(),
        };
        out.push(finding(format!("headers.{name}"), ok, reason));
    }
    for name in ["server", "x-powered-by"] {
        let present = h.get(name).and_then(|v| v.to_str().ok());
        out.push(finding(
            format!("headers.no-{name}"),
            present.is_none(),
            present.map_or_else(|| "absent".to_owned(), |v| format!("reveals {v:?}")),
        ));
    }
    Ok(())
}

/// CORS: a foreign origin must not be reflected or wildcarded.
async fn cors(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let evil = "https://scan-evil.example";
    let r = client
        .get(format!("{base}/health/live"))
        .header(header::ORIGIN, evil)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let acao = r
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    out.push(match acao.as_deref() {
        Some(v) if v == evil => finding("cors.reflection", false, "reflects any Origin"),
        Some("*") => finding("cors.reflection", false, "allows every origin (*)"),
        Some(v) => finding("cors.reflection", true, format!("allows only {v}")),
        None => finding("cors.reflection", true, "foreign origin not allowed"),
    });
    Ok(())
}

/// Host: a foreign `Host` header must be refused.
async fn host(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let r = client
        .get(format!("{base}/health/live"))
        .header(header::HOST, "scan-evil.example")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    out.push(finding(
        "host.allow-list",
        status.is_client_error(),
        format!("Host: scan-evil.example answered {}", status.as_u16()),
    ));
    Ok(())
}

/// Documentation must not be public.
async fn docs(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let mut exposed = Vec::new();
    for path in [
        "/docs",
        "/openapi.json",
        "/swagger-ui",
        "/swagger.json",
        "/api-docs",
        "/redoc",
    ] {
        if get(client, base, path).await?.status().is_success() {
            exposed.push(path);
        }
    }
    out.push(finding(
        "docs.exposure",
        exposed.is_empty(),
        if exposed.is_empty() {
            "no documentation served".to_owned()
        } else {
            format!("served: {}", exposed.join(", "))
        },
    ));
    Ok(())
}

/// Errors must not leak internals.
async fn errors(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let r = client
        .post(format!("{base}/api/v2/auth/login"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"username\": [}")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body = r.text().await.unwrap_or_default();
    let leak = LEAK_MARKERS.iter().find(|m| body.contains(*m));
    out.push(finding(
        "errors.leakage",
        leak.is_none(),
        leak.map_or_else(
            || "malformed JSON answered without internals".to_owned(),
            |m| format!("error body contains {m:?}"),
        ),
    ));
    Ok(())
}

/// Removed API versions must be gone.
async fn versions(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let status = get(client, base, "/api/v1/users").await?.status();
    out.push(finding(
        "version.removed",
        status == 410 || status == 404,
        format!("/api/v1/users answered {}", status.as_u16()),
    ));
    Ok(())
}

/// `alg: none` tokens must be refused.
async fn unsigned_tokens(
    client: &Client,
    base: &str,
    out: &mut Vec<Finding>,
) -> Result<(), String> {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(
            serde_json::json!({"sub": "1", "exp": 4_102_444_800u64, "iss": "rampart", "aud": "rampart-api"})
        )
    );
    let status = client
        .request(Method::GET, format!("{base}/api/v2/users/me"))
        .bearer_auth(none)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status();
    out.push(finding(
        "jwt.alg-none",
        !status.is_success(),
        format!("an unsigned token answered {}", status.as_u16()),
    ));
    Ok(())
}

/// Rate limiting: advertised, or enforced within 150 requests.
async fn rate_limit(client: &Client, base: &str, out: &mut Vec<Finding>) -> Result<(), String> {
    let mut limited = None;
    for i in 1..=150 {
        let r = get(client, base, "/api/v2/rampart-scan").await?;
        if r.headers().contains_key("ratelimit-limit")
            || r.headers().contains_key("x-ratelimit-limit")
        {
            limited = Some(format!("RateLimit headers present (request {i})"));
            break;
        }
        if r.status() == 429 {
            limited = Some(format!("429 after {i} requests"));
            break;
        }
    }
    out.push(finding(
        "ratelimit.presence",
        limited.is_some(),
        limited.unwrap_or_else(|| "150 requests, no limit seen".to_owned()),
    ));
    Ok(())
}
