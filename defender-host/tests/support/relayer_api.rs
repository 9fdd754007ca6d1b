//! The relayer API's test harness: a project of two relayers and a group on anvil, started in
//! process; a client that logs in with an API key and secret; checks of Defender's answer
//! shapes; and the npm defender-sdk script (`tests/relayer-sdk/relayer.js`) run by `node`.

use super::{env_map, load, send_json, start_host, Anvil, RELAYER_ADDRESS, RELAYER_KEY};
use defender_host::run::Host;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;

/// Anvil's accounts 1 and 2 (public test keys): relayers `r1` and `r2`.
pub(crate) const R1_KEY: &str = RELAYER_KEY;
/// The address of [`R1_KEY`].
pub(crate) const R1_ADDRESS: &str = RELAYER_ADDRESS;
/// Relayer `r2`'s key.
pub(crate) const R2_KEY: &str =
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// The address of [`R2_KEY`].
pub(crate) const R2_ADDRESS: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
/// Anvil's account 3: the receiver.
pub(crate) const TO: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
/// Anvil's account 4: the one relayer of group `g1`.
pub(crate) const G1_KEY: &str =
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
/// The address of [`G1_KEY`].
pub(crate) const G1_ADDRESS: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

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
    g1:
      name: Group one
      network: local
      min-balance: 0
      relayers: 1
      api-keys: [key-g]
      notification-channels:
        events: [failed]
        notification-ids: ['${self:resources.notifications.ops}']
  notifications:
    ops: { type: webhook, name: Ops, config: { url: 'http://127.0.0.1:9/' }, paused: true }
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

/// The relayer API project running on its own anvil (without automatic mining).
pub(crate) struct RelayerApiHost {
    /// The chain of every relayer.
    pub(crate) anvil: Anvil,
    /// The host, started in process.
    pub(crate) host: Host,
    /// The host's base URL.
    pub(crate) base: String,
    /// The host's `host-keys.json`, which holds each API key's secret.
    keys: Value,
    // Holds the project and the host's state until the test ends.
    _dir: tempfile::TempDir,
}

impl RelayerApiHost {
    /// Starts anvil with `--no-mining` and the host on it.
    pub(crate) async fn start() -> RelayerApiHost {
        let anvil = Anvil::start(&["--no-mining"]).await;
        let dir = tempfile::tempdir().unwrap();
        write_project(dir.path(), &anvil.url, &dir.path().join("state"));
        Self::serve(anvil, dir).await
    }

    /// Stops the host and starts it again on the same project, state and chain.
    pub(crate) async fn restarted(self) -> RelayerApiHost {
        let RelayerApiHost {
            anvil, host, _dir, ..
        } = self;
        host.shutdown().await;
        Self::serve(anvil, _dir).await
    }

    /// Starts the host of the project written in `dir`.
    async fn serve(anvil: Anvil, dir: tempfile::TempDir) -> RelayerApiHost {
        let env = env_map(&[("R1_KEY", R1_KEY), ("R2_KEY", R2_KEY), ("G1_KEY", G1_KEY)]);
        let host = start_host(&load(dir.path(), &env), &env).await;
        let base = host.base_url();
        let keys = std::fs::read_to_string(dir.path().join("state/host-keys.json")).unwrap();
        RelayerApiHost {
            anvil,
            host,
            base,
            keys: serde_json::from_str(&keys).unwrap(),
            _dir: dir,
        }
    }

    /// The secret of the API key `key`, as the host generated it.
    pub(crate) fn secret(&self, key: &str) -> String {
        self.keys["relayerApiSecrets"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no secret for {key}: {}", self.keys))
            .to_owned()
    }
}

/// A client of the relayer API at `base`, with the token of one login (if any).
#[derive(Clone)]
pub(crate) struct Api {
    /// The host's base URL.
    pub(crate) base: String,
    /// Sent as `X-Api-Key`.
    pub(crate) api_key: Option<String>,
    /// Sent as the bearer token.
    pub(crate) token: Option<String>,
}

impl Api {
    /// A client without key or token.
    pub(crate) fn anonymous(base: &str) -> Api {
        Api {
            base: base.to_owned(),
            api_key: None,
            token: None,
        }
    }

    /// Sends `method path` with `body` (if any): the status and the JSON answer (or null).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        send_json(req, self.api_key.as_deref()).await
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with `body`.
    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `PUT path` with `body`.
    pub(crate) async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// Gets `/relayers/self` and checks it (see [`assert_relayer`]); returns it.
    pub(crate) async fn assert_get_relayer(&self, expected: Value) -> Value {
        let (status, info) = self.get("/relayers/self").await;
        assert_eq!(status, 200, "{info}");
        assert_relayer(&info, expected);
        info
    }

    /// Checks that the paginated listing `/relayers/self/txs?usePagination=true&{query}` holds
    /// `len` items.
    pub(crate) async fn assert_page_len(&self, query: &str, len: usize) {
        let path = format!("/relayers/self/txs?usePagination=true&{query}");
        let (_, page) = self.get(&path).await;
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(len),
            "{query}: {page}"
        );
    }

    /// Logs in with `key` and `secret`: the client with its token, and the login's answer.
    pub(crate) async fn login(base: &str, key: &str, secret: &str) -> (Api, Value) {
        let (status, answer) = Api::anonymous(base)
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
const RELAYER_FIELDS: [&str; 10] = [
    "address",
    "createdAt",
    "minBalance",
    "name",
    "network",
    "paused",
    "pendingTxCost",
    "policies",
    "relayerId",
    "stackResourceId",
];

/// Checks a `getRelayer` answer: exactly Defender's fields, `createdAt` an ISO-8601 time of
/// this test run, and the rest as `expected` says.
#[track_caller]
pub(crate) fn assert_relayer(info: &Value, expected: Value) {
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
pub(crate) fn gas_cost(txs: &[&Value]) -> String {
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

/// Checks that an answer (status, body) is the error `status` with Defender's `code`; `what`
/// names the request in the failure.
#[track_caller]
pub(crate) fn assert_error(what: &str, (got, answer): (u16, Value), status: u16, code: &str) {
    assert_eq!(
        (got, answer["code"].as_str()),
        (status, Some(code)),
        "{what}: {answer}"
    );
}

/// A cancel's answer: Defender's `TransactionDeleteResponse`, `{ message }` and nothing else.
#[track_caller]
pub(crate) fn assert_delete_response(answer: &Value) {
    let keys: Vec<&String> = answer
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert!(
        keys == ["message"] && answer["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

/// A transfer of `value` wei to [`TO`] at `speed`, as the relayer API takes it.
pub(crate) fn transfer(value: u64, speed: &str) -> Value {
    json!({"to": TO, "value": value, "speed": speed, "gasLimit": 21000})
}

/// Runs `tests/relayer-sdk/relayer.js` (the real npm defender-sdk relayer client and its
/// ethers v6 provider and signer) with `node` against the host at `base`, logged in with
/// `key` and `secret`; a failure fails the test. Its output: the JSON object it prints.
pub(crate) async fn run_sdk_script(base: &str, key: &str, secret: &str, anvil_url: &str) -> Value {
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
        .env("RELAYER_API_KEY", key)
        .env("RELAYER_API_SECRET", secret)
        .env("TO", TO)
        .env("ANVIL_URL", anvil_url)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}
