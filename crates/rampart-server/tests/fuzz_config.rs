//! Fuzz target on stable Rust for the configuration parser: arbitrary
//! values for every setting never panic, and an error never shows the
//! value of a variable that may hold a secret. Cases: `RAMPART_FUZZ_CASES`
//! (default 256); see `crates/rampart/tests/fuzz.rs` for the longer run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rampart_server::config::{Settings, Source};

const VARIABLES: &[&str] = &[
    "RAMPART_ENV",
    "RAMPART_BIND",
    "RAMPART_ADMIN_BIND",
    "RAMPART_DATABASE_URL",
    "RAMPART_REDIS_URL",
    "RAMPART_SECRET_KEY",
    "RAMPART_DATA_KEYS",
    "RAMPART_AUDIT_SIGNING_KEY",
    "RAMPART_SECRETS_PROVIDER",
    "RAMPART_SECRETS_REFRESH_SECS",
    "RAMPART_DEBUG",
    "RAMPART_CORS_ORIGINS",
    "RAMPART_ALLOWED_HOSTS",
    "RAMPART_TRUSTED_PROXIES",
    "RAMPART_ACCESS_TOKEN_TTL_SECS",
    "RAMPART_MAX_BODY_BYTES",
    "RAMPART_RATE_LIMIT_PER_MIN",
    "RAMPART_ALERT_WEBHOOK",
    "RAMPART_PAYMENT_PROCESSOR_URL",
    "RAMPART_LOGIN_LOCKOUT_THRESHOLD",
    "RAMPART_UPLOAD_QUOTA_BYTES",
    "RAMPART_VAULT_ADDR",
    "RAMPART_VAULT_TOKEN",
];

/// Variables whose values are credentials (or contain them).
const SECRET: &[&str] = &[
    "RAMPART_DATABASE_URL",
    "RAMPART_REDIS_URL",
    "RAMPART_SECRET_KEY",
    "RAMPART_DATA_KEYS",
    "RAMPART_AUDIT_SIGNING_KEY",
    "RAMPART_ALERT_WEBHOOK",
    "RAMPART_VAULT_TOKEN",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z]{0,8}://[a-zA-Z0-9:@./_-]{0,40}",
        "[0-9]{0,25}",
        "v[0-9]{1,3}:[A-Za-z0-9+/=]{0,60}(,v[0-9]:[A-Za-z0-9+/=]{0,60})?",
        Just("*".to_owned()),
        Just("0.0.0.0/0".to_owned()),
        Just("file:/nonexistent".to_owned()),
        Just("vault".to_owned()),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("RAMPART_FUZZ_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn settings_parse_without_panics_or_echoed_secrets(
        pairs in proptest::collection::vec((0..VARIABLES.len(), value()), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut source = Source::from_pairs(pairs.iter().map(|(i, v)| (VARIABLES[*i], v.clone())));
        source.set("RAMPART_DATA_DIR", dir.path().to_str().unwrap());
        if let Err(e) = Settings::from_source(&source) {
            let shown = e.to_string();
            // A value also given to a non-secret variable may be shown as
            // that variable's.
            let public: Vec<&String> = pairs
                .iter()
                .filter(|(i, _)| !SECRET.contains(&VARIABLES[*i]))
                .map(|(_, v)| v)
                .collect();
            for (i, v) in &pairs {
                if SECRET.contains(&VARIABLES[*i])
                    && v.len() >= 8
                    && !public.iter().any(|p| p.contains(v.as_str()))
                {
                    prop_assert!(!shown.contains(v.as_str()), "{} echoed: {shown}", VARIABLES[*i]);
                }
            }
        }
    }
}
