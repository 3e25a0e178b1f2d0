//! Settings from `RAMPART_*` variables (and `.env`), validated once at startup.
//!
//! Every invalid value is a [`ConfigError`] naming the variable; nothing falls
//! back to a default silently. An empty value counts as unset, except for the
//! list variables (`RAMPART_CORS_ORIGINS`, `RAMPART_ALLOWED_HOSTS`,
//! `RAMPART_TRUSTED_PROXIES`) where empty means an empty list.
//! Error messages echo the offending value only for settings that cannot hold
//! a secret.

pub mod checks;

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use base64::Engine as _;
use futures_util::FutureExt as _;
use ipnet::IpNet;
use rampart::{
    cors::CorsPolicy,
    hosts::AllowedHosts,
    secrets::{EnvProvider, FileProvider, Secret, SecretSet, SecretsError, SecretsProvider},
};
use secrecy::{ExposeSecret, SecretBox};

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

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
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

/// Where variables come from: the process environment over `.env`.
///
/// Besides `RAMPART_*`, the standard `AWS_*` variables are kept for the
/// `aws` secrets provider (so they may be in `.env` too).
#[derive(Clone, Default)]
pub struct Source {
    vars: HashMap<String, String>,
    /// Whether the variables came from the process (the `env` secrets
    /// provider then re-reads the process and `.env` on refresh).
    process: bool,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Source")
            .field("names", &names)
            .field("process", &self.process)
            .finish()
    }
}

fn is_ours(name: &str) -> bool {
    name.starts_with("RAMPART_") || name.starts_with("AWS_")
}

impl Source {
    /// The process environment, on top of `./.env` when it exists.
    pub fn from_process() -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        // The library's reader: a bad line is reported by number and
        // variable name, never quoted.
        let pairs = rampart::secrets::dotenv::read(std::path::Path::new(".env"))
            .map_err(|e| invalid("(.env)", e.to_string()))?;
        for (k, v) in pairs {
            use rampart::secrets::ExposeSecret as _;
            vars.insert(k, v.expose_secret().to_owned());
        }
        vars.retain(|k, _| is_ours(k));
        vars.extend(std::env::vars().filter(|(k, _)| is_ours(k)));
        Ok(Self {
            vars,
            process: true,
        })
    }

    /// A source from explicit pairs (tests, embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            process: false,
        }
    }

    /// Sets one variable.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_owned(), value.into());
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn get_list(&self, name: &str) -> Option<Vec<String>> {
        self.vars.get(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
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

/// The keys every provider is asked for (SPEC §8, and §10's
/// `audit_signing_key`).
pub const SECRET_KEYS: &[&str] = &[
    "secret_key",
    "data_keys",
    "database_url",
    "audit_signing_key",
];

/// Which secrets provider `RAMPART_SECRETS_PROVIDER` chose, with its
/// settings (SPEC §8).
#[derive(Debug, Clone)]
pub enum ProviderSpec {
    /// `RAMPART_SECRET_KEY`, `RAMPART_DATA_KEYS`, `RAMPART_DATABASE_URL`,
    /// `RAMPART_AUDIT_SIGNING_KEY`.
    Env,
    /// Files `secret_key`, `data_keys`, `database_url`, `audit_signing_key`
    /// in a directory.
    File(PathBuf),
    /// HashiCorp Vault KV v2.
    Vault(VaultSpec),
    /// AWS Secrets Manager.
    Aws(AwsSpec),
}

/// `RAMPART_VAULT_*`.
#[derive(Debug, Clone)]
pub struct VaultSpec {
    /// `RAMPART_VAULT_ADDR`.
    pub addr: String,
    /// `RAMPART_VAULT_MOUNT`.
    pub mount: String,
    /// `RAMPART_VAULT_PATH`.
    pub path: String,
    /// `RAMPART_VAULT_TOKEN`.
    pub token: Option<Secret>,
    /// `RAMPART_VAULT_ROLE_ID` and `RAMPART_VAULT_SECRET_ID`.
    pub approle: Option<(Secret, Secret)>,
    /// `RAMPART_VAULT_CACERT`: a PEM file of an extra trusted CA.
    pub ca_cert: Option<PathBuf>,
}

/// `RAMPART_AWS_SECRET_ID` and the standard `AWS_*` overrides.
#[derive(Debug, Clone)]
pub struct AwsSpec {
    /// `RAMPART_AWS_SECRET_ID`.
    pub secret_id: String,
    /// `AWS_REGION` (else the standard chain).
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<Secret>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<Secret>,
}

impl fmt::Display for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("env"),
            Self::File(dir) => write!(f, "file:{}", dir.display()),
            Self::Vault(_) => f.write_str("vault"),
            Self::Aws(_) => f.write_str("aws"),
        }
    }
}

