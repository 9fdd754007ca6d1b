//! Memory of an idle host and of a warm context (issue 19 targets: an idle host with 1,000
//! monitors and 100 actions loaded and no warm context at most 50 MB resident; one warm
//! ethers v5 context at most 10 MB).
//!
//! - Idle host: this process starts an engine (the QuickJS runtime with its default policy,
//!   an in-memory chain with no new block) and loads 1,000 monitors (the matcher bench's mix,
//!   `support/chain.rs`) and 100 actions of about 4 KB each (webhook-triggered, not run), waits
//!   for it to settle and reads its resident memory (`VmRSS` of `/proc/self/status`), with
//!   the steps on the way (the bench process itself, criterion and tokio included, is the
//!   first figure).
//! - Warm ethers v5 context: one run of a handler that requires ethers (from
//!   `defender-runtime/tests/node/node_modules`: run `npm ci` there) and signs with a
//!   `Wallet`, in that runtime; the context's size as the runtime's allocator counts it
//!   (`QuickJsRuntime::warm_bytes`: the usable sizes of its QuickJS runtime's live blocks)
//!   and the growth of the resident memory.
//! - The host as deployed: the `defender-host` binary (built here, release, patched QuickJS)
//!   run as a process on a generated `serverless.yml` with the same 1,000 monitors and 100
//!   actions, its network on anvil (on PATH or in `.tools/bin`): its `VmRSS` once its
//!   management API lists them all and it has been idle for a few seconds, split into
//!   anonymous memory (the heap) and file-backed pages (the binary's code). The anonymous
//!   part varies from run to run: memory freed while loading stays with the allocator of the
//!   thread that freed it until that thread allocates again, and which thread that is varies.
//!
//! Run: `cargo bench -p defender-benches --bench memory` (`DEFENDER_BENCH_HOST_BIN=path` to
//! measure another `defender-host` binary instead of building the workspace's).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{criterion_group, criterion_main, Criterion};
use defender_core::{
    ActionCode, ActionEvent, ActionRuntime, CodeSource, InMemoryChain, InMemoryKvStore,
    NotifierRegistry, RunLimits, RunRequest, RunServices,
};
use defender_engine::monitor::StartAt;
use defender_engine::{ActionSpec, ActionTrigger, Engine, NetworkSpec};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/alloc.rs"]
mod alloc;

#[path = "support/chain.rs"]
mod chain;
#[path = "support/host_process.rs"]
mod host_process;

const MONITORS: usize = 1_000;
const ACTIONS: usize = 100;
const IDLE_TARGET_MB: f64 = 50.0;
const WARM_ETHERS_TARGET_MB: f64 = 10.0;

fn node_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../defender-runtime/tests/node/node_modules")
}

/// This process's resident memory, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// An action of about 4 KB: an ethers handler with an ABI, as real actions carry.
fn action_source(i: usize) -> String {
    let abi = chain::ERC20_ABI.repeat(6);
    format!(
        "// action {i}\nconst {{ ethers }} = require('ethers');\nconst ABI = {abi:?};\nexports.handler = async function (event) {{\n  const iface = new ethers.utils.Interface(JSON.parse(ABI.slice(0, {len})));\n  return {{ action: {i}, events: Object.keys(iface.events).length }};\n}};\n",
        len = chain::ERC20_ABI.len()
    )
}

/// Loads the idle host: 1,000 monitors and 100 actions; with `report`, prints the resident
/// memory after each step.
async fn idle_host(runtime: Arc<QuickJsRuntime>, report: bool) -> Engine {
    let before = rss();
    let engine = Engine::builder(runtime).build();
    let chain = Arc::new(InMemoryChain::new(1));
    chain.mine(vec![]);
    engine
        .add_network(NetworkSpec {
            start: StartAt::Head,
            ..NetworkSpec::new("mainnet", chain)
        })
        .await
        .expect("network");
    let built = rss();
    for i in 0..MONITORS {
        engine
            .add_monitor(&format!("m{i}"), chain::definition(i, MONITORS, 1))
            .await
            .expect("monitor");
    }
    let monitors = rss();
    for i in 0..ACTIONS {
        engine
            .add_action(
                ActionSpec::new(format!("a{i}"), format!("Action {i}"), action_source(i))
                    .trigger(ActionTrigger::Webhook),
            )
            .await
            .expect("action");
    }
    let actions = rss();
    if !report {
        return engine;
    }
    println!(
        "memory: engine built {:.1} MB (+{:.1}), {MONITORS} monitors {:.1} MB (+{:.1}), {ACTIONS} actions {:.1} MB (+{:.1})",
        mb(built),
        mb(built.saturating_sub(before)),
        mb(monitors),
        mb(monitors.saturating_sub(built)),
        mb(actions),
        mb(actions.saturating_sub(monitors)),
    );
    engine
}

