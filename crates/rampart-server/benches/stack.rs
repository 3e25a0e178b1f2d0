//! The requests users make, against Rampart and against bare axum serving
//! the same response bytes, measured in the same run on loopback.
//!
//! `cargo bench -p rampart-server --bench stack` (or `scripts/bench`).
//!
//! Each server runs in its own process, pinned to CPU 0 with `taskset`; the
//! load generator (keep-alive HTTP/1.1 connections, hyper client) is pinned
//! to CPU 1, so a figure is what one core of server does. Rampart runs on
//! SQLite with its JSON access log written to /dev/null. For each request:
//! req/s, p50 and p99 latency, server CPU time per request (from
//! `/proc/PID/stat`) and the server's peak RSS during it (`VmHWM`, reset
//! before each request kind through `/proc/PID/clear_refs`). The median of
//! the rounds is reported. Then, unless `BENCH_CALLGRIND=0`, each server runs
//! under callgrind and the instructions per request of the two GETs are
//! counted (deterministic, so comparable across machines).
//!
//! Settings: `BENCH_SECS` per round (default 3), `BENCH_ROUNDS` (default 3),
//! `BENCH_CONNECTIONS` (default 32), `BENCH_PIN=0` to run unpinned,
//! `BENCH_CALLGRIND_REQUESTS` (default 2000), `BENCH_ONLY=flood` for the
//! login flood alone.
//!
//! The login flood runs a fresh Rampart as deployed (a worker thread per
//! core, on every core, default hashing permits; the client stays on CPU
//! 1): its RSS at rest, after one registration and one login, at the
//! floods' peak and 5 s after, its logins/s alone, and `GET /users/me`
//! p50/p99 on 8 connections without and during 32 connections of
//! back-to-back logins, `BENCH_ROUNDS` pairs, medians reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
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

/// One kind of request.
#[derive(Clone)]
struct Kind {
    name: &'static str,
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<&'static str>,
    ok: u16,
}

impl Kind {
    /// The request, as sent by client number `client`.
    fn request(&self, client: u64) -> Request<Full<Bytes>> {
        let mut req = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header("host", "127.0.0.1")
            .header(
                "x-forwarded-for",
                format!("198.51.{}.{}", (client >> 8) & 255, client & 255),
            );
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = match self.body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from_static(b.as_bytes())
            }
            None => Bytes::new(),
        };
        req.body(Full::new(body)).unwrap()
    }
}

