//! Internal function calls on anvil: a monitored function called by a contract (and by a
//! contract called by a contract) matches with an `internal-function` reason when the network
//! reads traces, through `trace_block` and through `debug_traceBlockByNumber`'s `callTracer`;
//! a network without a trace source sees only the direct call.
//!
//! The contracts are hand-assembled: the monitored one stops on any call (matching reads
//! calldata, not code), and each forwarder passes its calldata on to the next contract.
//!
//! Needs `anvil` on PATH; `DEFENDER_SKIP_EXTERNAL=1` skips when it is missing.

mod delivery_support;

use async_trait::async_trait;
use defender_core::{
    ActionCode, ActionRuntime, MonitorMatch, RecordingNotifier, RunOutcome, RunRequest,
};
use defender_engine::monitor::{RpcTraceSource, TraceMethod};
use defender_engine::{Engine, NetworkSpec};
use delivery_support::{Anvil, DEV0};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
struct NoActions;
#[async_trait]
impl ActionRuntime for NoActions {
    async fn run(&self, _: &ActionCode, _: RunRequest) -> RunOutcome {
        RunOutcome {
            result: Ok(Value::Null),
            logs: vec![],
        }
    }
}

/// Init code that deploys `runtime`.
fn deploy_code(runtime: &[u8]) -> String {
    let n = u8::try_from(runtime.len()).expect("a short runtime");
    // PUSH1 n DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN, then the runtime.
    let mut code = vec![
        0x60, n, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    format!("0x{}", hex::encode(code))
}

/// Runtime that calls `target` with its own calldata, then stops.
fn forwarder(target: &str) -> Vec<u8> {
    // CALLDATASIZE PUSH1 0 PUSH1 0 CALLDATACOPY
    let mut code = vec![0x36, 0x60, 0x00, 0x60, 0x00, 0x37];
    // retSize retOffset argsSize argsOffset value: 0 0 CALLDATASIZE 0 0
    code.extend_from_slice(&[0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00]);
    code.push(0x73); // PUSH20 target
    code.extend_from_slice(&hex::decode(target.trim_start_matches("0x")).expect("address"));
    code.extend_from_slice(&[0x5a, 0xf1, 0x50, 0x00]); // GAS CALL POP STOP
    code
}

async fn send(anvil: &Anvil, tx: Value) -> Value {
    let hash = anvil
        .rpc
        .request("eth_sendTransaction", json!([tx]))
        .await
        .expect("eth_sendTransaction");
    for _ in 0..200 {
        let receipt = anvil
            .rpc
            .request("eth_getTransactionReceipt", json!([hash]))
            .await
            .expect("receipt");
        if !receipt.is_null() {
            return receipt;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("transaction {hash} not mined");
}

async fn deploy(anvil: &Anvil, runtime: &[u8]) -> String {
    let receipt = send(anvil, json!({ "from": DEV0, "data": deploy_code(runtime) })).await;
    receipt["contractAddress"]
        .as_str()
        .expect("a contract address")
        .to_owned()
}

/// `transfer(address,uint256)` calldata.
fn transfer(amount: u64) -> String {
    format!(
        "0xa9059cbb{:0>64}{:064x}",
        "00000000000000000000000000000000000000000000000000000000000000be", amount
    )
}

fn monitor(network: &str, target: &str) -> defender_core::MonitorDefinition {
    serde_json::from_value(json!({
        "type": "BLOCK",
        "name": format!("transfers on {network}"),
        "network": network,
        "addresses": [target],
        "confirmLevel": 0,
        "functionConditions": [{
            "functionSignature": "transfer(address to, uint256 amount)",
            "expression": "amount > 10"
        }],
        "notificationChannels": ["ops"]
    }))
    .expect("monitor")
}

/// The matches `ops` received, once it has `n` (or after 15 s, whatever it has).
async fn received(ops: &RecordingNotifier, engine: &Engine, n: usize) -> Vec<MonitorMatch> {
    for _ in 0..300 {
        engine.flush_alerts().await;
        if ops.messages().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ops.messages()
        .iter()
        .filter_map(|m| m.alert.as_deref().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_called_by_contracts_match_as_internal_functions() {
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    let target = deploy(&anvil, &[0x00]).await;
    let caller = deploy(&anvil, &forwarder(&target)).await;
    let outer = deploy(&anvil, &forwarder(&caller)).await;

    let ops = Arc::new(RecordingNotifier::default());
    let engine = Engine::builder(Arc::new(NoActions))
        .notifier("ops", ops.clone())
        .build();
    let base = delivery_support::anvil_network(&anvil).await;
    let networks = [
        ("parity", Some(TraceMethod::TraceBlock)),
        ("geth", Some(TraceMethod::DebugCallTracer)),
        ("plain", None),
    ];
    for (name, method) in networks {
        let mut spec = NetworkSpec {
            name: name.to_owned(),
            ..base.clone()
        };
        if let Some(method) = method {
            spec = spec.with_trace(Arc::new(RpcTraceSource::new(anvil.url.clone(), method)));
        }
        engine.add_network(spec).await.expect("network");
        engine
            .add_monitor(name, monitor(name, &target))
            .await
            .expect("monitor");
    }

    // Through one contract, through two, a direct call, and one the condition refuses.
    let via_caller = send(
        &anvil,
        json!({ "from": DEV0, "to": caller, "data": transfer(255), "gas": "0x493e0" }),
    )
    .await;
    let via_outer = send(
        &anvil,
        json!({ "from": DEV0, "to": outer, "data": transfer(300), "gas": "0x493e0" }),
    )
    .await;
    let direct = send(
        &anvil,
        json!({ "from": DEV0, "to": target, "data": transfer(77), "gas": "0x493e0" }),
    )
    .await;
    let small = send(
        &anvil,
        json!({ "from": DEV0, "to": caller, "data": transfer(5), "gas": "0x493e0" }),
    )
    .await;
    // A last block, so every loop is past the ones above when it has matched it.
    let last = send(
        &anvil,
        json!({ "from": DEV0, "to": target, "data": transfer(1000), "gas": "0x493e0" }),
    )
    .await;
    let hash = |r: &Value| r["transactionHash"].as_str().unwrap().to_ascii_lowercase();

    // 4 matches per traced network, 2 on the plain one.
    let all = received(&ops, &engine, 10).await;
    // In block order (channels receive alerts in the order they are owed, loops interleave).
    let of = |network: &str| -> Vec<&MonitorMatch> {
        let mut ms: Vec<&MonitorMatch> = all
            .iter()
            .filter(|m| m.monitor.network == network)
            .collect();
        ms.sort_by_key(|m| u64::from_str_radix(m.block_number.trim_start_matches("0x"), 16).ok());
        ms
    };
    for network in ["parity", "geth"] {
        let ms = of(network);
        let hashes: Vec<String> = ms.iter().map(|m| m.hash.to_ascii_lowercase()).collect();
        assert_eq!(
            hashes,
            [
                hash(&via_caller),
                hash(&via_outer),
                hash(&direct),
                hash(&last)
            ],
            "{network}"
        );
        assert!(!hashes.contains(&hash(&small)));
        let body = serde_json::to_value(ms[0]).unwrap();
        let checksummed = alloy_primitives::Address::parse_checksummed(
            body["matchReasons"][0]["address"].as_str().unwrap(),
            None,
        )
        .expect("a checksummed address");
        assert_eq!(
            format!("{checksummed:#x}"),
            target.to_ascii_lowercase(),
            "{network}"
        );
        assert_eq!(
            body["matchReasons"][0]["type"], "internal-function",
            "{network}"
        );
        assert_eq!(
            body["matchReasons"][0]["signature"],
            "transfer(address,uint256)"
        );
        assert_eq!(body["matchReasons"][0]["condition"], "amount > 10");
        assert_eq!(body["matchReasons"][0]["params"]["amount"], "255");
        assert_eq!(body["matchReasons"][0]["args"][1], "255");
        assert_eq!(
            body["matchedAddresses"],
            json!([target.to_ascii_lowercase()])
        );
        assert_eq!(body["type"], "BLOCK");
        // Two contracts down.
        assert_eq!(ms[1].match_reasons[0].params["amount"], "300");
        assert_eq!(
            serde_json::to_value(ms[1].match_reasons[0].kind).unwrap(),
            "internal-function"
        );
        // The direct call is the transaction's own: a `function` reason.
        assert_eq!(
            serde_json::to_value(ms[2].match_reasons[0].kind).unwrap(),
            "function"
        );
    }
    let plain: Vec<String> = of("plain")
        .iter()
        .map(|m| m.hash.to_ascii_lowercase())
        .collect();
    assert_eq!(plain, [hash(&direct), hash(&last)]);
    engine.shutdown_and_wait().await;
}
