//! Relayer throughput against anvil: 32 concurrent senders through `defender-relay`, and a raw
//! alloy send loop with hand-managed nonces, in the same run; prints tx/s, the ratio and the
//! nonce gaps. Then criterion measures the latency of one send of each kind.
//!
//! Needs anvil (scripts/install-anvil.sh). `RELAY_BENCH_SECS` sets each phase's length
//! (default 3 s). `RELAY_BENCH_STORE` picks the relayer's store: `state` (default: the engine
//! state in memory, as the host keeps it, nonce and transaction in one atomic batch), `redb`
//! (the engine state in a redb file: a durable write per send) or `kv` (the legacy key-value
//! layout in memory).

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy_primitives::{Address, TxKind, U256};
use criterion::Criterion;
use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::wire::TxRequest;
use defender_core::{InMemoryKvStore, KvStore, Relayer};
use defender_kv::RedbStateStore;
use defender_relay::{
    KvRelayerStore, LocalSigner, RelayerConfig, RelayerStore, RetryConfig, RpcClient, RpcRelayer,
    StateRelayerStore,
};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SENDERS: usize = 32;
const RELAYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Anvil's default accounts 1 to 3: one per raw phase (warm-up, measure, criterion), so that a
/// transaction anvil loses in one phase cannot disturb the next.
const RAW_KEYS: [&str; 3] = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];
const TO: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_anvil() -> Anvil {
    let bin = defender_testkit::anvil_binary().expect("anvil (run scripts/install-anvil.sh)");
    let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).expect("start anvil");
    // Killed and waited for on drop, whatever happens next.
    let anvil = Anvil {
        child,
        url: format!("http://{}", addr.expect("anvil did not start")),
    };
    let provider = ProviderBuilder::new().connect_http(anvil.url.parse().expect("url"));
    for _ in 0..400 {
        if provider.get_chain_id().await.is_ok() {
            return anvil;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("anvil did not start");
}

struct Outcome {
    sent: u64,
    secs: f64,
    gaps: u64,
}

impl Outcome {
    fn tps(&self) -> f64 {
        self.sent as f64 / self.secs
    }
}

/// Mines until the chain's nonce of `who` is `want` (automine only mines when a transaction
/// arrives, so a backlog needs explicit blocks), then reports the difference (0: no gap, no
/// duplicate, everything mined).
async fn nonce_gap(url: &str, who: Address, want: u64) -> u64 {
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    let rpc = RpcClient::new(vec![url.to_string()], RetryConfig::default()).expect("client");
    let mut got = 0;
    for _ in 0..400 {
        got = provider.get_transaction_count(who).await.expect("nonce");
        if got == want {
            return 0;
        }
        rpc.request("evm_mine", serde_json::json!([]))
            .await
            .expect("evm_mine");
    }
    let pool = rpc.request("txpool_status", serde_json::json!([])).await;
    eprintln!("nonce of {who}: {got}, expected {want}; txpool {pool:?}");
    want.abs_diff(got)
}

fn transfer() -> TxRequest {
    serde_json::from_value(serde_json::json!({
        "to": TO, "value": "1", "speed": "fast", "gasLimit": 21000
    }))
    .expect("request")
}

/// Where `RELAY_BENCH_STORE=redb` keeps the engine state (removed at the end).
fn redb_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("relay-bench-{}.redb", std::process::id()))
}

/// The relayer's store that `RELAY_BENCH_STORE` names, and its name.
fn bench_store() -> (Arc<dyn RelayerStore>, String) {
    let name = std::env::var("RELAY_BENCH_STORE").unwrap_or_else(|_| "state".into());
    let state: Arc<dyn StateStore> = match name.as_str() {
        "kv" => {
            let kv: Arc<dyn KvStore> = Arc::new(InMemoryKvStore::default());
            return (Arc::new(KvRelayerStore::new(kv, "bench")), name);
        }
        "redb" => Arc::new(RedbStateStore::open(redb_path()).expect("redb state")),
        "state" => Arc::new(MemoryStateStore::default()),
        other => panic!("RELAY_BENCH_STORE={other}: expected state, redb or kv"),
    };
    (Arc::new(StateRelayerStore::new(state, "bench")), name)
}

