//! Settings from `RAMPART_*` variables (and `.env`), validated once at startup.
//!
//! Every invalid value is a [`ConfigError`] naming the variable; nothing falls
//! back to a default silently. An empty value counts as unset, except for the
//! list variables (`RAMPART_CORS_ORIGINS`, `RAMPART_ALLOWED_HOSTS`,
//! `RAMPART_TRUSTED_PROXIES`) where empty means an empty list.
//! Error messages echo the offending value only for settings that cannot hold
//! a secret.
//!
//! The settings are grouped by what reads them ([`Settings::http`] for the
//! layer stack, [`Settings::limits`] for the limiters, …); each group is
//! parsed by its own function below.

pub mod checks;
mod dev_keys;
mod keys;
mod parse;
mod provider;
mod source;
pub mod variables;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use futures_util::FutureExt as _;
use ipnet::IpNet;
use rampart::{
    cors::CorsPolicy,
    hosts::AllowedHosts,
    secrets::{Secret, SecretSet, SecretsError, SecretsProvider},
};
use secrecy::ExposeSecret;

pub use keys::{DataKeys, SECRET_KEYS, Secrets};
use parse::{parse_addr, parse_bool, parse_http_url, parse_num, parse_proxy, secs};
pub use provider::{AwsSpec, ProviderSpec, VaultSpec};
pub use source::Source;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds an invalid value.
    #[error("{variable}: {reason}")]
    Invalid {
        /// The variable's name.
        variable: &'static str,
        /// What is wrong, without the value when it may be secret.
        reason: String,
    },
    /// The secrets provider could not be read.
    #[error("secrets provider {provider}: {reason}")]
    Secrets {
        /// The provider's name.
        provider: String,
        /// What failed (never a value).
        reason: String,
    },
    /// A file the configuration needs could not be read or written.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What the file is for.
        what: &'static str,
        /// Where it is.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

pub(crate) fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        variable,
        reason: reason.into(),
    }
}

impl From<SecretsError> for ConfigError {
    fn from(e: SecretsError) -> Self {
        Self::Secrets {
            provider: e.provider().to_owned(),
            reason: e.reason().to_owned(),
        }
    }
}

/// Development or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local work: generated keys, warnings instead of refusals.
    Development,
    /// Refuses to start while any production check fails.
    Production,
}

/// Every setting of SPEC §1, validated and grouped.
#[derive(Debug)]
pub struct Settings {
    /// `RAMPART_ENV`.
    pub env: Environment,
    /// `RAMPART_DEBUG`.
    pub debug: bool,
    /// The listeners and the request-level layers.
    pub http: HttpSettings,
    /// Rate limits and the login lockout.
    pub limits: LimitSettings,
    /// Token lifetimes.
    pub sessions: SessionSettings,
    /// The audit trail.
    pub audit: AuditSettings,
    /// The database and the upload store.
    pub storage: StorageSettings,
    /// Secret values, as the provider gave them.
    pub secrets: Secrets,
    /// Where the secrets come from, and their refresh.
    pub secrets_source: SecretsSource,
    /// Services Rampart calls out to.
    pub outbound: OutboundSettings,
}

/// The listeners and the request-level layers.
#[derive(Debug)]
pub struct HttpSettings {
    /// `RAMPART_BIND`.
    pub bind: SocketAddr,
    /// `RAMPART_ADMIN_BIND`.
    pub admin_bind: SocketAddr,
    /// `RAMPART_CORS_ORIGINS`, exact origins (`*` is kept so checks can flag it).
    pub cors_origins: Vec<String>,
    /// The CORS policy built from `cors_origins`.
    pub cors: CorsPolicy,
    /// `RAMPART_ALLOWED_HOSTS`.
    pub allowed_hosts: AllowedHosts,
    /// `RAMPART_TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpNet>,
    /// `RAMPART_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `RAMPART_REQUEST_TIMEOUT_SECS`.
    pub request_timeout: Duration,
}

