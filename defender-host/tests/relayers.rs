//! Relayer policies, `min-balance` alerts and relayer groups, run by the host against anvil:
//! a `private-transactions` relayer sends through the network's `private-rpc` (a second anvil
//! standing in for it) and follows the transaction on the public node; a relayer's
//! `whitelist-receivers`, `gas-price-cap` and `eip1559-pricing` hold; an action linked to a
//! relayer group spreads its sends over the group's relayers, whose `mined` events reach the
//! group's webhook channel; a send that takes a relayer below its `min-balance` is reported once
//! to the `low-balance-channels`.

mod support;

use defender_core::wire::{TxRequest, TxStatus};
use defender_core::Relayer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::{load, post_json, rpc, start_host, wait_until, Anvil, Sink};

/// Anvil's accounts 1 to 4 (public knowledge): the relayers' keys.
const KEY_PRIVATE: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const KEY_G1: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const KEY_G2: &str = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const KEY_LOW: &str = "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
/// Anvil's account 6.
const KEY_CAPPED: &str = "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e";
const LOW_ADDRESS: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
const RECEIVER: &str = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";
const HOOK_TOKEN: &str = "relayers-hook-token-0123456789";
const ETH: u128 = 1_000_000_000_000_000_000;

const SERVERLESS: &str = r#"
service: relayers
provider:
  name: defender
  stage: dev
  stackName: relayers
resources:
  actions:
    spread:
      name: Spread
      path: ./actions/spread
      relayer: ${self:resources.relayer-groups.group-1}
      trigger:
        type: webhook
      paused: false
  policies:
    private:
      private-transactions: true
    capped:
      gas-price-cap: 100000000000
      whitelist-receivers:
        - '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc'
      eip1559-pricing: false
  relayers:
    private-relayer:
      name: Private
      network: local
      min-balance: 0
      policy: ${self:resources.policies.private}
    low:
      name: Low
      network: local
      min-balance: 1000000000000000000
    capped:
      name: Capped
      network: local
      min-balance: 0
      policy: ${self:resources.policies.capped}
  relayer-groups:
    group-1:
      name: Group
      network: local
      min-balance: 0
      relayers: 2
      notification-channels:
        events: [mined]
        notification-ids:
          - ${self:resources.notifications.sink}
  notifications:
    sink:
      type: webhook
      name: Sink
      config:
        url: ${env:SINK}
      paused: false
"#;

const HOST_CONFIG: &str = r#"
state-dir: ${env:STATE}
networks:
  local:
    rpc: ${env:RPC}
    private-rpc: ${env:PRIVATE_RPC}
relayers:
  private-relayer: { private-key-env: KEY_PRIVATE }
  low: { private-key-env: KEY_LOW }
  capped: { private-key-env: KEY_CAPPED }
relayer-groups:
  group-1:
    - private-key-env: KEY_G1
    - private-key-env: KEY_G2
low-balance-channels: [sink]
webhooks:
  spread: { token-env: HOOK_TOKEN }
"#;

/// Six sends from one run, through the linked relayer (the group).
const ACTION: &str = r#"
const { Relayer } = require('@openzeppelin/defender-relay-client');
exports.handler = async function (event) {
  const relayer = new Relayer(event);
  const sent = [];
  for (let i = 0; i < 6; i++) {
    const tx = await relayer.sendTransaction({ to: event.request.body.to, value: i + 1, speed: 'fast', gasLimit: 21000 });
    sent.push({ id: tx.transactionId, from: tx.from, nonce: tx.nonce });
  }
  return sent;
};
"#;

