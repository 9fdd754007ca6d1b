//! Monitors end to end against a real anvil: an ERC-20 transfer monitor with a condition on
//! the value, reorgs through `anvil_reorg`, restart from the checkpoint, `safe`/`finalized`
//! confirmation levels and the "test conditions" tool.
//!
//! Needs `anvil` on PATH (`npm install -g @foundry-rs/anvil-linux-amd64`, or foundryup).
//! Set `DEFENDER_SKIP_EXTERNAL=1` to skip when it is missing.
//!
//! The block source is a minimal JSON-RPC client written here over a plain TCP socket
//! (HTTP/1.1, one connection per call), because the workspace's RPC block source
//! (`defender-relay`) is not available yet.

use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, U256};
use async_trait::async_trait;
use defender_core::state::{MemoryStateStore, Space, StateStore};
use defender_core::{
    Block, BlockRef, BlockSource, BlockTag, ChainError, ConfirmLevel, Log, MonitorDefinition,
    MonitorMatch, Receipt, Transaction,
};
use defender_engine::monitor::{
    test_conditions, BlockWatcher, MatchSink, Matcher, StartAt, TestScope, WatchError,
    WatcherConfig,
};
use serde_json::{json, Value};
use std::process::Child;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// anvil fixture

struct Anvil {
    child: Child,
    rpc: Arc<Rpc>,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts anvil on a port of its choosing, or returns `None` when it is missing and
/// `DEFENDER_SKIP_EXTERNAL=1`.
async fn anvil(extra: &[&str]) -> Option<Anvil> {
    let Some(bin) = defender_testkit::anvil_binary() else {
        if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
            eprintln!("skipping: anvil not found");
            return None;
        }
        panic!(
            "anvil not found; install it with scripts/install-anvil.sh \
             (npm package @foundry-rs/anvil-linux-amd64) or set DEFENDER_SKIP_EXTERNAL=1"
        );
    };
    let (child, addr) = defender_testkit::spawn_anvil(&bin, extra).expect("spawn anvil");
    let addr = addr.expect("anvil did not start");
    let rpc = Arc::new(Rpc {
        addr,
        id: AtomicU64::new(1),
    });
    let node = Anvil { child, rpc };
    for _ in 0..200 {
        if node.rpc.call("eth_chainId", json!([])).await.is_ok() {
            return Some(node);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("anvil did not answer on {}", node.rpc.addr);
}

// ---------------------------------------------------------------------------------------------
// A minimal JSON-RPC block source

#[derive(Debug)]
struct Rpc {
    addr: String,
    id: AtomicU64,
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> ChainError {
    ChainError::Unavailable {
        source: Box::new(e),
    }
}

fn decode_err(what: impl std::fmt::Display) -> ChainError {
    ChainError::Decode(what.to_string())
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..pos]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
    out
}

impl Rpc {
    async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        let id = self.id.fetch_add(1, Ordering::Relaxed);
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let mut s = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(unavailable)?;
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).await.map_err(unavailable)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(unavailable)?;
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| decode_err("no HTTP header end"))?;
        let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
        let raw = &buf[split + 4..];
        let body = if head.contains("transfer-encoding: chunked") {
            dechunk(raw)
        } else {
            raw.to_vec()
        };
        let v: Value = serde_json::from_slice(&body).map_err(decode_err)?;
        if let Some(e) = v.get("error") {
            return Err(ChainError::Rpc {
                code: e["code"].as_i64().unwrap_or(0),
                message: e["message"].as_str().unwrap_or("").to_string(),
            });
        }
        Ok(v["result"].clone())
    }
}

fn q(v: &Value) -> Result<u64, ChainError> {
    let s = v
        .as_str()
        .ok_or_else(|| decode_err(format!("not a quantity: {v}")))?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(decode_err)
}

fn q128(v: &Value) -> Result<Option<u128>, ChainError> {
    match v.as_str() {
        None => Ok(None),
        Some(s) => u128::from_str_radix(s.trim_start_matches("0x"), 16)
            .map(Some)
            .map_err(decode_err),
    }
}

fn parse<T: FromStr>(v: &Value) -> Result<T, ChainError>
where
    T::Err: std::fmt::Display,
{
    v.as_str()
        .ok_or_else(|| decode_err(format!("not a string: {v}")))?
        .parse()
        .map_err(decode_err)
}

