//! A corpus of actions written as Defender users wrote them (`tests/corpus/<nn-name>/`), run
//! unchanged through the real engine: the QuickJS runtime over Defender's pre-installed
//! packages (`scripts/install-preinstalled.sh`), relayers of `defender-relay` on anvil, and
//! notification channels of `defender-notify` pointed at a local server. Each test asserts
//! what the local server received and what the chain holds.
//!
//! This file holds the actions that work on chain: relayer signers and providers of ethers v5
//! and v6, web3 and the Defender SDK, relayer credentials, a monitor match, rollup and webpack
//! bundles, meta-transactions. `corpus_offchain.rs` holds the rest (third-party APIs,
//! notifications, the key-value store, secrets, webhooks, the sandbox's refusals).
//!
//! The rollup and webpack bundles are built at test time, with the pinned bundlers of
//! `tests/corpus/package.json` (installed by `scripts/install-test-deps.sh`).
//!
//! Needs anvil and the npm packages; `DEFENDER_SKIP_EXTERNAL=1` skips when they are missing.

// Each of the corpus's two test files uses a part of the harness.
#[allow(dead_code)]
#[path = "corpus/harness.rs"]
mod harness;

use bytes::Bytes;
use defender_core::{CodeSource, ErrorType, KvStore, MonitorDefinition, RunStatus, Trigger};
use defender_engine::{ActionSpec, NetworkSpec, StartAt};
use defender_relay::{RpcBlockSource, RpcClient};
use harness::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const ETHER: u128 = 1_000_000_000_000_000_000;

