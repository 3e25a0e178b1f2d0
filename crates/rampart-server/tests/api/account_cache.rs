//! SPEC §11 "Authentication state": requests are authenticated from memory,
//! and every revocation still acts at once here and within 1 s after a
//! change made by the CLI or by SQL written straight to the database.

use std::time::{Duration, Instant};

use rampart_server::domain::Role;
use reqwest::Method;
use serde_json::json;
use sqlx::Connection as _;

use crate::support::{PASSWORD, Session, TestApp, binary::rampart, burst};

/// The value of the counter `rampart_account_cache_lookups_total{outcome}`.
pub(crate) async fn lookups(app: &TestApp, outcome: &str) -> u64 {
    let text = app.metrics().await;
    let key = format!("rampart_account_cache_lookups_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Polls `status()` until it answers `want`, for at most `bound`; returns
/// how long it took.
pub(crate) async fn within<F, Fut>(bound: Duration, want: u16, status: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = Instant::now();
    loop {
        let got = status().await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "still {got} after {bound:?} (wanted {want})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn me(app: &TestApp, token: &str) -> serde_json::Value {
    app.get_json("/api/v2/users/me", token).await
}

#[tokio::test]
async fn authenticated_requests_are_answered_from_memory() {
    let app = TestApp::spawn().await;
    let s = app.user("cached").await;
    assert_cached(&app, &s.access).await;
    let misses = lookups(&app, "miss").await;
    let hits = lookups(&app, "hit").await;
    for _ in 0..20 {
        assert_eq!(app.me_status(&s.access).await, 200);
    }
    assert_eq!(lookups(&app, "miss").await, misses, "no database lookup");
    // The token's session and the account the handler shows, per request.
    assert!(lookups(&app, "hit").await >= hits + 40);
}

/// Asserts that `token` comes to be answered from the cache (within 1 s:
/// the cache answers once the change feed has first vouched for it).
pub(crate) async fn assert_cached(app: &TestApp, token: &str) {
    let start = Instant::now();
    loop {
        assert_eq!(app.me_status(token).await, 200);
        let (hits, misses) = (lookups(app, "hit").await, lookups(app, "miss").await);
        assert_eq!(app.me_status(token).await, 200);
        if lookups(app, "hit").await > hits && lookups(app, "miss").await == misses {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "never answered from the cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(app: &TestApp, method: Method, path: &str, token: &str) -> u16 {
    app.authed(method, path, token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Logout, refresh-token reuse, a password change, deletion and erasure
/// each end a token that was just served from the cache, at once.
#[tokio::test]
async fn every_revocation_ends_a_cached_token_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("cache_admin", Role::Admin).await;

    let warm = async |s: &Session| assert_cached(&app, &s.access).await;

    // Logout.
    let s = app.user("rev_logout").await;
    warm(&s).await;
    assert_eq!(
        status(&app, Method::POST, "/api/v2/auth/logout", &s.access).await,
        204
    );
    assert_eq!(app.me_status(&s.access).await, 401, "logout");

    // Refresh-token reuse revokes the session, and with it the access token.
    let s = app.user("rev_reuse").await;
    warm(&s).await;
    let refresh = json!({"refresh_token": s.refresh}).to_string();
    assert_eq!(
        app.post_json("/api/v2/auth/refresh", &refresh)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_json("/api/v2/auth/refresh", &refresh)
            .await
            .status(),
        401
    );
    assert_eq!(app.me_status(&s.access).await, 401, "refresh reuse");

    // Password change.
    let s = app.user("rev_password").await;
    warm(&s).await;
    let r = app
        .authed(Method::POST, "/api/v2/auth/password", &s.access)
        .json(&json!({"current_password": PASSWORD, "new_password": "other-horse-battery-72"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(app.me_status(&s.access).await, 401, "password change");

    // Deletion by an admin.
    let s = app.user("rev_delete").await;
    warm(&s).await;
    let path = format!("/api/v2/users/{}", s.id);
    assert_eq!(
        status(&app, Method::DELETE, &path, &admin.access).await,
        204
    );
    assert_eq!(app.me_status(&s.access).await, 401, "deletion");

    // Erasure.
    let s = app.user("rev_erase").await;
    warm(&s).await;
    let r = app
        .authed(Method::POST, "/api/v2/me/erase", &s.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.me_status(&s.access).await, 401, "erasure");
}

/// A role change acts on the next request: a demoted admin is refused.
#[tokio::test]
async fn a_role_change_acts_on_the_next_request() {
    let app = TestApp::spawn().await;
    let root = app.user_with_role("cache_root", Role::Admin).await;
    let s = app.user_with_role("cache_demoted", Role::Admin).await;
    let admin_only = "/api/v2/admin/audit";
    assert_cached(&app, &s.access).await;
    assert_eq!(status(&app, Method::GET, admin_only, &s.access).await, 200);
    let path = format!("/api/v2/admin/users/{}/role", s.id);
    let r = app
        .authed(Method::PUT, &path, &root.access)
        .json(&json!({"role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(&app, Method::GET, admin_only, &s.access).await, 403);
    assert_eq!(me(&app, &s.access).await["role"], "user");
}

/// Requests racing a logout: once the logout has answered, no request is
/// accepted, even when one that began before it fills the cache after.
#[tokio::test]
async fn requests_racing_a_logout_never_revive_the_session() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let s = app.user(&format!("racer_{round}")).await;
        assert_cached(&app, &s.access).await;
        let before = burst(33, |i| {
            let (app, token) = (&app, s.access.clone());
            async move {
                if i == 0 {
                    status(app, Method::POST, "/api/v2/auth/logout", &token).await
                } else {
                    app.me_status(&token).await
                }
            }
        })
        .await;
        assert_eq!(before[0], 204);
        let after = burst(32, |_| {
            let (app, token) = (&app, s.access.clone());
            async move { app.me_status(&token).await }
        })
        .await;
        assert!(after.iter().all(|s| *s == 401), "round {round}: {after:?}");
    }
}

/// The CLI beside a live server on the same SQLite file: its role change
/// shows within 1 s, and so does a session revoked by SQL written straight
/// to the database.
#[tokio::test]
async fn changes_from_the_cli_and_from_sql_arrive_within_one_second() {
    let app = TestApp::spawn().await;
    let s = app.user("from_cli").await;
    assert_eq!(me(&app, &s.access).await["role"], "user");
    assert_cached(&app, &s.access).await;

    let data_dir = app.data_path().to_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        rampart(
            dir.path(),
            &[("RAMPART_DATA_DIR", data_dir.as_str())],
            &[
                "users",
                "set-role",
                "--username",
                "from_cli",
                "--role",
                "billing",
            ],
        )
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let role = async || {
        me(&app, &s.access).await["role"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let start = Instant::now();
    while role().await != "billing" {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "role still cached"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // An operator revokes every session by hand.
    let url = format!("sqlite:{}/rampart.db", app.data_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE sessions SET revoked_at = 'by hand' WHERE user_id = ?")
        .bind(s.id)
        .execute(&mut conn)
        .await
        .unwrap();
    within(Duration::from_secs(1), 401, || app.me_status(&s.access)).await;
}
