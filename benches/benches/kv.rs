//! defender-kv against the raw APIs under it, in the same run:
//! - `RedbKvStore` against raw redb (a `&str -> &str` table, reads in the caller, writes
//!   committed with `Durability::Immediate` like ours);
//! - `RedisKvStore` against raw redis-rs (`GET`, `SET .. PX`) on the same kind of
//!   `ConnectionManager`, at the same concurrency.
//!
//! Latency: one operation at a time. Throughput: a batch of operations spread over 8 (redb)
//! or 16 (Redis) concurrent tokio tasks. After the criterion groups, the medians criterion
//! recorded are read back and printed as wrapper / raw ratios.
//!
//! Before each backend's criterion groups, an interleaved A/B pass (`interleaved ...` lines)
//! alternates batches of ours and raw so that both see the same load: on a shared, busy
//! machine its ratios are the ones to trust; criterion's groups run one after the other.
//!
//! Needs `redis-server` on `PATH` (the Redis half is skipped with a message otherwise).
//!
//! Run: `cargo bench -p defender-benches --bench kv`

#![allow(missing_docs)] // criterion generates undocumented items

use criterion::{BenchmarkId, Criterion, Throughput};
use defender_kv::{KvStore, RedbKvStore, RedisKvStore};
use redb::{Database, Durability, TableDefinition};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const RAW_TABLE: TableDefinition<'static, &str, &str> = TableDefinition::new("raw");
const KEYS: usize = 1000;
const VALUE_LEN: usize = 100;
const REDB_TASKS: usize = 8;
const REDIS_TASKS: usize = 16;
const GET_BATCH: usize = 512;
const PUT_BATCH: usize = 32;
const REDIS_PUT_BATCH: usize = 512;

fn key(i: usize) -> String {
    format!("bench/key/{i:06}")
}

fn value() -> String {
    "v".repeat(VALUE_LEN)
}

struct RawRedb(Database);

impl RawRedb {
    fn get(&self, key: &str) -> Option<String> {
        let txn = self.0.begin_read().expect("read txn");
        let table = txn.open_table(RAW_TABLE).expect("table");
        let found = table.get(key).expect("get");
        found.map(|g| g.value().to_owned())
    }