fn block_ref(b: &Value) -> Result<BlockRef, ChainError> {
    Ok(BlockRef {
        number: q(&b["number"])?,
        hash: parse(&b["hash"])?,
        parent_hash: parse(&b["parentHash"])?,
    })
}

fn tag(number: u64) -> Value {
    json!(format!("{number:#x}"))
}

#[async_trait]
impl BlockSource for Rpc {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        q(&self.call("eth_chainId", json!([])).await?)
    }

    async fn head(&self, t: BlockTag) -> Result<u64, ChainError> {
        let name = match t {
            BlockTag::Latest => "latest",
            BlockTag::Safe => "safe",
            BlockTag::Finalized => "finalized",
        };
        let b = self
            .call("eth_getBlockByNumber", json!([name, false]))
            .await?;
        if b.is_null() {
            return Err(ChainError::UnsupportedTag(t));
        }
        q(&b["number"])
    }

    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        let b = self
            .call("eth_getBlockByNumber", json!([tag(number), false]))
            .await?;
        if b.is_null() {
            return Ok(None);
        }
        block_ref(&b).map(Some)
    }

    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        let b = self
            .call("eth_getBlockByNumber", json!([tag(number), true]))
            .await?;
        if b.is_null() {
            return Ok(None);
        }
        let header = block_ref(&b)?;
        let receipts = self
            .call("eth_getBlockReceipts", json!([tag(number)]))
            .await?;
        let receipts = receipts.as_array().cloned().unwrap_or_default();
        let txs = b["transactions"].as_array().cloned().unwrap_or_default();
        if receipts.len() != txs.len() {
            return Err(decode_err("receipts do not match the block"));
        }
        let mut transactions = Vec::new();
        for (t, r) in txs.iter().zip(&receipts) {
            if parse::<B256>(&r["blockHash"])? != header.hash {
                return Err(decode_err("the block changed between two calls"));
            }
            let logs = r["logs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|l| {
                    Ok(Log {
                        address: parse(&l["address"])?,
                        topics: l["topics"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(parse)
                            .collect::<Result<_, _>>()?,
                        data: parse(&l["data"])?,
                        log_index: q(&l["logIndex"])?,
                    })
                })
                .collect::<Result<Vec<_>, ChainError>>()?;
            transactions.push(Transaction {
                hash: parse(&t["hash"])?,
                index: q(&t["transactionIndex"])?,
                from: parse(&t["from"])?,
                to: if t["to"].is_null() {
                    None
                } else {
                    Some(parse(&t["to"])?)
                },
                value: parse::<U256>(&t["value"])?,
                nonce: q(&t["nonce"])?,
                gas_limit: q(&t["gas"])?,
                gas_price: q128(&t["gasPrice"])?,
                max_fee_per_gas: q128(&t["maxFeePerGas"])?,
                max_priority_fee_per_gas: q128(&t["maxPriorityFeePerGas"])?,
                input: parse::<Bytes>(&t["input"])?,
                kind: u8::try_from(q(&t["type"])?).map_err(decode_err)?,
                receipt: Receipt {
                    success: q(&r["status"])? == 1,
                    gas_used: q(&r["gasUsed"])?,
                    cumulative_gas_used: q(&r["cumulativeGasUsed"])?,
                    effective_gas_price: q128(&r["effectiveGasPrice"])?.unwrap_or(0),
                    contract_address: if r["contractAddress"].is_null() {
                        None
                    } else {
                        Some(parse(&r["contractAddress"])?)
                    },
                    logs,
                    logs_bloom: parse::<Bloom>(&r["logsBloom"])?,
                },
            });
        }
        Ok(Some(Block {
            header,
            timestamp: q(&b["timestamp"])?,
            transactions,
        }))
    }

    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        let t = self
            .call("eth_getTransactionByHash", json!([hash.to_string()]))
            .await?;
        if t.is_null() || t["blockNumber"].is_null() {
            return Ok(None);
        }
        q(&t["blockNumber"]).map(Some)
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny token, and transactions