fn same(a: &Value, b: &str) -> bool {
    a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_signer_with_preinstalled_ethers_v5_calls_a_contract() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("01-relay-ethers5-counter").await;
    let result = success(&w.run("01-relay-ethers5-counter", None).await);
    // Defender's pre-installed ethers, found with no node_modules configured.
    assert_eq!(result["ethers"], "ethers/5.5.3");
    assert!(same(&result["from"], MAIN), "{result}");
    let receipt = w.anvil.receipt(result["hash"].as_str().unwrap()).await;
    assert!(same(&receipt["from"], MAIN) && same(&receipt["to"], KEEPER));
    assert_eq!(w.anvil.keeper_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_signer_with_bundled_ethers_v6_calls_a_contract() {
    let Some(w) = World::start().await else {
        return;
    };
    // The zip a user uploads: index.js and ethers v6 in its own node_modules.
    let ethers6 = corpus_dir().join("node_modules/ethers");
    let mut files = BTreeMap::from([
        (
            "index.js".to_owned(),
            Bytes::from(action_source("02-relay-ethers6-counter")),
        ),
        (
            "node_modules/ethers/package.json".to_owned(),
            Bytes::from_static(br#"{"name": "ethers", "main": "ethers.umd.min.js"}"#),
        ),
    ]);
    files.insert(
        "node_modules/ethers/ethers.umd.min.js".to_owned(),
        Bytes::from(std::fs::read(ethers6.join("dist/ethers.umd.min.js")).unwrap()),
    );
    let spec = ActionSpec {
        code: CodeSource::Bundle(files),
        ..ActionSpec::new("v6", "ethers v6", "").relayer("main")
    };
    w.add_spec(spec).await;
    let result = success(&w.run("v6", None).await);
    assert_eq!(result["executed"], true);
    assert_eq!(result["ethers"], "6.13.4");
    assert_eq!(result["status"], 1);
    let receipt = w.anvil.receipt(result["hash"].as_str().unwrap()).await;
    assert!(same(&receipt["from"], MAIN));
    assert_eq!(w.anvil.keeper_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3_reads_and_sends_through_the_relay_provider() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("04-web3-token-transfer").await;
    let recipient = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
    let result = success(&w.run("04-web3-token-transfer", None).await);
    assert_eq!(result["version"], "1.9.0");
    assert!(same(&result["from"], MAIN));
    assert_eq!(result["balance"], (1000 * ETHER).to_string());
    assert_eq!(result["status"], true);
    let receipt = w.anvil.receipt(result["tx"].as_str().unwrap()).await;
    assert!(same(&receipt["from"], MAIN) && same(&receipt["to"], TOKEN));
    assert_eq!(w.anvil.token_balance(recipient).await, 25 * ETHER);
    assert_eq!(w.anvil.token_balance(MAIN).await, 975 * ETHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_match_triggers_the_action() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("11-monitor-match").await;
    let source = Arc::new(RpcBlockSource::new(
        RpcClient::new(vec![w.anvil.url.clone()], Default::default()).unwrap(),
    ));
    w.engine
        .add_network(NetworkSpec {
            start: StartAt::Head,
            poll_interval: Duration::from_millis(50),
            ..NetworkSpec::new("local", source)
        })
        .await
        .unwrap();
    let artifact: Value =
        serde_json::from_str(include_str!("corpus/contracts/DemoToken.json")).unwrap();
    let monitor: MonitorDefinition = serde_json::from_value(json!({
        "type": "BLOCK", "name": "Large token transfers", "network": "local",
        "addresses": [TOKEN], "abi": artifact["abi"].to_string(), "confirmLevel": 0,
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)",
                             "expression": "value > 1000000000000000000000"}],
        "actionTrigger": "11-monitor-match"
    }))
    .unwrap();
    w.engine.add_monitor("large", monitor).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let whale = "0x976EA74026E726554dB657fA54763abd0C3a0aa9";
    w.anvil.transfer_tokens(whale, 10).await; // below the condition
    let hash = w.anvil.transfer_tokens(whale, 5000).await;
    let mut run = None;
    for _ in 0..400 {
        let runs = w.engine.runs("11-monitor-match", 5).await.unwrap();
        if let Some(r) = runs.into_iter().find(|r| r.status != RunStatus::Pending) {
            run = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = run.expect("the monitor triggered the action");
    assert_eq!(run.trigger, Trigger::Monitor);
    let result = success(&run);
    assert_eq!(result["hash"], hash);
    assert_eq!(result["monitor"], "Large token transfers");
    assert!(
        same(&result["contract"], TOKEN),
        "sentinel.address: {result}"
    );
    assert!(same(&result["from"], DEPLOYER) && same(&result["to"], whale));
    assert_eq!(result["value"], (5000 * ETHER).to_string());
    assert_eq!(result["seen"], 1);
    let kv = w.engine.kv();
    assert_eq!(
        kv.get("large-transfers").await.unwrap().as_deref(),
        Some("1")
    );
    assert_eq!(
        kv.get(&format!("transfer:{hash}")).await.unwrap(),
        Some((5000 * ETHER).to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_credentials_move_funds_from_the_right_accounts() {
    let Some(w) = World::start().await else {
        return;
    };
    // Not linked to any relayer: the credentials choose.
    w.add_spec(ActionSpec::new(
        "two",
        "Two relayers",
        action_source("13-two-relayers"),
    ))
    .await;
    w.secrets(&[
        ("HOT_API_KEY", HOT_API_KEY),
        ("HOT_API_SECRET", HOT_API_SECRET),
        ("TREASURY_API_KEY", TREASURY_API_KEY),
        ("TREASURY_API_SECRET", TREASURY_API_SECRET),
    ])
    .await;
    let payee = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
    let before = w.anvil.balance(payee).await;
    let result = success(&w.run("two", None).await);
    assert!(same(&result["hot"]["address"], MAIN), "{result}");
    assert!(same(&result["treasury"]["address"], TREASURY), "{result}");
    let hot = w
        .anvil
        .receipt(result["hot"]["hash"].as_str().unwrap())
        .await;
    let treasury = w
        .anvil
        .receipt(result["treasury"]["hash"].as_str().unwrap())
        .await;
    assert!(same(&hot["from"], MAIN) && same(&hot["to"], payee));
    assert!(same(&treasury["from"], TREASURY) && same(&treasury["to"], payee));
    assert_eq!(w.anvil.balance(payee).await - before, ETHER + ETHER / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_relayer_credentials_are_a_clear_error() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("14-unknown-credentials").await;
    let nonce = w
        .anvil
        .quantity("eth_getTransactionCount", json!([MAIN, "latest"]))
        .await;
    let run = w.run("14-unknown-credentials", None).await;
    let message = failure(&run);
    assert_eq!(run.error_type, Some(ErrorType::RelayerConfiguration));
    assert!(
        message.contains("FpLzA9tkMxLhYE5V7Qk3") || message.contains("credentials"),
        "{message}"
    );
    // Never the linked relayer instead.
    let after = w
        .anvil
        .quantity("eth_getTransactionCount", json!([MAIN, "latest"]))
        .await;
    assert_eq!(after, nonce);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollup_bundle_with_ethers_v6_sends_through_the_relayer() {
    let Some(w) = World::start().await else {
        return;
    };
    let files = build_bundle("18-rollup-ethers6-interface", "rollup");
    let index = String::from_utf8_lossy(&files["index.js"]).into_owned();
    assert!(index.contains("require('defender-relay-client')"));
    assert!(!index.contains("require('ethers')"), "ethers v6 is bundled");
    w.add_spec(ActionSpec {
        code: CodeSource::Bundle(files),
        ..ActionSpec::new("rollup", "Rollup bundle", "").relayer("main")
    })
    .await;
    let result = success(&w.run("rollup", None).await);
    assert_eq!(result["selector"], "0x61461954", "execute()");
    assert!(same(&result["from"], MAIN));
    let receipt = w.anvil.receipt(result["hash"].as_str().unwrap()).await;
    assert!(same(&receipt["to"], KEEPER));
    assert_eq!(w.anvil.keeper_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webpack_bundle_reads_through_the_relay_provider() {
    let Some(w) = World::start().await else {
        return;
    };
    let files = build_bundle("19-webpack-bignumber", "webpack");
    let index = String::from_utf8_lossy(&files["index.js"]).into_owned();
    assert!(
        index.contains("require(\"ethers\")"),
        "ethers stays external"
    );
    w.add_spec(ActionSpec {
        code: CodeSource::Bundle(files),
        ..ActionSpec::new("webpack", "Webpack bundle", "").relayer("main")
    })
    .await;
    let result = success(&w.run("webpack", None).await);
    assert_eq!(result["supply"], "1,000,000.00");
    let head = w.anvil.quantity("eth_blockNumber", json!([])).await;
    assert_eq!(result["block"], json!(head as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_transaction_is_signed_by_the_relayer() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("20-meta-tx-signature").await;
    let forwarder = "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853";
    w.secrets(&[("FORWARDER_ADDRESS", forwarder)]).await;
    let run = w
        .run(
            "20-meta-tx-signature",
            Some(json!({"to": KEEPER, "nonce": 7})),
        )
        .await;
    let result = success(&run);
    // The result reaches the caller as produced, the secret included.
    assert_eq!(result["domain"]["verifyingContract"], forwarder);
    let signature = result["signature"].as_str().unwrap();
    assert_eq!(signature.len(), 132, "{signature}");
    // Node and ethers say who signed it.
    let recovered = node(&format!(
        "const {{ ethers }} = require('ethers'); const r = {result};
         const types = {{ ForwardRequest: [{{name:'from',type:'address'}},{{name:'to',type:'address'}},{{name:'value',type:'uint256'}},{{name:'gas',type:'uint256'}},{{name:'nonce',type:'uint256'}},{{name:'data',type:'bytes'}}] }};
         console.log(ethers.utils.verifyTypedData(r.domain, types, r.request, r.signature));"
    ));
    assert!(recovered.eq_ignore_ascii_case(MAIN), "{recovered}");
    // The stored copy has the secret redacted.
    let stored = w.engine.runs("20-meta-tx-signature", 1).await.unwrap();
    let stored = stored[0].result.as_deref().unwrap();
    assert!(
        !stored.contains(forwarder) && stored.contains("[REDACTED]"),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defender_sdk_signer_transfers_tokens() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("21-sdk-token-transfer").await;
    let recipient = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955";
    let result = success(
        &w.run(
            "21-sdk-token-transfer",
            Some(json!({"recipient": recipient, "amount": "12.5"})),
        )
        .await,
    );
    assert_eq!(result["balance"], (12 * ETHER + ETHER / 2).to_string());
    let receipt = w.anvil.receipt(result["hash"].as_str().unwrap()).await;
    assert!(same(&receipt["from"], MAIN) && same(&receipt["to"], TOKEN));
    assert_eq!(
        w.anvil.token_balance(recipient).await,
        12 * ETHER + ETHER / 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_sends_and_queries_a_transaction() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("22-relayer-send-query").await;
    let to = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";
    let before = w.anvil.balance(to).await;
    let result = success(&w.run("22-relayer-send-query", None).await);
    assert!(same(&result["to"], to), "{result}");
    let hash = result["hash"].as_str().unwrap().to_owned();
    let receipt = w.anvil.receipt(&hash).await;
    assert!(same(&receipt["from"], MAIN));
    w.anvil
        .until("the payment", async |a| {
            a.balance(to).await == before + ETHER / 4
        })
        .await;
}