async fn relayer_for(url: &str, store: Arc<dyn RelayerStore>) -> Arc<RpcRelayer> {
    let config = RelayerConfig::new("bench", vec![url.to_string()]).with_poll_interval(
        Duration::from_millis(
            std::env::var("RELAY_BENCH_POLL_MS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500),
        ),
    );
    let signer = LocalSigner::from_private_key(RELAYER_KEY).expect("key");
    Arc::new(
        RpcRelayer::start(config, Arc::new(signer), store)
            .await
            .expect("relayer"),
    )
}

async fn run_relayer(relayer: Arc<RpcRelayer>, url: &str, secs: f64) -> Outcome {
    let start_nonce = relayer.next_nonce().await;
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..SENDERS)
        .map(|_| {
            let r = relayer.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut nonces = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let tx = r.send_transaction(transfer()).await.expect("relayer send");
                    nonces.push(tx.nonce);
                }
                nonces
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut nonces = Vec::new();
    for t in tasks {
        nonces.extend(t.await.expect("task"));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    nonces.sort_unstable();
    let sent = nonces.len() as u64;
    let contiguous = nonces
        .iter()
        .enumerate()
        .all(|(i, n)| *n == start_nonce + i as u64);
    let gaps = nonce_gap(url, relayer.address(), start_nonce + sent).await + u64::from(!contiguous);
    if gaps > 0 {
        let all = relayer
            .list_transactions(Default::default())
            .await
            .expect("list");
        let mut by_status = std::collections::BTreeMap::new();
        for t in &all {
            *by_status.entry(format!("{:?}", t.status)).or_insert(0u64) += 1;
        }
        eprintln!("relayer statuses after the run: {by_status:?}, contiguous: {contiguous}");
    }
    Outcome {
        sent,
        secs: elapsed,
        gaps,
    }
}

async fn raw_fees(url: &str) -> (u128, u128) {
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    let base = provider.get_gas_price().await.expect("gas price");
    (base * 2 + 1_000_000_000, 1_000_000_000)
}

fn raw_tx(signer: &PrivateKeySigner, nonce: u64, fees: (u128, u128)) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: fees.0,
        max_priority_fee_per_gas: fees.1,
        to: TxKind::Call(TO.parse().expect("address")),
        value: U256::from(1),
        access_list: Default::default(),
        input: Default::default(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

async fn run_raw(url: &str, secs: f64, key: &str) -> Outcome {
    let signer: PrivateKeySigner = key.parse().expect("key");
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    let start_nonce = provider
        .get_transaction_count(signer.address())
        .pending()
        .await
        .expect("nonce");
    let fees = raw_fees(url).await;
    let next = Arc::new(std::sync::Mutex::new(start_nonce));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..SENDERS)
        .map(|_| {
            let provider = provider.clone();
            let signer = signer.clone();
            let next = next.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Hand-managed nonces: take the next one and sign under one lock, so the
                    // transactions leave roughly in nonce order.
                    let raw = {
                        let mut n = next.lock().expect("nonce lock");
                        let raw = raw_tx(&signer, *n, fees);
                        *n += 1;
                        raw
                    };
                    let _pending = provider.send_raw_transaction(&raw).await.expect("raw send");
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for t in tasks {
        sent += t.await.expect("task");
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let gaps = nonce_gap(url, signer.address(), start_nonce + sent).await;
    Outcome {
        sent,
        secs: elapsed,
        gaps,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secs: f64 = std::env::var("RELAY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let anvil = rt.block_on(start_anvil());
    let (store, store_name) = bench_store();
    let relayer = rt.block_on(relayer_for(&anvil.url, store));

    // Warm up both paths (connections, fee cache), then measure raw and relayer in turn.
    rt.block_on(run_raw(&anvil.url, 0.3, RAW_KEYS[0]));
    rt.block_on(run_relayer(relayer.clone(), &anvil.url, 0.3));
    let raw = rt.block_on(run_raw(&anvil.url, secs, RAW_KEYS[1]));
    let rel = rt.block_on(run_relayer(relayer.clone(), &anvil.url, secs));
    println!(
        "relay/throughput: {SENDERS} senders, {secs} s each, anvil automine at {}, store {store_name}",
        anvil.url
    );
    println!(
        "  raw alloy loop : {:>6} tx in {:.2} s = {:>8.1} tx/s, nonce gaps {}",
        raw.sent,
        raw.secs,
        raw.tps(),
        raw.gaps
    );
    println!(
        "  defender-relay : {:>6} tx in {:.2} s = {:>8.1} tx/s, nonce gaps {}",
        rel.sent,
        rel.secs,
        rel.tps(),
        rel.gaps
    );
    println!(
        "  ratio relay/raw: {:.3} (target >= 0.8 and >= 300 tx/s)",
        rel.tps() / raw.tps()
    );
    if raw.gaps != 0 {
        // The raw loop does not rebroadcast what anvil drops; the relayer does.
        let mined = raw.sent.saturating_sub(raw.gaps) as f64 / raw.secs;
        eprintln!(
            "warning: anvil did not mine every raw transaction (see above): {mined:.1} raw tx/s \
             mined, ratio {:.3} against that",
            rel.tps() / mined
        );
    }
    assert_eq!(rel.gaps, 0, "relayer left nonce gaps");

    // Latency of a single send, each kind.
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut group = c.benchmark_group("relay/single_send");
    let r = relayer.clone();
    group.bench_function("defender_relay", |b| {
        b.to_async(&rt).iter(|| {
            let r = r.clone();
            async move { r.send_transaction(transfer()).await.expect("send") }
        })
    });
    let signer: PrivateKeySigner = RAW_KEYS[2].parse().expect("key");
    let provider = ProviderBuilder::new().connect_http(anvil.url.parse().expect("url"));
    let nonce = Arc::new(AtomicU64::new(
        rt.block_on(async {
            provider
                .get_transaction_count(signer.address())
                .pending()
                .await
        })
        .expect("nonce"),
    ));
    let fees = rt.block_on(raw_fees(&anvil.url));
    group.bench_function("raw_alloy", |b| {
        b.to_async(&rt).iter(|| {
            let raw = raw_tx(&signer, nonce.fetch_add(1, Ordering::SeqCst), fees);
            let provider = provider.clone();
            async move { provider.send_raw_transaction(&raw).await.expect("send") }
        })
    });
    group.finish();
    c.final_summary();
    drop(relayer);
    let _ = std::fs::remove_file(redb_path());
}
