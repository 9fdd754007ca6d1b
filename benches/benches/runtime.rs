//! defender-runtime against Node, side by side: per-run latency of a hello-world handler in a
//! fresh isolated context (ours: a QuickJS context no code has run in, per run; Node: one
//! `vm.createContext` + `runInContext` + handler call per run, measured inside a node
//! process that runs in batches alternated with ours, so that both see the same machine
//! (each Node batch ends with a full collection, after its timed runs, so that V8's
//! background collection of a thousand contexts does not run into our next batch);
//! and spawning `node` per run), and of a handler that requires ethers v5 from
//! `defender-runtime/tests/node/node_modules` (run `npm ci` there first): cold (new
//! runtime, empty bytecode cache: the first `require('ethers')` in a fresh context) against
//! Node's `require('ethers')` in a fresh process (timed inside it, and the whole process),
//! fresh context with bytecode cached, and warm context (the default policy,
//! `ContextPolicy::WarmPerVersion`: ethers already loaded, as in a warm Lambda). The
//! hello-world figures are in fresh contexts (`RuntimeConfig::with_fresh_contexts`), the
//! issue 19 target being at most 100 us and at least 4x Node's `vm.createContext`.
//!
//! Each script thread prepares its next fresh context (about 75 us of CPU: creating it,
//! installing the prelude, freeing the previous one) after delivering a run's result, so
//! back-to-back runs overlap one run with the preparation of the next context on the other
//! core. The table also shows runs 2 ms apart (a thread woken from idle) and runs whose
//! context is created on the run's path (a new runtime and thread per run).
//!
//! Before the criterion groups, a measurement pass prints medians and ratios.
//!
//! Run: `cargo bench -p defender-benches --bench runtime` (published QuickJS), and
//! `cargo bench -p defender-benches --bench runtime --features defender-runtime/quickjs-patches`
//! (the patched QuickJS of vendor/, which the workspace's `[patch.crates-io]` provides).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{criterion_group, criterion_main, Criterion};
use defender_core::{
    ActionCode, ActionEvent, ActionRuntime, CodeSource, InMemoryKvStore, NotifierRegistry,
    RunLimits, RunRequest, RunServices,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};

#[path = "support/alloc.rs"]
mod alloc;

/// A runtime with a fresh context per run.
fn fresh_runtime() -> QuickJsRuntime {
    QuickJsRuntime::new(RuntimeConfig::default().with_fresh_contexts())
}

/// Node's `require('ethers')` in a fresh process: (the require alone, timed inside the
/// process; the whole process, spawn to exit), medians of `n`.
fn node_require_ethers(n: usize) -> Option<(Duration, Duration)> {
    let dir = node_modules().parent()?.to_path_buf();
    let (mut inside, mut whole) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        let out = Command::new("node")
            .current_dir(&dir)
            .arg("-e")
            .arg("const t = process.hrtime.bigint(); require('ethers'); console.log(Number(process.hrtime.bigint() - t));")
            .output()
            .ok()?;
        whole.push(t.elapsed());
        let ns: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        inside.push(Duration::from_nanos(ns));
    }
    Some((median(inside), median(whole)))
}
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HELLO: &str = "exports.handler = async function(event) { return { hello: 'world', run: event.actionRunId }; };";
const ETHERS: &str = "const { ethers } = require('ethers');\nexports.handler = async function(event) { return ethers.utils.keccak256(ethers.utils.toUtf8Bytes(event.actionRunId)); };";

fn node_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../defender-runtime/tests/node/node_modules")
}

fn code(src: &str) -> ActionCode {
    ActionCode {
        action_id: "bench".into(),
        version: 1,
        source: CodeSource::Script(src.into()),
    }
}

fn request() -> RunRequest {
    RunRequest {
        event: ActionEvent::new("bench", "Bench", "run-1"),
        services: RunServices {
            kv: Arc::new(InMemoryKvStore::default()),
            relayer: None,
            relayer_keys: Default::default(),
            notifiers: Arc::new(NotifierRegistry::default()),
            manage: None,
        },
        limits: RunLimits::default(),
    }
}

