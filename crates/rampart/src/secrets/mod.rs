//! Secrets: a value type that never prints, and providers that read a named
//! key set from the environment, a directory of files, HashiCorp Vault
//! (feature `vault`) or AWS Secrets Manager (feature `aws`).
//!
//! Every value is a [`Secret`]: its `Debug` and `Display` print
//! `[REDACTED]`, its memory is zeroized on drop (it wraps the `secrecy`
//! crate's `SecretString`), and reading it takes an explicit
//! [`expose_secret`](ExposeSecret::expose_secret). Errors ([`SecretsError`]) name the provider and the key, never a
//! value.
//!
//! ```
//! use rampart::secrets::{EnvProvider, ExposeSecret, SecretsProvider};
//!
//! # tokio_test(async {
//! let provider = EnvProvider::fixed([("APP_SECRET_KEY", "s3cr3t-value")]).with_prefix("APP_");
//! let set = provider.fetch(&["secret_key", "data_keys"]).await.unwrap();
//! assert_eq!(set.get("secret_key").unwrap().expose_secret(), "s3cr3t-value");
//! assert!(set.get("data_keys").is_none());
//! assert!(!format!("{set:?}").contains("s3cr3t"));
//! # });
//! # fn tokio_test(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    time::Duration,
};

pub use secrecy::{ExposeSecret, SecretBox, SecretString};

/// A secret string: `Debug` and `Display` print `[REDACTED]`, the memory
/// is zeroized on drop.
///
/// ```
/// use rampart::secrets::{ExposeSecret, Secret};
///
/// let key = Secret::from("correct-horse-battery-staple");
/// assert_eq!(format!("{key} {key:?}"), "[REDACTED] [REDACTED]");
/// assert_eq!(key.expose_secret(), "correct-horse-battery-staple");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps `value` (moved, not copied).
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
    }
}

impl ExposeSecret<str> for Secret {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

#[cfg(feature = "aws")]
pub mod aws;
pub mod dotenv;
#[cfg(feature = "vault")]
pub mod vault;

/// The future a provider returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a provider could not be read. The message names the provider and,
/// where one is at fault, the key; never a value.
#[derive(Debug, thiserror::Error)]
#[error("secrets provider {provider}: {reason}")]
pub struct SecretsError {
    provider: String,
    kind: SecretsErrorKind,
    reason: String,
}

/// The kind of a [`SecretsError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretsErrorKind {
    /// The provider did not answer (connection, TLS, timeout).
    Unreachable,
    /// The provider refused the credentials (HTTP 401/403, bad AppRole).
    Denied,
    /// The secret, path or directory does not exist.
    NotFound,
    /// The provider answered with something that is not a key set.
    Malformed,
    /// The provider's configuration is unusable.
    Config,
}

impl SecretsError {
    /// A new error for `provider`.
    pub fn new(
        provider: impl Into<String>,
        kind: SecretsErrorKind,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            kind,
            reason: reason.into(),
        }
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// What went wrong, without the provider's name.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// What went wrong, broadly.
    pub fn kind(&self) -> SecretsErrorKind {
        self.kind
    }
}

/// Named secret values, as one provider returned them. `Debug` lists the
/// key names only.
#[derive(Default)]
pub struct SecretSet {
    values: BTreeMap<String, Secret>,
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSet")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretSet {
    /// Adds (or replaces) a value.
    pub fn insert(&mut self, key: impl Into<String>, value: Secret) {
        self.values.insert(key.into(), value);
    }

    /// The value of `key`, if the provider had one.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.values.get(key)
    }

    /// Removes and returns the value of `key`.
    pub fn take(&mut self, key: &str) -> Option<Secret> {
        self.values.remove(key)
    }

    /// The key names present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Whether no key was found.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A source of secrets. `fetch` is called at startup and again on every
/// refresh; it returns the requested keys that exist (a missing key is not
/// an error: the caller decides which keys are required).
pub trait SecretsProvider: Send + Sync + fmt::Debug {
    /// A short name for messages: `env`, `file:/run/secrets`, `vault`, `aws`.
    fn name(&self) -> String;

    /// Reads `keys`. Empty values count as missing.
    fn fetch<'a>(&'a self, keys: &'a [&'a str]) -> BoxFuture<'a, Result<SecretSet, SecretsError>>;

    /// Keeps the provider's own credentials alive (a Vault token is renewed
    /// before it expires). Returns when to call again, or `None` when the
    /// provider has nothing to renew. The default has nothing to renew.
    fn keep_alive(&self) -> BoxFuture<'_, Result<Option<Duration>, SecretsError>> {
        Box::pin(async { Ok(None) })
    }
}

