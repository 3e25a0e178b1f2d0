//! SPEC §1 "at scale": several instances sharing one PostgreSQL database
//! (and Redis), started by `scripts/test`. Each test gets a fresh database.

use std::time::Duration;

use futures_util::future::join_all;
use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;
use sqlx::{Connection as _, Executor as _};

use crate::{
    account_cache::{assert_cached, lookups, within},
    support::{PASSWORD, TestApp, binary::rampart, json},
};

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
    app.get_json("/api/v2/admin/audit/verify", token).await
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

    // Logout on A ends the session on A at once, and on B (which has the
    // token cached) within 1 s.
    assert_eq!(b.me_status(token).await, 200);
    let r = a
        .authed(Method::POST, "/api/v2/auth/logout", token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(a.me_status(token).await, 401);
    within(Duration::from_secs(1), 401, || b.me_status(token)).await;

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

/// Every revocation made on one instance reaches the other, which had the
/// token cached, within 1 s; a role change too.
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test runs it"]
async fn revocations_reach_the_other_instance_within_one_second() {
    let url = fresh_database().await;
    let (a, b) = (on_postgres(&url).await, on_postgres(&url).await);
    let admin = a.user_with_role("pg_root", Role::Admin).await;
    let cached_on_b = async |token: &str| assert_cached(&b, token).await;

    let s = a.user("pg_logout").await;
    cached_on_b(&s.access).await;
    let hits = lookups(&b, "hit").await;
    assert_eq!(b.me_status(&s.access).await, 200);
    assert!(lookups(&b, "hit").await > hits, "B answers from its cache");
    let r = a
        .authed(Method::POST, "/api/v2/auth/logout", &s.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let took = within(Duration::from_secs(1), 401, || b.me_status(&s.access)).await;
    println!("logout reached the other instance in {took:?}");

    let s = a.user("pg_password").await;
    cached_on_b(&s.access).await;
    let r = a
        .authed(Method::POST, "/api/v2/auth/password", &s.access)
        .json(&json!({"current_password": PASSWORD, "new_password": "other-horse-battery-72"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    within(Duration::from_secs(1), 401, || b.me_status(&s.access)).await;

    let s = a.user("pg_deleted").await;
    cached_on_b(&s.access).await;
    let r = a
        .authed(
            Method::DELETE,
            &format!("/api/v2/users/{}", s.id),
            &admin.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    within(Duration::from_secs(1), 401, || b.me_status(&s.access)).await;

    let s = a.user("pg_erased").await;
    cached_on_b(&s.access).await;
    let r = a
        .authed(Method::POST, "/api/v2/me/erase", &s.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    within(Duration::from_secs(1), 401, || b.me_status(&s.access)).await;

    let s = a.user_with_role("pg_demoted", Role::Admin).await;
    let audit = async || {
        b.authed(Method::GET, "/api/v2/admin/audit", &s.access)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(audit().await, 200);
    let r = a
        .authed(
            Method::PUT,
            &format!("/api/v2/admin/users/{}/role", s.id),
            &admin.access,
        )
        .json(&json!({"role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    within(Duration::from_secs(1), 403, audit).await;

    // TRUNCATE by hand fires no row trigger; its statement trigger makes
    // every instance forget everything.
    let s = a.user("pg_truncated").await;
    cached_on_b(&s.access).await;
    assert_cached(&a, &s.access).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute("TRUNCATE sessions CASCADE").await.unwrap();
    within(Duration::from_secs(1), 401, || b.me_status(&s.access)).await;
    within(Duration::from_secs(1), 401, || a.me_status(&s.access)).await;
}

/// The feed's connection killed: the instance stops trusting its cache and
/// checks the database per request, so a logout made on the other
/// instance meanwhile is refused at once; the feed then comes back.
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test runs it"]
async fn a_lost_change_feed_falls_back_to_the_database() {
    let url = fresh_database().await;
    let (a, b) = (on_postgres(&url).await, on_postgres(&url).await);
    let s = b.user("pg_feedless").await;
    let other = b.user("pg_still_in").await;
    for token in [&s.access, &other.access] {
        assert_cached(&a, token).await;
    }
    let feed_up = async |app: &TestApp| {
        app.metrics()
            .await
            .contains("rampart_auth_change_feed_up 1")
    };
    assert!(feed_up(&a).await);

    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'rampart-auth-changes' AND datname = current_database()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "both instances' feeds");
    let start = std::time::Instant::now();
    while feed_up(&a).await {
        assert!(start.elapsed() < Duration::from_secs(1), "A never noticed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let misses = lookups(&a, "miss").await;
    let r = b
        .authed(Method::POST, "/api/v2/auth/logout", &s.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        a.me_status(&s.access).await,
        401,
        "refused while the feed is down"
    );
    assert_eq!(a.me_status(&other.access).await, 200, "from the database");
    assert!(lookups(&a, "miss").await > misses, "the database answered");

    // The feed reconnects and the cache answers again.
    let start = std::time::Instant::now();
    while !feed_up(&a).await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the feed never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.me_status(&other.access).await, 200);
    let hits = lookups(&a, "hit").await;
    assert_eq!(a.me_status(&other.access).await, 200);
    assert!(lookups(&a, "hit").await > hits);
    assert_eq!(a.me_status(&s.access).await, 401);
}