/// The subject of each notification the sink received.
fn subjects(sink: &Sink) -> Vec<String> {
    sink.received()
        .iter()
        .map(|b| b["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The project with its action, from `serverless` and `host_config`.
fn write_project(serverless: &str, host_config: &str) -> tempfile::TempDir {
    support::write_files(&[
        ("serverless.yml", serverless),
        ("defender-host.yml", host_config),
        ("actions/spread/index.js", ACTION),
    ])
}

/// The relayers' keys and the hook's token, with `endpoints` (state, RPC, sink...).
fn env(endpoints: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env = support::env_map(&[
        ("KEY_PRIVATE", KEY_PRIVATE),
        ("KEY_LOW", KEY_LOW),
        ("KEY_CAPPED", KEY_CAPPED),
        ("KEY_G1", KEY_G1),
        ("KEY_G2", KEY_G2),
        ("HOOK_TOKEN", HOOK_TOKEN),
    ]);
    env.extend(support::env_map(endpoints));
    env
}

fn transfer(value: u128) -> TxRequest {
    serde_json::from_value(json!({
        "to": RECEIVER, "value": value.to_string(), "speed": "fast", "gasLimit": 21000
    }))
    .unwrap()
}

async fn wait_mined(relayer: &dyn Relayer, id: &str) {
    wait_until(&format!("{id} mined"), async || {
        matches!(
            relayer.get_transaction(id).await.map(|t| t.status),
            Ok(TxStatus::Mined | TxStatus::Confirmed)
        )
    })
    .await;
}

#[test]
fn private_transactions_need_a_private_endpoint_for_their_network() {
    let dir = write_project(
        SERVERLESS,
        &HOST_CONFIG.replace("    private-rpc: ${env:PRIVATE_RPC}\n", ""),
    );
    let e = env(&[
        ("STATE", "/tmp/unused"),
        ("RPC", "http://127.0.0.1:1"),
        ("SINK", "http://127.0.0.1:1/hook"),
    ]);
    let problems = defender_host::validate(dir.path(), None, &e).unwrap_err();
    let messages: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
    assert_eq!(
        messages,
        ["relayer `private-relayer` has the `private-transactions` policy but network `local` has no private endpoint: add `networks.local.private-rpc` to defender-host.yml"],
    );
    assert_eq!(problems[0].path, "networks.local.private-rpc");
}

#[test]
fn group_events_keys_and_alert_channels_are_checked() {
    let dir = write_project(
        &SERVERLESS.replace("events: [mined]", "events: [mined, done]"),
        &HOST_CONFIG
            .replace("    - private-key-env: KEY_G2\n", "")
            .replace(
                "low-balance-channels: [sink]",
                "low-balance-channels: [pager]",
            ),
    );
    let mut e = env(&[
        ("STATE", "/tmp/unused"),
        ("RPC", "http://127.0.0.1:1"),
        ("PRIVATE_RPC", "http://127.0.0.1:2"),
        ("SINK", "http://127.0.0.1:1/hook"),
    ]);
    e.remove("KEY_G2");
    let problems = defender_host::validate(dir.path(), None, &e).unwrap_err();
    let messages: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "unknown transaction event `done`: expected pending, sent, submitted, inmempool, mined, confirmed, failed or expired",
            "relayer group `group-1` has 2 relayer(s) and 1 key(s): list one key per relayer under `relayer-groups.group-1` in defender-host.yml",
            "the project has no notification channel `pager`",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_groups_and_low_balance_alerts_run_in_the_host() {
    // The public node mines each transaction it gets; the private endpoint keeps them.
    let public = Anvil::start(&[]).await;
    let private = Anvil::start(&["--no-mining"]).await;
    rpc(
        &public.url,
        "anvil_setBalance",
        json!([LOW_ADDRESS, format!("{:#x}", 3 * ETH / 2)]),
    )
    .await;
    let (sink, sink_url) = Sink::start().await;
    let dir = write_project(SERVERLESS, HOST_CONFIG);
    let state = dir.path().join("state");
    let e = env(&[
        ("STATE", state.to_str().unwrap()),
        ("RPC", &public.url),
        ("PRIVATE_RPC", &private.url),
        ("SINK", &sink_url),
    ]);
    let host = start_host(&load(dir.path(), &e), &e).await;

    // `private-transactions`: sent to the private endpoint only, followed on the public node
    // once a builder includes it (here: the test hands the raw transaction over).
    let r = host.relayer("private-relayer").expect("started").clone();
    let tx = r.send_transaction(transfer(7)).await.unwrap();
    assert_eq!(tx.is_private, Some(true));
    assert!(
        !rpc(&private.url, "eth_getTransactionByHash", json!([tx.hash]))
            .await
            .is_null()
    );
    assert!(
        rpc(&public.url, "eth_getTransactionByHash", json!([tx.hash]))
            .await
            .is_null()
    );
    let raw = rpc(
        &private.url,
        "eth_getRawTransactionByHash",
        json!([tx.hash]),
    )
    .await;
    rpc(&public.url, "eth_sendRawTransaction", json!([raw])).await;
    wait_mined(r.as_ref(), &tx.transaction_id).await;

    // The other policies: receivers, the gas price cap, legacy pricing.
    let capped = host.relayer("capped").expect("started").clone();
    let request = |v: Value| serde_json::from_value::<TxRequest>(v).unwrap();
    let refused = capped
        .send_transaction(request(
            json!({"to": LOW_ADDRESS, "value": 1, "gasLimit": 21000}),
        ))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("is not whitelisted"),
        "{refused}"
    );
    let refused = capped
        .send_transaction(request(
            json!({"to": RECEIVER, "value": 1, "gasLimit": 21000, "gasPrice": 200_000_000_000u64}),
        ))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("above the relayer's cap 100000000000"),
        "{refused}"
    );
    let tx = capped.send_transaction(transfer(3)).await.unwrap();
    assert!(tx.gas_price.is_some_and(|p| p <= 100_000_000_000), "{tx:?}");
    assert_eq!(tx.max_fee_per_gas, None, "eip1559-pricing: false");
    wait_mined(capped.as_ref(), &tx.transaction_id).await;

    // The group: one webhook run sends six transactions through it.
    let url = format!(
        "{}/actions/spread/runs/webhook/{HOOK_TOKEN}",
        host.base_url()
    );
    let (_, answer) = post_json(&url, None, json!({"to": RECEIVER})).await;
    assert_eq!(answer["status"], "success", "{answer}");
    let sent: Vec<Value> = serde_json::from_str(answer["result"].as_str().unwrap()).unwrap();
    assert_eq!(sent.len(), 6);
    let members = [
        host.relayer("group-1#1").expect("member 1").clone(),
        host.relayer("group-1#2").expect("member 2").clone(),
    ];
    for m in &members {
        let from = m.address().to_checksum(None);
        let mut nonces: Vec<u64> = sent
            .iter()
            .filter(|t| t["from"] == from.as_str())
            .map(|t| t["nonce"].as_u64().unwrap())
            .collect();
        nonces.sort_unstable();
        assert!(nonces.len() >= 2, "{from} sent {nonces:?}: not spread");
        assert_eq!(nonces, (0..nonces.len() as u64).collect::<Vec<_>>());
        for t in sent.iter().filter(|t| t["from"] == from.as_str()) {
            wait_mined(m.as_ref(), t["id"].as_str().unwrap()).await;
        }
    }
    // Each member's `mined` events reached the group's channel.
    wait_until("six mined notifications", async || {
        subjects(&sink)
            .iter()
            .filter(|s| *s == "Relayer group Group: transaction mined")
            .count()
            == 6
    })
    .await;

    // `min-balance`: a send that takes the relayer below its minimum is reported once.
    let low = host.relayer("low").expect("started").clone();
    assert!(!subjects(&sink).iter().any(|s| s.contains("low on funds")));
    let tx = low.send_transaction(transfer(ETH / 2)).await.unwrap();
    wait_mined(low.as_ref(), &tx.transaction_id).await;
    wait_until("the low-balance alert", async || {
        subjects(&sink).contains(&"Relayer Low is low on funds".to_owned())
    })
    .await;
    let tx = low.send_transaction(transfer(1)).await.unwrap();
    wait_mined(low.as_ref(), &tx.transaction_id).await;
    let alerts: Vec<Value> = sink
        .received()
        .into_iter()
        .filter(|b| b["subject"] == "Relayer Low is low on funds")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["message"].as_str().unwrap().contains(LOW_ADDRESS));
    host.shutdown().await;
}
