//! SPEC §9: the audit trail records every event with its user, address and
//! request id, and any tampering is caught.

use std::process::Command;

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{
    PASSWORD, TestApp, assert_problem,
    chain::{any_pool, append_chained},
    json,
};

async fn entries(app: &TestApp, token: &str, query: &str) -> Vec<serde_json::Value> {
    let r = app
        .authed(
            Method::GET,
            &format!("/api/v2/admin/audit?limit=100&{query}"),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    json(r).await["items"].as_array().unwrap().clone()
}

fn find<'a>(
    items: &'a [serde_json::Value],
    event_type: &str,
    request_id: &str,
) -> &'a serde_json::Value {
    items
        .iter()
        .find(|e| e["event_type"] == event_type && e["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no {event_type} for request {request_id} in {items:#?}"))
}

#[tokio::test]
async fn every_action_leaves_its_event_with_user_address_and_request_id() {
    let app = TestApp::spawn().await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let admin = app.user_with_role("boss", Role::Admin).await;
    let alice = app.register("alice").await;
    let alice_id = alice["id"].to_string();
    let with_id = |req: reqwest::RequestBuilder, id: &str| req.header("x-request-id", id);

    let login = |id: &'static str, password: &'static str| {
        with_id(app.client.post(app.url("/api/v2/auth/login")), id)
            .json(&json!({"username": "alice", "password": password}))
            .send()
    };
    assert_eq!(
        login("req-fail", "wrong-password-123")
            .await
            .unwrap()
            .status(),
        401
    );
    let tokens = json(login("req-login", PASSWORD).await.unwrap()).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = json(
        with_id(
            app.client.post(app.url("/api/v2/auth/refresh")),
            "req-refresh",
        )
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let access2 = refreshed["access_token"].as_str().unwrap().to_owned();
    let r = with_id(
        app.authed(Method::GET, "/api/v2/admin/audit", &access2),
        "req-refused",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = with_id(
        app.authed(
            Method::PUT,
            &format!("/api/v2/admin/users/{alice_id}/role"),
            &admin.access,
        ),
        "req-role",
    )
    .json(&json!({"role": "billing"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = with_id(
        app.authed(Method::POST, "/api/v2/auth/password", &access2),
        "req-password",
    )
    .json(&json!({"current_password": PASSWORD, "new_password": "fresh-meadow-lantern-37"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let again = app.login("alice", "fresh-meadow-lantern-37").await;
    let r = with_id(
        app.authed(
            Method::POST,
            "/api/v2/auth/logout",
            again["access_token"].as_str().unwrap(),
        ),
        "req-logout",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    // A spent refresh token: security violation.
    let r = with_id(
        app.client.post(app.url("/api/v2/auth/refresh")),
        "req-reuse",
    )
    .json(&json!({"refresh_token": refresh}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401);

    let items = entries(&app, &auditor.access, "").await;
    let failure = find(&items, "login_failure", "req-fail");
    assert_eq!(
        failure["user_id"],
        alice_id.as_str(),
        "the existing account's id"
    );
    assert!(failure["details"].as_str().unwrap().contains("alice"));
    assert_eq!(failure["ip"], "127.0.0.1");
    for (event_type, request_id) in [
        ("login_success", "req-login"),
        ("token_refresh", "req-refresh"),
        ("password_change", "req-password"),
        ("logout", "req-logout"),
        ("security_violation", "req-refused"),
        ("security_violation", "req-reuse"),
    ] {
        let e = find(&items, event_type, request_id);
        assert_eq!(e["user_id"], alice_id.as_str(), "{event_type}");
        assert_eq!(e["ip"], "127.0.0.1", "{event_type}");
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
    }
    let role = find(&items, "permission_change", "req-role");
    assert_eq!(
        role["user_id"],
        admin.id.to_string().as_str(),
        "the acting admin"
    );
    let details: serde_json::Value =
        serde_json::from_str(role["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["to"], "billing");
    assert_eq!(details["from"], "user");
    assert_eq!(details["target_user"], alice["id"]);
    // No password ever reaches the trail.
    let all = serde_json::to_string(&items).unwrap();
    assert!(
        !all.contains(PASSWORD)
            && !all.contains("fresh-meadow")
            && !all.contains("wrong-password-123")
    );
}

#[tokio::test]
async fn the_listing_filters_pages_and_is_for_admins_and_auditors_only() {
    let app = TestApp::spawn().await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let user = app.user("plain").await;
    for _ in 0..3 {
        assert_eq!(
            app.post_json(
                "/api/v2/auth/login",
                &json!({"username": "ghost", "password": "x"}).to_string()
            )
            .await
            .status(),
            401
        );
    }
    let failures = entries(&app, &auditor.access, "event_type=login_failure").await;
    assert_eq!(failures.len(), 3);
    assert!(
        failures.iter().all(|e| e["user_id"].is_null()),
        "unknown username: no user id"
    );
    let mine = entries(&app, &auditor.access, &format!("user_id={}", user.id)).await;
    assert!(
        mine.iter()
            .all(|e| e["user_id"] == user.id.to_string().as_str())
            && !mine.is_empty()
    );
    assert!(
        entries(&app, &auditor.access, "since=2999-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert!(
        !entries(&app, &auditor.access, "until=2999-01-01T00:00:00Z")
            .await
            .is_empty()
    );

    let page = json(
        app.authed(Method::GET, "/api/v2/admin/audit?limit=2", &auditor.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let first_seq = page["items"][0]["seq"].as_i64().unwrap();
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = json(
        app.authed(
            Method::GET,
            &format!("/api/v2/admin/audit?limit=2&cursor={next}"),
            &auditor.access,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert!(page2["items"][0]["seq"].as_i64().unwrap() < first_seq - 1);

    for q in [
        "event_type=nonsense",
        "since=yesterday",
        "until=2026-01-01",
        "limit=0",
        "cursor=zz",
    ] {
        let r = app
            .authed(
                Method::GET,
                &format!("/api/v2/admin/audit?{q}"),
                &auditor.access,
            )
            .send()
            .await
            .unwrap();
        assert_problem(q, r, 422).await;
    }
    assert_problem(
        "plain user",
        app.authed(Method::GET, "/api/v2/admin/audit", &user.access)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_problem(
        "plain user verify",
        app.authed(Method::GET, "/api/v2/admin/audit/verify", &user.access)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
}

fn cli_verify(app: &TestApp) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATA_DIR", app.data_path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn tamper(app: &TestApp, sql: &str) {
    for statement in sql.split(';') {
        sqlx::query(statement)
            .execute(app.state().db.pool())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

#[tokio::test]
async fn tampering_is_caught_by_the_endpoint_and_the_cli() {
    let cases = [
        (
            "edit a row's details",
            "UPDATE audit_log SET details = '{\"username\":\"someone else\"}' WHERE seq = 3",
            3,
        ),
        (
            "delete a middle row",
            "DELETE FROM audit_log WHERE seq = 3",
            3,
        ),
        (
            "swap two rows",
            "UPDATE audit_log SET seq = -3 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4; \
             UPDATE audit_log SET seq = 4 WHERE seq = -3",
            3,
        ),
        (
            "insert a forged row",
            "INSERT INTO audit_log (seq, ts, event_type, user_id, ip, request_id, details, prev_hash, hash) \
             SELECT 100, ts, 'logout', user_id, ip, request_id, details, hash, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
            0,
        ),
    ];
    for (case, sql, bad) in cases {
        let app = TestApp::spawn().await;
        let auditor = app.user_with_role("audrey", Role::Auditor).await;
        for _ in 0..4 {
            app.post_json(
                "/api/v2/auth/login",
                &json!({"username": "ghost", "password": "x"}).to_string(),
            )
            .await;
        }
        let ok = json(
            app.authed(Method::GET, "/api/v2/admin/audit/verify", &auditor.access)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(ok["ok"], true, "{case}: before");
        assert!(cli_verify(&app).0, "{case}: cli before");

        tamper(&app, sql).await;
        let v = json(
            app.authed(Method::GET, "/api/v2/admin/audit/verify", &auditor.access)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(v["ok"], false, "{case}: {v}");
        let (passed, out) = cli_verify(&app);
        assert!(!passed, "{case}: cli exit");
        if bad > 0 {
            assert_eq!(v["first_bad_seq"], bad, "{case}");
            assert!(out.contains(&format!("seq {bad}")), "{case}: {out}");
        }
    }
}

type StoredRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

async fn open_db(app: &TestApp) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}/rampart.db", app.data_path().display());
    sqlx::SqlitePool::connect(&url).await.unwrap()
}

async fn with_some_events() -> TestApp {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    for _ in 0..3 {
        app.post_json(
            "/api/v2/auth/login",
            &json!({"username": "ghost", "password": "x"}).to_string(),
        )
        .await;
    }
    app
}

#[tokio::test]
async fn shutdown_writes_a_signed_checkpoint_outside_the_database() {
    let mut app = with_some_events().await;
    app.stop().await;
    let dir = app.data_path().join("audit-checkpoints");
    let checkpoints: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
        .collect();
    assert_eq!(checkpoints.len(), 1);
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkpoints[0].path()).unwrap()).unwrap();
    assert!(cp["seq"].as_i64().unwrap() >= 5);
    assert_eq!(cp["hash"].as_str().unwrap().len(), 64);
    assert!(dir.join("public.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(app.data_path().join("audit-signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(cli_verify(&app).0);
}

#[tokio::test]
async fn a_deleted_tail_is_caught_by_the_checkpoint() {
    let mut app = with_some_events().await;
    app.stop().await;
    let db = open_db(&app).await;
    let (max,): (i64,) = sqlx::query_as("SELECT max(seq) FROM audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq >= ?")
        .bind(max - 1)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let (ok, out) = cli_verify(&app);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("seq {}", max - 1)), "{out}");
}

#[tokio::test]
async fn a_chain_recomputed_after_an_edit_is_caught_and_the_server_still_starts() {
    let mut app = with_some_events().await;
    app.stop().await;
    let db = open_db(&app).await;
    // Rewrite entry 2 and recompute every hash after it, as an attacker with
    // write access to the database could.
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT seq, ts, event_type, user_id, ip, request_id, details FROM audit_log ORDER BY seq",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut prev = rampart::audit::GENESIS_HASH.to_owned();
    for (seq, ts, event_type, user_id, ip, request_id, details) in rows {
        let details = if seq == 2 {
            r#"{"forged":true}"#.to_owned()
        } else {
            details
        };
        let entry = rampart::audit::AuditEntry {
            seq,
            ts,
            event_type,
            user_id,
            ip,
            request_id,
            details: details.clone(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        let hash = entry.computed_hash();
        sqlx::query("UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(&details)
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&db)
            .await
            .unwrap();
        prev = hash;
    }
    db.close().await;
    let (ok, out) = cli_verify(&app);
    assert!(!ok, "the links hold, but not the signed head: {out}");

    // The server starts anyway, and says so.
    let app = app.restart().await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let v = json(
        app.authed(Method::GET, "/api/v2/admin/audit/verify", &auditor.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["ok"], false, "{v}");
    // Shutting down must not sign the tampered chain into a new checkpoint.
    let mut app = app;
    app.stop().await;
    let (ok, out) = cli_verify(&app);
    assert!(!ok, "the damage is still reported after a restart: {out}");
}

/// A loop of authenticated writes while the real server process is killed
/// with SIGKILL: every write that was acknowledged has its audit event, and
/// the chain verifies.
#[tokio::test]
async fn acknowledged_writes_survive_sigkill_with_their_events() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .current_dir(dir.path())
        .env("RAMPART_BIND", "127.0.0.1:0")
        .env("RAMPART_ADMIN_BIND", "127.0.0.1:0")
        .env("RAMPART_RATE_LIMIT_PER_MIN", "1000000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["message"] == "listening" {
            break v["api"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v2");
    let user: serde_json::Value = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"username": "writer", "email": "w@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "writer", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let orders_url = format!("{base}/users/{}/orders", user["id"]);

    // Writers count what was acknowledged so the kill comes once the loop
    // is under way (a fixed delay made too few writes on a loaded machine).
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, url, token) = (client.clone(), orders_url.clone(), token.clone());
            let progress = progress.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0..10_000 {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"item": format!("w{w}-{i}"), "quantity": 1, "unit_price_cents": 1}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 201 => {
                            acknowledged.push(r.json::<serde_json::Value>().await.map(|o| o["id"].as_i64().unwrap()).ok());
                            progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => break,
                    }
                }
                acknowledged.into_iter().flatten().collect::<Vec<i64>>()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while progress.load(std::sync::atomic::Ordering::Relaxed) < 40
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(
        acknowledged.len() > 10,
        "the loop made progress: {}",
        acknowledged.len()
    );

    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}/data/rampart.db",
        dir.path().display()
    ))
    .await
    .unwrap();
    let details: Vec<(String,)> =
        sqlx::query_as("SELECT details FROM audit_log WHERE event_type = 'data_modification'")
            .fetch_all(&db)
            .await
            .unwrap();
    let recorded: std::collections::HashSet<i64> = details
        .iter()
        .filter_map(|(d,)| serde_json::from_str::<serde_json::Value>(d).ok()?["order_id"].as_i64())
        .collect();
    for id in &acknowledged {
        assert!(
            recorded.contains(id),
            "order {id} was acknowledged but has no audit event"
        );
    }
    db.close().await;
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .current_dir(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn retention_purge_keeps_the_rest_verifiable() {
    // A chain whose first five entries are years old.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut source = rampart_server::config::Source::default();
        source.set("RAMPART_DATA_DIR", dir.path().to_str().unwrap());
        let settings = rampart_server::config::Settings::from_source(&source).unwrap();
        let db = rampart_server::store::Database::connect(&settings)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        append_chained(db.pool(), &["2020-01-01T00:00:00Z"; 5]).await;
        db.close().await;
    }
    let mut app = TestApp::spawn_in(dir, &[]).await;
    app.user("recent").await;
    app.stop().await;
    assert!(cli_verify(&app).0);

    let purge = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATA_DIR", app.data_path())
        .env("RAMPART_AUDIT_RETENTION_DAYS", "30")
        .args(["retention", "purge"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&purge.stdout);
    assert!(
        purge.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&purge.stderr)
    );
    assert!(out.contains("through seq 5"), "{out}");
    let (ok, report) = cli_verify(&app);
    assert!(ok, "the rest still verifies: {report}");

    // The server carries on from the anchor; its checkpoints too.
    let mut app = app.restart().await;
    let auditor = app.user_with_role("audrey", Role::Auditor).await;
    let v = json(
        app.authed(Method::GET, "/api/v2/admin/audit/verify", &auditor.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    app.stop().await;
    assert!(cli_verify(&app).0);
    let db = open_db(&app).await;
    let (first,): (i64,) = sqlx::query_as("SELECT min(seq) FROM audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(first, 6);
    // Deleting a remaining entry is still caught.
    sqlx::query("DELETE FROM audit_log WHERE seq = 7")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    assert!(!cli_verify(&app).0);
}

/// The SQLite file of `app` through the `Any` driver, as the chain
/// helpers take it.
async fn any_db(app: &TestApp) -> sqlx::AnyPool {
    any_pool(&format!(
        "sqlite://{}/rampart.db",
        app.data_path().display()
    ))
    .await
}

fn purge(app: &TestApp) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATA_DIR", app.data_path())
        .env("RAMPART_AUDIT_RETENTION_DAYS", "30")
        .args(["retention", "purge"])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// SPEC §11: two correctly chained entries dated 2000 appended after
/// today's entries cannot make the purge delete today's history; time
/// going backwards along the chain refuses the purge, naming the entry.
#[tokio::test]
async fn a_forged_old_entry_at_the_tail_cannot_purge_the_history() {
    let mut app = with_some_events().await;
    app.stop().await;
    let db = any_db(&app).await;
    let (genuine,): (i64,) = sqlx::query_as("SELECT CAST(count(*) AS BIGINT) FROM audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    let forged = append_chained(&db, &["2000-01-01T00:00:00Z", "2000-01-01T00:00:01Z"]).await;
    db.close().await;

    let (ok, out) = purge(&app);
    assert!(!ok, "the purge is refused: {out}");
    assert!(out.contains(&format!("seq {}", forged[0])), "{out}");
    let db = open_db(&app).await;
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_log WHERE seq <= ?")
        .bind(genuine)
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(left, genuine, "every recent entry is still there");
}

/// Seeds `count` chained entries dated 2020 into a fresh data directory.
async fn with_old_entries(count: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut source = rampart_server::config::Source::default();
    source.set("RAMPART_DATA_DIR", dir.path().to_str().unwrap());
    let settings = rampart_server::config::Settings::from_source(&source).unwrap();
    let db = rampart_server::store::Database::connect(&settings)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let stamps = vec!["2020-01-01T00:00:00Z"; usize::try_from(count).unwrap()];
    append_chained(db.pool(), &stamps).await;
    db.close().await;
    dir
}

/// Entries after the newest signed checkpoint are never purged, however
/// old they claim to be: nobody outside the database vouched for them.
#[tokio::test]
async fn the_purge_stops_at_the_newest_signed_checkpoint() {
    let dir = with_old_entries(5).await;
    let mut app = TestApp::spawn_in(dir, &[]).await;
    app.stop().await; // signs the head, seq 5
    let db = any_db(&app).await;
    append_chained(
        &db,
        &[
            "2020-01-02T00:00:00Z",
            "2020-01-02T00:00:01Z",
            "2020-01-02T00:00:02Z",
        ],
    )
    .await;
    db.close().await;
    let (ok, out) = purge(&app);
    assert!(ok, "{out}");
    assert!(out.contains("through seq 5"), "{out}");
    let db = open_db(&app).await;
    let (first,): (i64,) = sqlx::query_as("SELECT min(seq) FROM audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(first, 6, "everything after the signed head stays");
    assert!(cli_verify(&app).0);
}

/// SPEC §11: a checkpoint signed by another key (a rotated signing key,
/// another instance's) is skipped with a warning; it never fails
/// verification by itself.
#[tokio::test]
async fn a_checkpoint_from_another_key_is_skipped_with_a_warning() {
    let mut app = with_some_events().await;
    app.stop().await;
    // Signed as the server signs checkpoints, but with another key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let (seq, hash, ts) = (9_999, "ab".repeat(32), "2026-01-01T00:00:00Z");
    let signature = {
        use base64::Engine as _;
        use ed25519_dalek::Signer as _;
        let message = format!("rampart-audit-checkpoint\n{seq}\n{hash}\n{ts}");
        base64::engine::general_purpose::STANDARD.encode(other.sign(message.as_bytes()).to_bytes())
    };
    let foreign = json!({"seq": seq, "hash": hash, "ts": ts, "signature": signature});
    std::fs::write(
        app.data_path()
            .join("audit-checkpoints")
            .join("checkpoint-0000000000009999.json"),
        serde_json::to_vec(&foreign).unwrap(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATA_DIR", app.data_path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning") && text.contains("checkpoint-0000000000009999.json"),
        "{text}"
    );
}