/// anvil's first two dev accounts.
const DEV0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const DEV1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const RECIPIENT: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// Deployment code of a minimal ERC-20-shaped contract, assembled by hand (no compiler): every
/// call is taken as `transfer(address to, uint256 value)`: it emits
/// `Transfer(msg.sender, to, value)` and returns `true`. It keeps no balances; the monitor only
/// sees calldata and logs. Runtime, in assembly:
/// `PUSH1 0x24 CALLDATALOAD PUSH1 0 MSTORE PUSH1 4 CALLDATALOAD CALLER PUSH32 <Transfer topic>
///  PUSH1 0x20 PUSH1 0 LOG3 PUSH1 1 PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN`.
fn token_init_code() -> Vec<u8> {
    let mut runtime = vec![
        0x60, 0x24, 0x35, 0x60, 0x00, 0x52, 0x60, 0x04, 0x35, 0x33, 0x7f,
    ];
    runtime.extend_from_slice(keccak256("Transfer(address,address,uint256)").as_slice());
    runtime.extend_from_slice(&[
        0x60, 0x20, 0x60, 0x00, 0xa3, 0x60, 0x01, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
    ]);
    let len = u8::try_from(runtime.len()).expect("short runtime");
    // PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN, then the runtime.
    let mut init = vec![
        0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    init.extend_from_slice(&runtime);
    init
}

fn transfer_calldata(to: &str, value: u64) -> String {
    let mut data = keccak256("transfer(address,uint256)")[..4].to_vec();
    data.extend_from_slice(Address::from_str(to).unwrap().into_word().as_slice());
    data.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
    alloy_primitives::hex::encode_prefixed(data)
}

/// Sends a transaction from an unlocked dev account and waits for its receipt.
async fn send(rpc: &Rpc, tx: Value) -> (B256, Value) {
    let hash: B256 = parse(&rpc.call("eth_sendTransaction", json!([tx])).await.unwrap()).unwrap();
    for _ in 0..200 {
        let r = rpc
            .call("eth_getTransactionReceipt", json!([hash.to_string()]))
            .await
            .unwrap();
        if !r.is_null() {
            return (hash, r);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("transaction {hash} was not mined")
}

async fn deploy(rpc: &Rpc) -> Address {
    let (_, r) = send(
        rpc,
        json!({"from": DEV0, "data": alloy_primitives::hex::encode_prefixed(token_init_code())}),
    )
    .await;
    parse(&r["contractAddress"]).unwrap_or_else(|e| panic!("{e}: {r}"))
}

async fn transfer(rpc: &Rpc, token: Address, from: &str, value: u64) -> B256 {
    send(
        rpc,
        json!({"from": from, "to": token.to_string(), "data": transfer_calldata(RECIPIENT, value)}),
    )
    .await
    .0
}

async fn latest(rpc: &Rpc) -> u64 {
    rpc.head(BlockTag::Latest).await.unwrap()
}

async fn mine(rpc: &Rpc, blocks: u64) {
    rpc.call("anvil_mine", json!([format!("{blocks:#x}")]))
        .await
        .unwrap();
}

const ERC20_ABI: &str = r#"[{"type":"event","name":"Transfer","anonymous":false,"inputs":[{"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}]},{"type":"function","name":"transfer","stateMutability":"nonpayable","inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]}]"#;

fn large_transfers(token: Address, level: Value) -> MonitorDefinition {
    serde_json::from_value(json!({
        "type": "BLOCK", "name": "Large transfers", "network": "anvil",
        "addresses": [token.to_string()],
        "abi": ERC20_ABI,
        "confirmLevel": level,
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)", "expression": "value > 1000"}],
        "notificationChannels": ["ops"]
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// A recording sink

#[derive(Debug, Default)]
struct Recorder {
    blocks: Mutex<Vec<(BlockRef, Vec<MonitorMatch>)>>,
    /// Fail (once) when a block with this number arrives.
    fail_at: Mutex<Option<u64>>,
}

#[derive(Debug, thiserror::Error)]
#[error("sink down")]
struct SinkDown;

#[async_trait]
impl MatchSink for Recorder {
    async fn on_block(
        &self,
        block: &BlockRef,
        matches: Vec<MonitorMatch>,
    ) -> Result<(), WatchError> {
        let mut fail = self.fail_at.lock().unwrap();
        if *fail == Some(block.number) {
            *fail = None;
            return Err(WatchError::sink(SinkDown));
        }
        self.blocks.lock().unwrap().push((*block, matches));
        Ok(())
    }
}

impl Recorder {
    fn numbers(&self) -> Vec<u64> {
        self.blocks
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.number)
            .collect()
    }
    fn matched_txs(&self) -> Vec<String> {
        self.blocks
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.hash.clone()))
            .collect()
    }
}

struct Setup {
    node: Anvil,
    token: Address,
    matcher: Arc<RwLock<Matcher>>,
    state: Arc<MemoryStateStore>,
}

async fn setup(level: Value, extra: &[&str]) -> Option<Setup> {
    let node = anvil(extra).await?;
    let token = deploy(&node.rpc).await;
    let mut m = Matcher::new();
    m.insert("large", &large_transfers(token, level), 31337)
        .unwrap();
    Some(Setup {
        node,
        token,
        matcher: Arc::new(RwLock::new(m)),
        state: Arc::new(MemoryStateStore::default()),
    })
}

fn watcher(s: &Setup, sink: Arc<Recorder>, level: ConfirmLevel, start: u64) -> BlockWatcher {
    let mut config = WatcherConfig::new("anvil", level);
    config.start = StartAt::Block(start);
    config.poll_interval = Duration::from_millis(50);
    BlockWatcher::new(
        s.node.rpc.clone(),
        s.matcher.clone(),
        s.state.clone(),
        sink,
        config,
    )
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn erc20_transfer_monitor_with_a_value_condition() {
    let Some(s) = setup(json!(1), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let small = transfer(rpc, s.token, DEV0, 5).await;
    let big = transfer(rpc, s.token, DEV0, 5000).await;
    let other = transfer(rpc, s.token, DEV1, 7).await;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(1), start);

    // One confirmation: the last transfer's block is not processed yet.
    assert_eq!(w.poll().await.unwrap(), 2);
    assert_eq!(sink.numbers(), [start, start + 1]);
    assert_eq!(sink.matched_txs(), [big.to_string()]);
    mine(rpc, 1).await;
    assert_eq!(w.poll().await.unwrap(), 1);
    assert_eq!(w.poll().await.unwrap(), 0);
    assert_eq!(sink.matched_txs(), [big.to_string()]);

    let blocks = sink.blocks.lock().unwrap().clone();
    let m = &blocks[1].1[0];
    let receipt = rpc
        .call("eth_getTransactionReceipt", json!([big.to_string()]))
        .await
        .unwrap();
    // The payload's transaction is the node's receipt, field for field.
    let ours = serde_json::to_value(&m.transaction).unwrap();
    for key in [
        "blockHash",
        "blockNumber",
        "from",
        "to",
        "gasUsed",
        "cumulativeGasUsed",
        "status",
        "transactionHash",
        "transactionIndex",
        "logsBloom",
        "effectiveGasPrice",
        "type",
        "contractAddress",
    ] {
        assert_eq!(ours[key], receipt[key], "{key}");
    }
    assert_eq!(ours["logs"][0]["topics"], receipt["logs"][0]["topics"]);
    assert_eq!(ours["logs"][0]["data"], receipt["logs"][0]["data"]);
    assert_eq!(ours["logs"][0]["logIndex"], receipt["logs"][0]["logIndex"]);
    let r = &m.match_reasons[0];
    assert_eq!(r.params["value"], json!("5000"));
    assert_eq!(r.params["from"], json!(DEV0));
    assert_eq!(r.params["to"], json!(RECIPIENT));
    assert_eq!(r.address, s.token.to_checksum(None));
    assert_eq!(m.matched_checksum_addresses, [s.token.to_checksum(None)]);
    assert_eq!(m.monitor.chain_id, 31337);

    // The "test conditions" tool over the same chain.
    let def = large_transfers(s.token, json!(1));
    let found = test_conditions("t", &def, rpc.as_ref(), TestScope::RecentBlocks(5))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.hash.clone()).collect::<Vec<_>>(),
        [big.to_string()]
    );
    let found = test_conditions("t", &def, rpc.as_ref(), TestScope::Transaction(big))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        test_conditions("t", &def, rpc.as_ref(), TestScope::Transaction(small))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        test_conditions("t", &def, rpc.as_ref(), TestScope::Block(start + 2))
            .await
            .unwrap()
            .is_empty()
    );
    // A function condition on the call itself, from the other account.
    let mut by_call = def.clone();
    by_call.event_conditions.clear();
    by_call.function_conditions = serde_json::from_value(
        json!([{"functionSignature": "transfer(address,uint256)", "expression": "amount < 10"}]),
    )
    .unwrap();
    by_call.tx_condition = Some(format!("from == '{}'", DEV1.to_lowercase()));
    let found = test_conditions("t", &by_call, rpc.as_ref(), TestScope::RecentBlocks(5))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.hash.clone()).collect::<Vec<_>>(),
        [other.to_string()]
    );
    assert!(matches!(
        test_conditions(
            "t",
            &def,
            rpc.as_ref(),
            TestScope::Transaction(B256::repeat_byte(1))
        )
        .await,
        Err(WatchError::TransactionNotFound(_))
    ));
}

