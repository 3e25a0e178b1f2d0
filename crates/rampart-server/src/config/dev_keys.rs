//! Development keys: generated once into the data directory so a fresh
//! checkout runs without configuration; never in production.

use std::path::Path;

use base64::Engine as _;
use rampart::secrets::Secret;

use super::{ConfigError, DataKeys, Environment, Settings};

impl Settings {
    /// In development, fills missing keys from `data/secret.key` and
    /// `data/data.key`, generating them (mode 0600) on first start. Returns
    /// one warning per generated or loaded key. Production never generates.
    pub fn ensure_development_keys(&mut self) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        if self.env != Environment::Development {
            return Ok(warnings);
        }
        if self.secrets.secret_key.is_none() {
            let path = self.storage.data_dir.join("secret.key");
            let (text, created) = load_or_create(&path, || {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes())
            })?;
            self.secrets.secret_key = Some(Secret::new(text));
            self.secrets_source.key_generated = true;
            warnings.push(format!(
                "no secret key configured: {} the development key in {} (never use it in production)",
                if created { "generated" } else { "using" },
                path.display()
            ));
        }
        if self.secrets.data_keys.is_none() {
            let path = self.storage.data_dir.join("data.key");
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
