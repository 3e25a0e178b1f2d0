//! SPEC §8: secrets from files, Vault and AWS Secrets Manager, refreshed;
//! the signing key rotates by kid; no secret value is ever printed.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, vault::FakeVault};

const K1: &str = "first-signing-key-0123456789-abcdefghijkl";
const K2: &str = "second-signing-key-9876543210-zyxwvutsrqpo";

const DATA_KEYS: &str = "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const ROOT_TOKEN: &str = "hvs.root-token-do-not-print";

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn seed_b64(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn refresh_failures(app: &TestApp) -> f64 {
    let metrics = app
        .client
        .get(app.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("rampart_secrets_refresh_failures_total "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.authed(Method::GET, "/api/v2/users/me", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn vault_vars(vault: &FakeVault) -> Vec<(&'static str, String)> {
    vec![
        ("RAMPART_SECRETS_PROVIDER", "vault".to_owned()),
        ("RAMPART_VAULT_ADDR", vault.url()),
    ]
}

async fn spawn_with_owned(vars: &[(&'static str, String)]) -> TestApp {
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(&borrowed).await
}

async fn load_error(vars: &[(&'static str, String)]) -> String {
    let source = rampart_server::config::Source::from_pairs(vars.iter().cloned());
    rampart_server::config::Settings::load(&source)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn vault_token_login_reads_kv_v2_including_the_audit_signing_key() {
    let vault = FakeVault::start().await;
    vault.add_token(ROOT_TOKEN, Duration::ZERO);
    vault.put(
        "secret/rampart",
        json!({"secret_key": K1, "data_keys": DATA_KEYS, "audit_signing_key": seed_b64(7)}),
    );
    let mut vars = vault_vars(&vault);
    vars.push(("RAMPART_VAULT_TOKEN", ROOT_TOKEN.to_owned()));
    let app = spawn_with_owned(&vars).await;

    let s = app.user("vaulted").await;
    assert_eq!(kid(&s.access), rampart::jwt::key_id(K1.as_bytes()));
    assert_eq!(app.state().cipher().current_version(), 1);
    // Checkpoints are signed with the provider's key, not a generated one.
    let public =
        std::fs::read_to_string(app.data_path().join("audit-checkpoints/public.key")).unwrap();
    let expected = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    assert_eq!(
        public.trim(),
        base64::engine::general_purpose::STANDARD.encode(expected.to_bytes())
    );
    assert!(!app.data_path().join("audit-signing.key").exists());
    let debug = format!("{:?}", app.state().settings);
    for value in [K1, ROOT_TOKEN, &seed_b64(7), &DATA_KEYS[3..]] {
        assert!(!debug.contains(value), "Debug shows a secret: {debug}");
    }
}

#[tokio::test]
async fn a_bad_vault_token_or_an_unreachable_vault_is_a_startup_error_naming_the_provider() {
    let vault = FakeVault::start().await;
    vault.put("secret/rampart", json!({"secret_key": K1}));
    let mut vars = vault_vars(&vault);
    vars.push(("RAMPART_VAULT_TOKEN", ROOT_TOKEN.to_owned()));
    let err = load_error(&vars).await;
    assert!(err.contains("vault") && err.contains("403"), "{err}");
    assert!(!err.contains(ROOT_TOKEN), "{err}");

    vault.add_token(ROOT_TOKEN, Duration::ZERO);
    vars.push(("RAMPART_VAULT_PATH", "elsewhere".to_owned()));
    let err = load_error(&vars).await;
    assert!(err.contains("vault") && err.contains("not found"), "{err}");

    let unreachable = vec![
        ("RAMPART_SECRETS_PROVIDER", "vault".to_owned()),
        ("RAMPART_VAULT_ADDR", "http://127.0.0.1:9".to_owned()),
        ("RAMPART_VAULT_ROLE_ID", "role-id-do-not-print".to_owned()),
        (
            "RAMPART_VAULT_SECRET_ID",
            "secret-id-do-not-print".to_owned(),
        ),
    ];
    let err = load_error(&unreachable).await;
    assert!(
        err.contains("vault") && err.contains("127.0.0.1:9"),
        "{err}"
    );
    assert!(!err.contains("do-not-print"), "{err}");

    vault.enable_approle("role-1", "secret-1", Duration::from_secs(60));
    let mut wrong = vault_vars(&vault);
    wrong.push(("RAMPART_VAULT_ROLE_ID", "role-1".to_owned()));
    wrong.push((
        "RAMPART_VAULT_SECRET_ID",
        "wrong-secret-do-not-print".to_owned(),
    ));
    let err = load_error(&wrong).await;
    assert!(err.contains("vault") && err.contains("AppRole"), "{err}");
    assert!(!err.contains("do-not-print"), "{err}");
}

/// AppRole tokens living 3 s are renewed before they expire (one login in
/// all), and a key written to Vault rotates the signing key by kid.
#[tokio::test]
async fn approle_tokens_are_renewed_and_a_new_vault_key_rotates_by_kid() {
    let vault = FakeVault::start().await;
    vault.enable_approle("role-abc", "secret-id-xyz", Duration::from_secs(3));
    vault.put(
        "kv/apps/rampart",
        json!({"secret_key": K1, "data_keys": DATA_KEYS}),
    );
    let mut vars = vault_vars(&vault);
    vars.extend([
        ("RAMPART_VAULT_MOUNT", "kv".to_owned()),
        ("RAMPART_VAULT_PATH", "apps/rampart".to_owned()),
        ("RAMPART_VAULT_ROLE_ID", "role-abc".to_owned()),
        ("RAMPART_VAULT_SECRET_ID", "secret-id-xyz".to_owned()),
        ("RAMPART_SECRETS_REFRESH_SECS", "1".to_owned()),
    ]);
    let app = spawn_with_owned(&vars).await;
    let s = app.user("approled").await;
    assert_eq!(kid(&s.access), rampart::jwt::key_id(K1.as_bytes()));

    tokio::time::sleep(Duration::from_millis(5500)).await;
    assert!(vault.renewals() >= 2, "renewals: {}", vault.renewals());
    assert_eq!(
        vault.logins(),
        1,
        "the token was kept alive, never re-issued"
    );
    assert!(
        vault.reads() >= 4,
        "refreshed every second: {}",
        vault.reads()
    );
    assert_eq!(refresh_failures(&app).await, 0.0);

    vault.put(
        "kv/apps/rampart",
        json!({"secret_key": K2, "data_keys": DATA_KEYS}),
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let fresh = app.login("approled", PASSWORD).await;
    let new_token = fresh["access_token"].as_str().unwrap();
    assert_eq!(kid(new_token), rampart::jwt::key_id(K2.as_bytes()));
    assert_eq!(me_status(&app, &s.access).await, 200, "old token");
    assert_eq!(me_status(&app, new_token).await, 200, "new token");
}

/// Once every token the old key signed has expired (access TTL + leeway),
/// the old key leaves the ring and its tokens fail.
#[tokio::test]
async fn after_the_old_key_is_dropped_its_tokens_fail() {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("secret_key"), K1).unwrap();
    std::fs::write(secrets.path().join("data_keys"), DATA_KEYS).unwrap();
    let provider = format!("file:{}", secrets.path().display());
    let app = TestApp::spawn_with(&[
        ("RAMPART_SECRETS_PROVIDER", &provider),
        ("RAMPART_SECRETS_REFRESH_SECS", "1"),
        ("RAMPART_ACCESS_TOKEN_TTL_SECS", "1"),
    ])
    .await;
    let s = app.user("dropper").await;
    std::fs::write(secrets.path().join("secret_key"), K2).unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let fresh = app.login("dropper", PASSWORD).await;
    assert_eq!(
        kid(fresh["access_token"].as_str().unwrap()),
        rampart::jwt::key_id(K2.as_bytes())
    );
    // Still verifying within the leeway…
    assert_eq!(me_status(&app, &s.access).await, 200);
    // …and refused once the key is retired (1 s TTL + 30 s leeway + 1 s).
    let old = rampart::jwt::key_id(K1.as_bytes());
    let mut dropped = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if me_status(&app, &s.access).await == 401 {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the token signed with {old} kept verifying");
}

#[tokio::test]
async fn a_changed_signing_key_signs_new_tokens_while_old_ones_still_verify() {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("secret_key"), format!("{K1}\n")).unwrap();
    std::fs::write(
        secrets.path().join("data_keys"),
        "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
    )
    .unwrap();
    let provider = format!("file:{}", secrets.path().display());
    let app = TestApp::spawn_with(&[
        ("RAMPART_SECRETS_PROVIDER", &provider),
        ("RAMPART_SECRETS_REFRESH_SECS", "1"),
    ])
    .await;
    let s = app.user("rotator").await;
    assert_eq!(kid(&s.access), rampart::jwt::key_id(K1.as_bytes()));

    std::fs::write(secrets.path().join("secret_key"), K2).unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let fresh = app.login("rotator", PASSWORD).await;
    let new_token = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        kid(new_token),
        rampart::jwt::key_id(K2.as_bytes()),
        "new tokens carry the new kid"
    );
    for (case, token) in [("old token", s.access.as_str()), ("new token", new_token)] {
        let r = app
            .authed(Method::GET, "/api/v2/users/me", token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{case}");
    }

    // A provider that cannot be read keeps the last good values, counted.
    std::fs::remove_file(secrets.path().join("secret_key")).unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let r = app
        .authed(Method::GET, "/api/v2/users/me", new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let metrics = app
        .client
        .get(app.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: f64 = metrics
        .lines()
        .find(|l| l.starts_with("rampart_secrets_refresh_failures_total "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(failures >= 1.0, "{metrics}");
    assert!(!metrics.contains(K1) && !metrics.contains(K2));
}
