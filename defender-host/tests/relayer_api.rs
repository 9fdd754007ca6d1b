//! The host's relayer API against anvil, through a real HTTP client: login with each relayer's
//! API key and secret, every endpoint at the SDK's paths (and the 1.x client's), wrong keys
//! and secrets refused, one relayer's key kept away from another relayer; then the real npm
//! `@openzeppelin/defender-sdk` relayer client (and its ethers v6 provider and signer) driven
//! from `node` (`tests/relayer-sdk`, installed by scripts/install-test-deps.sh). The harness
//! (project, client, answer checks, the SDK script's runner) is `support::relayer_api`.
//!
//! Anvil runs without automatic mining, so that transactions stay in flight (replaceable)
//! until the test mines them with `evm_mine`.

mod support;

use defender_core::{Relayer, SignMessagePayload, SignTypedDataPayload};
use reqwest::Method;
use serde_json::{json, Value};
use support::relayer_api::{
    assert_delete_response, assert_error, assert_relayer, gas_cost, run_sdk_script, transfer, Api,
    RelayerApiHost, G1_ADDRESS, R1_ADDRESS, R2_ADDRESS, TO,
};
use support::{rpc, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_api_serves_each_relayer_to_its_own_key() {
    let setup = RelayerApiHost::start().await;
    let (host, base) = (&setup.host, setup.base.clone());
    let (secret_1, secret_2) = (setup.secret("key-1"), setup.secret("key-2"));

    // Wrong secret, unknown key, an admin login, no token, a made-up token: refused.
    let anon = Api::anonymous(&base);
    for body in [
        json!({"apiKey": "key-1", "secretKey": secret_2, "type": "relay"}),
        json!({"apiKey": "key-3", "secretKey": secret_1, "type": "relay"}),
        json!({"apiKey": "key-1", "secretKey": secret_1, "type": "admin"}),
    ] {
        let answer = anon.post("/auth/login", body.clone()).await;
        assert_error(&body.to_string(), answer, 401, "UNAUTHORIZED");
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
    let info = r1
        .assert_get_relayer(json!({
            "relayerId": "r1", "name": "Relayer one", "address": R1_ADDRESS, "network": "local",
            "paused": false, "pendingTxCost": "0", "minBalance": "0", "policies": {},
            "stackResourceId": "relayer-api.r1",
        }))
        .await;
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
    assert_error("r1 on r2", r1.get("/relayers/r2").await, 403, "FORBIDDEN");
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
    let both_prices = json!({"to": TO, "gasLimit": 21000, "speed": "fast", "gasPrice": 1});
    let answer = r1.post("/relayers/self/txs", both_prices).await;
    assert_error("speed and gasPrice", answer, 400, "INVALID_ARGUMENT");
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
    let answer = r2.get(&format!("/relayers/self/txs/{}", id(0))).await;
    assert_error("r2 getting r1's", answer, 404, "NOT_FOUND");
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
    r1.assert_page_len("status=pending", 3).await;
    r1.assert_page_len("status=mined", 0).await;
    r1.assert_page_len("since=2999-01-01T00:00:00.000Z", 0)
        .await;
    for bad in [
        "status=bogus",
        "limit=0",
        "limit=x",
        "sort=up",
        "since=yesterday",
        "next=nope",
    ] {
        let answer = r1
            .get(&format!("/relayers/self/txs?usePagination=true&{bad}"))
            .await;
        assert_error(bad, answer, 400, "INVALID_ARGUMENT");
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
    rpc(&setup.anvil.url, "evm_mine", json!([])).await;
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
    let answer = r1
        .put(
            &format!("/relayers/self/txs/{}", id(0)),
            transfer(1, "fastest"),
        )
        .await;
    assert_error("replacing a mined one", answer, 409, "NOT_REPLACEABLE");

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
    let secret_g = setup.secret("key-g");
    let (group, _) = Api::login(&base, "key-g", &secret_g).await;
    assert_eq!(group.get("/relayers/g1/status").await.0, 200);
    assert_eq!(group.get("/relayers/r1").await.0, 403);
    let (status, via_group) = group.post("/relayers/self/txs", transfer(4, "fast")).await;
    assert_eq!(status, 200, "{via_group}");
    assert_eq!(via_group["from"], G1_ADDRESS);
    // Its getRelayer is Defender's RelayerGroupResponse.
    let (status, info_g) = group.get("/relayers/self").await;
    assert_eq!(status, 200, "{info_g}");
    let mut fields: Vec<&str> = info_g
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "createdAt",
            "minBalance",
            "name",
            "network",
            "notificationChannels",
            "paused",
            "policies",
            "relayerGroupId",
            "relayers",
            "stackResourceId",
            "systemPaused"
        ],
        "{info_g}"
    );
    let created = info_g["createdAt"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{info_g}"
    );
    let expected = json!({
        "relayerGroupId": "g1", "name": "Group one", "network": "local", "policies": {},
        "minBalance": "0", "paused": false, "systemPaused": false,
        "relayers": [{ "relayerId": "g1#1", "address": G1_ADDRESS, "network": "local" }],
        "notificationChannels": { "events": ["failed"], "notificationIds": ["ops"] },
        "stackResourceId": "relayer-api.g1",
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&info_g[key], value, "{key}: {info_g}");
    }

    // The real npm defender-sdk relayer client, on relayer r2.
    let out = run_sdk_script(&base, "key-2", &secret_2, &setup.anvil.url).await;
    assert_relayer(
        &out["relayer"],
        json!({
            "relayerId": "r2", "name": "Relayer two", "address": R2_ADDRESS, "network": "local",
            "paused": false, "pendingTxCost": "0", "minBalance": "100000000000000000",
            "stackResourceId": "relayer-api.r2",
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

    // createdAt is kept in the engine state: a restarted host answers the same (once the
    // test's handle on a relayer, which holds the state open, is let go).
    drop(relayer);
    let setup = setup.restarted().await;
    let (again, _) = Api::login(&setup.base, "key-1", &setup.secret("key-1")).await;
    let after = again.get("/relayers/self").await.1;
    assert_eq!(after["createdAt"], info["createdAt"], "{after}");
    setup.host.shutdown().await;
}
