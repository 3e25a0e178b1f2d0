//! SPEC §4: brute-force lockout per username and per address.

use std::time::Duration;

use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_at_most, assert_problem, burst};

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

/// SPEC §11: a burst of guesses sent at once for one username is checked
/// against the password at most `threshold` times, and the account is
/// locked afterwards.
#[tokio::test]
async fn a_parallel_burst_of_guesses_is_checked_at_most_five_times() {
    let app = TestApp::spawn().await;
    app.register("burst_victim").await;
    let statuses = burst(30, |_| async {
        attempt(&app, "burst_victim", "wrong-password-123")
            .await
            .status()
            .as_u16()
    })
    .await;
    assert_at_most(&statuses, 401, 5);
    assert_eq!(
        attempt(&app, "burst_victim", PASSWORD).await.status(),
        429,
        "locked after the burst, even for the right password"
    );
}

/// The per-address rule holds for a burst too: 40 failed logins for 40
/// usernames from one address are at most 20 evaluated.
#[tokio::test]
async fn a_parallel_burst_from_one_address_is_checked_at_most_twenty_times() {
    let app = TestApp::spawn().await;
    let statuses = burst(40, |i| {
        let app = &app;
        async move {
            attempt(app, &format!("spray_{i}"), "wrong-password-123")
                .await
                .status()
                .as_u16()
        }
    })
    .await;
    assert_at_most(&statuses, 401, 20);
}

/// A correct password that passed the gate clears the reservation: the
/// owner is not locked out by its own concurrent login.
#[tokio::test]
async fn a_correct_login_inside_a_burst_still_succeeds_and_clears_the_count() {
    let app = TestApp::spawn().await;
    app.register("steady").await;
    for _ in 0..3 {
        assert_eq!(
            attempt(&app, "steady", "wrong-password-123").await.status(),
            401
        );
    }
    let statuses = burst(2, |_| async {
        attempt(&app, "steady", PASSWORD).await.status().as_u16()
    })
    .await;
    assert!(statuses.contains(&200), "{statuses:?}");
    for _ in 0..4 {
        assert_eq!(
            attempt(&app, "steady", "wrong-password-123").await.status(),
            401,
            "the success started the count over"
        );
    }
}