#[path = "support/cpu.rs"]
mod cpu;
use cpu::process_cpu;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ours(
    tokio: &tokio::runtime::Runtime,
    rt: &QuickJsRuntime,
    code: &ActionCode,
    n: usize,
) -> Duration {
    ours_paced(tokio, rt, code, n, Duration::ZERO)
}

/// QuickJS alone, the floor under any fresh context per run on this build of QuickJS: a
/// context with every intrinsic created, then freed and collected, on one thread, without
/// the sandbox's prelude, a script or a run. Median of `n`.
fn quickjs_alone(n: usize) -> Duration {
    let rt = rquickjs::Runtime::new().expect("QuickJS runtime");
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let ctx = rquickjs::Context::full(&rt).expect("QuickJS context");
        drop(ctx);
        rt.run_gc();
        times.push(t.elapsed());
    }
    median(times)
}

/// Per-run latency, with `gap` of idle time between runs (not measured).
fn ours_paced(
    tokio: &tokio::runtime::Runtime,
    rt: &QuickJsRuntime,
    code: &ActionCode,
    n: usize,
    gap: Duration,
) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
        let t = Instant::now();
        let out = tokio.block_on(rt.run(code, request()));
        times.push(t.elapsed());
        assert!(out.result.is_ok(), "{:?}", out.result);
    }
    median(times)
}

/// A node process that measures `vm.createContext` + `runInContext` + handler call per
/// run: each line `n` on its stdin runs `n` of them and prints their median in ns. Kept
/// alive so that its batches can alternate with ours under the same machine load.
struct NodeVm {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl NodeVm {
    fn start() -> Option<NodeVm> {
        let script = format!(
            r#"const vm = require('vm');
const readline = require('readline');
const src = {src:?};
async function batch(n) {{
  const cpu0 = process.cpuUsage();
  const times = [];
  for (let i = 0; i < n; i++) {{
    const t = process.hrtime.bigint();
    const ctx = vm.createContext({{ console }});
    const mod = {{ exports: {{}} }};
    vm.runInContext('(function (exports, module) {{' + src + '\n}})', ctx)(mod.exports, mod);
    const r = await mod.exports.handler({{ actionRunId: 'run-1' }});
    JSON.stringify(r);
    times.push(Number(process.hrtime.bigint() - t));
  }}
  times.sort((a, b) => a - b);
  // V8 collects the batch's contexts on background threads after it: done here, outside
  // the timed runs, so that it does not overlap the next batch of ours (and counted in the
  // batch's CPU time, as our cleanup is in ours).
  gc();
  const cpu = process.cpuUsage(cpu0);
  return times[times.length >> 1] + ' ' + Math.round((cpu.user + cpu.system) * 1000 / n);
}}
const rl = readline.createInterface({{ input: process.stdin }});
let chain = Promise.resolve();
rl.on('line', (l) => {{ chain = chain.then(async () => console.log(await batch(Number(l)))); }});"#,
            src = HELLO,
        );
        let mut child = Command::new("node")
            .arg("--expose-gc")
            .arg("-e")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let out = std::io::BufReader::new(child.stdout.take()?);
        Some(NodeVm { child, out })
    }

    /// Median latency of `n` runs, and the process's CPU time per run.
    fn batch(&mut self, n: usize) -> Option<(Duration, Duration)> {
        use std::io::{BufRead, Write};
        let stdin = self.child.stdin.as_mut()?;
        writeln!(stdin, "{n}").ok()?;
        stdin.flush().ok()?;
        let mut line = String::new();
        self.out.read_line(&mut line).ok()?;
        let (median, cpu) = line.trim().split_once(' ')?;
        Some((
            Duration::from_nanos(median.parse().ok()?),
            Duration::from_nanos(cpu.parse().ok()?),
        ))
    }
}

impl Drop for NodeVm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Node: spawning `node` for one run of the handler.
fn node_spawn(n: usize) -> Option<Duration> {
    let script = format!(
        "{HELLO}\nexports.handler({{ actionRunId: 'run-1' }}).then((r) => JSON.stringify(r));"
    );
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let st = Command::new("node").arg("-e").arg(&script).status().ok()?;
        times.push(t.elapsed());
        if !st.success() {
            return None;
        }
    }
    Some(median(times))
}

