//! A small Vault server on loopback speaking the documented HTTP API that
//! Rampart uses: KV v2 reads, AppRole login, token lookup and renewal.
//! Tokens expire after their TTL unless renewed; a missing, unknown or
//! expired token is a 403 with `{"errors":["permission denied"]}`, like
//! Vault.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

struct Token {
    ttl: Duration,
    expires: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, Token>,
    approle: Option<(String, String, Duration)>,
    kv: HashMap<String, Value>,
    logins: u32,
    renewals: u32,
    reads: u32,
    issued: u32,
    failing_lookups: u32,
}

/// The running fake.
#[derive(Clone)]
pub(crate) struct FakeVault {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    tls: bool,
}

fn denied() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"errors": ["permission denied"]})),
    )
        .into_response()
}

fn router(inner: Arc<Mutex<Inner>>) -> Router {
    Router::new()
        .route("/v1/auth/approle/login", post(login))
        .route("/v1/auth/token/lookup-self", get(lookup))
        .route("/v1/auth/token/renew-self", post(renew))
        .route("/v1/{mount}/data/{*path}", get(read))
        .with_state(inner)
}

impl FakeVault {
    /// Over plain HTTP.
    pub(crate) async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = router(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            inner,
            tls: false,
        }
    }

    /// Over HTTPS, with a certificate for 127.0.0.1 issued by a CA made
    /// for this server; returns the CA certificate (PEM) too.
    pub(crate) async fn start_tls() -> (Self, String) {
        use hyper_util::{rt::TokioIo, service::TowerToHyperService};
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        use tokio_rustls::rustls;

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = router(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                        .await;
                });
            }
        });
        let vault = Self {
            addr,
            inner,
            tls: true,
        };
        (vault, ca_pem)
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// A token; `ttl` zero never expires.
    pub(crate) fn add_token(&self, token: &str, ttl: Duration) {
        let expires = (!ttl.is_zero()).then(|| Instant::now() + ttl);
        self.inner
            .lock()
            .unwrap()
            .tokens
            .insert(token.to_owned(), Token { ttl, expires });
    }

    /// Enables AppRole; issued tokens live `ttl` unless renewed.
    pub(crate) fn enable_approle(&self, role_id: &str, secret_id: &str, ttl: Duration) {
        self.inner.lock().unwrap().approle = Some((role_id.into(), secret_id.into(), ttl));
    }

    /// Writes a KV v2 secret at `mount/path`.
    pub(crate) fn put(&self, mount_path: &str, data: Value) {
        self.inner
            .lock()
            .unwrap()
            .kv
            .insert(mount_path.to_owned(), data);
    }

    /// Deletes the secret at `mount/path` (reads become 404).
    pub(crate) fn remove(&self, mount_path: &str) {
        self.inner.lock().unwrap().kv.remove(mount_path);
    }

    /// The next `n` token lookups fail with 503 (a sealed or restarting
    /// Vault).
    pub(crate) fn fail_next_lookups(&self, n: u32) {
        self.inner.lock().unwrap().failing_lookups = n;
    }

    pub(crate) fn logins(&self) -> u32 {
        self.inner.lock().unwrap().logins
    }

    pub(crate) fn renewals(&self) -> u32 {
        self.inner.lock().unwrap().renewals
    }

    pub(crate) fn reads(&self) -> u32 {
        self.inner.lock().unwrap().reads
    }
}

fn valid(inner: &Inner, headers: &HeaderMap) -> Option<String> {
    let token = headers.get("x-vault-token")?.to_str().ok()?;
    let t = inner.tokens.get(token)?;
    match t.expires {
        Some(at) if Instant::now() >= at => None,
        _ => Some(token.to_owned()),
    }
}

async fn login(State(inner): State<Arc<Mutex<Inner>>>, Json(body): Json<Value>) -> Response {
    let mut inner = inner.lock().unwrap();
    let Some((role, secret, ttl)) = inner.approle.clone() else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["no approle"]})),
        )
            .into_response();
    };
    if body["role_id"] != role.as_str() || body["secret_id"] != secret.as_str() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["invalid role or secret ID"]})),
        )
            .into_response();
    }
    inner.logins += 1;
    inner.issued += 1;
    let token = format!("hvs.approle-token-{}", inner.issued);
    inner.tokens.insert(
        token.clone(),
        Token {
            ttl,
            expires: Some(Instant::now() + ttl),
        },
    );
    Json(json!({"auth": {"client_token": token, "lease_duration": ttl.as_secs(), "renewable": true, "policies": ["rampart"]}}))
        .into_response()
}

async fn lookup(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let mut inner = inner.lock().unwrap();
    if inner.failing_lookups > 0 {
        inner.failing_lookups -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"errors": ["Vault is sealed"]})),
        )
            .into_response();
    }
    let Some(token) = valid(&inner, &headers) else {
        return denied();
    };
    let t = &inner.tokens[&token];
    let ttl = t.expires.map_or(0, |at| {
        at.saturating_duration_since(Instant::now()).as_secs()
    });
    Json(json!({"data": {"ttl": ttl, "renewable": !t.ttl.is_zero()}})).into_response()
}

async fn renew(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let mut inner = inner.lock().unwrap();
    let Some(token) = valid(&inner, &headers) else {
        return denied();
    };
    inner.renewals += 1;
    let t = inner.tokens.get_mut(&token).unwrap();
    t.expires = Some(Instant::now() + t.ttl);
    let ttl = t.ttl.as_secs();
    Json(json!({"auth": {"client_token": token, "lease_duration": ttl, "renewable": true}}))
        .into_response()
}

async fn read(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((mount, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if valid(&inner, &headers).is_none() {
        return denied();
    }
    inner.reads += 1;
    match inner.kv.get(&format!("{mount}/{path}")) {
        Some(data) => Json(json!({
            "data": {"data": data, "metadata": {"version": 1, "destroyed": false}}
        }))
        .into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"errors": []}))).into_response(),
    }
}
