//! Issue 17: password hashing has a queue bound. Past it a login,
//! registration or password check answers 503 with `Retry-After` at once
//! (never a 500, never a wait without end) and counts nothing against the
//! account; the queue is visible in the metrics.

use std::time::Duration;

use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, burst};

/// One permit and two waiting places: three slots at most.
const TIGHT: &[(&str, &str)] = &[
    ("RAMPART_HASH_PERMITS", "1"),
    ("RAMPART_HASH_QUEUE", "2"),
    ("RAMPART_RATE_LIMIT_PER_MIN", "1000"),
];

/// The metric `name`'s value in `text`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// Sends `body` to `path` and gives up after 30 s (a hang fails the test).
async fn post(app: &TestApp, path: &str, body: String) -> reqwest::Response {
    tokio::time::timeout(Duration::from_secs(30), app.post_json(path, &body))
        .await
        .unwrap_or_else(|_| panic!("{path} hung"))
}

/// Asserts that `responses` are all `ok` or 503 problems with a whole
/// `Retry-After` of 1–60 s, with at least one of each; returns how many
/// were 503.
async fn ok_or_busy(case: &str, responses: Vec<reqwest::Response>, ok: u16) -> usize {
    let (mut oks, mut busy) = (0, 0);
    for (i, r) in responses.into_iter().enumerate() {
        let status = r.status().as_u16();
        if status == ok {
            oks += 1;
            continue;
        }
        let retry: u64 = r
            .headers()
            .get("retry-after")
            .unwrap_or_else(|| panic!("{case} {i}: {status} without Retry-After"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{case} {i}: Retry-After {retry}");
        assert_problem(&format!("{case} {i}"), r, 503).await;
        busy += 1;
    }
    assert!(oks >= 1, "{case}: no request got through");
    assert!(
        busy >= 1,
        "{case}: no request was refused past the queue bound"
    );
    busy
}

#[tokio::test]
async fn a_login_burst_past_the_hashing_queue_gets_503_with_retry_after() {
    let app = TestApp::spawn_with(TIGHT).await;
    app.register("hana").await;
    let body = json!({"username": "hana", "password": PASSWORD}).to_string();
    let responses = burst(24, |_| post(&app, "/api/v2/auth/login", body.clone())).await;
    let busy = ok_or_busy("login", responses, 200).await;

    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "rampart_password_hash_rejected_total") as usize,
        busy
    );
    assert_eq!(metric(&metrics, "rampart_password_hash_queue_depth"), 0.0);
    assert_eq!(metric(&metrics, "rampart_password_hash_slots_taken"), 0.0);
    assert!(metric(&metrics, "rampart_password_hash_wait_seconds_count") >= 2.0);
    // Refusals for capacity counted nothing against the account.
    app.login("hana", PASSWORD).await;
}

#[tokio::test]
async fn wrong_passwords_past_the_queue_are_refused_without_counting_as_failures() {
    let app = TestApp::spawn_with(TIGHT).await;
    app.register("ivo").await;
    let body = json!({"username": "ivo", "password": "wrong-password-123"}).to_string();
    let responses = burst(24, |_| post(&app, "/api/v2/auth/login", body.clone())).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    let failures = statuses.iter().filter(|s| **s == 401).count();
    assert!(statuses.contains(&503), "{statuses:?}");
    // The lockout counted only the attempts that were hashed: the account
    // locks after exactly the rest of its threshold of 5.
    let mut more = 0;
    loop {
        match post(&app, "/api/v2/auth/login", body.clone())
            .await
            .status()
            .as_u16()
        {
            401 => more += 1,
            429 => break,
            other => panic!("sequential wrong password: {other}"),
        }
        assert!(more <= 5, "never locked");
    }
    assert_eq!(more, 5usize.saturating_sub(failures), "{statuses:?}");
}

#[tokio::test]
async fn registrations_past_the_hashing_queue_get_503_and_create_nothing() {
    let app = TestApp::spawn_with(TIGHT).await;
    let responses = burst(16, |i| {
        let body = json!({
            "username": format!("reg_{i}"),
            "email": format!("reg_{i}@example.com"),
            "password": PASSWORD,
        })
        .to_string();
        post(&app, "/api/v2/auth/register", body)
    })
    .await;
    let refused: Vec<usize> = responses
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status() == 503)
        .map(|(i, _)| i)
        .collect();
    ok_or_busy("register", responses, 201).await;
    // A refused registration left no account behind: the same name can
    // register now.
    for i in refused.into_iter().take(3) {
        app.register(&format!("reg_{i}")).await;
    }
}