fn table(tokio: &tokio::runtime::Runtime) {
    let start = rss();
    println!(
        "memory: bench process before the engine (criterion, tokio) {:.1} MB",
        mb(start)
    );
    let mut config = RuntimeConfig::default();
    if node_modules().join("ethers").is_dir() {
        config = config.with_node_modules(node_modules());
    }
    let runtime = Arc::new(QuickJsRuntime::new(config));
    let engine = tokio.block_on(idle_host(runtime.clone(), true));
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss();
    println!(
        "memory: idle host, {MONITORS} monitors and {ACTIONS} actions loaded, no warm context: RSS {:.1} MB ({:.2}x the target of {IDLE_TARGET_MB} MB); {:.1} MB over the bench process",
        mb(idle),
        mb(idle) / IDLE_TARGET_MB,
        mb(idle.saturating_sub(start)),
    );
    if !node_modules().join("ethers").is_dir() {
        println!(
            "memory: warm ethers context skipped: run `npm ci` in defender-runtime/tests/node"
        );
        drop(engine);
        return;
    }
    let code = ActionCode {
        action_id: "warm-ethers".into(),
        version: 1,
        source: CodeSource::Script("const { ethers } = require('ethers');\nexports.handler = async (event) => {\n  const wallet = new ethers.Wallet(event.secrets.pk);\n  return { address: wallet.address, sig: await wallet.signMessage('hello') };\n};".into()),
    };
    let mut event = ActionEvent::new("warm-ethers", "Warm ethers", "run-1");
    event.secrets = Some(
        [(
            "pk".to_string(),
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".to_string(),
        )]
        .into(),
    );
    let request = RunRequest {
        event,
        services: RunServices {
            kv: Arc::new(InMemoryKvStore::default()),
            relayer: None,
            relayer_keys: Default::default(),
            notifiers: Arc::new(NotifierRegistry::default()),
            manage: None,
        },
        limits: RunLimits {
            timeout: Duration::from_secs(120),
            ..RunLimits::default()
        },
    };
    // What ethers alone costs: a context that only required it.
    let require_only = ActionCode {
        action_id: "require-ethers".into(),
        version: 1,
        source: CodeSource::Script(
            "const { ethers } = require('ethers');\nexports.handler = async () => ethers.version;"
                .into(),
        ),
    };
    let out = tokio.block_on(runtime.run(&require_only, request.clone()));
    assert!(out.result.is_ok(), "{:?}", out.result);
    std::thread::sleep(Duration::from_millis(500));
    let ethers_only = runtime.warm_bytes();
    let out = tokio.block_on(runtime.run(&code, request));
    assert!(out.result.is_ok(), "{:?}", out.result);
    std::thread::sleep(Duration::from_millis(500));
    let warm = rss();
    let context = runtime.warm_bytes().saturating_sub(ethers_only);
    println!(
        "memory: a warm context that only required ethers v5: {:.2} MB by the allocator's count",
        mb(ethers_only)
    );
    println!(
        "memory: one warm ethers v5 context (ethers loaded, a Wallet made, a message signed): {:.2} MB by the allocator's count ({:.2}x the target of {WARM_ETHERS_TARGET_MB} MB), RSS {:.1} MB (+{:.1} MB with both warm contexts)",
        mb(context),
        mb(context) / WARM_ETHERS_TARGET_MB,
        mb(warm),
        mb(warm.saturating_sub(idle)),
    );
    drop(engine);
    host_as_deployed();
}

/// The idle-host figure for the `defender-host` binary itself (see the module's
/// documentation); skipped, with the reason, when anvil or the build is missing.
fn host_as_deployed() {
    let Some(anvil) = defender_testkit::anvil_binary() else {
        println!("memory: defender-host process skipped: no anvil (run scripts/install-anvil.sh)");
        return;
    };
    let Some(bin) = host_process::host_binary() else {
        println!("memory: defender-host process skipped: `cargo build --release -p defender-host` failed");
        return;
    };
    let Ok((anvil, Some(addr))) = defender_testkit::spawn_anvil(&anvil, &[]) else {
        println!("memory: defender-host process skipped: anvil did not start");
        return;
    };
    let _anvil = host_process::KillOnDrop(anvil);
    let dir = std::env::temp_dir().join(format!("defender-memory-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    host_process::write_project(
        &dir,
        MONITORS,
        ACTIONS,
        action_source,
        &format!("http://{addr}"),
    )
    .expect("write the project");
    let Some((host, api)) = host_process::start_host(&bin, &dir) else {
        println!("memory: defender-host process skipped: it did not start listening");
        return;
    };
    let loaded = host_process::wait_until(Duration::from_secs(120), || {
        host_process::count(&api, "/monitors") == Some(MONITORS)
            && host_process::count(&api, "/actions") == Some(ACTIONS)
    });
    assert!(
        loaded,
        "the host lists {MONITORS} monitors and {ACTIONS} actions"
    );
    std::thread::sleep(Duration::from_secs(5));
    let pid = host.0.id();
    let field = |name| host_process::status_bytes(pid, name).unwrap_or(0);
    let rss = field("VmRSS");
    println!(
        "memory: defender-host process (release, patched QuickJS), {MONITORS} monitors and {ACTIONS} actions from a serverless.yml, idle: RSS {:.1} MB ({:.2}x the target of {IDLE_TARGET_MB} MB; anonymous {:.1} MB, file-backed {:.1} MB)",
        mb(rss),
        mb(rss) / IDLE_TARGET_MB,
        mb(field("RssAnon")),
        mb(field("RssFile")),
    );
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    table(&tokio);
    let mut g = c.benchmark_group("memory");
    g.sample_size(10);
    g.bench_function("load_1000_monitors_100_actions", |b| {
        b.iter(|| {
            let runtime = Arc::new(QuickJsRuntime::default());
            let engine = tokio.block_on(idle_host(runtime, false));
            tokio.block_on(engine.shutdown_and_wait());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