/// Rate limits and the login lockout.
#[derive(Debug)]
pub struct LimitSettings {
    /// `RAMPART_REDIS_URL` (may carry a password): shared limits when set.
    pub redis_url: Option<Secret>,
    /// `RAMPART_RATE_LIMIT_PER_MIN`.
    pub rate_limit_per_min: u32,
    /// `RAMPART_SEARCH_LIMIT_PER_MIN`.
    pub search_limit_per_min: u32,
    /// `RAMPART_RATE_LIMIT_FAIL_OPEN`.
    pub rate_limit_fail_open: bool,
    /// `RAMPART_LOGIN_LOCKOUT_THRESHOLD`.
    pub lockout_threshold: u32,
    /// `RAMPART_LOGIN_IP_THRESHOLD`: failed logins per client address per
    /// 15 minutes before it is refused.
    pub lockout_ip_threshold: u32,
    /// `RAMPART_LOGIN_LOCKOUT_BASE_SECS`.
    pub lockout_base: Duration,
    /// `RAMPART_HASH_PERMITS`: password hashes at once, each with its own
    /// thread and 19 MiB buffer (default: the available cores).
    pub hash_permits: usize,
    /// `RAMPART_HASH_QUEUE`: password hashes that may wait for a thread
    /// before a login answers 503 (default 32 per permit).
    pub hash_queue: usize,
}

/// Token lifetimes.
#[derive(Debug)]
pub struct SessionSettings {
    /// `RAMPART_ACCESS_TOKEN_TTL_SECS`.
    pub access_token_ttl: Duration,
    /// `RAMPART_REFRESH_TOKEN_TTL_SECS`.
    pub refresh_token_ttl: Duration,
}

/// The audit trail.
#[derive(Debug)]
pub struct AuditSettings {
    /// `RAMPART_ALERT_WEBHOOK`.
    pub alert_webhook: Option<http::Uri>,
    /// `RAMPART_AUDIT_RETENTION_DAYS`.
    pub retention_days: u32,
    /// `RAMPART_AUDIT_CHECKPOINT_DIR`.
    pub checkpoint_dir: PathBuf,
}

/// The database and the upload store.
#[derive(Debug)]
pub struct StorageSettings {
    /// `RAMPART_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `RAMPART_DATABASE_URL` (may carry a password).
    pub database_url: Secret,
    /// `RAMPART_MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: u64,
    /// `RAMPART_UPLOAD_QUOTA_BYTES`.
    pub upload_quota_bytes: u64,
}

impl StorageSettings {
    /// The directory uploaded files are stored in.
    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}

/// Where the secrets come from, and their refresh.
#[derive(Debug)]
pub struct SecretsSource {
    /// `RAMPART_SECRETS_PROVIDER` and its settings.
    pub spec: ProviderSpec,
    /// The provider the secrets came from, kept for the refresh.
    pub provider: Arc<dyn SecretsProvider>,
    /// Whether the secret key was generated for development.
    pub key_generated: bool,
    /// `RAMPART_SECRETS_REFRESH_SECS`.
    pub refresh: Duration,
}

/// Services Rampart calls out to.
#[derive(Debug)]
pub struct OutboundSettings {
    /// `RAMPART_PAYMENT_PROCESSOR_URL`: unset uses the built-in test processor.
    pub payment_processor_url: Option<http::Uri>,
    /// `RAMPART_DIAGNOSTICS_ALLOW_PRIVATE`.
    pub diagnostics_allow_private: bool,
}

impl Settings {
    /// Reads and validates every setting, then reads the chosen provider's
    /// secrets. An unreachable provider is an error naming it.
    pub async fn load(src: &Source) -> Result<Self, ConfigError> {
        let spec = ProviderSpec::parse(src)?;
        let provider = spec.build(src).await?;
        let set = provider.fetch(SECRET_KEYS).await?;
        Self::assemble(src, spec, provider, set)
    }

