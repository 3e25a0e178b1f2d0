//! Starts the real server (router, stack, listeners, database) on loopback
//! ports in a temporary data directory, and talks to it like a client.

pub(crate) mod binary;
pub(crate) mod chain;
pub(crate) mod probe;
pub(crate) mod vault;

use std::net::SocketAddr;

use rampart_server::{
    config::{Settings, Source},
    domain::Role,
    startup::{self, Running},
};
use tempfile::TempDir;

/// A running server and a client for it.
pub(crate) struct TestApp {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub client: reqwest::Client,
    pub running: Option<Running>,
    /// Kept so the directory lives as long as the server.
    pub _data_dir: TempDir,
}

impl TestApp {
    /// The server with default settings.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// The server with extra `RAMPART_*` settings. The probe routes of
    /// [`probe`] are mounted under `/api/v2/_probe/` behind the same stack.
    pub(crate) async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        Self::spawn_in(tempfile::tempdir().unwrap(), vars).await
    }

    /// Stops the server (writing its final audit checkpoint) and starts a
    /// new one on the same data directory.
    pub(crate) async fn restart(self) -> Self {
        self.restart_with(&[]).await
    }

    /// [`TestApp::restart`] with other settings.
    pub(crate) async fn restart_with(mut self, vars: &[(&str, &str)]) -> Self {
        self.stop().await;
        Self::spawn_in(self._data_dir, vars).await
    }

    /// Stops the server; the data directory stays for inspection.
    pub(crate) async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    pub(crate) async fn spawn_in(data_dir: TempDir, vars: &[(&str, &str)]) -> Self {
        let mut source = Source::from_pairs([
            ("RAMPART_BIND", "127.0.0.1:0"),
            ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
            // Tests of other features make many requests from one address;
            // the rate-limit tests set their own limit.
            ("RAMPART_RATE_LIMIT_PER_MIN", "100000"),
        ]);
        source.set("RAMPART_DATA_DIR", data_dir.path().to_str().unwrap());
        for (k, v) in vars {
            source.set(k, *v);
        }
        let mut settings = Settings::load(&source).await.unwrap();
        settings.ensure_development_keys().unwrap();
        let running = startup::start(settings, Some(probe::routes()))
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            addr: running.api_addr,
            admin_addr: running.admin_addr,
            client,
            running: Some(running),
            _data_dir: data_dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin_addr)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub(crate) async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// The admin listener's Prometheus text.
    pub(crate) async fn metrics(&self) -> String {
        self.client
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The JSON body of `GET path` with `token`.
    pub(crate) async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        json(
            self.authed(reqwest::Method::GET, path, token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The status of `GET /api/v2/users/me` with `token`.
    pub(crate) async fn me_status(&self, token: &str) -> u16 {
        self.authed(reqwest::Method::GET, "/api/v2/users/me", token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub(crate) fn state(&self) -> &rampart_server::state::AppState {
        &self.running.as_ref().unwrap().state
    }

    /// A request with a bearer token.
    pub(crate) fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Registers `username` with a strong password; returns the self view.
    pub(crate) async fn register(&self, username: &str) -> serde_json::Value {
        let body = serde_json::json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
        });
        let r = self
            .post_json("/api/v2/auth/register", &body.to_string())
            .await;
        assert_eq!(r.status(), 201, "register {username}");
        json(r).await
    }

    /// Logs in; returns the token pair.
    pub(crate) async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let body = serde_json::json!({"username": username, "password": password});
        let r = self
            .post_json("/api/v2/auth/login", &body.to_string())
            .await;
        assert_eq!(r.status(), 200, "login {username}");
        json(r).await
    }

    /// Registers and logs in; returns (user id, access token, refresh token).
    pub(crate) async fn user(&self, username: &str) -> Session {
        let user = self.register(username).await;
        let tokens = self.login(username, PASSWORD).await;
        Session {
            id: user["id"].as_i64().unwrap(),
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A user promoted to `role` directly in the store, then logged in.
    pub(crate) async fn user_with_role(&self, username: &str, role: Role) -> Session {
        let session = self.user(username).await;
        self.state()
            .db
            .users()
            .set_role(
                rampart_server::domain::UserId::new(session.id),
                role,
                |_| rampart::audit::AuditEvent::new(rampart::audit::EventType::PermissionChange),
            )
            .await
            .unwrap()
            .unwrap();
        session
    }

    /// The server's data directory.
    pub(crate) fn data_path(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// The JWT secret the server signs with (for forging tokens in tests).
    pub(crate) fn jwt_secret(&self) -> Vec<u8> {
        use secrecy::ExposeSecret;
        let key = self.state().settings.secrets.secret_key.as_ref().unwrap();
        key.expose_secret().as_bytes().to_vec()
    }
}

/// A logged-in user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: i64,
    pub access: String,
    pub refresh: String,
}

/// The password every test user gets.
pub(crate) const PASSWORD: &str = "vivid-otter-carpet-91";

/// Parses a JSON body and checks, for every response the tests read, that
/// no key anywhere names a password or a hash.
pub(crate) async fn json(response: reqwest::Response) -> serde_json::Value {
    let body: serde_json::Value = response.json().await.unwrap();
    assert_no_secret_keys(&body);
    body
}

pub(crate) fn assert_no_secret_keys(value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let k = k.to_ascii_lowercase();
                // The audit chain's own `hash` and `prev_hash` are public by
                // design (SPEC §9); any other hash-like key is a leak.
                let chain_hash = k == "hash" || k == "prev_hash";
                assert!(
                    !k.contains("password")
                        && (chain_hash || !k.contains("hash"))
                        && !k.contains("token_version"),
                    "a response exposes {k}: {value}"
                );
                assert_no_secret_keys(v);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(assert_no_secret_keys),
        _ => {}
    }
}

/// The headers SPEC §2 requires on every response, with their values.
pub(crate) const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "permissions-policy",
        "geolocation=(), microphone=(), camera=()",
    ),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-xss-protection", "0"),
];

