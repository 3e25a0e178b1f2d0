//! Durable audit appends per second on SQLite (WAL, `synchronous=FULL`),
//! or on the PostgreSQL database named by `BENCH_DATABASE_URL`: one
//! transaction per event against group commit, at 1, 16 and 64 concurrent
//! writers. `cargo bench -p rampart-server --bench audit` (`BENCH_SECS` per
//! case, default 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rampart::audit::{AuditEvent, EventType};
use rampart_server::{
    audit::writer::AuditWriter,
    config::{Settings, Source},
    store::Database,
};

fn event(i: u64) -> AuditEvent {
    AuditEvent::new(EventType::DataAccess)
        .user("42")
        .ip("192.0.2.7")
        .request("0b6f3e4c-1f7a-4b0e-9a4e-3c1f0e2d4a5b")
        .detail("resource", "orders")
        .detail("n", i)
}

async fn run(db: &Database, writer: Option<&AuditWriter>, writers: u64, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (db, writer, done, stop) = (db.clone(), writer.cloned(), done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                match &writer {
                    Some(w) => {
                        w.append(event(i)).await.unwrap();
                    }
                    None => {
                        db.audit().record(&event(i)).await.unwrap();
                    }
                }
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let n = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / elapsed
}

fn main() {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut source = Source::default();
        source.set("RAMPART_DATA_DIR", dir.path().to_str().unwrap());
        let backend = match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) => {
                source.set("RAMPART_DATABASE_URL", url);
                "PostgreSQL (its own durability settings)"
            }
            Err(_) => "SQLite WAL synchronous=FULL",
        };
        let settings = Settings::from_source(&source).unwrap();
        let db = Database::connect(&settings).await.unwrap();
        db.migrate().await.unwrap();
        let writer = AuditWriter::start(db.pool().clone());
        println!("durable audit appends/s, {backend}, {secs}s per case");
        for writers in [1u64, 16, 64] {
            let single = run(&db, None, writers, secs).await;
            let group = run(&db, Some(&writer), writers, secs).await;
            println!("  {writers:>2} writers: one transaction per event {single:>8.0}/s   group commit {group:>8.0}/s");
        }
        let v = db.audit().verify().await.unwrap();
        println!("  chain after the run: ok={} entries={}", v.ok, v.entries);
    });
}
