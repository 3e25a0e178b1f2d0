//! SPEC §4: brute-force lockout per username and per address.

use std::time::Duration;

use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem};

async fn attempt(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v2/auth/login",
        &json!({"username": username, "password": password}).to_string(),
    )
    .await
}

#[tokio::test]
async fn five_failures_lock_an_account_even_against_the_right_password_until_the_period_ends() {
    let app = TestApp::spawn_with(&[("RAMPART_LOGIN_LOCKOUT_BASE_SECS", "1")]).await;
    app.register("nina").await;
    for i in 0..5 {
        assert_problem(
            &format!("failure {i}"),
            attempt(&app, "nina", "wrong-password-123").await,
            401,
        )
        .await;
    }
    let locked = attempt(&app, "NINA", PASSWORD).await;
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_problem("right password while locked", locked, 429).await;

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        attempt(&app, "nina", PASSWORD).await.status(),
        200,
        "unlocked after the period"
    );
    // The success cleared the record: four failures do not lock again.
    for _ in 0..4 {
        attempt(&app, "nina", "wrong-password-123").await;
    }
    assert_eq!(attempt(&app, "nina", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn unknown_usernames_lock_too() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        assert_eq!(
            attempt(&app, "ghost_user", "whatever-password")
                .await
                .status(),
            401
        );
    }
    assert_problem(
        "locked unknown user",
        attempt(&app, "ghost_user", "whatever-password").await,
        429,
    )
    .await;
}

#[tokio::test]
async fn a_flood_of_failures_from_one_address_is_refused() {
    let app = TestApp::spawn().await;
    app.register("olga").await;
    for i in 0..20 {
        // Different usernames, so no account lock is involved.
        let r = attempt(&app, &format!("guess_{i}"), "wrong-password-123").await;
        assert_eq!(r.status(), 401, "failure {i}");
    }
    let r = attempt(&app, "olga", PASSWORD).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_problem("21st attempt from the address", r, 429).await;
}
