//! Field-level encryption at rest: XChaCha20-Poly1305 under versioned keys.
//!
//! Each value gets a fresh random 192-bit nonce; the stored form is
//! `v<version>:<base64(nonce ‖ ciphertext ‖ tag)>`, so the key version
//! travels with the value and rotation can proceed value by value. The
//! caller's context (record id and field name) is bound as associated data:
//! a ciphertext copied to another row or field does not decrypt. Keys are
//! held in zeroizing secret boxes.
//!
//! ```
//! use rampart::crypto::FieldCipher;
//!
//! let cipher = FieldCipher::new([(1, [7u8; 32])]).unwrap();
//! let stored = cipher.encrypt(b"diagnosis: flu", b"health:42:diagnosis").unwrap();
//! assert_eq!(cipher.decrypt(&stored, b"health:42:diagnosis").unwrap(), b"diagnosis: flu");
//! assert!(cipher.decrypt(&stored, b"health:43:diagnosis").is_err());
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};
use secrecy::{ExposeSecret, SecretBox};

/// Why a value could not be encrypted or decrypted. Never carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// No keys were given.
    #[error("no data keys")]
    NoKeys,
    /// The stored value is not in the `v<N>:<base64>` form.
    #[error("malformed ciphertext")]
    Malformed,
    /// The value's key version is not configured.
    #[error("unknown key version {0}")]
    UnknownVersion(u32),
    /// Authentication failed: wrong key, wrong context, or tampered.
    #[error("decryption failed")]
    Decrypt,
}

/// Encrypts with the highest key version; decrypts any configured one.
pub struct FieldCipher {
    keys: BTreeMap<u32, SecretBox<[u8; 32]>>,
    current: u32,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldCipher")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

impl FieldCipher {
    /// From `(version, key)` pairs; the highest version encrypts.
    pub fn new(keys: impl IntoIterator<Item = (u32, [u8; 32])>) -> Result<Self, CryptoError> {
        let keys: BTreeMap<u32, SecretBox<[u8; 32]>> = keys
            .into_iter()
            .map(|(v, k)| (v, SecretBox::new(Box::new(k))))
            .collect();
        let current = *keys.keys().next_back().ok_or(CryptoError::NoKeys)?;
        Ok(Self { keys, current })
    }

    /// The version new values are encrypted under.
    pub fn current_version(&self) -> u32 {
        self.current
    }

    fn cipher(&self, version: u32) -> Result<XChaCha20Poly1305, CryptoError> {
        let key = self
            .keys
            .get(&version)
            .ok_or(CryptoError::UnknownVersion(version))?;
        Ok(XChaCha20Poly1305::new(key.expose_secret().into()))
    }

    /// Encrypts `plaintext` bound to `context`.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<String, CryptoError> {
        let cipher = self.cipher(self.current)?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!(
            "v{}:{}",
            self.current,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
        ))
    }

    /// The key version a stored value was encrypted under.
    pub fn version_of(stored: &str) -> Result<u32, CryptoError> {
        stored
            .strip_prefix('v')
            .and_then(|r| r.split_once(':'))
            .and_then(|(v, _)| v.parse().ok())
            .ok_or(CryptoError::Malformed)
    }

    /// Decrypts a stored value, which must have been bound to `context`.
    pub fn decrypt(&self, stored: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let version = Self::version_of(stored)?;
        let encoded = stored
            .split_once(':')
            .map(|(_, b)| b)
            .ok_or(CryptoError::Malformed)?;
        let blob = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 24 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(24);
        self.cipher(version)?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    /// Whether a stored value should be re-encrypted under the current key.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        Self::version_of(stored).is_ok_and(|v| v < self.current)
    }

    /// Decrypts and encrypts again under the current key (same context).
    pub fn reencrypt(&self, stored: &str, context: &[u8]) -> Result<String, CryptoError> {
        let plain = zeroize::Zeroizing::new(self.decrypt(stored, context)?);
        self.encrypt(&plain, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_bound_to_their_context_and_rotate() {
        let old = FieldCipher::new([(1, [1u8; 32])]).unwrap();
        let a = old.encrypt(b"secret", b"r1:notes").unwrap();
        let b = old.encrypt(b"secret", b"r1:notes").unwrap();
        assert_ne!(a, b, "fresh nonce per value");
        assert!(a.starts_with("v1:"));
        assert!(!a.contains("secret"));
        assert_eq!(old.decrypt(&a, b"r1:notes").unwrap(), b"secret");
        assert_eq!(
            old.decrypt(&a, b"r2:notes"),
            Err(CryptoError::Decrypt),
            "swapped between rows"
        );
        assert_eq!(
            old.decrypt(&a, b"r1:diagnosis"),
            Err(CryptoError::Decrypt),
            "swapped between fields"
        );
        let mut tampered = a.clone();
        tampered.pop();
        tampered.push(if a.ends_with('A') { 'B' } else { 'A' });
        assert!(old.decrypt(&tampered, b"r1:notes").is_err());

        let both = FieldCipher::new([(1, [1u8; 32]), (2, [2u8; 32])]).unwrap();
        assert!(both.needs_rotation(&a));
        let rotated = both.reencrypt(&a, b"r1:notes").unwrap();
        assert!(rotated.starts_with("v2:") && !both.needs_rotation(&rotated));
        let new_only = FieldCipher::new([(2, [2u8; 32])]).unwrap();
        assert_eq!(new_only.decrypt(&rotated, b"r1:notes").unwrap(), b"secret");
        assert_eq!(
            new_only.decrypt(&a, b"r1:notes"),
            Err(CryptoError::UnknownVersion(1))
        );
    }
}