/// The API's own CSP (docs pages relax it for themselves).
pub(crate) const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Asserts the full security header set, a valid request id and no
/// server-identifying headers; `case` names the request in failures.
pub(crate) fn assert_security_headers(case: &str, headers: &reqwest::header::HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            headers.get(*name).and_then(|v| v.to_str().ok()),
            Some(*value),
            "{case}: header {name}"
        );
    }
    assert!(
        headers.contains_key("content-security-policy"),
        "{case}: CSP"
    );
    let id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{case}: no x-request-id"));
    assert!(
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{case}: request id {id:?}"
    );
    assert!(!headers.contains_key("server"), "{case}: Server header");
    assert!(
        !headers.contains_key("x-powered-by"),
        "{case}: X-Powered-By header"
    );
}

/// Asserts an RFC 9457 body of `status` whose request id matches the header,
/// and returns it.
pub(crate) async fn assert_problem(
    case: &str,
    response: reqwest::Response,
    status: u16,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "{case}: status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{case}: content type"
    );
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json(response).await;
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not an object"));
    const REQUIRED: [&str; 6] = [
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "request_id",
    ];
    for key in REQUIRED {
        assert!(
            object.contains_key(key),
            "{case}: problem lacks {key}: {body}"
        );
    }
    for key in object.keys() {
        assert!(
            REQUIRED.contains(&key.as_str()) || key == "errors",
            "{case}: unexpected key {key}"
        );
    }
    assert_eq!(body["status"], status, "{case}: body status");
    assert_eq!(
        body["request_id"],
        header_id.as_str(),
        "{case}: body request id"
    );
    body
}

/// Runs `n` requests that are all built first and then released together
/// through a barrier, as an attacker's burst would be; returns each
/// request's result in order.
pub(crate) async fn burst<T, F, Fut>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let barrier = tokio::sync::Barrier::new(n);
    let barrier = &barrier;
    let requests = (0..n).map(|i| {
        let request = make(i);
        async move {
            barrier.wait().await;
            request.await
        }
    });
    futures_util::future::join_all(requests).await
}

/// Asserts that a burst's answers are at most `limit` of `checked` (the
/// requests that got through the gate) and 429 for all the others.
pub(crate) fn assert_at_most(statuses: &[u16], checked: u16, limit: usize) {
    let through = statuses.iter().filter(|s| **s == checked).count();
    assert!(through <= limit, "{through} got through: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        statuses.len() - through,
        "every other request is limited: {statuses:?}"
    );
}