#[tokio::test]
async fn a_reorg_before_confirmation_is_never_notified() {
    let Some(s) = setup(json!(2), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(2), start);
    let orphaned = transfer(rpc, s.token, DEV0, 5000).await;
    let k = latest(rpc).await;
    assert_eq!(w.poll().await.unwrap(), 0);
    // Replace block k with one holding a different transfer.
    let data = transfer_calldata(RECIPIENT, 6000);
    rpc.call(
        "anvil_reorg",
        json!([1, [[{"from": DEV1, "to": s.token.to_string(), "data": data}, 0]]]),
    )
    .await
    .unwrap();
    let replaced = rpc.block(k).await.unwrap().unwrap();
    assert_eq!(replaced.transactions.len(), 1);
    let canonical = replaced.transactions[0].hash;
    assert_ne!(canonical, orphaned);
    mine(rpc, 2).await;
    assert_eq!(w.poll().await.unwrap(), 1);
    assert_eq!(sink.numbers(), [k]);
    assert_eq!(sink.matched_txs(), [canonical.to_string()]);
}

#[tokio::test]
async fn a_reorg_below_the_checkpoint_resumes_at_the_fork_point() {
    let Some(s) = setup(json!(0), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start);
    let first = transfer(rpc, s.token, DEV0, 5000).await;
    let orphaned = transfer(rpc, s.token, DEV0, 7000).await;
    let k = latest(rpc).await;
    assert_eq!(w.poll().await.unwrap(), 2);
    assert_eq!(
        sink.matched_txs(),
        [first.to_string(), orphaned.to_string()]
    );
    let data = transfer_calldata(RECIPIENT, 8000);
    rpc.call(
        "anvil_reorg",
        json!([1, [[{"from": DEV1, "to": s.token.to_string(), "data": data}, 0]]]),
    )
    .await
    .unwrap();
    let canonical = rpc.block(k).await.unwrap().unwrap().transactions[0].hash;
    mine(rpc, 1).await;
    // Block k+1's parent is the new block k: the watcher goes back to k-1 and delivers the new k.
    assert_eq!(w.poll().await.unwrap(), 2);
    assert_eq!(sink.numbers(), [k - 1, k, k, k + 1]);
    let blocks = sink.blocks.lock().unwrap().clone();
    assert_ne!(blocks[1].0.hash, blocks[2].0.hash);
    assert_eq!(blocks[2].1[0].hash, canonical.to_string());
    assert_eq!(blocks[3].0.parent_hash, blocks[2].0.hash);
    let cp = w.checkpoint().await.unwrap().unwrap();
    assert_eq!(cp.number, k + 1);
    assert_eq!(
        cp.recent.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [k - 1, k, k + 1]
    );
}

