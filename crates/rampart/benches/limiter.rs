//! Decisions per second of the in-memory limiter.
//!
//! `cargo bench -p rampart --bench limiter`: one hot key and 1 M distinct
//! keys, on one thread and on two threads sharing the limiter.
// criterion's macros define undocumented functions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart::ratelimit::{MemoryLimiter, Quota};

const KEYS: usize = 1_000_000;

fn keys() -> Arc<Vec<String>> {
    Arc::new(
        (0..KEYS)
            .map(|i| format!("ip:10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
            .collect(),
    )
}

fn run(limiter: &MemoryLimiter, quota: &Quota, keys: &[String], start: usize, iters: u64) {
    for i in 0..iters as usize {
        let key = &keys[(start + i) % keys.len()];
        black_box(limiter.check_now(key, quota));
    }
}

fn threaded(
    threads: usize,
    iters: u64,
    limiter: &Arc<MemoryLimiter>,
    quota: Quota,
    keys: &Arc<Vec<String>>,
) -> Duration {
    let per = iters / threads as u64 + 1;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (l, k) = (limiter.clone(), keys.clone());
            std::thread::spawn(move || run(&l, &quota, &k, t * 7919, per))
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let quota = Quota::per_minute(100);
    let hot = Arc::new(vec!["ip:192.0.2.1".to_owned()]);
    let many = keys();

    let mut g = c.benchmark_group("limiter");
    g.throughput(Throughput::Elements(1));
    for (name, keys) in [("hot key", &hot), ("1M keys", &many)] {
        let limiter = Arc::new(MemoryLimiter::new());
        // Warm: every key present.
        run(&limiter, &quota, keys, 0, keys.len() as u64);
        g.bench_function(format!("{name}, 1 thread"), |b| {
            let mut offset = 0;
            b.iter_custom(|iters| {
                let start = Instant::now();
                run(&limiter, &quota, keys, offset, iters);
                offset += iters as usize;
                start.elapsed()
            });
        });
        g.bench_function(format!("{name}, 2 threads"), |b| {
            b.iter_custom(|iters| threaded(2, iters, &limiter, quota, keys));
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = bench
}
criterion_main!(benches);
