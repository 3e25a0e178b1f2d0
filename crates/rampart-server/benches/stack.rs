//! Throughput of the full middleware stack against a bare axum router, both
//! serving `GET /health/live` on loopback, measured in the same run.
//!
//! `cargo bench -p rampart-server --bench stack` (or `scripts/bench`).
//!
//! Each server runs in its own process, pinned to CPU 0 with `taskset`, and
//! the load generator (keep-alive HTTP/1.1 connections, hyper client) is
//! pinned to CPU 1, so the figure is what one core of server can do and
//! the client's own cost does not leak into it. Three servers are measured
//! in alternating rounds: bare axum, bare axum plus the same security-header
//! bytes (to separate bytes on the wire from middleware work), and the real
//! Rampart stack with its JSON access log written to /dev/null. The median
//! round of each is reported.
//!
//! Settings: `BENCH_SECS` per round (default 3), `BENCH_ROUNDS` (default 5),
//! `BENCH_CONNECTIONS` (default 32), `BENCH_PIN=0` to run unpinned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, routing::get};
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rampart::headers::SecurityHeadersLayer;
use rampart_server::config::{Settings, Source};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pinning() -> bool {
    std::env::var("BENCH_PIN").as_deref() != Ok("0")
        && Command::new("taskset")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Keep-alive HTTP/1.1 connections sending requests back to back.
async fn load(addr: SocketAddr, connections: u64, duration: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let done = done.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            while !stop.load(Ordering::Relaxed) {
                let req = Request::get("/health/live")
                    .header("host", "127.0.0.1")
                    .body(Empty::<bytes::Bytes>::new())
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                assert!(res.status().is_success());
                res.into_body().collect().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    let count = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Logins back to back on `connections` connections; returns (logins/s,
/// p50 ms, p99 ms).
async fn login_load(
    addr: SocketAddr,
    connections: u64,
    duration: Duration,
    body: &'static str,
) -> (f64, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let stop = stop.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let req = Request::post("/api/v2/auth/login")
                    .header("host", "127.0.0.1")
                    .header(
                        "x-forwarded-for",
                        format!("198.51.{}.{}", (n >> 8) & 255, n & 255),
                    )
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        body.as_bytes(),
                    )))
                    .unwrap();
                let start = Instant::now();
                let res = sender.send_request(req).await.unwrap();
                let status = res.status();
                res.into_body().collect().await.unwrap();
                if !(status == 200 || status == 401) {
                    panic!("login answered {status}");
                }
                latencies.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (all.len() as f64 / elapsed, pct(0.50), pct(0.99))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bare_router() -> Router {
    Router::new().route(
        "/health/live",
        get(|| async { Json(serde_json::json!({"status": "ok"})) }),
    )
}

/// Child mode: serve one variant until stdin closes.
fn serve(mode: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let _log_guard = (mode == "full").then(|| {
        let devnull = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        rampart_server::telemetry::init_with_writer(devnull)
    });
    let addr = rt.block_on(async {
        match mode {
            "full" => {
                // Limits that the load itself would trip are raised; failed
                // logins come from rotating forwarded addresses so the
                // per-address brute-force limit measures hashing, not 429s.
                let mut source = Source::from_pairs([
                    ("RAMPART_BIND", "127.0.0.1:0"),
                    ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
                    ("RAMPART_RATE_LIMIT_PER_MIN", "1000000"),
                    ("RAMPART_LOGIN_LOCKOUT_THRESHOLD", "1000"),
                    ("RAMPART_TRUSTED_PROXIES", "127.0.0.1"),
                ]);
                source.set("RAMPART_DATA_DIR", data_dir.path().to_str().unwrap());
                let mut settings = Settings::from_source(&source).unwrap();
                settings.ensure_development_keys().unwrap();
                let running = rampart_server::startup::start(settings, None)
                    .await
                    .unwrap();
                let addr = running.api_addr;
                std::mem::forget(running);
                addr
            }
            _ => {
                let router = if mode == "headers" {
                    // The same response header bytes, written by one static layer.
                    bare_router().layer(SecurityHeadersLayer::api().overriding(
                        HeaderName::from_static("x-request-id"),
                        HeaderValue::from_static("0b6f3e4c-1f7a-4b0e-9a4e-3c1f0e2d4a5b"),
                    ))
                } else {
                    bare_router()
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move { axum::serve(listener, router).await });
                addr
            }
        }
    });
    println!("ADDR {addr}");
    // Serve until the parent closes our stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(rt);
}

fn spawn_server(mode: &str, pin: bool) -> (Child, SocketAddr) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut child = cmd
        .args(["--serve", mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("ADDR ").unwrap().parse().unwrap();
    (child, addr)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return serve(&args[i + 1]);
    }
    let pin = pinning();
    if pin && std::env::var("BENCH_CLIENT_PINNED").is_err() {
        // Re-run the client pinned to CPU 1.
        let status = Command::new("taskset")
            .args(["-c", "1"])
            .arg(std::env::current_exe().unwrap())
            .args(&args[1..])
            .env("BENCH_CLIENT_PINNED", "1")
            .status()
            .unwrap();
        std::process::exit(status.code().unwrap_or(1));
    }

    let secs = env_num("BENCH_SECS", 3);
    let rounds = env_num("BENCH_ROUNDS", 5);
    let connections = env_num("BENCH_CONNECTIONS", 32);
    let servers: Vec<(&str, Child, SocketAddr)> = ["bare", "headers", "full"]
        .into_iter()
        .map(|mode| {
            let (child, addr) = spawn_server(mode, pin);
            (mode, child, addr)
        })
        .collect();

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (_, _, addr) in &servers {
        client.block_on(load(*addr, connections, Duration::from_millis(500)));
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        for (i, (mode, _, addr)) in servers.iter().enumerate() {
            let rate = client.block_on(load(*addr, connections, Duration::from_secs(secs)));
            line.push_str(&format!("  {mode} {rate:>7.0} req/s"));
            results[i].push(rate);
        }
        println!("{line}");
    }
    let m: Vec<f64> = results.into_iter().map(median).collect();
    println!(
        "median of {rounds} x {secs}s, {connections} connections, server pinned to one core: {}",
        if pin { "yes" } else { "no" }
    );
    println!("  bare axum                    {:>7.0} req/s", m[0]);
    println!(
        "  bare axum + header bytes     {:>7.0} req/s  ({:.1} % of bare)",
        m[1],
        100.0 * m[1] / m[0]
    );
    println!(
        "  full Rampart stack           {:>7.0} req/s  ({:.1} % of bare, {:.1} % of bare + header bytes)",
        m[2],
        100.0 * m[2] / m[0],
        100.0 * m[2] / m[1]
    );

    // Logins: argon2id (m=19456 KiB, t=2, p=1) on the one server core.
    let full = servers[2].2;
    let login_secs = Duration::from_secs(env_num("BENCH_LOGIN_SECS", 5));
    client.block_on(async {
        let register = r#"{"username":"bench_user","email":"bench@example.com","password":"vivid-otter-carpet-91"}"#;
        let stream = tokio::net::TcpStream::connect(full).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let req = Request::post("/api/v2/auth/register")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(register.as_bytes())))
            .unwrap();
        assert_eq!(sender.send_request(req).await.unwrap().status(), 201);
    });
    let cases = [
        (
            "right password",
            r#"{"username":"bench_user","password":"vivid-otter-carpet-91"}"#,
        ),
        (
            "wrong password",
            r#"{"username":"bench_user","password":"wrong-password-000"}"#,
        ),
        (
            "unknown user  ",
            r#"{"username":"nobody_at_all","password":"vivid-otter-carpet-91"}"#,
        ),
    ];
    println!(
        "logins, 8 connections, {}s each, argon2id m=19456 KiB t=2 p=1, server on one core:",
        login_secs.as_secs()
    );
    for (name, body) in cases {
        let (rate, p50, p99) = client.block_on(login_load(full, 8, login_secs, body));
        println!("  {name}  {rate:>6.1} logins/s   p50 {p50:>7.1} ms   p99 {p99:>7.1} ms");
    }

    for (_, mut child, _) in servers {
        drop(child.stdin.take());
        let _ = child.wait();
    }
}
