//! Monitor matching: one block of 200 transactions and 600 logs against 1,000, 10,000 and
//! 100,000 monitors (targets: at most 1 ms per block at 1,000 monitors, 3 ms at 10,000 (issue
//! 8) and 3 ms at 100,000 (issue 19), one core). Before criterion's figures, a median of 50
//! blocks each and its ratio to the target are printed.
//!
//! The monitor mix, in thirds: an ERC-20 `Transfer` event with `value > 1000` (ABI given), a
//! `transfer(address,uint256)` call with `amount > 5000` (signature only), and a transaction
//! condition `gasPrice > 50000000000 and gasUsed > 20000` without events or functions. Monitor
//! `i` watches contract `i % (n / 2)`, so each watched contract has two monitors. Each
//! transaction calls `transfer` on one of `n` contracts (half of them watched) and that
//! contract emits three `Transfer` logs; about half the values pass the conditions, so a block
//! yields on the order of a hundred matches, each with its JSON payload built. The
//! `-selective` variants raise the thresholds of 15 monitors in 16 so that a block yields about
//! ten matches: that separates the cost of matching from the cost of building payloads.
//!
//! Run: `cargo bench -p defender-benches --bench matcher`

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use defender_engine::monitor::Matcher;

#[path = "support/alloc.rs"]
mod alloc;

#[path = "support/chain.rs"]
mod chain;

fn monitors(n: usize, selective: bool) -> Matcher {
    let mut m = Matcher::new();
    for i in 0..n {
        m.insert(
            &format!("m{i}"),
            &chain::definition(i, n, if selective { 16 } else { 1 }),
            1,
        )
        .expect("compiles");
    }
    m
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("match_block_200tx_600logs");
    group.measurement_time(Duration::from_secs(5));
    for (n, selective) in [
        (1_000usize, false),
        (10_000, false),
        (100_000, false),
        (1_000, true),
        (10_000, true),
        (100_000, true),
    ] {
        let m = monitors(n, selective);
        let label = if selective {
            format!("{n}-selective")
        } else {
            n.to_string()
        };
        let b = chain::block(n);
        assert_eq!(
            b.transactions
                .iter()
                .map(|t| t.receipt.logs.len())
                .sum::<usize>(),
            600
        );
        // A quick figure before criterion's: median of 50 runs.
        let mut times: Vec<Duration> = (0..50)
            .map(|_| {
                let start = Instant::now();
                black_box(m.match_block(black_box(&b)));
                start.elapsed()
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        let target = if n <= 1_000 {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(3)
        };
        println!(
            "{label} monitors: {} matches per block, median {median:?} per block (target {target:?}: {:.2}x of it)",
            m.match_block(&b).len(),
            median.as_secs_f64() / target.as_secs_f64()
        );
        group.bench_with_input(BenchmarkId::from_parameter(&label), &n, |bench, _| {
            bench.iter(|| black_box(m.match_block(black_box(&b))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
