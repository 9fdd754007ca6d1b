//! Defender's "complete example" (canExecute, then execute through the relay signer) against
//! anvil, a real contract and the real relayer of `defender-relay`, with the user's own
//! ethers v5 and v6 from `tests/node/node_modules`; plus the relayer client and the SDK.

mod common;

use bytes::Bytes;
use common::*;
use defender_core::{ActionCode, ActionRuntime, CodeSource, Relayer, RunError};
use defender_relay::{InMemoryRelayerStore, LocalSigner, RelayerConfig, RpcRelayer};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

/// Anvil's first account deploys; the relayer signs with the second.
const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const RELAYER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// Hand-assembled contract: `canExecute()` returns true, `execute()` increments slot 0.
const CONTRACT: &str = "0x6034600c60003960346000f360003560e01c806378b9033714601e5780636146195414602957600080fd5b600160005260206000f35b60005460010160005500";

struct Anvil {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skip_external() -> bool {
    std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1")
}

impl Anvil {
    async fn start() -> Option<Anvil> {
        let Some(bin) = defender_testkit::anvil_binary() else {
            if skip_external() {
                eprintln!("anvil not found; skipped (DEFENDER_SKIP_EXTERNAL=1)");
                return None;
            }
            panic!("anvil not found on PATH: install it (npm i -g @foundry-rs/anvil-linux-amd64) or set DEFENDER_SKIP_EXTERNAL=1");
        };
        let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).expect("spawn anvil");
        let addr = addr.expect("anvil did not start");
        let anvil = Anvil {
            child,
            url: format!("http://{addr}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if anvil.try_call("eth_chainId", json!([])).await.is_some() {
                return Some(anvil);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("anvil did not start");
    }

    async fn try_call(&self, method: &str, params: Value) -> Option<Value> {
        let res = self
            .http
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await
            .ok()?;
        let v: Value = res.json().await.ok()?;
        v.get("result").cloned()
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .await
            .unwrap_or_else(|| panic!("{method} {params} failed"))
    }

    async fn deploy(&self) -> String {
        let hash = self
            .call(
                "eth_sendTransaction",
                json!([{"from": DEPLOYER, "data": CONTRACT, "gas": "0x100000"}]),
            )
            .await;
        for _ in 0..50 {
            let r = self.call("eth_getTransactionReceipt", json!([hash])).await;
            if let Some(a) = r.get("contractAddress").and_then(Value::as_str) {
                return a.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("deployment not mined");
    }

    async fn counter(&self, address: &str) -> u64 {
        let v = self
            .call("eth_getStorageAt", json!([address, "0x0", "latest"]))
            .await;
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

async fn relayer(anvil: &Anvil) -> Arc<RpcRelayer> {
    relayer_with_key(anvil, "test-relayer", RELAYER_KEY).await
}

/// anvil's third account, for a second relayer.
const SECOND_RELAYER_KEY: &str =
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

async fn relayer_with_key(anvil: &Anvil, id: &str, key: &str) -> Arc<RpcRelayer> {
    let signer = LocalSigner::from_private_key(key).unwrap();
    let config = RelayerConfig::new(id, vec![anvil.url.clone()])
        .with_confirmations(1)
        .with_poll_interval(Duration::from_millis(200));
    Arc::new(
        RpcRelayer::start(
            config,
            Arc::new(signer),
            Arc::new(InMemoryRelayerStore::default()),
        )
        .await
        .expect("relayer starts"),
    )
}

/// anvil with the example contract deployed (its address) and a relayer on it; `None` when
/// the npm fixture or anvil is missing and may be skipped.
async fn chain_with_relayer() -> Option<(Anvil, String, Arc<RpcRelayer>)> {
    if !npm_fixture_ready() {
        return None;
    }
    let anvil = Anvil::start().await?;
    let address = anvil.deploy().await;
    let relayer = relayer(&anvil).await;
    Some((anvil, address, relayer))
}

fn complete_example(address: &str, require_ethers: &str) -> String {
    format!(
        r#"const {{ ethers }} = require("{require_ethers}");
const {{ DefenderRelaySigner, DefenderRelayProvider }} = require('defender-relay-client/lib/ethers');

const ADDRESS = '{address}';
const ABI = ['function canExecute() view returns (bool)', 'function execute()'];

// Entrypoint for the action
exports.handler = async function(event) {{
  // Load value provided in the webhook payload (not available in schedule or sentinel invocations)
  const {{ value }} = event.request.body;

  // Compare it with a local secret
  if (value !== event.secrets.expectedValue) return;

  // Initialize relayer provider and signer
  const provider = new DefenderRelayProvider(event);
  const signer = new DefenderRelaySigner(event, provider, {{ speed: 'fast' }});

  // Create contract instance from the signer and use it to send a tx
  const contract = new ethers.Contract(ADDRESS, ABI, signer);
  if (await contract.canExecute()) {{
    const tx = await contract.execute();
    console.log(`Called execute in ${{tx.hash}}`);
    return {{ tx: tx.hash }};
  }}
}}

// To run locally (this code will not be executed in actions)
if (require.main === module) {{
  const {{ RELAYER_API_KEY: apiKey, RELAYER_API_SECRET: apiSecret }} = process.env;
  exports.handler({{ apiKey, apiSecret }})
    .then(() => process.exit(0))
    .catch(error => {{ console.error(error); process.exit(1); }});
}}
"#
    )
}

fn example_event(value: &str) -> defender_core::ActionEvent {
    let mut ev = event();
    ev.secrets = Some([("expectedValue".to_string(), "42".to_string())].into());
    ev.request = Some(serde_json::from_value(json!({"body": {"value": value}})).unwrap());
    ev.relayer_arn = Some("test-relayer".into());
    ev
}

async fn run_example(anvil: &Anvil, relayer: Arc<RpcRelayer>, code: &ActionCode, address: &str) {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let before = anvil.counter(address).await;
    // A wrong webhook value: nothing is sent.
    let mut req = request(example_event("41"));
    req.services.relayer = Some(relayer.clone());
    req.limits.timeout = Duration::from_secs(30);
    let out = rt.run(code, req).await;
    assert_eq!(out.result.unwrap(), Value::Null, "{:?}", out.logs);
    // The right value: execute() is sent through the relayer and mined.
    let mut req = request(example_event("42"));
    req.services.relayer = Some(relayer.clone());
    req.limits.timeout = Duration::from_secs(30);
    let out = rt.run(code, req).await;
    let result = out
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", out.logs));
    let hash = result["tx"].as_str().expect("a hash").to_owned();
    assert!(
        out.logs
            .iter()
            .any(|l| l.message == format!("Called execute in {hash}")),
        "{:?}",
        out.logs
    );
    let mut mined = false;
    for _ in 0..100 {
        if anvil.counter(address).await == before + 1 {
            mined = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(mined, "execute() was not mined");
    let receipt = anvil.call("eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(
        receipt["to"].as_str().unwrap().to_lowercase(),
        address.to_lowercase()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_example_with_ethers_v5_and_v6() {
    let Some((anvil, address, relayer)) = chain_with_relayer().await else {
        return;
    };

    // ethers v5: `require("ethers")` finds ethers 5.7.2 in node_modules.
    let v5 = script(&complete_example(&address, "ethers"));
    run_example(&anvil, relayer.clone(), &v5, &address).await;

    // ethers v6: the bundle maps `ethers` to the fixture's ethers 6 in its own node_modules.
    let mut files = BTreeMap::new();
    files.insert(
        "index.js".to_string(),
        Bytes::from(complete_example(&address, "ethers")),
    );
    files.insert(
        "node_modules/ethers/package.json".to_string(),
        Bytes::from_static(b"{\"main\": \"index.js\"}"),
    );
    files.insert(
        "node_modules/ethers/index.js".to_string(),
        Bytes::from_static(b"module.exports = require('ethers6');"),
    );
    let mut v6 = script("");
    v6.source = CodeSource::Bundle(files);
    run_example(&anvil, relayer.clone(), &v6, &address).await;
    relayer.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_client_sdk_and_web3_provider() {
    // `_anvil` keeps the node running until the end of the test.
    let Some((_anvil, address, relayer)) = chain_with_relayer().await else {
        return;
    };
    let info = relayer.get_relayer().await.unwrap();
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let code = script(&format!(
        r#"
const {{ Relayer }} = require('@openzeppelin/defender-relay-client');
const {{ Defender }} = require('@openzeppelin/defender-sdk');
const {{ DefenderRelayProvider: Web3Provider }} = require('defender-relay-client/lib/web3');
const {{ ethers }} = require('ethers');
exports.handler = async function(event) {{
  const relayer = new Relayer(event);
  const info = await relayer.getRelayer();
  const sent = await relayer.sendTransaction({{ to: '{address}', data: '0x61461954', speed: 'fast', gasLimit: '100000' }});
  const again = await relayer.getTransaction(sent.transactionId);
  const chainId = await relayer.call('eth_chainId', []);
  const client = new Defender(event);
  const provider = client.relaySigner.getProvider();
  const signer = client.relaySigner.getSigner(provider, {{ speed: 'average' }});
  const contract = new ethers.Contract('{address}', ['function execute()', 'function canExecute() view returns (bool)'], signer);
  const tx = await contract.execute();
  const signature = await signer.signMessage('hello');
  const recovered = ethers.utils.verifyMessage('hello', signature);
  const web3 = new Web3Provider(event, {{ speed: 'fast' }});
  const accounts = await web3.request({{ method: 'eth_accounts' }});
  const block = await web3.request({{ method: 'eth_blockNumber', params: [] }});
  let insufficient;
  try {{ await relayer.sendTransaction({{ to: '{address}', value: '1000000000000000000000000000', speed: 'fast', gasLimit: 21000 }}); }} catch (e) {{ insufficient = e.code; }}
  return {{ address: info.address, same: again.transactionId === sent.transactionId, hash: sent.hash, chainId, sdkTx: tx.hash, recovered, accounts, block: typeof block, insufficient }};
}};"#
    ));
    let mut req = request(example_event("42"));
    req.services.relayer = Some(relayer.clone());
    req.limits.timeout = Duration::from_secs(30);
    let out = rt.run(&code, req).await;
    let v = out
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", out.logs));
    assert_eq!(
        v["address"].as_str().unwrap().to_lowercase(),
        info.address.to_lowercase()
    );
    assert_eq!(v["same"], json!(true));
    assert_eq!(v["chainId"], json!("0x7a69"));
    assert!(v["sdkTx"].as_str().unwrap().starts_with("0x"));
    assert_eq!(
        v["recovered"].as_str().unwrap().to_lowercase(),
        info.address.to_lowercase()
    );
    assert_eq!(
        v["accounts"][0].as_str().unwrap().to_lowercase(),
        info.address.to_lowercase()
    );
    assert_eq!(v["block"], json!("string"));
    assert_eq!(v["insufficient"], json!("INSUFFICIENT_FUNDS"));

    // Uncaught, INSUFFICIENT_FUNDS is the run's error type.
    let code = script(&format!("const {{ Relayer }} = require('defender-relay-client');\nexports.handler = async (event) => new Relayer(event).sendTransaction({{ to: '{address}', value: '1000000000000000000000000000', speed: 'fast', gasLimit: 21000 }});"));
    let mut req = request(example_event("42"));
    req.services.relayer = Some(relayer.clone());
    let out = rt.run(&code, req).await;
    assert!(
        matches!(out.result, Err(RunError::InsufficientFunds(_))),
        "{:?}",
        out.result
    );
    relayer.shutdown();
}

/// A bridge-style action holds credentials for two relayers: each reaches its own account,
/// unknown credentials or a wrong secret are a clear error, and nothing falls back to the
/// relayer the action is linked to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_credentials_select_their_relayer_and_never_fall_back() {
    let Some((anvil, address, linked)) = chain_with_relayer().await else {
        return;
    };
    let second = relayer_with_key(&anvil, "second-relayer", SECOND_RELAYER_KEY).await;
    let linked_address = linked.get_relayer().await.unwrap().address.to_lowercase();
    let second_address = second.get_relayer().await.unwrap().address.to_lowercase();
    assert_ne!(linked_address, second_address);
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let code = script(&format!(
        r#"
const {{ Relayer }} = require('defender-relay-client');
const {{ DefenderRelayProvider, DefenderRelaySigner }} = require('defender-relay-client/lib/ethers');
const {{ Defender }} = require('@openzeppelin/defender-sdk');
const {{ ethers }} = require('ethers');
const error = async (f) => {{ try {{ await f(); return null; }} catch (e) {{ return e.code + ': ' + e.message; }} }};
exports.handler = async function(event) {{
  const creds = {{ apiKey: event.secrets.secondKey, apiSecret: event.secrets.secondSecret }};
  const viaEvent = (await new Relayer(event).getRelayer()).address;
  const viaKey = new Relayer(creds);
  const keyAddress = (await viaKey.getRelayer()).address;
  const sent = await viaKey.sendTransaction({{ to: '{address}', data: '0x61461954', speed: 'fast', gasLimit: '100000' }});
  const sdk = new Defender({{ relayerApiKey: creds.apiKey, relayerApiSecret: creds.apiSecret }});
  const sdkAddress = (await sdk.relaySigner.getRelayer()).address;
  const provider = new DefenderRelayProvider(creds);
  const signer = new DefenderRelaySigner(creds, provider, {{ speed: 'fast' }});
  const signerAddress = await signer.getAddress();
  return {{
    viaEvent, keyAddress, from: sent.from, sdkAddress, signerAddress,
    unknown: await error(() => new Relayer({{ apiKey: 'nobody', apiSecret: 'x' }}).getRelayer()),
    wrongSecret: await error(() => new Relayer({{ apiKey: creds.apiKey, apiSecret: 'wrong' }}).sendTransaction({{ to: '{address}', gasLimit: 21000 }})),
    sdkUnknown: await error(() => new Defender({{ relayerApiKey: 'nobody', relayerApiSecret: 'x' }}).relaySigner.getRelayer()),
    signerUnknown: await error(() => new DefenderRelaySigner({{ apiKey: 'nobody', apiSecret: 'x' }}, provider).getAddress()),
  }};
}};"#
    ));
    let mut event = example_event("42");
    event.secrets = Some(
        [
            ("secondKey".to_string(), "key-of-the-second".to_string()),
            (
                "secondSecret".to_string(),
                "secret-of-the-second".to_string(),
            ),
        ]
        .into(),
    );
    let mut req = request(event);
    req.services.relayer = Some(linked.clone());
    req.services
        .relayer_keys
        .insert("key-of-the-second", "secret-of-the-second", second.clone());
    req.limits.timeout = Duration::from_secs(30);
    let out = rt.run(&code, req).await;
    let v = out
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", out.logs));
    let lower = |k: &str| v[k].as_str().unwrap_or_default().to_lowercase();
    assert_eq!(lower("viaEvent"), linked_address);
    for k in ["keyAddress", "from", "sdkAddress", "signerAddress"] {
        assert_eq!(lower(k), second_address, "{k}: {v}");
    }
    for k in ["unknown", "wrongSecret", "sdkUnknown", "signerUnknown"] {
        let e = v[k].as_str().unwrap_or_default();
        assert!(
            e.starts_with("RELAYER_CONFIGURATION: no relayer is configured"),
            "{k}: {v}"
        );
    }
    // The transaction was sent, and from the second relayer's account.
    let hash = second.list_transactions(Default::default()).await.unwrap();
    assert_eq!(hash.len(), 1);
    assert!(linked
        .list_transactions(Default::default())
        .await
        .unwrap()
        .is_empty());
    linked.shutdown();
    second.shutdown();
}

/// The relay client's older names and options, as actions written for it use them:
/// `lib/relayer`, `query`/`list`, the signer's `validForSeconds`, and `instanceof` on the
/// adapters' classes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_client_legacy_names_and_options() {
    let Some((_anvil, address, relayer)) = chain_with_relayer().await else {
        return;
    };
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let code = script(&format!(
        r#"
const {{ Relayer }} = require('defender-relay-client/lib/relayer');
const {{ DefenderRelayProvider, DefenderRelaySigner }} = require('@openzeppelin/defender-relay-client/lib/ethers');
const {{ ethers }} = require('ethers');
exports.handler = async function(event) {{
  const relayer = new Relayer(event);
  const sent = await relayer.sendTransaction({{ to: '{address}', data: '0x61461954', speed: 'fast', gasLimit: '100000' }});
  const queried = await relayer.query(sent.transactionId);
  const listed = await relayer.list({{ limit: 10 }});
  const provider = new DefenderRelayProvider(event);
  const signer = new DefenderRelaySigner(event, provider, {{ speed: 'fast', validForSeconds: 120 }});
  const contract = new ethers.Contract('{address}', ['function execute()'], signer);
  const before = Date.now();
  const tx = await contract.execute();
  return {{
    queried: queried.transactionId === sent.transactionId,
    listed: listed.some((t) => t.transactionId === sent.transactionId),
    signerIs: signer instanceof DefenderRelaySigner,
    providerIs: provider instanceof DefenderRelayProvider,
    plainIsNot: !({{}} instanceof DefenderRelaySigner),
    hash: tx.hash,
    before,
  }};
}};"#
    ));
    let mut req = request(example_event("42"));
    req.services.relayer = Some(relayer.clone());
    req.limits.timeout = Duration::from_secs(30);
    let out = rt.run(&code, req).await;
    let v = out
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", out.logs));
    for k in ["queried", "listed", "signerIs", "providerIs", "plainIsNot"] {
        assert_eq!(v[k], json!(true), "{k}: {v}");
    }
    // The signer's transaction is valid for 120 s from when it was sent.
    let txs = relayer.list_transactions(Default::default()).await.unwrap();
    let by_signer = txs
        .iter()
        .find(|t| Some(t.hash.as_str()) == v["hash"].as_str())
        .expect("the signer's transaction is recorded");
    let before = v["before"].as_i64().unwrap();
    let valid_ms = by_signer.valid_until.timestamp_millis() - before;
    assert!(
        (110_000..=130_000).contains(&valid_ms),
        "valid for {valid_ms} ms"
    );
    relayer.shutdown();
}
