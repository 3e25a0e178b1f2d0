//! SPEC §9: security violations reach the alert webhook, without slowing
//! requests.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Json, Router, routing::post};
use reqwest::Method;

use crate::support::TestApp;

type Received = Arc<Mutex<Vec<serde_json::Value>>>;

async fn receiver(delay: Duration) -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<serde_json::Value>| {
            let store = store.clone();
            async move {
                tokio::time::sleep(delay).await;
                store.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

#[tokio::test]
async fn a_refusal_reaches_the_webhook_with_its_context() {
    let (addr, received) = receiver(Duration::ZERO).await;
    let hook = format!("http://{addr}/hook");
    let app = TestApp::spawn_with(&[("RAMPART_ALERT_WEBHOOK", &hook)]).await;
    let user = app.user("mallory").await;
    let r = app
        .authed(Method::GET, "/api/v2/admin/audit", &user.access)
        .header("x-request-id", "alert-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alerts = received.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["event_type"], "security_violation");
    assert_eq!(a["user_id"], user.id.to_string().as_str());
    assert_eq!(a["ip"], "127.0.0.1");
    assert_eq!(a["request_id"], "alert-1");
    assert!(a["seq"].as_i64().unwrap() > 0 && a["ts"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["details"]["path"], "/api/v2/admin/audit");

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"rampart_alerts_total{outcome="sent"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_slow_webhook_does_not_slow_requests() {
    let (addr, _received) = receiver(Duration::from_secs(10)).await;
    let hook = format!("http://{addr}/hook");
    let app = TestApp::spawn_with(&[("RAMPART_ALERT_WEBHOOK", &hook)]).await;
    let user = app.user("mallory").await;
    for i in 0..3 {
        let start = Instant::now();
        let r = app
            .authed(Method::GET, "/api/v2/admin/audit", &user.access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "refusal {i} took {:?}",
            start.elapsed()
        );
    }
}
