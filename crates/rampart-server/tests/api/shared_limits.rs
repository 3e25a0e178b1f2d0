//! SPEC §1 "at scale": with `RAMPART_REDIS_URL`, instances share rate
//! limits and login lockouts through a real Redis (started by
//! `scripts/test`). Each test uses its own Redis database.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use futures_util::future::join_all;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_at_most, assert_problem, burst, json};

fn redis_url(db: u8) -> String {
    let base = std::env::var("RAMPART_TEST_REDIS_URL").expect(
        "RAMPART_TEST_REDIS_URL is unset: run scripts/test, which starts Redis on loopback",
    );
    format!("{base}/{db}")
}

async fn pair(db: u8, extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    let url = redis_url(db);
    // Start from an empty database: earlier runs may have left keys.
    flush(&url).await;
    let mut vars = vec![("RAMPART_REDIS_URL", url.as_str())];
    vars.extend_from_slice(extra);
    let a = TestApp::spawn_with(&vars).await;
    let b = TestApp::spawn_with(&vars).await;
    (a, b)
}

/// Empties the Redis database at `url`.
pub(crate) async fn flush(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn two_instances_share_one_limit() {
    let (a, b) = pair(1, &[("RAMPART_RATE_LIMIT_PER_MIN", "5")]).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { &a } else { &b };
        statuses.push(app.get("/api/v2/nope").await.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429, 429, 429]);
    let limited = b.get("/api/v2/nope").await;
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(limited.headers()["ratelimit-remaining"], "0");
    assert_problem("shared limit", limited, 429).await;
}

#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn concurrent_requests_across_instances_admit_exactly_the_limit() {
    let (a, b) = pair(2, &[("RAMPART_RATE_LIMIT_PER_MIN", "5")]).await;
    let requests = (0..40).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        async move { app.get("/api/v2/nope").await.status().as_u16() }
    });
    let statuses = join_all(requests).await;
    let admitted = statuses.iter().filter(|s| **s != 429).count();
    assert_eq!(admitted, 5, "{statuses:?}");
}

async fn attempt(app: &TestApp, username: &str, password: &str) -> u16 {
    app.post_json(
        "/api/v2/auth/login",
        &json!({"username": username, "password": password}).to_string(),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn a_lock_earned_on_one_instance_holds_on_the_other() {
    let (a, b) = pair(
        3,
        &[
            ("RAMPART_LOGIN_LOCKOUT_THRESHOLD", "3"),
            ("RAMPART_LOGIN_LOCKOUT_BASE_SECS", "1"),
        ],
    )
    .await;
    // The instances have their own SQLite files here: register on both.
    a.register("shared_victim").await;
    b.register("shared_victim").await;
    for _ in 0..3 {
        assert_eq!(
            attempt(&a, "shared_victim", "wrong-password-123").await,
            401
        );
    }
    assert_eq!(
        attempt(&b, "Shared_Victim", PASSWORD).await,
        429,
        "locked on the other instance, even with the right password"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(attempt(&b, "shared_victim", PASSWORD).await, 200);
    // The success cleared the shared record.
    for _ in 0..2 {
        attempt(&a, "shared_victim", "wrong-password-123").await;
    }
    assert_eq!(attempt(&a, "shared_victim", PASSWORD).await, 200);
}

/// A private Redis this test may stop.
struct OwnRedis {
    child: Child,
    url: String,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run scripts/test, which installs it");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}/0"),
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn without_redis_limits_fail_closed_unless_told_otherwise_and_logins_are_refused() {
    let mut redis = OwnRedis::start();
    let closed = TestApp::spawn_with(&[("RAMPART_REDIS_URL", &redis.url)]).await;
    let open = TestApp::spawn_with(&[
        ("RAMPART_REDIS_URL", &redis.url),
        ("RAMPART_RATE_LIMIT_FAIL_OPEN", "true"),
    ])
    .await;
    assert_eq!(closed.get("/api/v2/nope").await.status(), 404);
    let _ = redis.child.kill();
    let _ = redis.child.wait();

    assert_problem("fail closed", closed.get("/api/v2/nope").await, 503).await;
    assert_eq!(open.get("/api/v2/nope").await.status(), 404, "fail open");
    assert_eq!(
        attempt(&open, "anyone", PASSWORD).await,
        503,
        "lockout always fails closed"
    );
}

/// SPEC §11: with the shared store gone, login and search answer 503
/// problems (never 500), and search's per-user limit follows the fail-open
/// setting like every other limit.
#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn without_redis_login_and_search_are_503_and_search_follows_fail_open() {
    let mut redis = OwnRedis::start();
    let closed = TestApp::spawn_with(&[("RAMPART_REDIS_URL", &redis.url)]).await;
    let open = TestApp::spawn_with(&[
        ("RAMPART_REDIS_URL", &redis.url),
        ("RAMPART_RATE_LIMIT_FAIL_OPEN", "true"),
    ])
    .await;
    let c = closed.user("searcher").await;
    let o = open.user("searcher").await;
    let _ = redis.child.kill();
    let _ = redis.child.wait();

    for (name, app) in [("closed", &closed), ("open", &open)] {
        for password in [PASSWORD, "wrong-password-123"] {
            let r = app
                .post_json(
                    "/api/v2/auth/login",
                    &json!({"username": "searcher", "password": password}).to_string(),
                )
                .await;
            assert_problem(&format!("{name} login"), r, 503).await;
        }
    }
    let search = |app: &TestApp, token: &str| {
        app.authed(reqwest::Method::GET, "/api/v2/search?q=widget", token)
            .send()
    };
    assert_problem(
        "closed search",
        search(&closed, &c.access).await.unwrap(),
        503,
    )
    .await;
    let r = search(&open, &o.access).await.unwrap();
    assert_eq!(r.status(), 200, "fail open: the search runs unlimited");
    assert_eq!(json(r).await["items"], json!([]));
}

/// The lockout holds for a burst split over two instances sharing Redis:
/// at most five guesses for one username are checked, at most twenty
/// failures from one address.
#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn bursts_across_two_instances_are_checked_at_most_the_threshold() {
    let (a, b) = pair(6, &[]).await;
    a.register("twin_victim").await;
    b.register("twin_victim").await;
    let statuses = burst(30, |i| {
        let app = if i % 2 == 0 { &a } else { &b };
        async move { attempt(app, "twin_victim", "wrong-password-123").await }
    })
    .await;
    assert_at_most(&statuses, 401, 5);
    assert_eq!(attempt(&b, "twin_victim", PASSWORD).await, 429);

    let statuses = burst(40, |i| {
        let app = if i % 2 == 0 { &a } else { &b };
        async move { attempt(app, &format!("spray_{i}"), "wrong-password-123").await }
    })
    .await;
    assert_at_most(&statuses, 401, 20);
}

#[tokio::test]
#[ignore = "needs Redis: scripts/test runs it"]
async fn an_unreachable_redis_is_a_startup_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = rampart_server::config::Source::from_pairs([
        ("RAMPART_BIND", "127.0.0.1:0"),
        ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
        ("RAMPART_REDIS_URL", "redis://:hunter2-redis@127.0.0.1:1/0"),
    ]);
    source.set("RAMPART_DATA_DIR", dir.path().to_str().unwrap());
    let mut settings = rampart_server::config::Settings::load(&source)
        .await
        .unwrap();
    settings.ensure_development_keys().unwrap();
    let err = rampart_server::startup::start(settings, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("RAMPART_REDIS_URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
