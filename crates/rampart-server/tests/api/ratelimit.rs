//! SPEC §4, §10: exact per-IP limits on every /api/ route.

use futures_util::future::join_all;

use crate::support::{TestApp, assert_problem, assert_security_headers};

async fn statuses(app: &TestApp, n: usize, xff: impl Fn(usize) -> Option<String>) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut req = app.client.get(app.url("/api/v2/nope"));
        if let Some(v) = xff(i) {
            req = req.header("x-forwarded-for", v);
        }
        out.push(req.send().await.unwrap().status().as_u16());
    }
    out
}

#[tokio::test]
async fn exactly_n_requests_then_429_with_retry_after() {
    let app = TestApp::spawn_with(&[("RAMPART_RATE_LIMIT_PER_MIN", "3")]).await;
    for i in 0..3u32 {
        let r = app.get("/api/v2/nope").await;
        assert_eq!(r.status(), 404, "request {i} is answered (and counted)");
        assert_eq!(r.headers()["ratelimit-limit"], "3");
        assert_eq!(
            r.headers()["ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
        let reset: u64 = r.headers()["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=64).contains(&reset), "{reset}");
    }
    let limited = app.get("/api/v2/nope").await;
    assert_security_headers("429", limited.headers());
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=64).contains(&retry), "Retry-After {retry}");
    assert_eq!(limited.headers()["ratelimit-remaining"], "0");
    assert_problem("fourth", limited, 429).await;

    // Outside /api/ nothing is limited.
    assert_eq!(app.get("/health/live").await.status(), 200);
    assert!(
        !app.get("/health/live")
            .await
            .headers()
            .contains_key("ratelimit-limit")
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_against_a_limit_of_five_admit_five() {
    let app = TestApp::spawn_with(&[("RAMPART_RATE_LIMIT_PER_MIN", "5")]).await;
    let requests = (0..50).map(|_| app.client.get(app.url("/api/v2/nope")).send());
    let results = join_all(requests).await;
    let admitted = results
        .iter()
        .filter(|r| r.as_ref().unwrap().status() != 429)
        .count();
    assert_eq!(admitted, 5);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let app = TestApp::spawn_with(&[("RAMPART_RATE_LIMIT_PER_MIN", "3")]).await;
    let got = statuses(&app, 5, |i| Some(format!("203.0.113.{i}"))).await;
    assert_eq!(got, [404, 404, 404, 429, 429]);
}

#[tokio::test]
async fn a_trusted_proxy_keys_by_the_forwarded_address() {
    let app = TestApp::spawn_with(&[
        ("RAMPART_RATE_LIMIT_PER_MIN", "2"),
        ("RAMPART_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let got = statuses(&app, 4, |i| Some(format!("203.0.113.{i}"))).await;
    assert_eq!(
        got,
        [404, 404, 404, 404],
        "each forwarded client has its own quota"
    );
    let got = statuses(&app, 3, |_| Some("198.51.100.7, 127.0.0.1".to_owned())).await;
    assert_eq!(
        got,
        [404, 404, 429],
        "the right-most untrusted entry is the client"
    );
    // IPv6 clients are keyed by their /64: rotating within it does not help.
    let got = statuses(&app, 3, |i| Some(format!("2001:db8:1:2::{}", i + 1))).await;
    assert_eq!(got, [404, 404, 429]);
}

#[tokio::test]
async fn unauthenticated_and_failed_requests_count() {
    let app = TestApp::spawn_with(&[("RAMPART_RATE_LIMIT_PER_MIN", "2")]).await;
    let a = app
        .client
        .get(app.url("/api/v2/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 401);
    let b = app.post_json("/api/v2/auth/login", "{").await;
    assert_eq!(b.status(), 400);
    let c = app
        .post_json("/api/v2/auth/login", r#"{"username":"x","password":"y"}"#)
        .await;
    assert_problem("third", c, 429).await;
}