impl ProviderSpec {
    /// Reads `RAMPART_SECRETS_PROVIDER` and the chosen provider's settings.
    pub fn parse(src: &Source) -> Result<Self, ConfigError> {
        const VAR: &str = "RAMPART_SECRETS_PROVIDER";
        let secret = |name: &str| src.get(name).map(|v| Secret::from(v.trim()));
        match src.get(VAR).map(str::trim) {
            None | Some("env") => Ok(Self::Env),
            Some(p) if p.starts_with("file:") && p.len() > 5 => {
                Ok(Self::File(PathBuf::from(&p[5..])))
            }
            Some("vault") => {
                let addr = src.get("RAMPART_VAULT_ADDR").ok_or_else(|| {
                    invalid("RAMPART_VAULT_ADDR", "is required by the vault provider")
                })?;
                let token = secret("RAMPART_VAULT_TOKEN");
                let approle = match (
                    secret("RAMPART_VAULT_ROLE_ID"),
                    secret("RAMPART_VAULT_SECRET_ID"),
                ) {
                    (Some(role), Some(id)) => Some((role, id)),
                    (None, None) => None,
                    _ => {
                        return Err(invalid(
                            "RAMPART_VAULT_ROLE_ID",
                            "AppRole needs both RAMPART_VAULT_ROLE_ID and RAMPART_VAULT_SECRET_ID",
                        ));
                    }
                };
                match (&token, &approle) {
                    (Some(_), Some(_)) => {
                        return Err(invalid(
                            "RAMPART_VAULT_TOKEN",
                            "set either RAMPART_VAULT_TOKEN or the AppRole pair, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(invalid(
                            "RAMPART_VAULT_TOKEN",
                            "the vault provider needs RAMPART_VAULT_TOKEN or RAMPART_VAULT_ROLE_ID + RAMPART_VAULT_SECRET_ID",
                        ));
                    }
                    _ => {}
                }
                Ok(Self::Vault(VaultSpec {
                    addr: addr.trim().to_owned(),
                    mount: src
                        .get("RAMPART_VAULT_MOUNT")
                        .unwrap_or("secret")
                        .trim()
                        .to_owned(),
                    path: src
                        .get("RAMPART_VAULT_PATH")
                        .unwrap_or("rampart")
                        .trim()
                        .to_owned(),
                    token,
                    approle,
                    ca_cert: src.get("RAMPART_VAULT_CACERT").map(PathBuf::from),
                }))
            }
            Some("aws") => {
                let secret_id = src.get("RAMPART_AWS_SECRET_ID").ok_or_else(|| {
                    invalid("RAMPART_AWS_SECRET_ID", "is required by the aws provider")
                })?;
                Ok(Self::Aws(AwsSpec {
                    secret_id: secret_id.trim().to_owned(),
                    region: src.get("AWS_REGION").map(|v| v.trim().to_owned()),
                    endpoint_url: src.get("AWS_ENDPOINT_URL").map(|v| v.trim().to_owned()),
                    access_key_id: secret("AWS_ACCESS_KEY_ID"),
                    secret_access_key: secret("AWS_SECRET_ACCESS_KEY"),
                    session_token: secret("AWS_SESSION_TOKEN"),
                }))
            }
            Some(other) => Err(invalid(
                VAR,
                format!("{other:?} is not one of env, file:DIR, vault, aws"),
            )),
        }
    }