/// The caller's side: one tokio worker, as in a small service.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio")
}

fn table() {
    let tokio = tokio_runtime();
    let rt = fresh_runtime();
    let hello = code(HELLO);
    // Warm-up, then ours and Node's vm in alternating batches: the machine's speed drifts,
    // and each ratio compares two batches run one right after the other.
    ours(&tokio, &rt, &hello, 200);
    let mut node = NodeVm::start();
    if let Some(n) = node.as_mut() {
        // V8 needs a few thousand contexts before its figures settle.
        let _ = n.batch(5000);
    }
    let (mut ours_rounds, mut node_rounds, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ours_cpu, mut node_cpu) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let cpu = process_cpu();
        let o = ours(&tokio, &rt, &hello, 1000);
        ours_cpu.push((process_cpu() - cpu) / 1000);
        ours_rounds.push(o);
        if let Some((d, cpu)) = node.as_mut().and_then(|n| n.batch(1000)) {
            node_rounds.push(d);
            node_cpu.push(cpu);
            ratios.push(d.as_secs_f64() / o.as_secs_f64());
        }
    }
    drop(node);
    let ours_hello = median(ours_rounds.clone());
    let ours_paced_hello = ours_paced(&tokio, &rt, &hello, 500, Duration::from_millis(2));
    // Without a prepared spare: a new QuickJsRuntime (and script thread) per run, so the
    // context is created on the run's path.
    let mut cold = Vec::new();
    for _ in 0..300 {
        let fresh = fresh_runtime();
        let t = Instant::now();
        let out = tokio.block_on(fresh.run(&hello, request()));
        cold.push(t.elapsed());
        assert!(out.result.is_ok());
    }
    let ours_cold = median(cold);
    quickjs_alone(200);
    let bare = quickjs_alone(2000);
    let warm_rt = QuickJsRuntime::default();
    ours(&tokio, &warm_rt, &hello, 200);
    let ours_warm = ours(&tokio, &warm_rt, &hello, 2000);
    let us = |d: &Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    println!(
        "runtime: hello-world, fresh context per run ({} QuickJS)",
        if defender_runtime::QUICKJS_PATCHED {
            "patched"
        } else {
            "published"
        }
    );
    println!(
        "  ours, back to back, 7 x 1000 runs        median {:>10} us   (rounds: {}; target <= 100 us: {:.2}x of it)",
        us(&ours_hello),
        ours_rounds.iter().map(us).collect::<Vec<_>>().join(" "),
        ours_hello.as_secs_f64() / 100e-6
    );
    if node_rounds.is_empty() {
        println!("  node vm.createContext    (node not found)");
    } else {
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  node vm.createContext per run, alternated median {:>7} us   (rounds: {})",
            us(&median(node_rounds.clone())),
            node_rounds.iter().map(us).collect::<Vec<_>>().join(" ")
        );
        println!(
            "  node/ours per round: {}   median {:.1}x (target >= 4x)",
            ratios
                .iter()
                .map(|r| format!("{r:.1}x"))
                .collect::<Vec<_>>()
                .join(" "),
            sorted[sorted.len() / 2]
        );
        // Latency above; here the CPU each run costs the whole process (our script thread
        // prepares the next context after delivering a result, on another core when there
        // is one), for the throughput a loaded machine gets.
        let (ours_cpu, node_cpu) = (median(ours_cpu), median(node_cpu));
        println!(
            "  CPU time per run, all threads: ours {} us, node {} us: node/ours = {:.1}x",
            us(&ours_cpu),
            us(&node_cpu),
            node_cpu.as_secs_f64() / ours_cpu.as_secs_f64()
        );
    }
    println!(
        "  ours, 2 ms between runs (spare ready)    median {:>10} us",
        us(&ours_paced_hello)
    );
    println!(
        "  ours, context created on the run's path  median {:>10} us",
        us(&ours_cold)
    );
    println!(
        "  ours, warm context (not fresh)           median {:>10} us",
        us(&ours_warm)
    );
    let node_hello = (!node_rounds.is_empty()).then(|| median(node_rounds.clone()));
    println!(
        "  QuickJS alone: a context with every intrinsic, created and freed, no sandbox, no run   median {:>7} us{}",
        us(&bare),
        match node_hello {
            Some(node) => format!(
                "   (a fresh context per run at 4x Node has {} us in all)",
                us(&(node / 4))
            ),
            None => String::new(),
        }
    );
    match node_spawn(20) {
        Some(d) => println!(
            "  node spawn per run                       median {:>10.1} us   node/ours = {:.0}x",
            d.as_secs_f64() * 1e6,
            d.as_secs_f64() / ours_hello.as_secs_f64()
        ),
        None => println!("  node spawn per run       (node not found)"),
    }
    if node_modules().join("ethers").is_dir() {
        let ethers = code(ETHERS);
        let mut cold = Vec::new();
        for _ in 0..10 {
            let fresh = QuickJsRuntime::new(
                RuntimeConfig::default()
                    .with_fresh_contexts()
                    .with_node_modules(node_modules()),
            );
            let t = Instant::now();
            let out = tokio.block_on(fresh.run(&ethers, request()));
            cold.push(t.elapsed());
            assert!(out.result.is_ok(), "{:?}", out.result);
        }
        let cached_rt = QuickJsRuntime::new(
            RuntimeConfig::default()
                .with_fresh_contexts()
                .with_node_modules(node_modules()),
        );
        ours(&tokio, &cached_rt, &ethers, 3);
        let cached = ours(&tokio, &cached_rt, &ethers, 20);
        let warm_rt =
            QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
        ours(&tokio, &warm_rt, &ethers, 3);
        let warm = ours(&tokio, &warm_rt, &ethers, 500);
        println!("runtime: handler requiring ethers v5");
        let cold = median(cold);
        println!(
            "  cold: new runtime, empty bytecode cache  median {:>10.2} ms",
            cold.as_secs_f64() * 1e3
        );
        match node_require_ethers(10) {
            Some((inside, whole)) => println!(
                "  node require('ethers') in a fresh process median {:>8.2} ms (whole process {:.2} ms)   ours cold/node require = {:.2}x the time (target <= 1x)",
                inside.as_secs_f64() * 1e3,
                whole.as_secs_f64() * 1e3,
                cold.as_secs_f64() / inside.as_secs_f64()
            ),
            None => println!("  node require('ethers')   (node not found)"),
        }
        println!(
            "  fresh context, bytecode cached           median {:>10.2} ms",
            cached.as_secs_f64() * 1e3
        );
        println!(
            "  warm context (ethers already loaded)     median {:>10.3} ms",
            warm.as_secs_f64() * 1e3
        );
    } else {
        println!("runtime: ethers v5 bench skipped: run `npm ci` in defender-runtime/tests/node");
    }
}

fn bench(c: &mut Criterion) {
    table();
    let tokio = tokio_runtime();
    let rt = fresh_runtime();
    let hello = code(HELLO);
    let mut g = c.benchmark_group("runtime");
    g.bench_function("hello_world_fresh_context", |b| {
        b.iter(|| tokio.block_on(rt.run(&hello, request())))
    });
    let warm_hello = QuickJsRuntime::default();
    g.bench_function("hello_world_warm_context", |b| {
        b.iter(|| tokio.block_on(warm_hello.run(&hello, request())))
    });
    if node_modules().join("ethers").is_dir() {
        let warm_rt =
            QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
        let ethers = code(ETHERS);
        g.bench_function("ethers_v5_warm_context", |b| {
            b.iter(|| tokio.block_on(warm_rt.run(&ethers, request())))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
