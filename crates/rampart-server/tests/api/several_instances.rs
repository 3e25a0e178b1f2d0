//! SPEC §1 "at scale": several instances sharing one PostgreSQL database
//! (and Redis), started by `scripts/test`. Each test gets a fresh database.

use futures_util::future::join_all;
use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;
use sqlx::{Connection as _, Executor as _};

use crate::support::{PASSWORD, TestApp, binary::rampart, json};

/// A new, empty database on the test PostgreSQL server.
async fn fresh_database() -> String {
    let base = std::env::var("RAMPART_TEST_POSTGRES_URL").expect(
        "RAMPART_TEST_POSTGRES_URL is unset: run scripts/test, which starts PostgreSQL on loopback",
    );
    let name = format!("rampart_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    format!("{base}/{name}")
}

/// The checkpoint signing key every instance and the CLI share, as they
/// would from one secrets provider.
const AUDIT_SIGNING_KEY: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// An instance on `url`; all instances share their keys, as in production.
async fn on_postgres(url: &str) -> TestApp {
    on_postgres_with(url, &[]).await
}

async fn on_postgres_with(url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("RAMPART_DATABASE_URL", url),
        (
            "RAMPART_SECRET_KEY",
            "shared-signing-key-0123456789-abcdefghij",
        ),
        (
            "RAMPART_DATA_KEYS",
            "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
        ("RAMPART_AUDIT_SIGNING_KEY", AUDIT_SIGNING_KEY),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

async fn verify(app: &TestApp, token: &str) -> serde_json::Value {
    json(
        app.authed(Method::GET, "/api/v2/admin/audit/verify", token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The deployment of SPEC §1 "at scale": two instances on one PostgreSQL
/// and one Redis. One account, one session, one audit chain, one lockout,
/// whichever instance answers.
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test runs it"]
async fn instances_share_accounts_sessions_revocation_and_one_audit_chain() {
    let url = fresh_database().await;
    let redis = format!(
        "{}/5",
        std::env::var("RAMPART_TEST_REDIS_URL").expect("run scripts/test (starts Redis)")
    );
    crate::shared_limits::flush(&redis).await;
    let shared = [
        ("RAMPART_REDIS_URL", redis.as_str()),
        ("RAMPART_LOGIN_LOCKOUT_THRESHOLD", "3"),
    ];
    let a = on_postgres_with(&url, &shared).await;
    let b = on_postgres_with(&url, &shared).await;

    let user = a.register("everywhere").await;
    let login = b.login("everywhere", PASSWORD).await;
    let token = login["access_token"].as_str().unwrap();
    let orders = format!("/api/v2/users/{}/orders", user["id"]);
    let created = json(
        b.authed(Method::POST, &orders, token)
            .json(&json!({"item": "Blue Widget", "quantity": 2, "unit_price_cents": 150}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let order = format!("/api/v2/orders/{}", created["id"]);
    assert_eq!(
        a.authed(Method::GET, &order, token)
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "a token issued by B is accepted by A, and B's write is visible there"
    );
    let found = json(
        a.authed(Method::GET, "/api/v2/search?q=blue", token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");

    // Logout on A ends the session on B at once.
    let r = a
        .authed(Method::POST, "/api/v2/auth/logout", token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(b.me_status(token).await, 401);

    // Failures on A lock the account on B (Redis), for a user only the
    // shared database knows.
    a.register("locked_pg").await;
    for _ in 0..3 {
        let r = a
            .post_json(
                "/api/v2/auth/login",
                &json!({"username": "locked_pg", "password": "wrong-password-123"}).to_string(),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = b
        .post_json(
            "/api/v2/auth/login",
            &json!({"username": "locked_pg", "password": PASSWORD}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 429);

    let auditor = a.user_with_role("auditor_pg", Role::Auditor).await;
    let v = verify(&b, &auditor.access).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["entries"].as_i64().unwrap() >= 6, "{v}");

    // The CLI works on the shared database beside the running instances.
    let dir = tempfile::tempdir().unwrap();
    for args in [&["migrate"][..], &["audit", "verify"]] {
        let out = rampart(dir.path(), &[("RAMPART_DATABASE_URL", url.as_str())], args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Writes racing on two instances still form one gap-free chain.
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test runs it"]
async fn concurrent_writes_on_two_instances_form_one_chain() {
    let url = fresh_database().await;
    let (a, b) = (on_postgres(&url).await, on_postgres(&url).await);
    let s = a.user("racer").await;
    let orders = format!("/api/v2/users/{}/orders", s.id);
    let writes = (0..40).map(|i| {
        let (app, orders, token) = (if i % 2 == 0 { &a } else { &b }, &orders, &s.access);
        async move {
            app.authed(Method::POST, orders, token)
                .json(&json!({"item": format!("item {i}"), "quantity": 1, "unit_price_cents": 1}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(writes).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");

    let seqs: Vec<(i64,)> = sqlx::query_as("SELECT seq FROM audit_log ORDER BY seq")
        .fetch_all(a.state().db.pool())
        .await
        .unwrap();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs.iter().map(|s| s.0).collect::<Vec<_>>(), expected);
    let auditor = b.user_with_role("auditor_race", Role::Auditor).await;
    assert_eq!(verify(&a, &auditor.access).await["ok"], true);
}

/// Every store on PostgreSQL: files (quota sums), payments, encrypted
/// health records, export and erasure.
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test runs it"]
async fn every_feature_works_on_postgres() {
    let url = fresh_database().await;
    let app = on_postgres(&url).await;
    let s = app.user("pg_patient").await;

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png).file_name("scan.png"),
    );
    let r = app
        .authed(Method::POST, "/api/v2/files", &s.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let r = app
        .authed(Method::POST, "/api/v2/payments", &s.access)
        .header("idempotency-key", "pg-1")
        .json(&json!({"payment_token": "tok_visa", "amount": "19.99", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let health = format!("/api/v2/users/{}/health", s.id);
    let record = json!({"diagnosis": "flu", "medications": ["rest"], "insurance_id": "INS-1", "notes": "pg-marker"});
    let r = app
        .authed(Method::PUT, &health, &s.access)
        .json(&record)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let read = json(
        app.authed(Method::GET, &health, &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(read["notes"], "pg-marker");
    let (stored,): (String,) = sqlx::query_as("SELECT notes FROM health_records")
        .fetch_one(app.state().db.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains("pg-marker"));

    let export = json(
        app.authed(Method::GET, "/api/v2/me/export", &s.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(export["payments"].as_array().unwrap().len(), 1, "{export}");
    assert_eq!(export["files"].as_array().unwrap().len(), 1, "{export}");

    let r = app
        .authed(Method::POST, "/api/v2/me/erase", &s.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(app.me_status(&s.access).await, 401);

    // A restart on the same database migrates nothing twice.
    let mut app = app;
    app.stop().await;
    let app = on_postgres(&url).await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

/// SPEC §11: a purge run from the CLI (with its own, empty checkpoint
/// directory) is anchored where every instance sees it: both instances
/// keep verifying and keep writing checkpoints afterwards.
#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test runs it"]
async fn a_purge_from_the_cli_is_seen_by_every_instance() {
    let url = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("RAMPART_DATABASE_URL", url.as_str()),
        ("RAMPART_AUDIT_SIGNING_KEY", AUDIT_SIGNING_KEY),
        ("RAMPART_AUDIT_RETENTION_DAYS", "30"),
    ];
    assert!(
        rampart(dir.path(), &vars, &["migrate"])
            .status()
            .unwrap()
            .success()
    );
    // Five entries from 2020, chained as the server would have.
    let pool = crate::support::chain::any_pool(&url).await;
    crate::support::chain::append_chained(&pool, &["2020-01-01T00:00:00Z"; 5]).await;
    pool.close().await;
    let (a, b) = (on_postgres(&url).await, on_postgres(&url).await);
    a.user("recent_a").await;
    let auditor = b.user_with_role("auditor_purge", Role::Auditor).await;
    for app in [&a, &b] {
        app.state()
            .audit
            .checkpoints()
            .write(&app.state().db)
            .await
            .unwrap();
    }

    let out = rampart(dir.path(), &vars, &["retention", "purge"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("through seq 5"), "{text}");

    for (name, app) in [("A", &a), ("B", &b)] {
        let v = verify(app, &auditor.access).await;
        assert_eq!(v["ok"], true, "instance {name} after the purge: {v}");
        app.user(&format!("after_{name}").to_lowercase()).await;
        let written = app
            .state()
            .audit
            .checkpoints()
            .write(&app.state().db)
            .await
            .unwrap();
        assert!(written.is_some(), "instance {name} still checkpoints");
    }
    let out = rampart(dir.path(), &vars, &["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// SPEC §11 on the store that refuses them: NUL and other control
/// characters in bodies and query strings are 422 naming the field, never
/// a 500 from PostgreSQL.
#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test runs it"]
async fn control_characters_never_reach_postgres() {
    let url = fresh_database().await;
    let app = on_postgres(&url).await;
    let s = app.user("pg_nul").await;
    let cases: Vec<(&str, Method, String, Option<serde_json::Value>)> = vec![
        (
            "login",
            Method::POST,
            "/api/v2/auth/login".into(),
            Some(json!({"username": "pg\u{0}nul", "password": PASSWORD})),
        ),
        (
            "register",
            Method::POST,
            "/api/v2/auth/register".into(),
            Some(
                json!({"username": "other", "email": "o@example.com", "password": PASSWORD, "bio": "a\u{0}b"}),
            ),
        ),
        (
            "order",
            Method::POST,
            format!("/api/v2/users/{}/orders", s.id),
            Some(json!({"item": "x\u{0}y", "quantity": 1, "unit_price_cents": 1})),
        ),
        ("search", Method::GET, "/api/v2/search?q=a%00b".into(), None),
        (
            "lookup",
            Method::GET,
            "/api/v2/users?username=a%00b".into(),
            None,
        ),
        (
            "patch",
            Method::PATCH,
            format!("/api/v2/users/{}", s.id),
            Some(json!({"full_name": "a\u{0}"})),
        ),
    ];
    for (case, method, path, body) in cases {
        let mut request = app.authed(method, &path, &s.access);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 422, "{case}");
    }
}
