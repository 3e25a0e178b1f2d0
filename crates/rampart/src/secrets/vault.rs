//! HashiCorp Vault KV v2 (feature `vault`): token or AppRole login, the
//! token renewed before it expires, TLS verified (against the system's web
//! PKI roots, or a CA certificate you pass).
//!
//! The HTTP calls are the documented ones: `POST /v1/auth/approle/login`,
//! `GET /v1/auth/token/lookup-self`, `POST /v1/auth/token/renew-self` and
//! `GET /v1/{mount}/data/{path}` with the `X-Vault-Token` header.
//!
//! ```no_run
//! use rampart::secrets::{SecretsProvider, vault::{VaultAuth, VaultConfig, VaultProvider}};
//!
//! # async fn run() -> Result<(), rampart::secrets::SecretsError> {
//! let vault = VaultProvider::new(VaultConfig::new(
//!     "https://vault.internal:8200",
//!     VaultAuth::AppRole { role_id: "role".into(), secret_id: "from-the-orchestrator".into() },
//! ))?;
//! let secrets = vault.fetch(&["secret_key"]).await?;
//! # let _ = secrets; Ok(()) }
//! ```

use std::{
    fmt,
    time::{Duration, Instant},
};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::{
    BoxFuture, ExposeSecret, Secret, SecretSet, SecretsError, SecretsErrorKind, SecretsProvider,
};

/// How to log in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VaultAuth {
    /// A token issued elsewhere (`VAULT_TOKEN`).
    Token(Secret),
    /// AppRole: a login that yields a token; repeated when the token
    /// cannot be renewed any longer.
    AppRole {
        /// The role id.
        role_id: Secret,
        /// The secret id.
        secret_id: Secret,
    },
}

/// Where the secret is and how to reach it.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// Base address, e.g. `https://vault.internal:8200`.
    pub addr: String,
    /// KV v2 mount (`secret`).
    pub mount: String,
    /// Path under the mount (`rampart`).
    pub path: String,
    /// Login.
    pub auth: VaultAuth,
    /// Extra trusted CA certificate (PEM), for a private CA.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Timeout of each HTTP call.
    pub timeout: Duration,
}

impl VaultConfig {
    /// Mount `secret`, path `rampart`, no extra CA, 10 s timeout.
    pub fn new(addr: impl Into<String>, auth: VaultAuth) -> Self {
        Self {
            addr: addr.into(),
            mount: "secret".to_owned(),
            path: "rampart".to_owned(),
            auth,
            ca_cert_pem: None,
            timeout: Duration::from_secs(10),
        }
    }
}

struct Token {
    value: Secret,
    obtained: Instant,
    /// Zero: the token never expires.
    ttl: Duration,
    renewable: bool,
    /// Whether `ttl` is known (a configured token is looked up once).
    known: bool,
}

/// The Vault provider.
pub struct VaultProvider {
    config: VaultConfig,
    base: String,
    http: reqwest::Client,
    token: Mutex<Option<Token>>,
}

impl fmt::Debug for VaultProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultProvider")
            .field("addr", &self.config.addr)
            .field("mount", &self.config.mount)
            .field("path", &self.config.path)
            .field(
                "auth",
                &match self.config.auth {
                    VaultAuth::Token(_) => "token",
                    VaultAuth::AppRole { .. } => "approle",
                },
            )
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct AuthBody {
    auth: AuthInfo,
}

