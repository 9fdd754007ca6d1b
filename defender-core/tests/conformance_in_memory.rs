//! The in-memory implementations pass their conformance suites, directly and through
//! `Box<dyn _>` and `Arc<dyn _>` (each `run_suite` does all three).
#![cfg(feature = "conformance")]

use alloy_primitives::{keccak256, Address, Bloom, U256};
use defender_core::conformance::{self, notify::FarEnd};
use defender_core::*;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_secret_store() {
    conformance::secrets::run_suite(|| async { InMemorySecretStore::default() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_run_store() {
    conformance::runs::run_suite(|| async { InMemoryRunStore::default() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_kv_store() {
    conformance::kv::run_suite(|limits, clock| async move { InMemoryKvStore::new(limits, clock) })
        .await;
}

/// A transaction of block `block` with index `i` (its receipt holds no log).
fn transaction(block: u64, i: u8) -> Transaction {
    Transaction {
        hash: keccak256(format!("transaction {i} of block {block}")),
        index: 0,
        from: Address::repeat_byte(0x11),
        to: Some(Address::repeat_byte(0x22)),
        value: U256::from(1000u64),
        nonce: u64::from(i),
        gas_limit: 21_000,
        gas_price: None,
        max_fee_per_gas: Some(2_000_000_000),
        max_priority_fee_per_gas: Some(1_000_000_000),
        input: Default::default(),
        kind: 2,
        receipt: Receipt {
            success: true,
            gas_used: 21_000,
            cumulative_gas_used: 21_000 * (u64::from(i) + 1),
            effective_gas_price: 1_500_000_000,
            contract_address: None,
            logs: vec![],
            logs_bloom: Bloom::default(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_chain() {
    conformance::chain::run_suite(|| async {
        let chain = InMemoryChain::new(31337);
        for block in 0..4u64 {
            chain.mine((0..3).map(|i| transaction(block, i)).collect());
        }
        chain.set_heads(Some(2), Some(1));
        chain
    })
    .await;
    // A chain without safe and finalized heads.
    conformance::chain::run_suite(|| async {
        let chain = InMemoryChain::new(1);
        chain.mine(vec![]);
        chain.mine(vec![transaction(1, 0)]);
        chain
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_notifier() {
    conformance::notify::run_suite(|far_end| async move {
        let channel = Arc::new(RecordingNotifier::default());
        if far_end == FarEnd::Refuses {
            channel.fail_with(Some("the far end refuses"));
        }
        (channel.clone(), channel)
    })
    .await;
}