    /// The `env` and `file:` providers, which need no network.
    fn local(&self, src: &Source) -> Option<Arc<dyn SecretsProvider>> {
        match self {
            Self::Env if src.process => Some(Arc::new(
                EnvProvider::process()
                    .with_prefix("RAMPART_")
                    .with_dotenv(".env"),
            )),
            Self::Env => Some(Arc::new(
                EnvProvider::fixed(src.vars.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .with_prefix("RAMPART_"),
            )),
            Self::File(dir) => Some(Arc::new(FileProvider::new(dir))),
            Self::Vault(_) | Self::Aws(_) => None,
        }
    }

    /// Builds the provider (the AWS SDK loads its configuration here).
    async fn build(&self, src: &Source) -> Result<Arc<dyn SecretsProvider>, ConfigError> {
        if let Some(local) = self.local(src) {
            return Ok(local);
        }
        match self {
            #[cfg(feature = "vault")]
            Self::Vault(spec) => {
                use rampart::secrets::vault::{VaultAuth, VaultConfig, VaultProvider};
                let auth = match (&spec.token, &spec.approle) {
                    (Some(token), _) => VaultAuth::Token(token.clone()),
                    (None, Some((role_id, secret_id))) => VaultAuth::AppRole {
                        role_id: role_id.clone(),
                        secret_id: secret_id.clone(),
                    },
                    (None, None) => {
                        return Err(invalid("RAMPART_VAULT_TOKEN", "no Vault login configured"));
                    }
                };
                let mut config = VaultConfig::new(&spec.addr, auth);
                config.mount.clone_from(&spec.mount);
                config.path.clone_from(&spec.path);
                if let Some(path) = &spec.ca_cert {
                    config.ca_cert_pem =
                        Some(std::fs::read(path).map_err(|source| ConfigError::Io {
                            what: "Vault CA certificate (RAMPART_VAULT_CACERT)",
                            path: path.display().to_string(),
                            source,
                        })?);
                }
                Ok(Arc::new(VaultProvider::new(config)?))
            }
            #[cfg(feature = "aws")]
            Self::Aws(spec) => {
                use rampart::secrets::aws::{AwsOptions, AwsProvider};
                let options = AwsOptions {
                    region: spec.region.clone(),
                    endpoint_url: spec.endpoint_url.clone(),
                    access_key_id: spec.access_key_id.clone(),
                    secret_access_key: spec.secret_access_key.clone(),
                    session_token: spec.session_token.clone(),
                };
                Ok(Arc::new(
                    AwsProvider::connect(&spec.secret_id, options).await?,
                ))
            }
            other => Err(invalid(
                "RAMPART_SECRETS_PROVIDER",
                format!("this build of rampart has no {other} provider (cargo feature {other})"),
            )),
        }
    }
}

/// Versioned 32-byte keys for PHI field encryption; the highest version
/// encrypts.
pub struct DataKeys {
    keys: BTreeMap<u32, SecretBox<[u8; 32]>>,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeys")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl DataKeys {
    /// Parses `v1:<base64 32 bytes>,v2:…`. Errors never include key material.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        for (i, item) in text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let n = i + 1;
            let (version, key) = item
                .split_once(':')
                .ok_or_else(|| format!("entry {n} is not of the form v<N>:<base64 key>"))?;
            let version: u32 = version
                .strip_prefix('v')
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("entry {n} has an invalid version (expected v1, v2, …)"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key.trim()))
                .map_err(|_| format!("key v{version} is not valid base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("key v{version} does not decode to exactly 32 bytes"))?;
            if keys
                .insert(version, SecretBox::new(Box::new(key)))
                .is_some()
            {
                return Err(format!("version v{version} appears twice"));
            }
        }
        if keys.is_empty() {
            return Err("no keys given".to_owned());
        }
        Ok(Self { keys })
    }

    /// The version that encrypts new values.
    pub fn current_version(&self) -> u32 {
        self.keys.keys().next_back().copied().unwrap_or(0)
    }

    /// The key of `version`.
    pub fn key(&self, version: u32) -> Option<&[u8; 32]> {
        self.keys.get(&version).map(|k| k.expose_secret())
    }

    /// The field cipher holding every version (the highest encrypts).
    pub fn cipher(&self) -> Result<rampart::crypto::FieldCipher, rampart::crypto::CryptoError> {
        rampart::crypto::FieldCipher::new(self.keys.iter().map(|(v, k)| (*v, *k.expose_secret())))
    }
}

