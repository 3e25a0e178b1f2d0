//! SPEC §4: the ping tool cannot be turned into command execution or SSRF.

use rampart_server::domain::Role;
use reqwest::Method;

use crate::support::{TestApp, assert_problem, json};

async fn ping(app: &TestApp, token: &str, host: &str) -> reqwest::Response {
    app.authed(Method::GET, "/api/v2/tools/ping", token)
        .query(&[("host", host)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn injection_attempts_are_400_and_non_admins_403() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let user = app.user("plain").await;
    for host in [
        "127.0.0.1;id",
        "$(id)",
        "a|b",
        "-c 100 x",
        "--help",
        "`id`",
        "a b",
        "x\ny",
        "",
        &"a".repeat(254),
        "a&&b",
        "../etc",
    ] {
        assert_problem(
            &format!("host {host:?}"),
            ping(&app, &admin.access, host).await,
            400,
        )
        .await;
    }
    assert_problem(
        "non-admin",
        ping(&app, &user.access, "example.com").await,
        403,
    )
    .await;
    assert_problem(
        "clinician",
        ping(
            &app,
            &app.user_with_role("doc", Role::Clinician).await.access,
            "example.com",
        )
        .await,
        403,
    )
    .await;
    let missing = app
        .authed(Method::GET, "/api/v2/tools/ping", &admin.access)
        .send()
        .await
        .unwrap();
    assert_problem("missing host", missing, 422).await;
}

#[tokio::test]
async fn private_targets_are_refused_after_resolution() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    // Names and spellings that all resolve to loopback.
    for host in [
        "127.0.0.1",
        "localhost",
        "2130706433",
        "0x7f000001",
        "127.1",
    ] {
        assert_problem(host, ping(&app, &admin.access, host).await, 403).await;
    }
}

#[tokio::test]
async fn loopback_can_be_allowed_and_then_pings_for_real() {
    let app = TestApp::spawn_with(&[("RAMPART_DIAGNOSTICS_ALLOW_PRIVATE", "true")]).await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let r = ping(&app, &admin.access, "127.0.0.1").await;
    let has_ping = std::process::Command::new("ping")
        .arg("-V")
        .output()
        .is_ok();
    if has_ping {
        assert_eq!(r.status(), 200);
        let body = json(r).await;
        assert_eq!(body["host"], "127.0.0.1");
        assert_eq!(body["reachable"], true);
        assert!(body["rtt_ms"].as_f64().unwrap() >= 0.0);
    } else {
        assert_problem("no ping program", r, 503).await;
    }
}
