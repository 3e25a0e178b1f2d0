//! The secret values every provider is asked for, parsed: the signing key,
//! the versioned data keys, the database URL and the audit signing seed.

use std::{collections::BTreeMap, fmt};

use base64::Engine as _;
use rampart::secrets::{Secret, SecretSet};
use secrecy::{ExposeSecret, SecretBox};

use super::ConfigError;

/// The keys every provider is asked for (SPEC §8, and §10's
/// `audit_signing_key`).
pub const SECRET_KEYS: &[&str] = &[
    "secret_key",
    "data_keys",
    "database_url",
    "audit_signing_key",
];

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
        self.keys
            .get(&version)
            .map(secrecy::ExposeSecret::expose_secret)
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