/// The secret values of SPEC §8, as one provider gave them.
#[derive(Debug, Default)]
pub struct Secrets {
    /// JWT signing key (raw UTF-8 bytes are the HMAC key).
    pub secret_key: Option<Secret>,
    /// PHI data keys.
    pub data_keys: Option<DataKeys>,
    /// Database URL, when the provider supplies it.
    pub database_url: Option<Secret>,
    /// The Ed25519 seed that signs audit checkpoints (base64 of 32 bytes).
    pub audit_signing_key: Option<SecretBox<[u8; 32]>>,
}

impl Secrets {
    /// Parses a provider's key set; errors name the provider and the key,
    /// never the value.
    pub fn from_set(provider: &str, mut set: SecretSet) -> Result<Self, ConfigError> {
        let bad = |key: &str, reason: String| ConfigError::Secrets {
            provider: provider.to_owned(),
            reason: if provider == "env" {
                format!("RAMPART_{}: {reason}", key.to_ascii_uppercase())
            } else {
                format!("{key}: {reason}")
            },
        };
        let data_keys = set
            .take("data_keys")
            .map(|text| DataKeys::parse(text.expose_secret()).map_err(|r| bad("data_keys", r)))
            .transpose()?;
        let audit_signing_key = set
            .take("audit_signing_key")
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text.expose_secret().trim())
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .map(|seed| SecretBox::new(Box::new(seed)))
                    .ok_or_else(|| {
                        bad(
                            "audit_signing_key",
                            "is not the base64 of 32 bytes".to_owned(),
                        )
                    })
            })
            .transpose()?;
        Ok(Self {
            secret_key: set.take("secret_key"),
            data_keys,
            database_url: set.take("database_url"),
            audit_signing_key,
        })
    }
}

/// Every setting of SPEC §1, validated.
#[derive(Debug)]
pub struct Settings {
    /// `RAMPART_ENV`.
    pub env: Environment,
    /// `RAMPART_BIND`.
    pub bind: SocketAddr,
    /// `RAMPART_ADMIN_BIND`.
    pub admin_bind: SocketAddr,
    /// `RAMPART_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `RAMPART_DATABASE_URL` (may carry a password).
    pub database_url: Secret,
    /// `RAMPART_REDIS_URL` (may carry a password).
    pub redis_url: Option<Secret>,
    /// `RAMPART_SECRETS_PROVIDER` and its settings.
    pub secrets_spec: ProviderSpec,
    /// The provider the secrets came from, kept for the refresh.
    pub secrets_provider: Arc<dyn SecretsProvider>,
    /// Secret values.
    pub secrets: Secrets,
    /// Whether the secret key was generated for development.
    pub secret_key_generated: bool,
    /// `RAMPART_SECRETS_REFRESH_SECS`.
    pub secrets_refresh: Duration,
    /// `RAMPART_DEBUG`.
    pub debug: bool,
    /// `RAMPART_CORS_ORIGINS`, exact origins (`*` is kept so checks can flag it).
    pub cors_origins: Vec<String>,
    /// The CORS policy built from `cors_origins`.
    pub cors: CorsPolicy,
    /// `RAMPART_ALLOWED_HOSTS`.
    pub allowed_hosts: AllowedHosts,
    /// `RAMPART_TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpNet>,
    /// `RAMPART_ACCESS_TOKEN_TTL_SECS`.
    pub access_token_ttl: Duration,
    /// `RAMPART_REFRESH_TOKEN_TTL_SECS`.
    pub refresh_token_ttl: Duration,
    /// `RAMPART_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `RAMPART_MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: u64,
    /// `RAMPART_RATE_LIMIT_PER_MIN`.
    pub rate_limit_per_min: u32,
    /// `RAMPART_SEARCH_LIMIT_PER_MIN`.
    pub search_limit_per_min: u32,
    /// `RAMPART_ALERT_WEBHOOK`.
    pub alert_webhook: Option<http::Uri>,
    /// `RAMPART_AUDIT_RETENTION_DAYS`.
    pub audit_retention_days: u32,
    /// `RAMPART_DIAGNOSTICS_ALLOW_PRIVATE`.
    pub diagnostics_allow_private: bool,
    /// `RAMPART_RATE_LIMIT_FAIL_OPEN`.
    pub rate_limit_fail_open: bool,
    /// `RAMPART_LOGIN_LOCKOUT_THRESHOLD`.
    pub lockout_threshold: u32,
    /// `RAMPART_LOGIN_IP_THRESHOLD`: failed logins per client address per
    /// 15 minutes before it is refused.
    pub lockout_ip_threshold: u32,
    /// `RAMPART_LOGIN_LOCKOUT_BASE_SECS`.
    pub lockout_base: Duration,
    /// `RAMPART_REQUEST_TIMEOUT_SECS`.
    pub request_timeout: Duration,
    /// `RAMPART_UPLOAD_QUOTA_BYTES`.
    pub upload_quota_bytes: u64,
    /// `RAMPART_AUDIT_CHECKPOINT_DIR`.
    pub audit_checkpoint_dir: PathBuf,
    /// `RAMPART_PAYMENT_PROCESSOR_URL`: unset uses the built-in test processor.
    pub payment_processor_url: Option<http::Uri>,
}

