//! Cost of one abuse-limit check (`./deploy/bench limits`): the store's
//! fixed-window count of a login start's limits (the client's and the site's
//! windows, one call each as the gateway makes them) and of a push (the
//! person's two windows in one call).
//!
//! Against the in-process memory store and a real `redis-server` on
//! loopback, sequentially from one task: wall time per check (for Redis, one
//! round trip) and this process's CPU per check (from /proc/self/stat; the
//! Redis server's own CPU is not counted). Measurement only: it fails when a
//! count fails, never because it is slow. ITERATIONS (default 20000).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi::store::memory::MemoryStore;
use munjigi::store::redis::RedisStore;
use munjigi::store::Store;
use std::time::{Duration, Instant};

fn iterations() -> usize {
    std::env::var("ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20_000)
}

/// User + system CPU of this process, seconds (clock ticks of 10 ms).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

async fn measure(name: &str, store: &dyn Store, n: usize) {
    let start_windows = |i: usize| {
        vec![(
            format!("rl:{{client_starts:198.51.100.{}}}:60s", i % 250),
            Duration::from_secs(60),
        )]
    };
    let site = vec![("rl:{site:town}:1s".to_owned(), Duration::from_secs(1))];
    let person = |i: usize| {
        vec![
            (
                format!("rl:{{person:{:032x}}}:600s", i % 5000),
                Duration::from_secs(600),
            ),
            (
                format!("rl:{{person:{:032x}}}:86400s", i % 5000),
                Duration::from_secs(86_400),
            ),
        ]
    };
    for i in 0..n / 10 {
        store.count(&start_windows(i)).await.unwrap();
    }
    let (t, c) = (Instant::now(), cpu_secs());
    for i in 0..n {
        store.count(&start_windows(i)).await.unwrap();
        store.count(&site).await.unwrap();
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "{name:<8} login start (client + site, 2 calls): {:>7.2} µs wall, {:>6.2} µs CPU per start",
        wall * 1e6 / n as f64,
        cpu * 1e6 / n as f64
    );
    let (t, c) = (Instant::now(), cpu_secs());
    for i in 0..n {
        store.count(&person(i)).await.unwrap();
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "{name:<8} push (person, 2 windows, 1 call):        {:>7.2} µs wall, {:>6.2} µs CPU per push",
        wall * 1e6 / n as f64,
        cpu * 1e6 / n as f64
    );
}

fn main() {
    let n = iterations();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mem = MemoryStore::new(1_000_000);
        measure("memory", mem.as_ref(), n).await;
        let redis = munjigi_e2e::start_redis();
        let store = RedisStore::connect(
            &format!("redis://127.0.0.1:{}", redis.port),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        measure("redis", &store, n).await;
    });
    println!("({n} checks each; Redis on loopback, one connection, sequential)");
}
