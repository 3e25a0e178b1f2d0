//! Password hashing (argon2id) off the async threads, and strength rules.
//!
//! [`PasswordHasher`] hashes and verifies on tokio's blocking pool behind a
//! semaphore: a login flood queues for hashing permits instead of starving
//! the threads that serve every other request. Hashes are PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$…`), so parameters can be raised later
//! and old hashes still verify.
//!
//! [`PasswordHasher::verify`] takes the stored hash as an `Option`: for an
//! unknown user pass `None`, and it verifies against a dummy hash with the
//! same parameters, so "no such user" and "wrong password" take the same
//! time and cannot be told apart.
//!
//! [`check_strength`] enforces 12–128 characters and a zxcvbn score of at
//! least 3, taking the user's other inputs (name, email) into account.
//!
//! ```
//! # tokio_test_block_on(async {
//! use rampart::password::PasswordHasher;
//!
//! let hasher = PasswordHasher::new(2);
//! let hash = hasher.hash("correct horse battery staple".into()).await.unwrap();
//! assert!(hasher.verify("correct horse battery staple".into(), Some(&hash)).await);
//! assert!(!hasher.verify("wrong".into(), None).await);
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version,
    password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng},
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
/// Iterations for [`OWASP_MEMORY_KIB`].
pub const OWASP_ITERATIONS: u32 = 2;
/// Lanes.
pub const OWASP_PARALLELISM: u32 = 1;

/// Why hashing failed (never because of the password's content).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The parameters are invalid.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// The hasher failed or its task was cancelled.
    #[error("password hashing failed")]
    Hashing,
}

/// Hashes and verifies passwords with bounded concurrency; see the
/// [module docs](self). Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("available_permits", &self.permits.available_permits())
            .finish()
    }
}

impl PasswordHasher {
    /// argon2id with the OWASP parameters, at most `max_concurrent`
    /// hashes at once (at least 1).
    pub fn new(max_concurrent: usize) -> Self {
        match Self::with_params(
            OWASP_MEMORY_KIB,
            OWASP_ITERATIONS,
            OWASP_PARALLELISM,
            max_concurrent,
        ) {
            Ok(h) => h,
            // The constants are valid parameters; this arm is never taken.
            Err(_) => Self::with_params(Params::DEFAULT_M_COST, 2, 1, max_concurrent)
                .unwrap_or_else(|_| unreachable!("argon2 default parameters are valid")),
        }
    }

    /// argon2id with explicit parameters.
    pub fn with_params(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        max_concurrent: usize,
    ) -> Result<Self, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2(&params)
            .hash_password(b"rampart dummy password for timing equality", &salt)
            .map_err(|_| PasswordError::Hashing)?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy: dummy.into(),
        })
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Hashing)?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2(&params)
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| PasswordError::Hashing)
        })
        .await
        .map_err(|_| PasswordError::Hashing)?
    }

    /// Whether `password` matches `stored`; with `None` (unknown user) it
    /// does the same work against a dummy hash and returns false.
    pub async fn verify(&self, password: SecretString, stored: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = stored.is_some();
        let phc: String = stored.unwrap_or(&self.dummy).to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return false;
            };
            // The hash's own parameters are used, so old hashes verify.
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .await
        .unwrap_or(false);
        known && result
    }

    /// Whether `stored` was made with weaker parameters than this hasher's
    /// (re-hash it at the next successful login).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        PasswordHash::new(stored)
            .ok()
            .and_then(|h| Params::try_from(&h).ok())
            .is_none_or(|p| p.m_cost() < self.params.m_cost() || p.t_cost() < self.params.t_cost())
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// Minimum length in characters.
pub const MIN_LENGTH: usize = 12;
/// Maximum length in characters (bounds hashing work and memory).
pub const MAX_LENGTH: usize = 128;

/// Why a password is too weak, in words fit for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakPassword(pub String);

/// Checks length (12–128 characters) and a zxcvbn score of at least 3;
/// `user_inputs` (username, email…) count as known words.
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(WeakPassword(format!(
            "must be at least {MIN_LENGTH} characters"
        )));
    }
    if chars > MAX_LENGTH {
        return Err(WeakPassword(format!(
            "must be at most {MAX_LENGTH} characters"
        )));
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    if u8::from(entropy.score()) < 3 {
        let hint = entropy
            .feedback()
            .and_then(zxcvbn::feedback::Feedback::warning)
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        return Err(WeakPassword(format!("is too easy to guess{hint}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_rules() {
        let cases = [
            ("short", "Xy7!short", false),
            ("common", "password1234", false),
            ("keyboard", "qwertyuiopasdf", false),
            ("username and digits", "alicealice123", false),
            ("long", &"Ab1!".repeat(33), false),
            ("strong", "vivid-otter-carpet-91", true),
        ];
        for (name, pw, ok) in cases {
            assert_eq!(check_strength(pw, &["alice"]).is_ok(), ok, "case {name}");
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_do() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("vivid-otter-carpet-91".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify("vivid-otter-carpet-91".into(), Some(&hash))
                .await
        );
        assert!(
            !hasher
                .verify("vivid-otter-carpet-92".into(), Some(&hash))
                .await
        );
        assert!(!hasher.verify("vivid-otter-carpet-91".into(), None).await);
        assert!(!hasher.verify("x".into(), Some("not a phc string")).await);
        assert!(!hasher.needs_rehash(&hash));
    }
}