/// A connection to `addr`.
async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// Sends `kind` and returns the status and body.
async fn send(addr: SocketAddr, kind: &Kind) -> (u16, Bytes) {
    let mut sender = connect(addr).await;
    let res = sender.send_request(kind.request(0)).await.unwrap();
    let status = res.status().as_u16();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

/// Requests back to back on `connections` connections for `duration`;
/// returns (req/s, sorted latencies in ms).
async fn load(
    addr: SocketAddr,
    kind: &Kind,
    connections: u64,
    duration: Duration,
) -> (f64, Vec<f64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for client in 0..connections {
        let (stop, kind) = (stop.clone(), kind.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let res = sender.send_request(kind.request(client + 1)).await.unwrap();
                let status = res.status().as_u16();
                res.into_body().collect().await.unwrap();
                assert_eq!(status, kind.ok, "{} answered {status}", kind.name);
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
    (all.len() as f64 / elapsed, all)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// utime + stime of `pid`, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Resets the peak RSS of `pid`.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The `field` (a kB figure) of `/proc/PID/status`, in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Peak RSS of `pid` since the last reset, in MiB.
fn peak_mib(pid: u32) -> f64 {
    status_mib(pid, "VmHWM")
}

/// The bodies bare axum serves, copied from Rampart's answers.
struct Bodies {
    me: Bytes,
    orders: Bytes,
    created: Bytes,
}

fn bare_router(bodies: Bodies) -> Router {
    let json = |body: Bytes, status: StatusCode| {
        move || {
            let body = body.clone();
            async move { (status, [(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }
    };
    let health = Bytes::from_static(br#"{"status":"ok"}"#);
    Router::new()
        .route("/health/live", get(json(health, StatusCode::OK)))
        .route("/api/v2/users/me", get(json(bodies.me, StatusCode::OK)))
        .route(
            "/api/v2/users/{id}/orders",
            get(json(bodies.orders, StatusCode::OK))
                .post(json(bodies.created, StatusCode::CREATED)),
        )
}

/// Child mode: serve one variant until stdin closes. `rampart` and `bare`
/// run one worker thread (they are pinned to one core); `rampart-machine`
/// is Rampart as deployed, a worker per core.
fn serve(mode: &str, dir: &Path) {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if mode != "rampart-machine" {
        rt.worker_threads(1);
    }
    let rt = rt.enable_all().build().unwrap();
    let rampart = mode.starts_with("rampart");
    let _log_guard = rampart.then(|| {
        let devnull = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        rampart_server::telemetry::init_with_writer(devnull)
    });
    let addr = rt.block_on(async {
        if rampart {
            // Limits that the load itself would trip are raised, and each
            // connection comes from its own forwarded address.
            let mut source = Source::from_pairs([
                ("RAMPART_BIND", "127.0.0.1:0"),
                ("RAMPART_ADMIN_BIND", "127.0.0.1:0"),
                ("RAMPART_RATE_LIMIT_PER_MIN", "1000000"),
                ("RAMPART_LOGIN_LOCKOUT_THRESHOLD", "1000"),
                ("RAMPART_TRUSTED_PROXIES", "127.0.0.1"),
            ]);
            source.set("RAMPART_DATA_DIR", dir.to_str().unwrap());
            let mut settings = Settings::from_source(&source).unwrap();
            settings.ensure_development_keys().unwrap();
            let running = rampart_server::startup::start(settings, None)
                .await
                .unwrap();
            let addr = running.api_addr;
            std::mem::forget(running);
            addr
        } else {
            let read = |name: &str| Bytes::from(std::fs::read(dir.join(name)).unwrap());
            let router = bare_router(Bodies {
                me: read("me.json"),
                orders: read("orders.json"),
                created: read("created.json"),
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await });
            addr
        }
    });
    println!("ADDR {addr}");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(rt);
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn spawn(mode: &str, dir: &Path, wrapper: &[&str]) -> Self {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = cmd
            .args(["--serve", mode, dir.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().strip_prefix("ADDR ").unwrap().parse().unwrap();
        Self { child, addr }
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A user with orders, its token, and the request kinds for it.
async fn prepare(addr: SocketAddr) -> Vec<Kind> {
    let register = Kind {
        name: "register",
        method: "POST",
        path: "/api/v2/auth/register".into(),
        token: None,
        body: Some(
            r#"{"username":"bench_user","email":"bench@example.com","password":"vivid-otter-carpet-91"}"#,
        ),
        ok: 201,
    };
    let (status, body) = send(addr, &register).await;
    assert_eq!(status, 201);
    let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"].clone();
    let login = Kind {
        name: "login",
        method: "POST",
        path: "/api/v2/auth/login".into(),
        body: Some(r#"{"username":"bench_user","password":"vivid-otter-carpet-91"}"#),
        ok: 200,
        ..register
    };
    let (_, body) = send(addr, &login).await;
    let token = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let orders = format!("/api/v2/users/{id}/orders");
    let create = Kind {
        name: "POST /users/{id}/orders",
        method: "POST",
        path: orders.clone(),
        token: Some(token.clone()),
        body: Some(r#"{"item":"Blue Widget","quantity":2,"unit_price_cents":150}"#),
        ok: 201,
    };
    for _ in 0..20 {
        assert_eq!(send(addr, &create).await.0, 201);
    }
    vec![
        Kind {
            name: "GET /health/live",
            method: "GET",
            path: "/health/live".into(),
            token: None,
            body: None,
            ok: 200,
        },
        Kind {
            name: "GET /users/me",
            method: "GET",
            path: "/api/v2/users/me".into(),
            token: Some(token.clone()),
            body: None,
            ok: 200,
        },
        Kind {
            name: "GET /users/{id}/orders",
            method: "GET",
            path: format!("{orders}?limit=20"),
            token: Some(token),
            body: None,
            ok: 200,
        },
        create,
        login,
    ]
}

/// Resident memory of `pid` now, in MiB.
fn rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmRSS")
}

/// Logins sent back to back on several connections until stopped.
struct Flood {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<(u64, u64)>>,
    started: Instant,
}

impl Flood {
    /// Starts `connections` login loops on `client`. Each answer must be a
    /// 200, or a 503 with `Retry-After` (the hashing queue is full).
    fn start(
        client: &tokio::runtime::Runtime,
        addr: SocketAddr,
        login: &Kind,
        connections: u64,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..connections)
            .map(|c| {
                let (stop, login) = (stop.clone(), login.clone());
                client.spawn(async move {
                    let mut sender = connect(addr).await;
                    let (mut ok, mut busy) = (0, 0);
                    while !stop.load(Ordering::Relaxed) {
                        let res = sender
                            .send_request(login.request(10_000 + c))
                            .await
                            .unwrap();
                        match res.status().as_u16() {
                            200 => ok += 1,
                            503 => {
                                assert!(res.headers().contains_key("retry-after"));
                                busy += 1;
                            }
                            other => panic!("login answered {other}"),
                        }
                        res.into_body().collect().await.unwrap();
                    }
                    (ok, busy)
                })
            })
            .collect();
        Self {
            stop,
            tasks,
            started: Instant::now(),
        }
    }

    /// Stops the flood: (logins/s, logins answered 503).
    async fn finish(self) -> (f64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let (mut ok, mut busy) = (0, 0);
        for t in self.tasks {
            let (o, b) = t.await.unwrap();
            ok += o;
            busy += b;
        }
        (ok as f64 / secs, busy)
    }
}

/// Issue 17's figures: Rampart as deployed (a worker per core, the default
/// hashing permits, on every core of the machine) under a login flood —
/// its memory at rest, at the flood's peak and 5 s after, its logins/s,
/// and `GET /users/me` latency without and during the flood.
fn login_flood(client: &tokio::runtime::Runtime, secs: Duration) {
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let cpus = cpus.trim();
    let dir = tempfile::tempdir().unwrap();
    let wrapper: Vec<&str> = if cpus.is_empty() {
        vec![]
    } else {
        vec!["taskset", "-c", cpus]
    };
    let server = Server::spawn("rampart-machine", dir.path(), &wrapper);
    let pid = server.child.id();
    std::thread::sleep(Duration::from_secs(1));
    let at_rest = rss_mib(pid);
    let kinds = client.block_on(prepare(server.addr));
    let warm = rss_mib(pid);
    let (me, login) = (&kinds[1], &kinds[4]);
    let me_conns = 8;
    let flood_conns = 32;
    // The first seconds after start are slower (lazy statics, code pages
    // faulted in): a discarded second of load first.
    let _ = measure(client, &server, me, me_conns, Duration::from_secs(1));

    // Rounds of /users/me without a flood, then during one; the medians
    // are reported (this machine's single rounds are noisy). The quiet
    // rounds come first: quiet rounds taken between floods were measured
    // slower than the floods' own rounds, so something after a flood
    // (not found: the audit checkpoints or the WAL, perhaps) lingers.
    let rounds = env_num("BENCH_ROUNDS", 3);
    let quiet: Vec<Figures> = (0..rounds)
        .map(|_| measure(client, &server, me, me_conns, secs))
        .collect();
    reset_peak(pid);
    let flood = Flood::start(client, server.addr, login, flood_conns);
    client.block_on(async { tokio::time::sleep(secs * 2).await });
    let (alone_rate, alone_busy) = client.block_on(flood.finish());
    let mut peak = peak_mib(pid);
    let (mut during, mut beside) = (Vec::new(), Vec::new());
    let mut busy = alone_busy;
    for _ in 0..rounds {
        let flood = Flood::start(client, server.addr, login, flood_conns);
        // `measure` resets the peak: its figure covers this flood.
        let d = measure(client, &server, me, me_conns, secs);
        let (rate, b) = client.block_on(flood.finish());
        peak = peak.max(d.peak_mib);
        during.push(d);
        beside.push(rate);
        busy += b;
    }
    std::thread::sleep(Duration::from_secs(5));
    let after = rss_mib(pid);
    server.stop();

    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let figure = |rounds: &[Figures], pick: fn(&Figures) -> f64| {
        median(&mut rounds.iter().map(pick).collect())
    };
    let (q99, d99) = (figure(&quiet, |f| f.p99), figure(&during, |f| f.p99));
    println!(
        "login flood: Rampart on CPUs {cpus} (a worker per core, default hashing permits), {flood_conns} connections logging in"
    );
    println!(
        "  memory MiB: at rest {at_rest:.1}, after one registration and one login {warm:.1}, peak during the floods {peak:.1}, 5 s after them {after:.1}"
    );
    println!(
        "  logins/s: {alone_rate:.1} alone, {:.1} beside /users/me (median); {busy} answered 503",
        median(&mut beside)
    );
    println!(
        "  GET /users/me on {me_conns} connections, medians of {} rounds: without a flood {:.0} req/s p50 {:.2} ms p99 {:.2} ms; during one {:.0} req/s p50 {:.2} ms p99 {:.2} ms (p99 {:.2}x)",
        quiet.len(),
        figure(&quiet, |f| f.rate),
        figure(&quiet, |f| f.p50),
        q99,
        figure(&during, |f| f.rate),
        figure(&during, |f| f.p50),
        d99,
        d99 / q99
    );
}

/// Copies Rampart's answers for bare axum to serve.
async fn copy_bodies(addr: SocketAddr, kinds: &[Kind], dir: &Path) {
    for (kind, file) in kinds[1..4]
        .iter()
        .zip(["me.json", "orders.json", "created.json"])
    {
        let (status, body) = send(addr, kind).await;
        assert_eq!(status, kind.ok);
        std::fs::write(dir.join(file), body).unwrap();
    }
}

#[derive(Default, Clone)]
struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    cpu_us: f64,
    peak_mib: f64,
}

fn measure(
    client: &tokio::runtime::Runtime,
    server: &Server,
    kind: &Kind,
    connections: u64,
    secs: Duration,
) -> Figures {
    let pid = server.child.id();
    reset_peak(pid);
    let cpu = cpu_secs(pid);
    let (rate, latencies) = client.block_on(load(server.addr, kind, connections, secs));
    let used = cpu_secs(pid) - cpu;
    Figures {
        rate,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        cpu_us: used * 1e6 / latencies.len().max(1) as f64,
        peak_mib: peak_mib(pid),
    }
}

fn median_by(rounds: &[Figures]) -> Figures {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    sorted[sorted.len() / 2].clone()
}

/// Instructions per request of `kind` on a server run under callgrind.
fn instructions(
    client: &tokio::runtime::Runtime,
    mode: &str,
    dir: &Path,
    kind: &Kind,
    requests: u64,
) -> f64 {
    let out = dir.join(format!("callgrind.{mode}"));
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let server = Server::spawn(
        mode,
        dir,
        &["valgrind", "--tool=callgrind", "--quiet", &out_arg],
    );
    let pid = server.child.id().to_string();
    let run = |n: u64| {
        client.block_on(async {
            let mut sender = connect(server.addr).await;
            for _ in 0..n {
                let res = sender.send_request(kind.request(1)).await.unwrap();
                assert_eq!(res.status().as_u16(), kind.ok);
                res.into_body().collect().await.unwrap();
            }
        });
    };
    run(200);
    let control = |arg: &str| {
        let ok = Command::new("callgrind_control")
            .args([arg, &pid])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "callgrind_control {arg}");
    };
    control("-z");
    run(requests);
    control("-d");
    let dump = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().starts_with(&*out.to_string_lossy()))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap();
    let text = std::fs::read_to_string(&dump).unwrap();
    let total: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    server.stop();
    for p in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        if p.path()
            .to_string_lossy()
            .starts_with(&*out.to_string_lossy())
        {
            let _ = std::fs::remove_file(p.path());
        }
    }
    total / requests as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return serve(&args[i + 1], Path::new(&args[i + 2]));
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
    let secs = Duration::from_secs(env_num("BENCH_SECS", 3));
    let rounds = env_num("BENCH_ROUNDS", 3);
    let connections = env_num("BENCH_CONNECTIONS", 32);
    let wrapper: &[&str] = if pin { &["taskset", "-c", "0"] } else { &[] };
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("BENCH_ONLY").as_deref() == Ok("flood") {
        return login_flood(&client, secs);
    }

    let rampart_dir = tempfile::tempdir().unwrap();
    let bare_dir = tempfile::tempdir().unwrap();
    let rampart = Server::spawn("rampart", rampart_dir.path(), wrapper);
    let kinds = client.block_on(prepare(rampart.addr));
    client.block_on(copy_bodies(rampart.addr, &kinds, bare_dir.path()));
    let bare = Server::spawn("bare", bare_dir.path(), wrapper);

    println!(
        "{rounds} rounds x {}s, {connections} connections, server pinned to one core: {}",
        secs.as_secs(),
        if pin { "yes" } else { "no" }
    );
    println!(
        "{:<26} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8}",
        "request", "server", "req/s", "p50 ms", "p99 ms", "CPU µs", "peak MiB", "vs bare"
    );
    let mut summary: Vec<(String, f64)> = Vec::new();
    for kind in &kinds {
        let is_login = kind.name == "login";
        let (conns, time) = if is_login {
            (8, secs * 2)
        } else {
            (connections, secs)
        };
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..rounds {
            if !is_login {
                theirs.push(measure(&client, &bare, kind, conns, time));
            }
            ours.push(measure(&client, &rampart, kind, conns, time));
        }
        let ours = median_by(&ours);
        let row = |server: &str, f: &Figures, ratio: Option<f64>| {
            println!(
                "{:<26} {:>8} {:>9.0} {:>9.2} {:>9.2} {:>9.1} {:>10.1} {:>8}",
                kind.name,
                server,
                f.rate,
                f.p50,
                f.p99,
                f.cpu_us,
                f.peak_mib,
                ratio.map_or(String::new(), |r| format!("{r:.2}x"))
            );
        };
        if theirs.is_empty() {
            row("rampart", &ours, None);
        } else {
            let theirs = median_by(&theirs);
            row("bare", &theirs, None);
            let ratio = ours.rate / theirs.rate;
            row("rampart", &ours, Some(ratio));
            summary.push((kind.name.to_owned(), ratio));
        }
    }
    rampart.stop();
    bare.stop();
    login_flood(&client, secs);

    if std::env::var("BENCH_CALLGRIND").as_deref() == Ok("0")
        || Command::new("valgrind").arg("--version").output().is_err()
    {
        println!("callgrind: skipped (BENCH_CALLGRIND=0 or no valgrind)");
        return;
    }
    let requests = env_num("BENCH_CALLGRIND_REQUESTS", 2000);
    println!(
        "instructions per request under callgrind ({requests} requests on one connection, after 200 to warm up):"
    );
    for kind in &kinds[..2] {
        let bare = instructions(&client, "bare", bare_dir.path(), kind, requests);
        let dir = tempfile::tempdir().unwrap();
        let ours = instructions_rampart(&client, dir.path(), kind, requests);
        println!(
            "  {:<24} bare {:>8.0}   rampart {:>8.0}   (+{:.0})",
            kind.name,
            bare,
            ours,
            ours - bare
        );
    }
}

/// [`instructions`] for Rampart: a fresh server under callgrind, with its
/// own user and token for `kind`.
fn instructions_rampart(
    client: &tokio::runtime::Runtime,
    dir: &Path,
    kind: &Kind,
    requests: u64,
) -> f64 {
    let mut kind = kind.clone();
    if kind.token.is_some() {
        // A token for this server's own user.
        let probe = Server::spawn("rampart", dir, &[]);
        let kinds = client.block_on(prepare(probe.addr));
        probe.stop();
        kind.token = kinds[1].token.clone();
    }
    instructions(client, "rampart", dir, &kind, requests)
}