fn parse_num<T>(
    src: &Source,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = src.get(name) else {
        return Ok(default);
    };
    let value: T = raw
        .trim()
        .parse()
        .map_err(|_| invalid(name, format!("{raw:?} is not a whole number")))?;
    if value < min || value > max {
        return Err(invalid(name, format!("{value} is outside {min}..={max}")));
    }
    Ok(value)
}

fn parse_bool(src: &Source, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    let Some(raw) = src.get(name) else {
        return Ok(default);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            name,
            format!("{raw:?} is not a boolean (true or false)"),
        )),
    }
}

fn parse_addr(src: &Source, name: &'static str, default: &str) -> Result<SocketAddr, ConfigError> {
    let raw = src.get(name).unwrap_or(default).trim();
    raw.parse().map_err(|_| {
        invalid(
            name,
            format!("{raw:?} is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)"),
        )
    })
}

/// An optional absolute `http(s)` URL.
fn parse_http_url(src: &Source, name: &'static str) -> Result<Option<http::Uri>, ConfigError> {
    let Some(raw) = src.get(name) else {
        return Ok(None);
    };
    let uri: http::Uri = raw
        .trim()
        .parse()
        .map_err(|_| invalid(name, "is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(invalid(name, "must be an absolute http(s) URL"));
    }
    Ok(Some(uri))
}

fn parse_proxy(entry: &str) -> Result<IpNet, String> {
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{entry:?} is not an IP address or CIDR block"))
}

fn secs(
    src: &Source,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    parse_num(src, name, default, min, max).map(Duration::from_secs)
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
        secrets_spec: ProviderSpec,
        secrets_provider: Arc<dyn SecretsProvider>,
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
        let data_dir = PathBuf::from(src.get("RAMPART_DATA_DIR").unwrap_or("./data"));
        let secrets = Secrets::from_set(&secrets_provider.name(), set)?;
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
        let alert_webhook = parse_http_url(src, "RAMPART_ALERT_WEBHOOK")?;
        let audit_checkpoint_dir = src
            .get("RAMPART_AUDIT_CHECKPOINT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("audit-checkpoints"));
        let payment_processor_url = parse_http_url(src, "RAMPART_PAYMENT_PROCESSOR_URL")?;
        const GIB: u64 = 1 << 30;
        Ok(Self {
            env,
            bind: parse_addr(src, "RAMPART_BIND", "127.0.0.1:8080")?,
            admin_bind: parse_addr(src, "RAMPART_ADMIN_BIND", "127.0.0.1:9090")?,
            database_url,
            redis_url,
            secrets_spec,
            secrets_provider,
            secrets,
            secret_key_generated: false,
            secrets_refresh: secs(src, "RAMPART_SECRETS_REFRESH_SECS", 300, 1, 86_400)?,
            debug: parse_bool(src, "RAMPART_DEBUG", false)?,
            cors_origins,
            cors,
            allowed_hosts,
            trusted_proxies,
            access_token_ttl: secs(src, "RAMPART_ACCESS_TOKEN_TTL_SECS", 900, 1, 86_400)?,
            refresh_token_ttl: secs(
                src,
                "RAMPART_REFRESH_TOKEN_TTL_SECS",
                604_800,
                1,
                31_536_000,
            )?,
            max_body_bytes: parse_num(src, "RAMPART_MAX_BODY_BYTES", 65_536, 1, 64 << 20)?,
            max_upload_bytes: parse_num(src, "RAMPART_MAX_UPLOAD_BYTES", 10_485_760, 1, 4 * GIB)?,
            rate_limit_per_min: parse_num(src, "RAMPART_RATE_LIMIT_PER_MIN", 100, 1, 1_000_000)?,
            search_limit_per_min: parse_num(src, "RAMPART_SEARCH_LIMIT_PER_MIN", 10, 1, 1_000_000)?,
            alert_webhook,
            audit_retention_days: parse_num(src, "RAMPART_AUDIT_RETENTION_DAYS", 2555, 1, 36_500)?,
            diagnostics_allow_private: parse_bool(src, "RAMPART_DIAGNOSTICS_ALLOW_PRIVATE", false)?,
            rate_limit_fail_open: parse_bool(src, "RAMPART_RATE_LIMIT_FAIL_OPEN", false)?,
            lockout_threshold: parse_num(src, "RAMPART_LOGIN_LOCKOUT_THRESHOLD", 5, 1, 1000)?,
            lockout_ip_threshold: parse_num(src, "RAMPART_LOGIN_IP_THRESHOLD", 20, 1, 1_000_000)?,
            lockout_base: secs(src, "RAMPART_LOGIN_LOCKOUT_BASE_SECS", 60, 1, 86_400)?,
            request_timeout: secs(src, "RAMPART_REQUEST_TIMEOUT_SECS", 30, 1, 3600)?,
            upload_quota_bytes: parse_num(
                src,
                "RAMPART_UPLOAD_QUOTA_BYTES",
                104_857_600,
                1,
                1024 * GIB,
            )?,
            audit_checkpoint_dir,
            payment_processor_url,
            data_dir,
        })
    }

    /// The directory uploaded files are stored in.
    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// In development, fills missing keys from `data/secret.key` and
    /// `data/data.key`, generating them (mode 0600) on first start. Returns
    /// one warning per generated or loaded key. Production never generates.
    pub fn ensure_development_keys(&mut self) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        if self.env != Environment::Development {
            return Ok(warnings);
        }
        if self.secrets.secret_key.is_none() {
            let path = self.data_dir.join("secret.key");
            let (text, created) = load_or_create(&path, || {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes())
            })?;
            self.secrets.secret_key = Some(Secret::new(text));
            self.secret_key_generated = true;
            warnings.push(format!(
                "no secret key configured: {} the development key in {} (never use it in production)",
                if created { "generated" } else { "using" },
                path.display()
            ));
        }
        if self.secrets.data_keys.is_none() {
            let path = self.data_dir.join("data.key");
            let (text, created) = load_or_create(&path, || {
                format!(
                    "v1:{}",
                    base64::engine::general_purpose::STANDARD.encode(random_bytes())
                )
            })?;
            let keys = DataKeys::parse(&text).map_err(|reason| ConfigError::Invalid {
                variable: "RAMPART_DATA_KEYS",
                reason: format!("{}: {reason}", path.display()),
            })?;
            self.secrets.data_keys = Some(keys);
            warnings.push(format!(
                "no data key configured: {} the development key in {}",
                if created { "generated" } else { "using" },
                path.display()
            ));
        }
        Ok(warnings)
    }
}

fn random_bytes() -> [u8; 32] {
    use rand::RngCore as _;
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    buf
}

fn load_or_create(
    path: &Path,
    make: impl FnOnce() -> String,
) -> Result<(String, bool), ConfigError> {
    let io = |source| ConfigError::Io {
        what: "development key file",
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok((text.trim().to_owned(), false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent() {
        crate::private_dir::create_private_dir(dir).map_err(io)?;
    }
    let text = make();
    write_private(path, &text).map_err(io)?;
    Ok((text, true))
}

/// Writes a new file readable only by its owner.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_source(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.env, Environment::Development);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.admin_bind.to_string(), "127.0.0.1:9090");
        assert_eq!(s.max_body_bytes, 65_536);
        assert_eq!(s.database_url.expose_secret(), "sqlite://./data/rampart.db");
        assert!(s.allowed_hosts.allows("localhost:8080"));
        assert_eq!(
            s.audit_checkpoint_dir,
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
