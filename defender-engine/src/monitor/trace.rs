//! Internal calls: the calls contracts make inside a transaction, read from a node's trace
//! API, so that a monitor's functions match when a contract calls them too (Defender's
//! `internal-function` match reason).
//!
//! A network opts in with [`NetworkSpec::trace`](crate::NetworkSpec::trace); its blocks are
//! traced only while one of its monitors selects functions. Two node APIs are read:
//! - [`TraceMethod::TraceBlock`]: `trace_block` (Parity-style flat traces: Erigon, Reth,
//!   Nethermind, anvil);
//! - [`TraceMethod::DebugCallTracer`]: `debug_traceBlockByNumber` with geth's `callTracer`
//!   (nested frames: geth, anvil). Frames are decoded one level at a time, so a call tree as
//!   deep as the EVM allows (1024) decodes without running into the JSON nesting limit.
//!
//! Every call below the transaction's own is an internal call, reverted ones included (a
//! transaction's own call matches whether or not it reverted, and so does an internal one).
//! Contract creations are not calls and are skipped.

use alloy::transports::http::reqwest;
use alloy_primitives::{Address, Bytes};
use async_trait::async_trait;
use defender_core::ChainError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

/// Largest trace answer read for one block (64 MiB); a larger one is refused.
pub const MAX_TRACE_RESPONSE_BYTES: usize = 64 << 20;

/// Most internal calls kept for one block; the rest are dropped with a warning.
pub const MAX_BLOCK_CALLS: usize = 200_000;

/// Which node API internal calls are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceMethod {
    /// `trace_block`.
    TraceBlock,
    /// `debug_traceBlockByNumber` with `{ "tracer": "callTracer" }`.
    DebugCallTracer,
}

impl TraceMethod {
    /// The method by its JSON-RPC name (`trace_block` or `debug_traceBlockByNumber`).
    pub fn from_rpc_name(name: &str) -> Option<Self> {
        match name {
            "trace_block" => Some(TraceMethod::TraceBlock),
            "debug_traceBlockByNumber" => Some(TraceMethod::DebugCallTracer),
            _ => None,
        }
    }

    /// The JSON-RPC method name.
    pub fn rpc_name(self) -> &'static str {
        match self {
            TraceMethod::TraceBlock => "trace_block",
            TraceMethod::DebugCallTracer => "debug_traceBlockByNumber",
        }
    }
}

/// One call a contract made inside a transaction (never the transaction's own call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalCall {
    /// The calling contract.
    pub from: Address,
    /// The called contract.
    pub to: Address,
    /// Calldata.
    pub input: Bytes,
    /// 1 for a call made by the transaction's target, 2 for a call made by that callee...
    pub depth: u32,
}

/// The internal calls of one block, by transaction index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockCalls {
    by_tx: HashMap<u64, Vec<InternalCall>>,
}

impl BlockCalls {
    /// The internal calls of the transaction at `index`, in execution order.
    pub fn of(&self, index: u64) -> &[InternalCall] {
        self.by_tx.get(&index).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Adds a call of the transaction at `index`.
    pub fn push(&mut self, index: u64, call: InternalCall) {
        self.by_tx.entry(index).or_default().push(call);
    }

    /// How many internal calls the block holds.
    pub fn len(&self) -> usize {
        self.by_tx.values().map(Vec::len).sum()
    }

    /// Whether the block holds none.
    pub fn is_empty(&self) -> bool {
        self.by_tx.values().all(Vec::is_empty)
    }
}

/// Where a network's internal calls come from.
#[async_trait]
pub trait TraceSource: Debug + Send + Sync + 'static {
    /// The internal calls of block `number`. [`ChainError::Unavailable`] is retried;
    /// [`ChainError::Decode`] means the node's answer cannot be read.
    async fn block_calls(&self, number: u64) -> Result<BlockCalls, ChainError>;
}

/// A [`TraceSource`] over a node's JSON-RPC endpoint.
#[derive(Clone, Debug)]
pub struct RpcTraceSource {
    url: String,
    method: TraceMethod,
    client: reqwest::Client,
}