fn non_empty(value: &str) -> Option<Secret> {
    let value = value.trim();
    (!value.is_empty()).then(|| Secret::from(value))
}

/// Environment variables: key `secret_key` is `{PREFIX}SECRET_KEY`.
///
/// [`EnvProvider::process`] reads the process environment on every fetch,
/// over an optional dotenv file (the environment wins), so a refresh sees
/// changes to the file. [`EnvProvider::fixed`] holds a fixed map (tests,
/// embedding).
pub struct EnvProvider {
    prefix: String,
    dotenv: Option<PathBuf>,
    fixed: Option<HashMap<String, Secret>>,
}

impl fmt::Debug for EnvProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvProvider")
            .field("prefix", &self.prefix)
            .field("dotenv", &self.dotenv)
            .field("fixed", &self.fixed.is_some())
            .finish()
    }
}

impl EnvProvider {
    /// The process environment, with no prefix and no dotenv file.
    pub fn process() -> Self {
        Self {
            prefix: String::new(),
            dotenv: None,
            fixed: None,
        }
    }

    /// A fixed set of variables instead of the process environment.
    pub fn fixed<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            prefix: String::new(),
            dotenv: None,
            fixed: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), Secret::new(v.into())))
                    .collect(),
            ),
        }
    }

    /// Variable names are `prefix` + the key in upper case.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Also reads this dotenv file (when it exists); the environment wins.
    pub fn with_dotenv(mut self, path: impl Into<PathBuf>) -> Self {
        self.dotenv = Some(path.into());
        self
    }

    fn variable(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key.to_ascii_uppercase())
    }

    /// [`SecretsProvider::fetch`] without the future: the environment needs
    /// no waiting.
    pub fn read(&self, keys: &[&str]) -> Result<SecretSet, SecretsError> {
        let mut set = SecretSet::default();
        if let Some(fixed) = &self.fixed {
            for key in keys {
                if let Some(value) = fixed.get(&self.variable(key))
                    && let Some(v) = non_empty(value.expose_secret())
                {
                    set.insert(*key, v);
                }
            }
            return Ok(set);
        }
        let names: Vec<String> = keys.iter().map(|k| self.variable(k)).collect();
        if let Some(path) = &self.dotenv {
            let pairs = dotenv::read(path).map_err(|e| {
                let kind = match e {
                    dotenv::DotenvError::Unreadable { .. } => SecretsErrorKind::Unreachable,
                    dotenv::DotenvError::Malformed { .. } => SecretsErrorKind::Malformed,
                };
                SecretsError::new("env", kind, e.to_string())
            })?;
            for (name, value) in pairs {
                if let Some(i) = names.iter().position(|n| *n == name)
                    && let Some(v) = non_empty(value.expose_secret())
                {
                    set.insert(keys[i], v);
                }
            }
        }
        for (key, name) in keys.iter().zip(&names) {
            if let Some(value) = std::env::var_os(name) {
                match value.to_str().and_then(non_empty) {
                    Some(v) => set.insert(*key, v),
                    None if value.is_empty() => {}
                    None => {
                        return Err(SecretsError::new(
                            "env",
                            SecretsErrorKind::Malformed,
                            format!("{name} is not valid UTF-8"),
                        ));
                    }
                }
            }
        }
        Ok(set)
    }
}

impl SecretsProvider for EnvProvider {
    fn name(&self) -> String {
        "env".to_owned()
    }

    fn fetch<'a>(&'a self, keys: &'a [&'a str]) -> BoxFuture<'a, Result<SecretSet, SecretsError>> {
        let result = self.read(keys);
        Box::pin(async move { result })
    }
}

/// One file per key in a directory (`DIR/secret_key`), as container
/// orchestrators mount secrets; surrounding whitespace is trimmed.
#[derive(Debug, Clone)]
pub struct FileProvider {
    dir: PathBuf,
}