    /// [`Settings::load`] for the providers that need no network (`env`,
    /// `file:`), without a runtime; `vault` and `aws` need `load`.
    pub fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let spec = ProviderSpec::parse(src)?;
        let provider = spec.local(src).ok_or_else(|| {
            invalid(
                "RAMPART_SECRETS_PROVIDER",
                format!("the {spec} provider is read asynchronously (Settings::load)"),
            )
        })?;
        // Local providers answer without waiting.
        let set = provider
            .fetch(SECRET_KEYS)
            .now_or_never()
            .unwrap_or_else(|| {
                Err(SecretsError::new(
                    provider.name(),
                    rampart::secrets::SecretsErrorKind::Config,
                    "did not answer at once",
                ))
            })?;
        Self::assemble(src, spec, provider, set)
    }

    fn assemble(
        src: &Source,
        spec: ProviderSpec,
        provider: Arc<dyn SecretsProvider>,
        set: SecretSet,
    ) -> Result<Self, ConfigError> {
        let env = match src.get("RAMPART_ENV").map(str::trim) {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "RAMPART_ENV",
                    format!("{other:?} is neither \"development\" nor \"production\""),
                ));
            }
        };
        let secrets = Secrets::from_set(&provider.name(), set)?;
        let storage = StorageSettings::parse(src, &secrets)?;
        Ok(Self {
            env,
            debug: parse_bool(src, "RAMPART_DEBUG", false)?,
            http: HttpSettings::parse(src)?,
            limits: LimitSettings::parse(src)?,
            sessions: SessionSettings::parse(src)?,
            audit: AuditSettings::parse(src, &storage.data_dir)?,
            storage,
            secrets,
            secrets_source: SecretsSource {
                spec,
                provider,
                key_generated: false,
                refresh: secs(src, "RAMPART_SECRETS_REFRESH_SECS", 300, 1, 86_400)?,
            },
            outbound: OutboundSettings {
                payment_processor_url: parse_http_url(src, "RAMPART_PAYMENT_PROCESSOR_URL")?,
                diagnostics_allow_private: parse_bool(
                    src,
                    "RAMPART_DIAGNOSTICS_ALLOW_PRIVATE",
                    false,
                )?,
            },
        })
    }
}

const GIB: u64 = 1 << 30;

impl HttpSettings {
    fn parse(src: &Source) -> Result<Self, ConfigError> {
        let cors_origins = src.get_list("RAMPART_CORS_ORIGINS").unwrap_or_default();
        let cors = if cors_origins.iter().any(|o| o == "*") {
            // A literal `*`, never the caller's origin; production refuses it.
            CorsPolicy::any_origin()
        } else {
            CorsPolicy::origins(&cors_origins)
                .map_err(|e| invalid("RAMPART_CORS_ORIGINS", e.to_string()))?
        };
        let hosts = src
            .get_list("RAMPART_ALLOWED_HOSTS")
            .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]);
        let allowed_hosts = AllowedHosts::new(&hosts)
            .map_err(|e| invalid("RAMPART_ALLOWED_HOSTS", e.to_string()))?;
        let trusted_proxies = src
            .get_list("RAMPART_TRUSTED_PROXIES")
            .unwrap_or_default()
            .iter()
            .map(|p| parse_proxy(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("RAMPART_TRUSTED_PROXIES", e))?;
        Ok(Self {
            bind: parse_addr(src, "RAMPART_BIND", "127.0.0.1:8080")?,
            admin_bind: parse_addr(src, "RAMPART_ADMIN_BIND", "127.0.0.1:9090")?,
            cors_origins,
            cors,
            allowed_hosts,
            trusted_proxies,
            max_body_bytes: parse_num(src, "RAMPART_MAX_BODY_BYTES", 65_536, 1, 64 << 20)?,
            request_timeout: secs(src, "RAMPART_REQUEST_TIMEOUT_SECS", 30, 1, 3600)?,
        })
    }
}

