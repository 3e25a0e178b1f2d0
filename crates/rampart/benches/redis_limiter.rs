//! Decisions per second of the Redis limiter against a local Redis.
//!
//! `cargo bench -p rampart --features redis --bench redis_limiter` starts
//! its own `redis-server` on a free loopback port (no persistence) and
//! runs 2 s per case: 1, 16 and 64 concurrent callers sharing one
//! multiplexed connection, 10 000 keys at 100 per minute (per-IP shape:
//! most keys fill their quota, later checks are refusals).
// criterion's macros define undocumented functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::{
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rampart::ratelimit::{Quota, RateLimiter, redis::RedisLimiter};

fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test installs it)");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = rampart::ratelimit::redis::connect(&format!("redis://127.0.0.1:{port}/0"))
            .await
            .unwrap();
        let limiter = Arc::new(RedisLimiter::new(conn, "bench:"));
        let quota = Quota::per_minute(100);
        println!("redis limiter, 10 000 keys at 100/min, 2 s per case:");
        for callers in [1usize, 16, 64] {
            let done = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(2);
            let tasks: Vec<_> = (0..callers)
                .map(|c| {
                    let (limiter, done) = (limiter.clone(), done.clone());
                    tokio::spawn(async move {
                        let mut i = c * 7919;
                        while Instant::now() < deadline {
                            let key = format!("ip:{}", i % 10_000);
                            limiter.check(&key, &quota).await.unwrap();
                            done.fetch_add(1, Ordering::Relaxed);
                            i += 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let n = done.load(Ordering::Relaxed);
            println!(
                "  {callers:>2} callers  {:>8.0} decisions/s",
                n as f64 / 2.0
            );
        }
    });
    let _ = server.kill();
    let _ = server.wait();
}