#[derive(Deserialize)]
struct AuthInfo {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct LookupBody {
    data: LookupData,
}

#[derive(Deserialize)]
struct LookupData {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct KvBody {
    data: KvData,
}

#[derive(Deserialize)]
struct KvData {
    data: serde_json::Map<String, serde_json::Value>,
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

impl VaultProvider {
    /// Checks the configuration and builds the HTTP client. Does not call
    /// Vault yet.
    pub fn new(config: VaultConfig) -> Result<Self, SecretsError> {
        let fail = |reason: String| SecretsError::new("vault", SecretsErrorKind::Config, reason);
        let base = config.addr.trim().trim_end_matches('/').to_owned();
        if !valid_base(&base) {
            return Err(fail(
                "the Vault address must be an http(s) URL without a path".to_owned(),
            ));
        }
        if !valid_segment(&config.mount) || !valid_segment(&config.path) {
            return Err(fail(
                "the mount and path may hold letters, digits, -, _, . and / only".to_owned(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base.starts_with("https://"));
        if let Some(pem) = &config.ca_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|_| fail("the CA certificate is not PEM".to_owned()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| fail(format!("cannot build the HTTP client: {e}")))?;
        let token = match &config.auth {
            VaultAuth::Token(t) => Some(Token {
                value: t.clone(),
                obtained: Instant::now(),
                ttl: Duration::ZERO,
                renewable: false,
                known: false,
            }),
            VaultAuth::AppRole { .. } => None,
        };
        Ok(Self {
            config,
            base,
            http,
            token: Mutex::new(token),
        })
    }

    fn error(&self, kind: SecretsErrorKind, reason: impl Into<String>) -> SecretsError {
        SecretsError::new("vault", kind, reason)
    }

    fn send_error(&self, e: &reqwest::Error) -> SecretsError {
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let what = if e.is_timeout() {
            "timed out".to_owned()
        } else {
            format!("request failed: {cause}")
        };
        self.error(
            SecretsErrorKind::Unreachable,
            format!("{} {what}", self.base),
        )
    }

    fn status_error(&self, status: reqwest::StatusCode, what: &str) -> SecretsError {
        match status.as_u16() {
            401 | 403 => self.error(
                SecretsErrorKind::Denied,
                format!("{what}: permission denied (HTTP {})", status.as_u16()),
            ),
            404 => self.error(
                SecretsErrorKind::NotFound,
                format!("{what}: not found (HTTP 404)"),
            ),
            400 if what == "AppRole login" => self.error(
                SecretsErrorKind::Denied,
                "AppRole login: invalid role or secret id (HTTP 400)",
            ),
            code => self.error(
                SecretsErrorKind::Unreachable,
                format!("{what}: HTTP {code}"),
            ),
        }
    }

    async fn login(&self) -> Result<Token, SecretsError> {
        let VaultAuth::AppRole { role_id, secret_id } = &self.config.auth else {
            return Err(self.error(
                SecretsErrorKind::Denied,
                "the configured token has expired or was revoked",
            ));
        };
        let body = serde_json::json!({
            "role_id": role_id.expose_secret(),
            "secret_id": secret_id.expose_secret(),
        });
        let response = self
            .http
            .post(format!("{}/v1/auth/approle/login", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        self.issued_token(response, "AppRole login").await
    }

    /// The token in a login or renewal answer (`{"auth": {…}}`).
    async fn issued_token(
        &self,
        response: reqwest::Response,
        what: &str,
    ) -> Result<Token, SecretsError> {
        if !response.status().is_success() {
            return Err(self.status_error(response.status(), what));
        }
        let auth: AuthBody = response.json().await.map_err(|_| {
            self.error(
                SecretsErrorKind::Malformed,
                format!("{what}: unexpected answer"),
            )
        })?;
        Ok(Token {
            value: Secret::new(auth.auth.client_token),
            obtained: Instant::now(),
            ttl: Duration::from_secs(auth.auth.lease_duration),
            renewable: auth.auth.renewable,
            known: true,
        })
    }

    /// The current token, logging in first when there is none.
    async fn current(&self) -> Result<Secret, SecretsError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref() {
            let expired =
                token.known && !token.ttl.is_zero() && token.obtained.elapsed() >= token.ttl;
            if !expired || matches!(self.config.auth, VaultAuth::Token(_)) {
                return Ok(token.value.clone());
            }
        }
        let token = self.login().await?;
        let value = token.value.clone();
        *slot = Some(token);
        Ok(value)
    }

    async fn read(&self, token: &Secret) -> Result<reqwest::Response, SecretsError> {
        self.http
            .get(format!(
                "{}/v1/{}/data/{}",
                self.base, self.config.mount, self.config.path
            ))
            .header("X-Vault-Token", token.expose_secret())
            .send()
            .await
            .map_err(|e| self.send_error(&e))
    }

    async fn fetch_keys(&self, keys: &[&str]) -> Result<SecretSet, SecretsError> {
        let token = self.current().await?;
        let mut response = self.read(&token).await?;
        if response.status() == reqwest::StatusCode::FORBIDDEN
            && matches!(self.config.auth, VaultAuth::AppRole { .. })
        {
            // The token may have been revoked or have expired early: log
            // in once more before giving up.
            let fresh = self.login().await?;
            let value = fresh.value.clone();
            *self.token.lock().await = Some(fresh);
            response = self.read(&value).await?;
        }
        let what = format!("reading {}/{}", self.config.mount, self.config.path);
        if !response.status().is_success() {
            return Err(self.status_error(response.status(), &what));
        }
        let body: KvBody = response.json().await.map_err(|_| {
            self.error(
                SecretsErrorKind::Malformed,
                format!("{what}: not a KV v2 answer"),
            )
        })?;
        super::from_json_object("vault", &body.data.data, keys)
    }

    /// Renews the token when two thirds of its lifetime have passed (or logs
    /// in again when it cannot be renewed); returns when to check again.
    async fn renew(&self) -> Result<Option<Duration>, SecretsError> {
        let mut slot = self.token.lock().await;
        let token = match slot.take() {
            Some(t) => t,
            None => self.login().await?,
        };
        let token = if token.known {
            token
        } else {
            match self.lookup(&token).await {
                Ok(looked_up) => looked_up,
                // A failed lookup (Vault sealed, restarting, unreachable)
                // says nothing about the token: keep it and look again at
                // the next keep-alive.
                Err(e) => {
                    *slot = Some(token);
                    return Err(e);
                }
            }
        };
        if token.ttl.is_zero() {
            // A token without expiry (e.g. a root or periodic-less service
            // token): nothing to renew.
            *slot = Some(token);
            return Ok(None);
        }
        let due = token.ttl * 2 / 3;
        let token = if token.obtained.elapsed() < due {
            token
        } else if token.renewable {
            match self.renew_self(&token).await {
                Ok(t) => t,
                Err(e) if matches!(self.config.auth, VaultAuth::AppRole { .. }) => {
                    tracing::warn!(error = %e, "vault token renewal failed; logging in again");
                    self.login().await?
                }
                Err(e) => {
                    *slot = Some(token);
                    return Err(e);
                }
            }
        } else if matches!(self.config.auth, VaultAuth::AppRole { .. }) {
            self.login().await?
        } else {
            let left = token.ttl.saturating_sub(token.obtained.elapsed());
            *slot = Some(token);
            return Err(self.error(
                SecretsErrorKind::Denied,
                format!(
                    "the configured token is not renewable and expires in {} s",
                    left.as_secs()
                ),
            ));
        };
        let next = (token.ttl * 2 / 3)
            .saturating_sub(token.obtained.elapsed())
            .max(Duration::from_secs(1));
        *slot = Some(token);
        Ok(Some(next))
    }

    async fn lookup(&self, token: &Token) -> Result<Token, SecretsError> {
        let response = self
            .http
            .get(format!("{}/v1/auth/token/lookup-self", self.base))
            .header("X-Vault-Token", token.value.expose_secret())
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        if !response.status().is_success() {
            return Err(self.status_error(response.status(), "token lookup"));
        }
        let body: LookupBody = response.json().await.map_err(|_| {
            self.error(
                SecretsErrorKind::Malformed,
                "token lookup: unexpected answer",
            )
        })?;
        Ok(Token {
            value: token.value.clone(),
            obtained: Instant::now(),
            ttl: Duration::from_secs(body.data.ttl),
            renewable: body.data.renewable,
            known: true,
        })
    }

    async fn renew_self(&self, token: &Token) -> Result<Token, SecretsError> {
        let response = self
            .http
            .post(format!("{}/v1/auth/token/renew-self", self.base))
            .header("X-Vault-Token", token.value.expose_secret())
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        self.issued_token(response, "token renewal").await
    }
}

/// Whether `base` is `http(s)://host[:port]` with nothing after.
fn valid_base(base: &str) -> bool {
    reqwest::Url::parse(base).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.username().is_empty()
            && u.password().is_none()
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
    })
}

impl SecretsProvider for VaultProvider {
    fn name(&self) -> String {
        "vault".to_owned()
    }

    fn fetch<'a>(&'a self, keys: &'a [&'a str]) -> BoxFuture<'a, Result<SecretSet, SecretsError>> {
        Box::pin(self.fetch_keys(keys))
    }

    fn keep_alive(&self) -> BoxFuture<'_, Result<Option<Duration>, SecretsError>> {
        Box::pin(self.renew())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked_and_debug_hides_credentials() {
        let auth = VaultAuth::AppRole {
            role_id: "role-1234".into(),
            secret_id: "secret-id-5678".into(),
        };
        let ok =
            VaultProvider::new(VaultConfig::new("http://127.0.0.1:8200/", auth.clone())).unwrap();
        let debug = format!("{ok:?}");
        assert!(
            !debug.contains("5678") && !debug.contains("role-1234"),
            "{debug}"
        );
        for addr in [
            "vault:8200",
            "https://vault/v1",
            "ftp://vault",
            "https://user@vault",
        ] {
            assert!(
                VaultProvider::new(VaultConfig::new(addr, auth.clone())).is_err(),
                "{addr}"
            );
        }
        let mut bad_path = VaultConfig::new("https://vault", auth);
        bad_path.path = "../sys".to_owned();
        assert!(VaultProvider::new(bad_path).is_err());
    }
}