impl FileProvider {
    /// Files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`SecretsProvider::fetch`] without the future.
    pub fn read(&self, keys: &[&str]) -> Result<SecretSet, SecretsError> {
        let fail = |kind, reason: String| SecretsError::new(self.name(), kind, reason);
        if !self.dir.is_dir() {
            return Err(fail(
                SecretsErrorKind::NotFound,
                "the directory does not exist".to_owned(),
            ));
        }
        let mut set = SecretSet::default();
        for key in keys {
            if key.contains(['/', '\\']) || key.starts_with('.') {
                return Err(fail(
                    SecretsErrorKind::Config,
                    format!("{key:?} is not a file name"),
                ));
            }
            match std::fs::read(self.dir.join(key)) {
                Ok(bytes) => {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        fail(SecretsErrorKind::Malformed, format!("{key} is not UTF-8"))
                    })?;
                    let text = Secret::new(text);
                    if let Some(v) = non_empty(text.expose_secret()) {
                        set.insert(*key, v);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(fail(
                        SecretsErrorKind::Unreachable,
                        format!("cannot read {key}: {}", e.kind()),
                    ));
                }
            }
        }
        Ok(set)
    }
}

impl SecretsProvider for FileProvider {
    fn name(&self) -> String {
        format!("file:{}", self.dir.display())
    }

    fn fetch<'a>(&'a self, keys: &'a [&'a str]) -> BoxFuture<'a, Result<SecretSet, SecretsError>> {
        let result = self.read(keys);
        Box::pin(async move { result })
    }
}

/// Values in a JSON object (a Vault KV v2 `data` map, an AWS secret
/// string): the requested keys whose values are strings. A requested key
/// holding another JSON type is an error naming the key.
#[cfg(any(feature = "vault", feature = "aws"))]
fn from_json_object(
    provider: &str,
    object: &serde_json::Map<String, serde_json::Value>,
    keys: &[&str],
) -> Result<SecretSet, SecretsError> {
    let mut set = SecretSet::default();
    for key in keys {
        match object.get(*key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) => {
                if let Some(v) = non_empty(s) {
                    set.insert(*key, v);
                }
            }
            Some(_) => {
                return Err(SecretsError::new(
                    provider,
                    SecretsErrorKind::Malformed,
                    format!("{key} is not a string"),
                ));
            }
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_reads_prefixed_names_and_ignores_empty_values() {
        let p = EnvProvider::fixed([("X_SECRET_KEY", " value-1 "), ("X_DATA_KEYS", "  ")])
            .with_prefix("X_");
        let set = p
            .read(&["secret_key", "data_keys", "database_url"])
            .unwrap();
        assert_eq!(set.get("secret_key").unwrap().expose_secret(), "value-1");
        assert_eq!(set.keys().collect::<Vec<_>>(), ["secret_key"]);
    }

    #[test]
    fn env_reads_a_dotenv_file_on_every_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "RAMPART_TEST_UNSET_ONE=first-value\n").unwrap();
        let p = EnvProvider::process()
            .with_prefix("RAMPART_TEST_UNSET_")
            .with_dotenv(&path);
        let read = |p: &EnvProvider| {
            p.read(&["one"])
                .unwrap()
                .get("one")
                .map(|v| v.expose_secret().to_owned())
        };
        assert_eq!(read(&p).as_deref(), Some("first-value"));
        std::fs::write(&path, "RAMPART_TEST_UNSET_ONE=second-value\n").unwrap();
        assert_eq!(read(&p).as_deref(), Some("second-value"));
        std::fs::write(&path, "RAMPART_TEST_UNSET_ONE='unterminated-secret\n").unwrap();
        let err = p.read(&["one"]).unwrap_err().to_string();
        assert!(!err.contains("unterminated-secret"), "{err}");
    }

    #[test]
    fn files_are_trimmed_and_missing_files_are_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret_key"), "\n  file-secret \n").unwrap();
        let p = FileProvider::new(dir.path());
        let set = p.read(&["secret_key", "data_keys"]).unwrap();
        assert_eq!(
            set.get("secret_key").unwrap().expose_secret(),
            "file-secret"
        );
        assert!(set.get("data_keys").is_none());
        assert!(!format!("{set:?} {p:?}").contains("file-secret"));
        assert!(p.read(&["../etc/passwd"]).is_err());
        let missing = FileProvider::new("/nonexistent/rampart").read(&["secret_key"]);
        let err = missing.unwrap_err();
        assert_eq!(err.kind(), SecretsErrorKind::NotFound);
        assert!(err.to_string().contains("file:/nonexistent/rampart"));
    }

    #[test]
    fn secret_values_print_redacted() {
        let value = Secret::from("hunter2-value");
        assert_eq!(format!("{value:?}/{value}"), "[REDACTED]/[REDACTED]");
    }
}