    fn put(&self, key: &str, value: &str) {
        let mut txn = self.0.begin_write().expect("write txn");
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(RAW_TABLE).expect("table");
            table.insert(key, value).expect("insert");
        }
        txn.commit().expect("commit");
    }
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("defender-kv-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Interleaved A/B pass: `rounds` times, a batch of `batch` operations of ours then of raw
/// (the order alternating), so both see the same machine load. Prints the median time per
/// operation of each and the median of the per-round ratios (ours / raw).
fn interleaved(
    name: &str,
    rounds: usize,
    batch: usize,
    mut ours: impl FnMut(usize),
    mut raw: impl FnMut(usize),
) {
    let time = |f: &mut dyn FnMut(usize), round: usize| {
        let start = std::time::Instant::now();
        f(round);
        start.elapsed().as_nanos() as f64 / batch as f64
    };
    let (mut o, mut r, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = time(&mut ours, round);
            (a, time(&mut raw, round))
        } else {
            let b = time(&mut raw, round);
            (time(&mut ours, round), b)
        };
        o.push(a);
        r.push(b);
        ratios.push(a / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "interleaved {name:<14} ours {:>12}  raw {:>12}  ratio {:.2}x",
        fmt_ns(median(&mut o)),
        fmt_ns(median(&mut r)),
        median(&mut ratios)
    );
}

fn bench_redb(c: &mut Criterion, rt: &tokio::runtime::Runtime, scratch: &Scratch) {
    let ours = Arc::new(RedbKvStore::open(scratch.0.join("ours.redb")).expect("open ours"));
    let raw = Arc::new(RawRedb(
        Database::create(scratch.0.join("raw.redb")).expect("open raw"),
    ));
    let v = value();
    rt.block_on(async {
        for i in 0..KEYS {
            ours.put(&key(i), &v).await.expect("fill");
        }
    });
    for i in 0..KEYS {
        raw.put(&key(i), &v);
    }

    interleaved(
        "redb get",
        41,
        2000,
        |r| {
            rt.block_on(async {
                for i in 0..2000 {
                    black_box(ours.get(&key((i + r) % KEYS)).await.expect("get"));
                }
            })
        },
        |r| {
            for i in 0..2000 {
                black_box(raw.get(&key((i + r) % KEYS)));
            }
        },
    );
    interleaved(
        "redb get (raw in async)",
        41,
        2000,
        |r| {
            rt.block_on(async {
                for i in 0..2000 {
                    black_box(raw.get(&key((i + r) % KEYS)));
                }
            })
        },
        |r| {
            for i in 0..2000 {
                black_box(raw.get(&key((i + r) % KEYS)));
            }
        },
    );
    interleaved(
        "redb put",
        21,
        20,
        |r| {
            rt.block_on(async {
                for i in 0..20 {
                    ours.put(&key(i * 13 + r), &v).await.expect("put");
                }
            })
        },
        |r| {
            for i in 0..20 {
                raw.put(&key(i * 13 + r), &v);
            }
        },
    );
    let mut g = c.benchmark_group("kv_redb_latency");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    let mut n = 0usize;
    g.bench_function("get/defender-kv", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7) % KEYS;
            let k = key(n);
            let ours = &ours;
            async move { black_box(ours.get(&k).await.expect("get")) }
        })
    });
    g.bench_function("get/raw-redb", |b| {
        b.iter(|| {
            n = (n + 7) % KEYS;
            black_box(raw.get(&key(n)))
        })
    });
    g.sample_size(30);
    g.bench_function("put/defender-kv", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7) % KEYS;
            let k = key(n);
            let (ours, v) = (&ours, &v);
            async move { ours.put(&k, v).await.expect("put") }
        })
    });
    g.bench_function("put/raw-redb", |b| {
        b.iter(|| {
            n = (n + 7) % KEYS;
            raw.put(&key(n), &v)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("kv_redb_throughput");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(GET_BATCH as u64));
    g.bench_function(BenchmarkId::new("get/defender-kv", REDB_TASKS), |b| {
        b.to_async(rt).iter(|| {
            let ours = ours.clone();
            async move {
                all_tasks(REDB_TASKS, |t| {
                    let ours = ours.clone();
                    tokio::spawn(async move {
                        for i in (t..GET_BATCH).step_by(REDB_TASKS) {
                            black_box(ours.get(&key(i % KEYS)).await.expect("get"));
                        }
                    })
                })
                .await;
            }
        })
    });
    g.bench_function(BenchmarkId::new("get/raw-redb", REDB_TASKS), |b| {
        b.to_async(rt).iter(|| {
            let raw = raw.clone();
            async move {
                all_tasks(REDB_TASKS, |t| {
                    let raw = raw.clone();
                    tokio::spawn(async move {
                        for i in (t..GET_BATCH).step_by(REDB_TASKS) {
                            black_box(raw.get(&key(i % KEYS)));
                        }
                    })
                })
                .await;
            }
        })
    });
    g.sample_size(10);
    g.throughput(Throughput::Elements(PUT_BATCH as u64));
    g.bench_function(BenchmarkId::new("put/defender-kv", REDB_TASKS), |b| {
        b.to_async(rt).iter(|| {
            let ours = ours.clone();
            async move {
                all_tasks(REDB_TASKS, |t| {
                    let ours = ours.clone();
                    tokio::spawn(async move {
                        let v = value();
                        for i in (t..PUT_BATCH).step_by(REDB_TASKS) {
                            ours.put(&key(i), &v).await.expect("put");
                        }
                    })
                })
                .await;
            }
        })
    });
    g.bench_function(BenchmarkId::new("put/raw-redb", REDB_TASKS), |b| {
        b.to_async(rt).iter(|| {
            let raw = raw.clone();
            async move {
                all_tasks(REDB_TASKS, |t| {
                    let raw = raw.clone();
                    // Commits block: a raw user also moves them off the executor.
                    tokio::task::spawn_blocking(move || {
                        let v = value();
                        for i in (t..PUT_BATCH).step_by(REDB_TASKS) {
                            raw.put(&key(i), &v);
                        }
                    })
                })
                .await;
            }
        })
    });
    g.finish();
}

/// Starts `spawn(t)` for each `t` in `0..tasks` (each returns its spawned task) and waits
/// for all of them.
async fn all_tasks(tasks: usize, spawn: impl FnMut(usize) -> tokio::task::JoinHandle<()>) {
    let handles: Vec<_> = (0..tasks).map(spawn).collect();
    for h in handles {
        h.await.expect("task");
    }
}

struct RedisServer(Child, u16);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<RedisServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("skipping the Redis benches: cannot start redis-server: {e}"))
        .ok()?;
    let server = RedisServer(child, port);
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("skipping the Redis benches: redis-server did not start");
    None
}

