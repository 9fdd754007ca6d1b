//! Fixtures of the monitor tests on anvil (`monitor_anvil.rs`): anvil with a minimal JSON-RPC
//! block source written over a plain TCP socket (HTTP/1.1, one connection per call), a tiny
//! hand-assembled ERC-20-shaped token and its transfers, and a recording match sink.
#![allow(dead_code, unreachable_pub)]

use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, U256};
use async_trait::async_trait;
use defender_core::state::MemoryStateStore;
use defender_core::{
    Block, BlockRef, BlockSource, BlockTag, ChainError, ConfirmLevel, Log, MonitorDefinition,
    MonitorMatch, Receipt, Transaction,
};
use defender_engine::monitor::{
    BlockWatcher, MatchSink, Matcher, StartAt, WatchError, WatcherConfig,
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

pub struct Anvil {
    pub child: Child,
    pub rpc: Arc<Rpc>,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts anvil on a port of its choosing, or returns `None` when it is missing and
/// `DEFENDER_SKIP_EXTERNAL=1`.
pub async fn anvil(extra: &[&str]) -> Option<Anvil> {
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
pub struct Rpc {
    pub addr: String,
    pub id: AtomicU64,
}

pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> ChainError {
    ChainError::Unavailable {
        source: Box::new(e),
    }
}

pub fn decode_err(what: impl std::fmt::Display) -> ChainError {
    ChainError::Decode(what.to_string())
}

pub fn dechunk(body: &[u8]) -> Vec<u8> {
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
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
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

pub fn q(v: &Value) -> Result<u64, ChainError> {
    let s = v
        .as_str()
        .ok_or_else(|| decode_err(format!("not a quantity: {v}")))?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(decode_err)
}

pub fn q128(v: &Value) -> Result<Option<u128>, ChainError> {
    match v.as_str() {
        None => Ok(None),
        Some(s) => u128::from_str_radix(s.trim_start_matches("0x"), 16)
            .map(Some)
            .map_err(decode_err),
    }
}

pub fn parse<T: FromStr>(v: &Value) -> Result<T, ChainError>
where
    T::Err: std::fmt::Display,
{
    v.as_str()
        .ok_or_else(|| decode_err(format!("not a string: {v}")))?
        .parse()
        .map_err(decode_err)
}

pub fn block_ref(b: &Value) -> Result<BlockRef, ChainError> {
    Ok(BlockRef {
        number: q(&b["number"])?,
        hash: parse(&b["hash"])?,
        parent_hash: parse(&b["parentHash"])?,
    })
}

pub fn tag(number: u64) -> Value {
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
pub const DEV0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub const DEV1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
pub const RECIPIENT: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// Deployment code of a minimal ERC-20-shaped contract, assembled by hand (no compiler): every
/// call is taken as `transfer(address to, uint256 value)`: it emits
/// `Transfer(msg.sender, to, value)` and returns `true`. It keeps no balances; the monitor only
/// sees calldata and logs. Runtime, in assembly:
/// `PUSH1 0x24 CALLDATALOAD PUSH1 0 MSTORE PUSH1 4 CALLDATALOAD CALLER PUSH32 <Transfer topic>
///  PUSH1 0x20 PUSH1 0 LOG3 PUSH1 1 PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN`.
pub fn token_init_code() -> Vec<u8> {
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

pub fn transfer_calldata(to: &str, value: u64) -> String {
    let mut data = keccak256("transfer(address,uint256)")[..4].to_vec();
    data.extend_from_slice(Address::from_str(to).unwrap().into_word().as_slice());
    data.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
    alloy_primitives::hex::encode_prefixed(data)
}

/// Sends a transaction from an unlocked dev account and waits for its receipt.
pub async fn send(rpc: &Rpc, tx: Value) -> (B256, Value) {
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

pub async fn deploy(rpc: &Rpc) -> Address {
    let (_, r) = send(
        rpc,
        json!({"from": DEV0, "data": alloy_primitives::hex::encode_prefixed(token_init_code())}),
    )
    .await;
    parse(&r["contractAddress"]).unwrap_or_else(|e| panic!("{e}: {r}"))
}

pub async fn transfer(rpc: &Rpc, token: Address, from: &str, value: u64) -> B256 {
    send(
        rpc,
        json!({"from": from, "to": token.to_string(), "data": transfer_calldata(RECIPIENT, value)}),
    )
    .await
    .0
}

pub async fn latest(rpc: &Rpc) -> u64 {
    rpc.head(BlockTag::Latest).await.unwrap()
}

pub async fn mine(rpc: &Rpc, blocks: u64) {
    rpc.call("anvil_mine", json!([format!("{blocks:#x}")]))
        .await
        .unwrap();
}

pub const ERC20_ABI: &str = r#"[{"type":"event","name":"Transfer","anonymous":false,"inputs":[{"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}]},{"type":"function","name":"transfer","stateMutability":"nonpayable","inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]}]"#;

pub fn large_transfers(token: Address, level: Value) -> MonitorDefinition {
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
pub struct Recorder {
    pub blocks: Mutex<Vec<(BlockRef, Vec<MonitorMatch>)>>,
    /// Fail (once) when a block with this number arrives.
    pub fail_at: Mutex<Option<u64>>,
}

#[derive(Debug, thiserror::Error)]
#[error("sink down")]
pub struct SinkDown;

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
    pub fn numbers(&self) -> Vec<u64> {
        self.blocks
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.number)
            .collect()
    }
    pub fn matched_txs(&self) -> Vec<String> {
        self.blocks
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.hash.clone()))
            .collect()
    }
}

pub struct Setup {
    pub node: Anvil,
    pub token: Address,
    pub matcher: Arc<RwLock<Matcher>>,
    pub state: Arc<MemoryStateStore>,
}

pub async fn setup(level: Value, extra: &[&str]) -> Option<Setup> {
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

pub fn watcher(s: &Setup, sink: Arc<Recorder>, level: ConfirmLevel, start: u64) -> BlockWatcher {
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