impl RpcTraceSource {
    /// Traces from the node at `url` with `method` (60 s per block at most).
    pub fn new(url: impl Into<String>, method: TraceMethod) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        RpcTraceSource {
            url: url.into(),
            method,
            client,
        }
    }

    /// The method it reads.
    pub fn method(&self) -> TraceMethod {
        self.method
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> ChainError {
    ChainError::Unavailable {
        source: Box::new(e),
    }
}

#[async_trait]
impl TraceSource for RpcTraceSource {
    async fn block_calls(&self, number: u64) -> Result<BlockCalls, ChainError> {
        let block = format!("{number:#x}");
        let params = match self.method {
            TraceMethod::TraceBlock => serde_json::json!([block]),
            TraceMethod::DebugCallTracer => serde_json::json!([block, { "tracer": "callTracer" }]),
        };
        let request = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": self.method.rpc_name(), "params": params,
        });
        let mut response = self
            .client
            .post(&self.url)
            .json(&request)
            .send()
            .await
            .map_err(unavailable)?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if body.len().saturating_add(chunk.len()) > MAX_TRACE_RESPONSE_BYTES {
                return Err(ChainError::Decode(format!(
                    "the trace of block {number} is over {MAX_TRACE_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        decode_response(self.method, &body)
    }
}

#[derive(Deserialize)]
struct RpcResponse<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// Decodes a JSON-RPC answer of `method` into the block's internal calls.
pub(crate) fn decode_response(method: TraceMethod, body: &[u8]) -> Result<BlockCalls, ChainError> {
    let response: RpcResponse<'_> =
        serde_json::from_slice(body).map_err(|e| ChainError::Decode(e.to_string()))?;
    if let Some(e) = response.error {
        return Err(ChainError::Rpc {
            code: e.code,
            message: e.message,
        });
    }
    let Some(result) = response.result else {
        return Err(ChainError::Decode("a trace answer without a result".into()));
    };
    match method {
        TraceMethod::TraceBlock => decode_flat(result.get()),
        TraceMethod::DebugCallTracer => decode_nested(result.get()),
    }
}

fn decode_error(e: serde_json::Error) -> ChainError {
    ChainError::Decode(format!("bad trace: {e}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlatTrace {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    action: FlatAction,
    #[serde(default)]
    trace_address: Vec<u32>,
    #[serde(default)]
    transaction_position: Option<u64>,
}

#[derive(Default, Deserialize)]
struct FlatAction {
    #[serde(default)]
    from: Option<Address>,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    input: Option<Bytes>,
}

fn decode_flat(result: &str) -> Result<BlockCalls, ChainError> {
    // `null` for a block the node has no trace of.
    let traces: Option<Vec<FlatTrace>> = serde_json::from_str(result).map_err(decode_error)?;
    let mut calls = BlockCalls::default();
    let mut kept = 0usize;
    for t in traces.unwrap_or_default() {
        // The transaction's own call, block rewards and creations are not internal calls.
        if t.trace_address.is_empty() || t.kind != "call" {
            continue;
        }
        let (Some(index), Some(from), Some(to)) =
            (t.transaction_position, t.action.from, t.action.to)
        else {
            continue;
        };
        if kept == MAX_BLOCK_CALLS {
            tracing::warn!(
                max = MAX_BLOCK_CALLS,
                "too many internal calls in one block; the rest are not matched"
            );
            break;
        }
        kept += 1;
        calls.push(
            index,
            InternalCall {
                from,
                to,
                input: t.action.input.unwrap_or_default(),
                depth: u32::try_from(t.trace_address.len()).unwrap_or(u32::MAX),
            },
        );
    }
    Ok(calls)
}

#[derive(Deserialize)]
struct TxTrace<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
}

/// One `callTracer` frame, its children left undecoded: each level is decoded on its own, so
/// the depth of the tree never meets the JSON nesting limit.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    from: Option<Address>,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    input: Option<Bytes>,
    #[serde(borrow, default)]
    calls: Option<&'a RawValue>,
}

fn decode_nested(result: &str) -> Result<BlockCalls, ChainError> {
    let txs: Option<Vec<TxTrace<'_>>> = serde_json::from_str(result).map_err(decode_error)?;
    let mut calls = BlockCalls::default();
    let mut kept = 0usize;
    'txs: for (index, tx) in (0u64..).zip(txs.unwrap_or_default()) {
        let Some(root) = tx.result else { continue };
        let root: Frame<'_> = serde_json::from_str(root.get()).map_err(decode_error)?;
        // Depth-first, in execution order: a stack of (children still to visit, their depth).
        let mut stack: Vec<(std::vec::IntoIter<&RawValue>, u32)> = Vec::new();
        if let Some(children) = root.calls {
            let children: Vec<&RawValue> =
                serde_json::from_str(children.get()).map_err(decode_error)?;
            stack.push((children.into_iter(), 1));
        }
        while let Some((children, depth)) = stack.last_mut() {
            let depth = *depth;
            let Some(raw) = children.next() else {
                stack.pop();
                continue;
            };
            let frame: Frame<'_> = serde_json::from_str(raw.get()).map_err(decode_error)?;
            if let Some(grand) = frame.calls {
                let grand: Vec<&RawValue> =
                    serde_json::from_str(grand.get()).map_err(decode_error)?;
                stack.push((grand.into_iter(), depth.saturating_add(1)));
            }
            if frame.kind.starts_with("CREATE") || frame.kind == "SELFDESTRUCT" {
                continue;
            }
            let (Some(from), Some(to)) = (frame.from, frame.to) else {
                continue;
            };
            if kept == MAX_BLOCK_CALLS {
                tracing::warn!(
                    max = MAX_BLOCK_CALLS,
                    "too many internal calls in one block; the rest are not matched"
                );
                break 'txs;
            }
            kept += 1;
            calls.push(
                index,
                InternalCall {
                    from,
                    to,
                    input: frame.input.unwrap_or_default(),
                    depth,
                },
            );
        }
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_tree_as_deep_as_the_evm_allows_decodes() {
        // 1100 nested CALL frames under the transaction's own: far past serde_json's limit of
        // 128 nested values for a tree decoded at once.
        let leaf = r#"{"type":"CALL","from":"0x0000000000000000000000000000000000000001","to":"0x0000000000000000000000000000000000000002","input":"0xa9059cbb"}"#;
        let mut frame = leaf.to_owned();
        for _ in 0..1100 {
            frame = format!(
                r#"{{"type":"CALL","from":"0x0000000000000000000000000000000000000003","to":"0x0000000000000000000000000000000000000004","input":"0x","calls":[{frame}]}}"#
            );
        }
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":[{{"txHash":"0x00","result":{frame}}}]}}"#
        );
        let calls = decode_response(TraceMethod::DebugCallTracer, body.as_bytes()).unwrap();
        assert_eq!(calls.of(0).len(), 1100);
        let last = calls.of(0).last().unwrap();
        assert_eq!(last.depth, 1100);
        assert_eq!(last.input.as_ref(), [0xa9, 0x05, 0x9c, 0xbb]);
    }

    #[test]
    fn errors_and_bad_answers_are_typed() {
        let err = decode_response(
            TraceMethod::TraceBlock,
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no such method"}}"#,
        )
        .unwrap_err();
        assert!(matches!(err, ChainError::Rpc { code: -32601, .. }), "{err}");
        let err = decode_response(TraceMethod::TraceBlock, b"not json").unwrap_err();
        assert!(matches!(err, ChainError::Decode(_)), "{err}");
        let err = decode_response(
            TraceMethod::TraceBlock,
            br#"{"jsonrpc":"2.0","id":1,"result":[{"type":"call","traceAddress":[0],"transactionPosition":0,"action":{"from":"0xnot-an-address"}}]}"#,
        )
        .unwrap_err();
        assert!(matches!(err, ChainError::Decode(_)), "{err}");
    }
}