impl LimitSettings {
    fn parse(src: &Source) -> Result<Self, ConfigError> {
        let redis_url = match src.get("RAMPART_REDIS_URL") {
            Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {
                Some(Secret::from(u.trim()))
            }
            Some(_) => {
                return Err(invalid(
                    "RAMPART_REDIS_URL",
                    "must start with redis:// or rediss:// (value not shown: it may hold a password)",
                ));
            }
            None => None,
        };
        // One hash per core keeps every core busy in a flood without a
        // hash waiting on another for CPU; the threads run at a lower
        // priority, so requests still get the CPU first.
        let hash_permits = parse_num(
            src,
            "RAMPART_HASH_PERMITS",
            rampart::password::default_permits(),
            1,
            256,
        )?;
        Ok(Self {
            redis_url,
            rate_limit_per_min: parse_num(src, "RAMPART_RATE_LIMIT_PER_MIN", 100, 1, 1_000_000)?,
            search_limit_per_min: parse_num(src, "RAMPART_SEARCH_LIMIT_PER_MIN", 10, 1, 1_000_000)?,
            rate_limit_fail_open: parse_bool(src, "RAMPART_RATE_LIMIT_FAIL_OPEN", false)?,
            lockout_threshold: parse_num(src, "RAMPART_LOGIN_LOCKOUT_THRESHOLD", 5, 1, 1000)?,
            lockout_ip_threshold: parse_num(src, "RAMPART_LOGIN_IP_THRESHOLD", 20, 1, 1_000_000)?,
            lockout_base: secs(src, "RAMPART_LOGIN_LOCKOUT_BASE_SECS", 60, 1, 86_400)?,
            hash_permits,
            hash_queue: parse_num(
                src,
                "RAMPART_HASH_QUEUE",
                hash_permits * rampart::password::QUEUE_PER_PERMIT,
                0,
                100_000,
            )?,
        })
    }
}

impl SessionSettings {
    fn parse(src: &Source) -> Result<Self, ConfigError> {
        Ok(Self {
            access_token_ttl: secs(src, "RAMPART_ACCESS_TOKEN_TTL_SECS", 900, 1, 86_400)?,
            refresh_token_ttl: secs(
                src,
                "RAMPART_REFRESH_TOKEN_TTL_SECS",
                604_800,
                1,
                31_536_000,
            )?,
        })
    }
}