fn bench_redis(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let Some(server) = start_redis() else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}/", server.1);
    let ours = rt
        .block_on(RedisKvStore::connect(&url))
        .expect("connect ours");
    let raw = rt
        .block_on(redis::aio::ConnectionManager::new_with_config(
            redis::Client::open(url.as_str()).expect("client"),
            RedisKvStore::default_config(),
        ))
        .expect("connect raw");
    let ttl_ms: u64 = 90 * 24 * 3600 * 1000;
    let v = value();
    rt.block_on(async {
        let mut conn = raw.clone();
        for i in 0..KEYS {
            ours.put(&key(i), &v).await.expect("fill");
            redis::cmd("SET")
                .arg(format!("raw:{}", key(i)))
                .arg(&v)
                .arg("PX")
                .arg(ttl_ms)
                .query_async::<()>(&mut conn)
                .await
                .expect("fill raw");
        }
    });
    async fn raw_get(mut conn: redis::aio::ConnectionManager, k: String) -> Option<String> {
        redis::cmd("GET")
            .arg(format!("raw:{k}"))
            .query_async(&mut conn)
            .await
            .expect("get")
    }
    async fn raw_put(mut conn: redis::aio::ConnectionManager, k: String, v: &str, ttl: u64) {
        redis::cmd("SET")
            .arg(format!("raw:{k}"))
            .arg(v)
            .arg("PX")
            .arg(ttl)
            .query_async::<()>(&mut conn)
            .await
            .expect("set")
    }

    interleaved(
        "redis get",
        41,
        200,
        |r| {
            rt.block_on(async {
                for i in 0..200 {
                    black_box(ours.get(&key((i + r) % KEYS)).await.expect("get"));
                }
            })
        },
        |r| {
            rt.block_on(async {
                for i in 0..200 {
                    black_box(raw_get(raw.clone(), key((i + r) % KEYS)).await);
                }
            })
        },
    );
    interleaved(
        "redis put",
        41,
        200,
        |r| {
            rt.block_on(async {
                for i in 0..200 {
                    ours.put(&key((i + r) % KEYS), &v).await.expect("put");
                }
            })
        },
        |r| {
            rt.block_on(async {
                for i in 0..200 {
                    raw_put(raw.clone(), key((i + r) % KEYS), &v, ttl_ms).await;
                }
            })
        },
    );
    let mut g = c.benchmark_group("kv_redis_latency");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    let mut n = 0usize;
    g.bench_function("get/defender-kv", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7) % KEYS;
            let (ours, k) = (&ours, key(n));
            async move { black_box(ours.get(&k).await.expect("get")) }
        })
    });
    g.bench_function("get/raw-redis-rs", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7) % KEYS;
            raw_get(raw.clone(), key(n))
        })
    });
    g.bench_function("put/defender-kv", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7) % KEYS;
            let (ours, k, v) = (&ours, key(n), &v);
            async move { ours.put(&k, v).await.expect("put") }
        })
    });
    g.bench_function("put/raw-redis-rs", |b| {
        b.to_async(rt).iter(|| {
            n = (n + 7) % KEYS;
            raw_put(raw.clone(), key(n), &v, ttl_ms)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("kv_redis_throughput");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    for (op, batch) in [("get", GET_BATCH), ("put", REDIS_PUT_BATCH)] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(
            BenchmarkId::new(format!("{op}/defender-kv"), REDIS_TASKS),
            |b| {
                b.to_async(rt).iter(|| {
                    let ours = ours.clone();
                    async move {
                        all_tasks(REDIS_TASKS, |t| {
                            let ours = ours.clone();
                            tokio::spawn(async move {
                                let v = value();
                                for i in (t..batch).step_by(REDIS_TASKS) {
                                    if op == "get" {
                                        black_box(ours.get(&key(i % KEYS)).await.expect("get"));
                                    } else {
                                        ours.put(&key(i % KEYS), &v).await.expect("put");
                                    }
                                }
                            })
                        })
                        .await;
                    }
                })
            },
        );
        g.bench_function(
            BenchmarkId::new(format!("{op}/raw-redis-rs"), REDIS_TASKS),
            |b| {
                b.to_async(rt).iter(|| {
                    let raw = raw.clone();
                    async move {
                        all_tasks(REDIS_TASKS, |t| {
                            let raw = raw.clone();
                            tokio::spawn(async move {
                                let v = value();
                                for i in (t..batch).step_by(REDIS_TASKS) {
                                    if op == "get" {
                                        black_box(raw_get(raw.clone(), key(i % KEYS)).await);
                                    } else {
                                        raw_put(raw.clone(), key(i % KEYS), &v, ttl_ms).await;
                                    }
                                }
                            })
                        })
                        .await;
                    }
                })
            },
        );
    }
    g.finish();
    drop(server);
}

/// The median (ns) criterion recorded for `group/function` (criterion's directory names:
/// `/` in a function name becomes `_`), from its `estimates.json`.
/// Estimates older than `since` (left by an earlier run) are ignored.
fn median_ns(
    criterion_dir: &std::path::Path,
    since: std::time::SystemTime,
    group: &str,
    function: &str,
) -> Option<f64> {
    let path = criterion_dir
        .join(group)
        .join(function)
        .join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn criterion_dir() -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Ok(target) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // <target>/release/deps/kv-<hash>
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

fn print_ratios(since: std::time::SystemTime) {
    let dir = criterion_dir();
    let rows = [
        ("kv_redb_latency", "get_defender-kv", "get_raw-redb"),
        ("kv_redb_latency", "put_defender-kv", "put_raw-redb"),
        ("kv_redb_throughput", "get_defender-kv/8", "get_raw-redb/8"),
        ("kv_redb_throughput", "put_defender-kv/8", "put_raw-redb/8"),
        ("kv_redis_latency", "get_defender-kv", "get_raw-redis-rs"),
        ("kv_redis_latency", "put_defender-kv", "put_raw-redis-rs"),
        (
            "kv_redis_throughput",
            "get_defender-kv/16",
            "get_raw-redis-rs/16",
        ),
        (
            "kv_redis_throughput",
            "put_defender-kv/16",
            "put_raw-redis-rs/16",
        ),
    ];
    println!("\nmedians (criterion estimates) and wrapper / raw ratios (target <= 1.3x):");
    println!(
        "{:<22} {:<20} {:>14} {:>14} {:>7}",
        "group", "wrapper", "wrapper", "raw", "ratio"
    );
    for (group, ours, raw) in rows {
        match (
            median_ns(&dir, since, group, ours),
            median_ns(&dir, since, group, raw),
        ) {
            (Some(o), Some(r)) => println!(
                "{group:<22} {ours:<20} {:>14} {:>14} {:>6.2}x",
                fmt_ns(o),
                fmt_ns(r),
                o / r
            ),
            _ => println!("{group:<22} {ours:<20} (not measured in this run)"),
        }
    }
    if let Some(get) = median_ns(&dir, since, "kv_redb_latency", "get_defender-kv") {
        println!(
            "embedded get median: {} (target <= 2 us): {}",
            fmt_ns(get),
            if get <= 2000.0 { "met" } else { "NOT met" }
        );
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let started = std::time::SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scratch = Scratch::new();
    bench_redb(&mut c, &rt, &scratch);
    bench_redis(&mut c, &rt);
    c.final_summary();
    print_ratios(started);
}
