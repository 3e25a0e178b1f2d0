//! SPEC §8: secrets from files, refreshed; the signing key rotates by kid.

use std::time::Duration;

use reqwest::Method;

use crate::support::{PASSWORD, TestApp};

const K1: &str = "first-signing-key-0123456789-abcdefghijkl";
const K2: &str = "second-signing-key-9876543210-zyxwvutsrqpo";

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
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
