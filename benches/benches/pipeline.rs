//! The whole monitor pipeline, catching up after downtime: an engine with 1,000 monitors (the
//! matcher bench's mix, `support/chain.rs`) watching an in-memory chain (`InMemoryChain`)
//! that gains a run of blocks of 200 transactions and 600 logs at once; blocks per second
//! from the first block mined to the checkpoint at the last one (block source, confirmations,
//! matcher, alert gate, dispatch into the outbox, checkpoint; alerts go to a notifier). Goal
//! (issue 19): at least 1,000 blocks per second. The default mix writes 126 alerts per block
//! to the outbox; two variants raise the thresholds of 7 monitors in 8 (25 alerts per
//! block) and of 15 in 16 (`selective`, 13 alerts per block). Each prints the CPU time the
//! process spent per block: at the goal a machine has as many milliseconds per block as it
//! has cores. In these three the blocks repeat one block's transactions, so only the first
//! block's alerts reach the notifier: the later ones have the same idempotency keys, and
//! their deliveries end as done without a send. The fourth, `every alert delivered`, gives
//! each block's transactions hashes of their own: each of its alerts is sent to the notifier
//! (the deliveries run beside the block loop; the line says how many were sent by the time
//! the checkpoint reached the last block).
//!
//! Run: `cargo bench -p defender-benches --bench pipeline` (`DEFENDER_BENCH_QUICK=1` for
//! fewer blocks; criterion's own `--quick` for its group; `DEFENDER_BENCH_PIPELINE_ONLY=text`
//! for only the variants whose label holds `text`, such as `delivered`).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use defender_core::state::Space;
use defender_core::{
    ActionCode, ActionRuntime, Block, InMemoryChain, Message, Metric, Notifier, NotifyError,
    RunOutcome, RunRequest,
};
use defender_engine::monitor::StartAt;
use defender_engine::{Engine, NetworkSpec};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/alloc.rs"]
mod alloc;

#[path = "support/chain.rs"]
mod chain;
#[path = "support/cpu.rs"]
mod cpu;

const MONITORS: usize = 1_000;
const GOAL_BLOCKS_PER_SEC: f64 = 1_000.0;

