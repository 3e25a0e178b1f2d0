//! Health and metrics on both listeners.

use crate::support::{TestApp, assert_problem, assert_security_headers};

#[tokio::test]
async fn liveness_and_readiness_answer_on_both_listeners() {
    let app = TestApp::spawn().await;
    for url in [
        app.url("/health/live"),
        app.url("/health/ready"),
        app.admin_url("/health/live"),
        app.admin_url("/health/ready"),
    ] {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_security_headers(&url, r.headers());
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}), "{url}");
    }
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state().db.close().await;
    assert_problem("ready", app.get("/health/ready").await, 503).await;
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn metrics_are_on_the_admin_listener_only() {
    let app = TestApp::spawn().await;
    app.get("/health/live").await;
    app.get("/api/v2/nope").await;
    assert_problem("metrics on API", app.get("/metrics").await, 404).await;

    let r = app
        .client
        .get(app.admin_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_security_headers("metrics", r.headers());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            r#"rampart_http_requests_total{method="GET",route="/health/live",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("rampart_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains("/api/v2/nope"),
        "raw paths never become labels"
    );

    assert_problem(
        "admin 404",
        app.client.get(app.admin_url("/nope")).send().await.unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn security_metrics_count_audit_events_auth_failures_and_limits() {
    let app = TestApp::spawn_with(&[("RAMPART_SEARCH_LIMIT_PER_MIN", "1")]).await;
    let s = app.user("metered").await;
    let bad =
        serde_json::json!({"username": "metered", "password": "wrong-password-123"}).to_string();
    assert_eq!(
        app.post_json("/api/v2/auth/login", &bad).await.status(),
        401
    );
    for _ in 0..2 {
        app.client
            .get(app.url("/api/v2/search?q=x"))
            .bearer_auth(&s.access)
            .send()
            .await
            .unwrap();
    }
    let r = app
        .client
        .get(app.url("/api/v2/users/me"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = app.metrics().await;
    for line in [
        r#"rampart_audit_events_total{event_type="login_failure"} 1"#,
        r#"rampart_audit_events_total{event_type="login_success"} 1"#,
        r#"rampart_auth_failures_total{reason="bad_credentials"} 1"#,
        r#"rampart_auth_failures_total{reason="invalid_token"} 1"#,
        r#"rampart_rate_limited_total{route="/api/v2/search"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}
