//! The host's relayer API against anvil, through a real HTTP client: login with each relayer's
//! API key and secret, every endpoint at the SDK's paths (and the 1.x client's), wrong keys
//! and secrets refused, one relayer's key kept away from another relayer; then the real npm
//! `@openzeppelin/defender-sdk` relayer client (and its ethers v6 provider and signer) driven
//! from `node` (`tests/relayer-sdk`, installed by scripts/install-test-deps.sh).
//!
//! Anvil runs without automatic mining, so that transactions stay in flight (replaceable)
//! until the test mines them with `evm_mine`.

mod support;

use defender_core::{Relayer, SignMessagePayload, SignTypedDataPayload};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use support::{load, rpc, start_host, wait_for, Anvil, RELAYER_ADDRESS, RELAYER_KEY};

/// Anvil's accounts 1 and 2 (public test keys): relayers `r1` and `r2`.
const R1_KEY: &str = RELAYER_KEY;
const R1_ADDRESS: &str = RELAYER_ADDRESS;
const R2_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const R2_ADDRESS: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
/// Anvil's account 3: the receiver.
const TO: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
/// Anvil's account 4: the one relayer of group `g1`.
const G1_KEY: &str = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
const G1_ADDRESS: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

/// A project of two relayers on anvil, each with an API key, written to `dir`.
fn write_project(dir: &Path, rpc_url: &str, state: &Path) {
    std::fs::write(
        dir.join("serverless.yml"),
        r#"
service: relayer-api
provider: { name: defender, stage: dev, stackName: relayer-api }
resources:
  policies:
    p2:
      gas-price-cap: 100000000000
      whitelist-receivers: ['0x90F79bf6EB2c4f870365E785982E1f101E93b906']
      eip1559-pricing: true
  relayers:
    r1: { name: Relayer one, network: local, min-balance: 0, api-keys: [key-1] }
    r2:
      name: Relayer two
      network: local
      min-balance: 100000000000000000
      policy: ${self:resources.policies.p2}
      api-keys: [key-2]
  relayer-groups:
    g1: { name: Group one, network: local, min-balance: 0, relayers: 1, api-keys: [key-g] }
plugins:
  - '@openzeppelin/defender-as-code'
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("defender-host.yml"),
        format!(
            "listen: 127.0.0.1:0\nstate-dir: {}\nnetworks:\n  local:\n    rpc: {rpc_url}\nrelayers:\n  r1:\n    private-key-env: R1_KEY\n  r2:\n    private-key-env: R2_KEY\nrelayer-groups:\n  g1:\n    - private-key-env: G1_KEY\n",
            state.display()
        ),
    )
    .unwrap();
}