fn quick() -> bool {
    std::env::var("DEFENDER_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Counts the alerts delivered to it.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl Notifier for Counting {
    fn kind(&self) -> &str {
        "counting"
    }
    async fn send(&self, _: &Message) -> Result<(), NotifyError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    async fn send_metric(&self, _: &Metric) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// No monitor here triggers an action.
#[derive(Debug)]
struct NoActions;

#[async_trait]
impl ActionRuntime for NoActions {
    async fn run(&self, _: &ActionCode, _: RunRequest) -> RunOutcome {
        RunOutcome {
            result: Ok(serde_json::Value::Null),
            logs: vec![],
        }
    }
}

/// An engine watching `chain` (which holds block 0) with the monitors added.
async fn engine(chain: Arc<InMemoryChain>, low_in: usize) -> (Engine, Arc<Counting>) {
    let ops = Arc::new(Counting::default());
    let engine = Engine::builder(Arc::new(NoActions))
        .notifier("ops", ops.clone())
        .build();
    engine
        .add_network(NetworkSpec {
            start: StartAt::Block(1),
            poll_interval: Duration::from_millis(5),
            ..NetworkSpec::new("mainnet", chain)
        })
        .await
        .expect("network");
    for i in 0..MONITORS {
        engine
            .add_monitor(&format!("m{i}"), chain::definition(i, MONITORS, low_in))
            .await
            .expect("monitor");
    }
    (engine, ops)
}

/// The checkpoint's block number, if any.
async fn checkpoint(engine: &Engine) -> Option<u64> {
    let cp = engine
        .state()
        .get(Space::CHECKPOINTS, "mainnet/0")
        .await
        .ok()??;
    let cp: serde_json::Value = serde_json::from_slice(&cp).ok()?;
    cp["number"].as_u64()
}

/// What catching up took.
struct CatchUp {
    /// Alerts sent to the notifier by the time the checkpoint reached the last block.
    sent: usize,
    /// From the first block mined to the checkpoint at the last.
    elapsed: Duration,
    /// CPU time of the whole process meanwhile (every thread: the block loop, the delivery
    /// workers, the runtime).
    cpu: Duration,
    /// Alerts written to the outbox.
    owed: u64,
}

/// Mines `blocks` copies of `block` at once and measures the catch-up to the last one. With
/// `unique`, each copy's transactions have hashes of their own (the block's number in their
/// first bytes).
async fn catch_up(low_in: usize, unique: bool, block: &Block, blocks: u64) -> CatchUp {
    let chain = Arc::new(InMemoryChain::new(1));
    chain.mine(vec![]);
    let (engine, notified) = engine(chain.clone(), low_in).await;
    let batches: Vec<_> = (0..blocks)
        .map(|n| {
            let mut txs = block.transactions.clone();
            if unique {
                for tx in &mut txs {
                    tx.hash.0[..8].copy_from_slice(&n.to_be_bytes());
                }
            }
            txs
        })
        .collect();
    let start = Instant::now();
    let cpu = cpu::process_cpu();
    for txs in batches {
        chain.mine(txs);
    }
    while checkpoint(&engine).await.is_none_or(|n| n < blocks) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.elapsed();
    let cpu = cpu::process_cpu().saturating_sub(cpu);
    let sent = notified.0.load(Ordering::Relaxed);
    // Alerts written to the outbox: its item counter (each alert is one item). The blocks
    // repeat one block's transactions, so only the first block's alerts reach the notifier:
    // the others have the same idempotency keys, and their deliveries end as done.
    let owed = engine
        .state()
        .get(Space::OUTBOX, "next-item")
        .await
        .ok()
        .flatten()
        .and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse::<u64>().ok())
        .unwrap_or(0);
    engine.shutdown_and_wait().await;
    CatchUp {
        sent,
        elapsed,
        cpu,
        owed,
    }
}

fn table(tokio: &tokio::runtime::Runtime) {
    let block = chain::block(MONITORS);
    let blocks = if quick() { 200 } else { 2_000 };
    // The mix as is, then with the thresholds raised in 7 monitors of 8 and in 15 of 16, then
    // the mix as is with every alert sent.
    for (low_in, unique, label) in [
        (1, false, " (default mix)"),
        (8, false, " (1 monitor in 8 alerting)"),
        (16, false, " (selective)"),
        (1, true, " (every alert delivered)"),
    ] {
        if std::env::var("DEFENDER_BENCH_PIPELINE_ONLY")
            .is_ok_and(|only| !only.is_empty() && !label.contains(only.as_str()))
        {
            continue;
        }
        let CatchUp {
            sent,
            elapsed,
            cpu,
            owed,
        } = tokio.block_on(catch_up(low_in, unique, &block, blocks));
        let rate = blocks as f64 / elapsed.as_secs_f64();
        println!(
            "pipeline{}: {MONITORS} monitors, {blocks} blocks of 200 txs / 600 logs caught up in {:.3} s: {rate:.0} blocks/s ({:.2}x the goal of {GOAL_BLOCKS_PER_SEC:.0}), {:.0} alerts per block written to the outbox",
            label,
            elapsed.as_secs_f64(),
            rate / GOAL_BLOCKS_PER_SEC,
            owed as f64 / blocks as f64,
        );
        // At the goal, a machine has its number of cores in milliseconds of CPU per block.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "  CPU per block, all threads: {:.2} ms ({:.1} us per alert); at the goal this machine has {cores} ms per block; {sent} alerts sent to the notifier by then",
            cpu.as_secs_f64() * 1e3 / blocks as f64,
            cpu.as_secs_f64() * 1e6 / owed.max(1) as f64,
        );
    }
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    table(&tokio);
    let block = chain::block(MONITORS);
    let mut g = c.benchmark_group("pipeline_1000_monitors");
    g.sample_size(10);
    g.bench_function("catch_up_100_blocks", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += tokio.block_on(catch_up(1, false, &block, 100)).elapsed;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