impl AuditSettings {
    fn parse(src: &Source, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        Ok(Self {
            alert_webhook: parse_http_url(src, "RAMPART_ALERT_WEBHOOK")?,
            retention_days: parse_num(src, "RAMPART_AUDIT_RETENTION_DAYS", 2555, 1, 36_500)?,
            checkpoint_dir: src
                .get("RAMPART_AUDIT_CHECKPOINT_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("audit-checkpoints")),
        })
    }
}

impl StorageSettings {
    fn parse(src: &Source, secrets: &Secrets) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(src.get("RAMPART_DATA_DIR").unwrap_or("./data"));
        let database_url = match (&secrets.database_url, src.get("RAMPART_DATABASE_URL")) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => Secret::from(url.trim()),
            (None, None) => Secret::new(format!("sqlite://{}/rampart.db", data_dir.display())),
        };
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| database_url.expose_secret().starts_with(p));
        if !scheme_ok {
            return Err(invalid(
                "RAMPART_DATABASE_URL",
                "must start with sqlite: or postgres:// (value not shown: it may hold a password)",
            ));
        }
        Ok(Self {
            data_dir,
            database_url,
            max_upload_bytes: parse_num(src, "RAMPART_MAX_UPLOAD_BYTES", 10_485_760, 1, 4 * GIB)?,
            upload_quota_bytes: parse_num(
                src,
                "RAMPART_UPLOAD_QUOTA_BYTES",
                104_857_600,
                1,
                1024 * GIB,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_source(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.env, Environment::Development);
        assert_eq!(s.http.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.http.admin_bind.to_string(), "127.0.0.1:9090");
        assert_eq!(s.http.max_body_bytes, 65_536);
        assert_eq!(
            s.storage.database_url.expose_secret(),
            "sqlite://./data/rampart.db"
        );
        assert!(s.http.allowed_hosts.allows("localhost:8080"));
        assert_eq!(
            s.audit.checkpoint_dir,
            PathBuf::from("./data/audit-checkpoints")
        );
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("RAMPART_ENV", "staging"),
            ("RAMPART_BIND", "nonsense"),
            ("RAMPART_ADMIN_BIND", "localhost"),
            ("RAMPART_DEBUG", "maybe"),
            ("RAMPART_MAX_BODY_BYTES", "-1"),
            ("RAMPART_RATE_LIMIT_PER_MIN", "0"),
            ("RAMPART_REQUEST_TIMEOUT_SECS", "abc"),
            (
                "RAMPART_CORS_ORIGINS",
                "https://ok.example,https://bad.example/path",
            ),
            ("RAMPART_ALLOWED_HOSTS", "bad host"),
            ("RAMPART_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("RAMPART_DATA_KEYS", "v1:notbase64!"),
            ("RAMPART_DATA_KEYS", "v1:AAAA"),
            ("RAMPART_DATABASE_URL", "mysql://u:hunter2@db/x"),
            ("RAMPART_REDIS_URL", "http://u:hunter2@cache"),
            ("RAMPART_ALERT_WEBHOOK", "ftp://example.com/x"),
            ("RAMPART_SECRETS_PROVIDER", "carrier-pigeon"),
            ("RAMPART_AUDIT_SIGNING_KEY", "hunter2"),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value} gave {err}");
            assert!(!err.contains("hunter2"), "{name} leaked a password: {err}");
        }
    }

    #[test]
    fn remote_providers_name_what_they_are_missing() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("RAMPART_SECRETS_PROVIDER", "vault")],
                "RAMPART_VAULT_ADDR",
            ),
            (
                &[
                    ("RAMPART_SECRETS_PROVIDER", "vault"),
                    ("RAMPART_VAULT_ADDR", "https://vault"),
                ],
                "RAMPART_VAULT_TOKEN",
            ),
            (
                &[
                    ("RAMPART_SECRETS_PROVIDER", "vault"),
                    ("RAMPART_VAULT_ADDR", "https://vault"),
                    ("RAMPART_VAULT_ROLE_ID", "role"),
                ],
                "RAMPART_VAULT_ROLE_ID",
            ),
            (
                &[("RAMPART_SECRETS_PROVIDER", "aws")],
                "RAMPART_AWS_SECRET_ID",
            ),
        ];
        for (pairs, variable) in cases {
            let err = ProviderSpec::parse(&Source::from_pairs(pairs.iter().copied()))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(variable), "{pairs:?} gave {err}");
        }
    }

    #[test]
    fn data_keys_parse_and_pick_the_highest_version() {
        let k1 = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        let k2 = base64::engine::general_purpose::STANDARD.encode([2u8; 32]);
        let keys = DataKeys::parse(&format!("v2:{k2}, v1:{k1}")).unwrap();
        assert_eq!(keys.current_version(), 2);
        assert_eq!(keys.key(1), Some(&[1u8; 32]));
        assert!(!format!("{keys:?}").contains(&k1));
        assert!(DataKeys::parse(&format!("v1:{k1},v1:{k2}")).is_err());
    }

    #[test]
    fn file_provider_reads_trimmed_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("secret_key"),
            "  from-a-file-0123456789abcdefghijklmnop\n",
        )
        .unwrap();
        let provider = format!("file:{}", dir.path().display());
        let s = settings(&[("RAMPART_SECRETS_PROVIDER", &provider)]).unwrap();
        assert_eq!(
            s.secrets
                .secret_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned())
                .as_deref(),
            Some("from-a-file-0123456789abcdefghijklmnop")
        );
        let missing =
            settings(&[("RAMPART_SECRETS_PROVIDER", "file:/nonexistent/rampart")]).unwrap_err();
        assert!(missing.to_string().contains("file:/nonexistent/rampart"));
    }

    #[test]
    fn development_keys_are_generated_once_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let mut first = settings(&[("RAMPART_DATA_DIR", data_dir)]).unwrap();
        let warnings = first.ensure_development_keys().unwrap();
        assert_eq!(warnings.len(), 2);
        let key_path = dir.path().join("secret.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut second = settings(&[("RAMPART_DATA_DIR", data_dir)]).unwrap();
        second.ensure_development_keys().unwrap();
        assert_eq!(
            first.secrets.secret_key.unwrap().expose_secret(),
            second.secrets.secret_key.unwrap().expose_secret()
        );
        let mut prod = settings(&[
            ("RAMPART_DATA_DIR", data_dir),
            ("RAMPART_ENV", "production"),
        ])
        .unwrap();
        assert!(prod.ensure_development_keys().unwrap().is_empty());
        assert!(prod.secrets.secret_key.is_none());
    }
}