#[tokio::test]
async fn restart_resumes_at_the_checkpoint_without_gaps_or_duplicates() {
    let Some(s) = setup(json!(0), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let mut sent = Vec::new();
    for v in [2000, 3000, 4000] {
        sent.push(transfer(rpc, s.token, DEV0, v).await.to_string());
    }
    let sink = Arc::new(Recorder::default());
    *sink.fail_at.lock().unwrap() = Some(start + 1);
    {
        let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start);
        // The sink fails on the second block: the first is checkpointed, the rest is not.
        assert!(matches!(w.poll().await, Err(WatchError::Sink { .. })));
        assert_eq!(sink.numbers(), [start]);
        let cp = w.checkpoint().await.unwrap().unwrap();
        assert_eq!(cp.number, start);
        // The process "dies" here.
    }
    for v in [5000, 6000] {
        sent.push(transfer(rpc, s.token, DEV0, v).await.to_string());
    }
    // A new watcher over the same store runs until it has caught up.
    let w = Arc::new(watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let w = w.clone();
        async move {
            w.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let end = latest(rpc).await;
    for _ in 0..200 {
        if sink.numbers().last() == Some(&end) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(sink.numbers(), (start..=end).collect::<Vec<_>>());
    assert_eq!(sink.matched_txs(), sent);
    // And once more: nothing new, nothing repeated.
    let again = watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start);
    assert_eq!(again.poll().await.unwrap(), 0);
    assert_eq!(sink.matched_txs(), sent);
    let stored = s
        .state
        .get(Space::CHECKPOINTS, &again.checkpoint_key())
        .await
        .unwrap()
        .unwrap();
    let stored = String::from_utf8(stored.to_vec()).unwrap();
    assert!(stored.contains(&format!("\"number\":{end}")), "{stored}");
}

#[tokio::test]
async fn finalized_monitors_wait_for_the_finalized_head() {
    let Some(s) = setup(json!("finalized"), &["--slots-in-an-epoch", "1"]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let big = transfer(rpc, s.token, DEV0, 5000).await;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Finalized, start);
    let finalized = rpc.head(BlockTag::Finalized).await.unwrap();
    assert!(
        finalized < start,
        "finalized {finalized}, transfer in {start}"
    );
    assert_eq!(w.poll().await.unwrap(), 0);
    mine(rpc, 5).await;
    let finalized = rpc.head(BlockTag::Finalized).await.unwrap();
    assert!(finalized >= start);
    let n = w.poll().await.unwrap();
    assert_eq!(n, finalized - start + 1);
    assert_eq!(sink.matched_txs(), [big.to_string()]);
    // The same monitor set seen by a latest-block watcher matches nothing: levels are separate.
    let other = watcher(
        &s,
        Arc::new(Recorder::default()),
        ConfirmLevel::Blocks(0),
        start,
    );
    other.poll().await.unwrap();
    assert_ne!(other.checkpoint_key(), w.checkpoint_key());
}

#[tokio::test]
async fn a_reorg_deeper_than_the_window_redelivers_the_remembered_blocks() {
    let Some(s) = setup(json!(0), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let sink = Arc::new(Recorder::default());
    let mut config = WatcherConfig::new("anvil", ConfirmLevel::Blocks(0));
    config.start = StartAt::Block(start);
    config.reorg_window = 2;
    let w = BlockWatcher::new(
        rpc.clone(),
        s.matcher.clone(),
        s.state.clone(),
        sink.clone(),
        config,
    );
    for v in [2000, 3000, 4000] {
        transfer(rpc, s.token, DEV0, v).await;
    }
    let k = latest(rpc).await;
    assert_eq!(w.poll().await.unwrap(), 3);
    // Both remembered blocks are replaced: no common ancestor in the window.
    let data = transfer_calldata(RECIPIENT, 9000);
    rpc.call(
        "anvil_reorg",
        json!([2, [[{"from": DEV1, "to": s.token.to_string(), "data": data}, 1]]]),
    )
    .await
    .unwrap();
    let canonical = rpc.block(k).await.unwrap().unwrap().transactions[0].hash;
    mine(rpc, 1).await;
    assert_eq!(w.poll().await.unwrap(), 3);
    assert_eq!(sink.numbers(), [k - 2, k - 1, k, k - 1, k, k + 1]);
    let blocks = sink.blocks.lock().unwrap().clone();
    // The re-delivered blocks form a chain on top of the unchanged block k-2.
    assert_eq!(blocks[3].0.parent_hash, blocks[0].0.hash);
    assert_eq!(blocks[4].0.parent_hash, blocks[3].0.hash);
    assert_eq!(blocks[5].0.parent_hash, blocks[4].0.hash);
    assert_eq!(blocks[4].1.last().unwrap().hash, canonical.to_string());
}
