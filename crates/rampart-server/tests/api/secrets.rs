//! SPEC §8: secrets from files, Vault and AWS Secrets Manager, refreshed;
//! the signing key rotates by kid; no secret value is ever printed.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

use crate::support::{
    PASSWORD, TestApp,
    binary::{Served, rampart},
    vault::FakeVault,
};

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
    let metrics = app.metrics().await;
    metrics
        .lines()
        .find(|l| l.starts_with("rampart_secrets_refresh_failures_total "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn vault_vars(vault: &FakeVault) -> Vec<(&'static str, String)> {
    vec![
        ("RAMPART_SECRETS_PROVIDER", "vault".to_owned()),
        ("RAMPART_VAULT_ADDR", vault.url()),
    ]
}

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn spawn_with_owned(vars: &[(&'static str, String)]) -> TestApp {
    TestApp::spawn_with(&borrowed(vars)).await
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

/// TLS is verified: a certificate from an unknown CA is refused; with the
/// CA given in `RAMPART_VAULT_CACERT` the same server is trusted.
#[tokio::test]
async fn vault_over_https_is_verified_and_a_private_ca_can_be_trusted() {
    let (vault, ca_pem) = FakeVault::start_tls().await;
    vault.add_token(ROOT_TOKEN, Duration::ZERO);
    vault.put(
        "secret/rampart",
        json!({"secret_key": K1, "data_keys": DATA_KEYS}),
    );
    let mut vars = vault_vars(&vault);
    vars.push(("RAMPART_VAULT_TOKEN", ROOT_TOKEN.to_owned()));
    assert!(vars[1].1.starts_with("https://"));
    let err = load_error(&vars).await;
    assert!(
        err.contains("vault") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    assert_eq!(vault.reads(), 0, "nothing was sent to an untrusted server");

    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), ca_pem).unwrap();
    vars.push((
        "RAMPART_VAULT_CACERT",
        ca.path().to_str().unwrap().to_owned(),
    ));
    let app = spawn_with_owned(&vars).await;
    let s = app.user("tls_user").await;
    assert_eq!(kid(&s.access), rampart::jwt::key_id(K1.as_bytes()));
    assert_eq!(vault.reads(), 1);
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
    assert_eq!(app.me_status(&s.access).await, 200, "old token");
    assert_eq!(app.me_status(new_token).await, 200, "new token");
}

/// The `env` provider end to end in the real binary: keys from `.env`
/// (the process environment wins), and a key changed in `.env` rotates at
/// the next refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_and_dot_env_secrets_serve_and_rotate() {
    let work = tempfile::tempdir().unwrap();
    let dot_env = work.path().join(".env");
    std::fs::write(
        &dot_env,
        format!("RAMPART_SECRET_KEY={K1}\nRAMPART_DATA_KEYS=v1:not-this-one\n"),
    )
    .unwrap();
    let vars = [
        ("RAMPART_DATA_KEYS", DATA_KEYS),
        ("RAMPART_SECRETS_REFRESH_SECS", "1"),
        ("RAMPART_BIND", "127.0.0.1:0"),
        ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
    ];
    let served = Served::start(rampart(work.path(), &vars, &["serve"]));
    let client = reqwest::Client::new();
    let base = format!("http://{}/api/v2", served.addr);
    let login = || async {
        let r = client
            .post(format!("{base}/auth/login"))
            .json(&json!({"username": "enviro", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let r = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"username": "enviro", "email": "enviro@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(kid(&login().await), rampart::jwt::key_id(K1.as_bytes()));

    std::fs::write(&dot_env, format!("RAMPART_SECRET_KEY={K2}\n")).unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(kid(&login().await), rampart::jwt::key_id(K2.as_bytes()));
    let (status, lines) = served.stop();
    assert!(status.success());
    let all = lines.join("\n");
    assert!(!all.contains(K1) && !all.contains(K2), "{all}");
}

/// A data key added at the provider becomes the encryption version at the
/// next refresh, without a restart; values written before still decrypt.
#[tokio::test]
async fn a_new_data_key_from_the_provider_encrypts_new_values_after_a_refresh() {
    const V2: &str = "v2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("secret_key"), K1).unwrap();
    std::fs::write(secrets.path().join("data_keys"), DATA_KEYS).unwrap();
    let provider = format!("file:{}", secrets.path().display());
    let app = TestApp::spawn_with(&[
        ("RAMPART_SECRETS_PROVIDER", &provider),
        ("RAMPART_SECRETS_REFRESH_SECS", "1"),
    ])
    .await;
    let (a, b) = (app.user("before").await, app.user("after").await);
    let put = |who: &crate::support::Session, notes: &str| {
        app.authed(
            Method::PUT,
            &format!("/api/v2/users/{}/health", who.id),
            &who.access,
        )
        .json(&json!({"diagnosis": "d", "medications": ["m"], "insurance_id": "INS-1", "notes": notes}))
        .send()
    };
    assert_eq!(put(&a, "written under v1").await.unwrap().status(), 204);
    std::fs::write(
        secrets.path().join("data_keys"),
        format!("{DATA_KEYS},{V2}"),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(put(&b, "written under v2").await.unwrap().status(), 204);

    let stored: Vec<(i64, String)> =
        sqlx::query_as("SELECT user_id, notes FROM health_records ORDER BY user_id")
            .fetch_all(app.state().db.pool())
            .await
            .unwrap();
    let version = |id: i64| {
        let notes = &stored.iter().find(|(u, _)| *u == id).unwrap().1;
        notes.split(':').next().unwrap().to_owned()
    };
    assert_eq!(version(a.id), "v1");
    assert_eq!(version(b.id), "v2");
    for (who, notes) in [(&a, "written under v1"), (&b, "written under v2")] {
        let r = app
            .authed(
                Method::GET,
                &format!("/api/v2/users/{}/health", who.id),
                &who.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(crate::support::json(r).await["notes"], notes);
    }
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
    assert_eq!(app.me_status(&s.access).await, 200);
    // …and refused once the key is retired (1 s TTL + 30 s leeway + 1 s).
    let old = rampart::jwt::key_id(K1.as_bytes());
    let mut dropped = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if app.me_status(&s.access).await == 401 {
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
    assert_eq!(app.me_status(new_token).await, 200);
    assert!(refresh_failures(&app).await >= 1.0);
    let metrics = app.metrics().await;
    assert!(!metrics.contains(K1) && !metrics.contains(K2));
}

// ---- AWS Secrets Manager, through the real SDK against moto ----

const AWS_SECRET_ACCESS_KEY: &str = "aws-secret-access-key-do-not-print";

fn moto_url() -> String {
    std::env::var("RAMPART_TEST_MOTO_URL")
        .expect("RAMPART_TEST_MOTO_URL is unset: run scripts/test, which starts moto on loopback")
}

async fn moto() -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{Credentials, Region};
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(Credentials::new(
            "testing",
            AWS_SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        ))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

async fn create_secret(value: &str) -> String {
    let name = format!("rampart/test/{}", uuid::Uuid::new_v4());
    moto()
        .await
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    name
}

fn aws_vars(secret_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("RAMPART_SECRETS_PROVIDER", "aws".to_owned()),
        ("RAMPART_AWS_SECRET_ID", secret_id.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", moto_url()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY.to_owned()),
    ]
}

#[tokio::test]
#[ignore = "needs moto (AWS emulator): scripts/test runs it"]
async fn aws_secrets_manager_is_read_through_the_sdk_and_a_new_version_rotates_by_kid() {
    let id = create_secret(
        &json!({"secret_key": K1, "data_keys": DATA_KEYS, "audit_signing_key": seed_b64(9)})
            .to_string(),
    )
    .await;
    let mut vars = aws_vars(&id);
    vars.push(("RAMPART_SECRETS_REFRESH_SECS", "1".to_owned()));
    let app = spawn_with_owned(&vars).await;
    let s = app.user("clouded").await;
    assert_eq!(kid(&s.access), rampart::jwt::key_id(K1.as_bytes()));
    let public =
        std::fs::read_to_string(app.data_path().join("audit-checkpoints/public.key")).unwrap();
    let expected = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    assert_eq!(
        public.trim(),
        base64::engine::general_purpose::STANDARD.encode(expected.to_bytes())
    );

    moto()
        .await
        .put_secret_value()
        .secret_id(&id)
        .secret_string(json!({"secret_key": K2, "data_keys": DATA_KEYS}).to_string())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let fresh = app.login("clouded", PASSWORD).await;
    let new_token = fresh["access_token"].as_str().unwrap();
    assert_eq!(kid(new_token), rampart::jwt::key_id(K2.as_bytes()));
    assert_eq!(app.me_status(&s.access).await, 200, "old token");
    assert_eq!(app.me_status(new_token).await, 200, "new token");
    assert_eq!(refresh_failures(&app).await, 0.0);
    let debug = format!("{:?}", app.state().settings);
    for value in [K1, K2, AWS_SECRET_ACCESS_KEY, &seed_b64(9)] {
        assert!(!debug.contains(value), "Debug shows a secret: {debug}");
    }
}

#[tokio::test]
#[ignore = "needs moto (AWS emulator): scripts/test runs it"]
async fn aws_errors_name_the_provider_and_the_secret_never_a_value() {
    let missing = format!("rampart/test/missing-{}", uuid::Uuid::new_v4());
    let err = load_error(&aws_vars(&missing)).await;
    assert!(
        err.contains("aws") && err.contains("ResourceNotFound"),
        "{err}"
    );
    assert!(err.contains(&missing), "names the secret id: {err}");
    assert!(!err.contains(AWS_SECRET_ACCESS_KEY), "{err}");

    let not_json = create_secret("plain-text-secret-do-not-print").await;
    let err = load_error(&aws_vars(&not_json)).await;
    assert!(err.contains("not a JSON object"), "{err}");
    assert!(!err.contains("do-not-print"), "{err}");

    let bad_keys =
        create_secret(&json!({"data_keys": "v1:c2hvcnQtYnV0LXNlY3JldA=="}).to_string()).await;
    let err = load_error(&aws_vars(&bad_keys)).await;
    assert!(err.contains("aws") && err.contains("data_keys"), "{err}");
    assert!(!err.contains("c2hvcnQtYnV0LXNlY3JldA"), "{err}");
}

// ---- The binary: `rampart check` and the logs, grepped for every value ----

const WEAK_KEY: &str = "weak-provider-key";

/// `rampart check` on a production configuration whose secret key (from
/// each provider) is too short: exit 1, the finding names the provider and
/// the key, and no secret value is printed anywhere.
// Multi-threaded: the test blocks on the child while the fake Vault answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto (AWS emulator): scripts/test runs it"]
async fn check_names_the_provider_and_key_but_never_a_value_for_every_provider() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret_key"), WEAK_KEY).unwrap();
    std::fs::write(dir.path().join("data_keys"), DATA_KEYS).unwrap();
    let vault = FakeVault::start().await;
    vault.add_token(ROOT_TOKEN, Duration::ZERO);
    vault.put(
        "secret/rampart",
        json!({"secret_key": WEAK_KEY, "data_keys": DATA_KEYS}),
    );
    let aws =
        create_secret(&json!({"secret_key": WEAK_KEY, "data_keys": DATA_KEYS}).to_string()).await;

    let mut cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "env",
            vec![
                ("RAMPART_SECRET_KEY", WEAK_KEY.to_owned()),
                ("RAMPART_DATA_KEYS", DATA_KEYS.to_owned()),
            ],
        ),
        (
            "file:",
            vec![(
                "RAMPART_SECRETS_PROVIDER",
                format!("file:{}", dir.path().display()),
            )],
        ),
        ("vault", {
            let mut v = vault_vars(&vault);
            v.push(("RAMPART_VAULT_TOKEN", ROOT_TOKEN.to_owned()));
            v
        }),
        ("aws", aws_vars(&aws)),
    ];
    for (provider, vars) in &mut cases {
        vars.push(("RAMPART_ENV", "production".to_owned()));
        let out = rampart(work.path(), &borrowed(vars), &["check"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{provider}: {stdout}{stderr}");
        let finding = stdout
            .lines()
            .find(|l| l.contains("secret_key.too_short"))
            .unwrap_or_else(|| panic!("{provider}: {stdout}"));
        assert!(finding.contains(*provider), "{provider}: {finding}");
        let all = format!("{stdout}{stderr}");
        for value in [WEAK_KEY, &DATA_KEYS[3..], ROOT_TOKEN, AWS_SECRET_ACCESS_KEY] {
            assert!(!all.contains(value), "{provider} printed a secret: {all}");
        }
    }
}

/// The server's logs from start to shutdown — startup, requests, a key
/// rotation, failed refreshes, token renewals — contain no secret value.
// Multi-threaded: the test blocks on the child while the fake Vault answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_never_contain_a_secret_value() {
    let work = tempfile::tempdir().unwrap();
    let vault = FakeVault::start().await;
    vault.enable_approle(
        "role-id-secretive",
        "secret-id-secretive",
        Duration::from_secs(3),
    );
    vault.put(
        "secret/rampart",
        json!({"secret_key": K1, "data_keys": DATA_KEYS, "audit_signing_key": seed_b64(5)}),
    );
    let mut vars = vault_vars(&vault);
    vars.extend([
        ("RAMPART_VAULT_ROLE_ID", "role-id-secretive".to_owned()),
        ("RAMPART_VAULT_SECRET_ID", "secret-id-secretive".to_owned()),
        ("RAMPART_SECRETS_REFRESH_SECS", "1".to_owned()),
        ("RAMPART_BIND", "127.0.0.1:0".to_owned()),
        ("RAMPART_ADMIN_BIND", "127.0.0.1:0".to_owned()),
        ("RUST_LOG", "debug".to_owned()),
    ]);
    let served = Served::start(rampart(work.path(), &borrowed(&vars), &["serve"]));
    let client = reqwest::Client::new();
    let base = format!("http://{}/api/v2", served.addr);
    let r = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"username": "logged", "email": "logged@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A rotation, then a provider that fails (the path disappears).
    vault.put(
        "secret/rampart",
        json!({"secret_key": K2, "data_keys": DATA_KEYS}),
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    vault.remove("secret/rampart");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "logged", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the last good key still signs");
    let (status, lines) = served.stop();
    assert!(status.success());
    let all = lines.join("\n");
    assert!(all.contains("signing key changed"), "{all}");
    assert!(all.contains("secrets refresh failed"), "{all}");
    assert!(vault.renewals() >= 1, "renewed during the run");
    for value in [
        K1,
        K2,
        &DATA_KEYS[3..],
        &seed_b64(5),
        "role-id-secretive",
        "secret-id-secretive",
        "hvs.approle-token",
        PASSWORD,
    ] {
        assert!(!all.contains(value), "the logs contain {value}: {all}");
    }
}