/// A client of the relayer API at `base`, with the token of one login (if any).
#[derive(Clone)]
struct Api {
    base: String,
    api_key: Option<String>,
    token: Option<String>,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(k) = &self.api_key {
            req = req.header("X-Api-Key", k);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the host answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// Logs in with `key` and `secret`: the client with its token, and the login's answer.
    async fn login(base: &str, key: &str, secret: &str) -> (Api, Value) {
        let anon = Api {
            base: base.to_owned(),
            api_key: None,
            token: None,
        };
        let (status, answer) = anon
            .post(
                "/auth/login",
                json!({"apiKey": key, "secretKey": secret, "type": "relay"}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let api = Api {
            base: base.to_owned(),
            api_key: Some(key.to_owned()),
            token: answer["accessToken"].as_str().map(str::to_owned),
        };
        (api, answer)
    }
}

/// `getRelayer`'s fields, exactly Defender's `RelayerGetResponse` (less `stackResourceId`).
const RELAYER_FIELDS: [&str; 9] = [
    "address",
    "createdAt",
    "minBalance",
    "name",
    "network",
    "paused",
    "pendingTxCost",
    "policies",
    "relayerId",
];

/// Checks a `getRelayer` answer: exactly Defender's fields, `createdAt` an ISO-8601 time of
/// this test run, and the rest as `expected` says.
fn assert_relayer(info: &Value, expected: Value) {
    let mut fields: Vec<&str> = info
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(fields, RELAYER_FIELDS, "{info}");
    let created_text = info["createdAt"].as_str().unwrap_or_default();
    let created = chrono::DateTime::parse_from_rfc3339(created_text)
        .unwrap_or_else(|e| panic!("createdAt: {e}: {info}"));
    let age = chrono::Utc::now().signed_duration_since(created);
    assert!(
        created_text.ends_with('Z')
            && age >= chrono::TimeDelta::zero()
            && age < chrono::TimeDelta::minutes(10),
        "{info}"
    );
    for (key, value) in expected.as_object().expect("an object") {
        assert_eq!(&info[key], value, "{key}: {info}");
    }
}

/// What the transactions in flight may cost in gas (wei, decimal): gas limit times gas price
/// or fee cap, added up.
fn gas_cost(txs: &[&Value]) -> String {
    let wei: u128 = txs
        .iter()
        .filter(|t| {
            matches!(
                t["status"].as_str(),
                Some("pending" | "sent" | "submitted" | "inmempool")
            )
        })
        .map(|t| {
            let price = t["gasPrice"].as_u64().or(t["maxFeePerGas"].as_u64());
            u128::from(t["gasLimit"].as_u64().unwrap()) * u128::from(price.unwrap())
        })
        .sum();
    wei.to_string()
}

/// A cancel's answer: Defender's `TransactionDeleteResponse`, `{ message }` and nothing else.
fn assert_delete_response(answer: &Value) {
    let keys: Vec<&String> = answer
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert!(
        keys == ["message"] && answer["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

fn transfer(value: u64, speed: &str) -> Value {
    json!({"to": TO, "value": value, "speed": speed, "gasLimit": 21000})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_api_serves_each_relayer_to_its_own_key() {
    let anvil = Anvil::start(&["--no-mining"]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    write_project(dir.path(), &anvil.url, &state);
    let env = support::env_map(&[("R1_KEY", R1_KEY), ("R2_KEY", R2_KEY), ("G1_KEY", G1_KEY)]);
    let host = start_host(&load(dir.path(), &env), &env).await;
    let base = host.base_url();
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("host-keys.json")).unwrap())
            .unwrap();
    let secret_1 = keys["relayerApiSecrets"]["key-1"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_2 = keys["relayerApiSecrets"]["key-2"]
        .as_str()
        .unwrap()
        .to_owned();

    // Wrong secret, unknown key, an admin login, no token, a made-up token: refused.
    let anon = Api {
        base: base.clone(),
        api_key: None,
        token: None,
    };
    for body in [
        json!({"apiKey": "key-1", "secretKey": secret_2, "type": "relay"}),
        json!({"apiKey": "key-3", "secretKey": secret_1, "type": "relay"}),
        json!({"apiKey": "key-1", "secretKey": secret_1, "type": "admin"}),
    ] {
        let (status, answer) = anon.post("/auth/login", body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (401, Some("UNAUTHORIZED")),
            "{body}: {answer}"
        );
    }
    let (status, answer) = anon.post("/auth/login", json!({"apiKey": "key-1"})).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(anon.get("/relayers/self").await.0, 401);
    let forged = Api {
        token: Some("00".repeat(32)),
        api_key: Some("key-1".into()),
        ..anon.clone()
    };
    assert_eq!(forged.get("/relayers/self").await.0, 401);

    // Each key logs in to its own relayer; SDK 1.x's legacy body shape too.
    let (r1, login_1) = Api::login(&base, "key-1", &secret_1).await;
    let (r2, _) = Api::login(&base, "key-2", &secret_2).await;
    let (status, legacy) = anon
        .post(
            "/auth/login",
            json!({"body": {"apiKey": "key-2", "secretKey": secret_2, "type": "relay"}}),
        )
        .await;
    assert_eq!(status, 200, "{legacy}");
    let (status, info) = r1.get("/relayers/self").await;
    assert_eq!(status, 200, "{info}");
    assert_relayer(
        &info,
        json!({
            "relayerId": "r1", "name": "Relayer one", "address": R1_ADDRESS, "network": "local",
            "paused": false, "pendingTxCost": "0", "minBalance": "0", "policies": {},
        }),
    );
    let legacy_info = r1.get("/relayer").await.1;
    assert_eq!(
        (&legacy_info["relayerId"], &legacy_info["createdAt"]),
        (&json!("r1"), &info["createdAt"]),
        "createdAt is stable: {legacy_info}"
    );
    assert_eq!(r1.get("/relayers/r1").await.1["relayerId"], "r1");
    assert_eq!(r2.get("/relayers/self").await.1["address"], R2_ADDRESS);

    // One relayer's key does not reach the other: by its id (403), with the other's
    // X-Api-Key (401).
    let (status, answer) = r1.get("/relayers/r2").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{answer}"
    );
    assert_eq!(
        r1.post("/relayers/r2/txs", transfer(1, "fast")).await.0,
        403
    );
    let mixed = Api {
        api_key: Some("key-2".into()),
        ..r1.clone()
    };
    assert_eq!(mixed.get("/relayers/self").await.0, 401);

    let (status, st) = r1.get("/relayers/self/status").await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(
        (st["relayerId"].as_str(), st["nonce"].as_u64()),
        (Some("r1"), Some(0))
    );
    assert!(st["balance"].as_str().unwrap().len() > 18, "{st}");
    assert_eq!(r1.get("/relayer/status").await.1["nonce"], 0);

    // Send three transactions; bad ones are 400 with Defender's reason.
    let mut sent = Vec::new();
    for value in [1, 2, 3] {
        let (status, tx) = r1.post("/relayers/self/txs", transfer(value, "fast")).await;
        assert_eq!(status, 200, "{tx}");
        sent.push(tx);
    }
    let nonces: Vec<u64> = sent.iter().map(|t| t["nonce"].as_u64().unwrap()).collect();
    assert_eq!(nonces, [0, 1, 2]);
    assert_eq!(sent[0]["from"], R1_ADDRESS);
    // With the signature of its submission, as the SDK's ethers v6 signer reads it.
    let sig = &sent[0]["signature"];
    assert!(
        sig["r"].as_str().is_some_and(|r| r.len() == 66) && sig["v"].is_string(),
        "{}",
        sent[0]
    );
    assert_eq!(
        sent[0]["to"].as_str().map(str::to_lowercase),
        Some(TO.to_lowercase())
    );
    let id = |i: usize| sent[i]["transactionId"].as_str().unwrap().to_owned();
    let (status, answer) = r1
        .post(
            "/relayers/self/txs",
            json!({"to": TO, "gasLimit": 21000, "speed": "fast", "gasPrice": 1}),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{answer}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{base}/txs"))
        .bearer_auth(r1.token.as_deref().unwrap())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);

    // Get by id (and through the legacy path), by nonce; the other relayer does not see it.
    let (status, got) = r1.get(&format!("/relayers/self/txs/{}", id(0))).await;
    assert_eq!((status, got["nonce"].as_u64()), (200, Some(0)), "{got}");
    assert_eq!(r1.get(&format!("/txs/{}", id(1))).await.1["nonce"], 1);
    let (status, by_nonce) = r1.get("/relayers/self/txs/1?nonce=true").await;
    assert_eq!(
        (status, by_nonce["transactionId"].as_str()),
        (200, Some(id(1).as_str()))
    );
    assert_eq!(r1.get("/relayers/self/txs/9?nonce=true").await.0, 404);
    let (status, answer) = r2.get(&format!("/relayers/self/txs/{}", id(0))).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{answer}"
    );
    assert_eq!(
        r2.put(
            &format!("/relayers/self/txs/{}", id(0)),
            transfer(9, "fast")
        )
        .await
        .0,
        404
    );

    // Replace by id and by nonce: same id and nonce, new value.
    let (status, replaced) = r1
        .put(
            &format!("/relayers/self/txs/{}", id(1)),
            transfer(5, "fastest"),
        )
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (
            replaced["transactionId"].as_str(),
            replaced["nonce"].as_u64(),
            replaced["value"].as_str()
        ),
        (Some(id(1).as_str()), Some(1), Some("5"))
    );
    let (status, replaced) = r1.put("/relayers/self/txs/2", transfer(7, "fastest")).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (
            replaced["transactionId"].as_str(),
            replaced["value"].as_str()
        ),
        (Some(id(2).as_str()), Some("7"))
    );
    assert_eq!(
        r1.put("/relayers/self/txs/77", transfer(7, "fast")).await.0,
        404
    );

    // In flight: getRelayer's pendingTxCost is what their gas may cost at their latest fees.
    let listed = r1.get("/txs").await.1;
    let listed: Vec<&Value> = listed.as_array().unwrap().iter().collect();
    let pending_cost = r1.get("/relayers/self").await.1["pendingTxCost"].clone();
    assert_eq!(pending_cost, gas_cost(&listed), "{listed:?}");
    assert_ne!(pending_cost, "0");

    // Listing: the 1.x array, pages with `next`, sort, status and since filters.
    let (status, all) = r1.get("/txs").await;
    assert_eq!(
        (status, all.as_array().map(Vec::len)),
        (200, Some(3)),
        "{all}"
    );
    let (status, page) = r1
        .get("/relayers/self/txs?usePagination=true&limit=2")
        .await;
    assert_eq!(status, 200, "{page}");
    let page_nonces: Vec<u64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["nonce"].as_u64().unwrap())
        .collect();
    assert_eq!(page_nonces, [2, 1]);
    let next = page["next"].as_str().expect("a next cursor").to_owned();
    let (_, page) = r1
        .get(&format!(
            "/relayers/self/txs?usePagination=true&limit=2&next={next}"
        ))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["items"][0]["nonce"], 0);
    assert!(page.get("next").is_none(), "{page}");
    let (_, asc) = r1
        .get("/relayers/self/txs?usePagination=true&sort=asc&limit=1")
        .await;
    assert_eq!(asc["items"][0]["nonce"], 0, "{asc}");
    let (_, pending) = r1
        .get("/relayers/self/txs?usePagination=true&status=pending")
        .await;
    assert_eq!(
        pending["items"].as_array().map(Vec::len),
        Some(3),
        "{pending}"
    );
    let (_, mined) = r1
        .get("/relayers/self/txs?usePagination=true&status=mined")
        .await;
    assert_eq!(mined["items"].as_array().map(Vec::len), Some(0), "{mined}");
    let (_, future) = r1
        .get("/relayers/self/txs?usePagination=true&since=2999-01-01T00:00:00.000Z")
        .await;
    assert_eq!(
        future["items"].as_array().map(Vec::len),
        Some(0),
        "{future}"
    );
    for bad in [
        "status=bogus",
        "limit=0",
        "limit=x",
        "sort=up",
        "since=yesterday",
        "next=nope",
    ] {
        let (status, answer) = r1
            .get(&format!("/relayers/self/txs?usePagination=true&{bad}"))
            .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("INVALID_ARGUMENT")),
            "{bad}: {answer}"
        );
    }
    assert_eq!(
        r2.get("/relayers/self/txs")
            .await
            .1
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // Sign and sign typed data: the relayer's own (deterministic) signatures.
    let relayer = host.relayer("r1").expect("relayer r1").clone();
    let (status, signed) = r1
        .post("/relayers/self/sign", json!({"message": "hello"}))
        .await;
    assert_eq!(status, 200, "{signed}");
    let direct = relayer
        .sign(SignMessagePayload {
            message: "hello".into(),
        })
        .await
        .unwrap();
    assert_eq!(signed, serde_json::to_value(&direct).unwrap());
    let typed_payload = json!({
        "domainSeparator": format!("0x{}", "11".repeat(32)),
        "hashStructMessage": format!("0x{}", "22".repeat(32)),
    });
    let (status, typed) = r1
        .post("/relayers/self/sign-typed-data", typed_payload.clone())
        .await;
    assert_eq!(status, 200, "{typed}");
    let direct: SignTypedDataPayload = serde_json::from_value(typed_payload).unwrap();
    let direct = relayer.sign_typed_data(direct).await.unwrap();
    assert_eq!(typed, serde_json::to_value(&direct).unwrap());
    assert_ne!(typed["sig"], signed["sig"]);
    assert_eq!(r1.post("/sign", json!({"nope": 1})).await.0, 400);

    // JSON-RPC: results and node errors in JSON-RPC's own shape.
    let (status, chain) = r1
        .post(
            "/relayers/self/jsonrpc",
            json!({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []}),
        )
        .await;
    assert_eq!(status, 200, "{chain}");
    assert_eq!(
        chain,
        json!({"jsonrpc": "2.0", "id": 7, "result": "0x7a69"})
    );
    let (status, failed) = r1
        .post(
            "/relayer/jsonrpc",
            json!({"id": 8, "method": "no_such_method", "params": []}),
        )
        .await;
    assert_eq!(status, 200, "{failed}");
    assert!(
        failed["error"]["code"].is_i64() && failed.get("result").is_none(),
        "{failed}"
    );
    assert_eq!(
        r1.post("/relayer/jsonrpc", json!({"method": ""})).await.0,
        400
    );

    // Mined: no longer replaceable; cancelled before mining: a 0-value send to itself.
    let (status, cancelled) = r1
        .call(
            Method::DELETE,
            &format!("/relayers/self/txs/{}", id(2)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_delete_response(&cancelled);
    let (_, cancelled) = r1.get(&format!("/relayers/self/txs/{}", id(2))).await;
    assert_eq!(
        (
            cancelled["nonce"].as_u64(),
            cancelled["value"].as_str(),
            cancelled["to"].as_str()
        ),
        (Some(2), Some("0"), Some(R1_ADDRESS)),
        "{cancelled}"
    );
    rpc(&anvil.url, "evm_mine", json!([])).await;
    wait_for("the first transaction mined", async || {
        relayer.poll_now().await.ok();
        let (_, t) = r1.get(&format!("/relayers/self/txs/{}", id(0))).await;
        matches!(t["status"].as_str(), Some("mined" | "confirmed")).then_some(())
    })
    .await;
    wait_for("nothing in flight", async || {
        relayer.poll_now().await.ok();
        let info = r1.get("/relayers/self").await.1;
        (info["pendingTxCost"] == "0").then_some(())
    })
    .await;
    let (status, answer) = r1
        .put(
            &format!("/relayers/self/txs/{}", id(0)),
            transfer(1, "fastest"),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("NOT_REPLACEABLE")),
        "{answer}"
    );

    // Refresh: a new access token for a refresh token of the same key, and only then.
    let refresh_token = login_1["refreshToken"].as_str().unwrap();
    let (status, refreshed) = anon
        .post(
            "/auth/refresh-token",
            json!({"apiKey": "key-1", "secretKey": secret_1, "refreshToken": refresh_token, "type": "relay"}),
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let renewed = Api {
        token: refreshed["accessToken"].as_str().map(str::to_owned),
        ..r1.clone()
    };
    assert_eq!(renewed.get("/relayers/self").await.1["relayerId"], "r1");
    let (status, _) = anon
        .post(
            "/auth/refresh-token",
            json!({"apiKey": "key-2", "secretKey": secret_2, "refreshToken": refresh_token}),
        )
        .await;
    assert_eq!(status, 401, "key-1's refresh token is not key-2's");

    // A relayer group's key reaches the group (by `self` or its id), which sends from its
    // relayer.
    let secret_g = keys["relayerApiSecrets"]["key-g"].as_str().unwrap();
    let (group, _) = Api::login(&base, "key-g", secret_g).await;
    assert_eq!(group.get("/relayers/g1/status").await.0, 200);
    assert_eq!(group.get("/relayers/r1").await.0, 403);
    let (status, via_group) = group.post("/relayers/self/txs", transfer(4, "fast")).await;
    assert_eq!(status, 200, "{via_group}");
    assert_eq!(via_group["from"], G1_ADDRESS);
    let (status, group_info) = group.get("/relayers/self").await;
    assert_eq!(status, 200, "{group_info}");
    assert_relayer(
        &group_info,
        json!({
            "relayerId": "g1", "name": "Group one", "address": G1_ADDRESS, "network": "local",
            "paused": false, "pendingTxCost": gas_cost(&[&via_group]), "minBalance": "0",
            "policies": {},
        }),
    );

    // The real npm defender-sdk relayer client, on relayer r2.
    let sdk_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/relayer-sdk");
    assert!(
        sdk_dir
            .join("node_modules/@openzeppelin/defender-sdk-relay-signer-client")
            .is_dir(),
        "the SDK is not installed in {}: run scripts/install-test-deps.sh",
        sdk_dir.display()
    );
    let output = tokio::process::Command::new("node")
        .arg("relayer.js")
        .current_dir(&sdk_dir)
        .env("DEFENDER_API_URL", format!("{base}/"))
        .env("RELAYER_API_KEY", "key-2")
        .env("RELAYER_API_SECRET", &secret_2)
        .env("TO", TO)
        .env("ANVIL_URL", &anvil.url)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_relayer(
        &out["relayer"],
        json!({
            "relayerId": "r2", "name": "Relayer two", "address": R2_ADDRESS, "network": "local",
            "paused": false, "pendingTxCost": "0", "minBalance": "100000000000000000",
            "policies": {
                "gasPriceCap": "100000000000", "whitelistReceivers": [TO], "EIP1559Pricing": true,
            },
        }),
    );
    assert_eq!(
        out["relayerPending"]["pendingTxCost"],
        gas_cost(&[&out["replaced"], &out["extra"]]),
        "{out}"
    );
    assert_delete_response(&out["cancelled"]);
    assert_eq!(
        (
            out["afterCancel"]["nonce"].as_u64(),
            out["afterCancel"]["value"].as_str(),
            out["afterCancel"]["to"].as_str()
        ),
        (out["extra"]["nonce"].as_u64(), Some("0"), Some(R2_ADDRESS)),
        "{out}"
    );
    assert_eq!(out["status"]["address"], R2_ADDRESS);
    assert_eq!(out["sent"]["from"], R2_ADDRESS);
    assert_eq!(out["got"]["transactionId"], out["sent"]["transactionId"]);
    assert_eq!(
        out["byNonce"]["transactionId"],
        out["sent"]["transactionId"]
    );
    assert_eq!(
        out["replaced"]["transactionId"],
        out["sent"]["transactionId"]
    );
    assert_eq!(out["replaced"]["value"], "3");
    assert!(
        out["listed"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["transactionId"] == out["sent"]["transactionId"]),
        "{out}"
    );
    assert_eq!(out["signer"], R2_ADDRESS);
    assert_eq!(out["typedSigner"], R2_ADDRESS);
    assert_eq!(out["chainId"]["result"], "0x7a69");
    assert!(out["rpcError"]["error"]["message"].is_string(), "{out}");
    assert_eq!(out["signerAddress"], R2_ADDRESS);
    assert_eq!(out["receipt"]["status"], 1);
    assert_eq!(out["receipt"]["from"], R2_ADDRESS);

    host.shutdown().await;
}
