//! The corpus's actions that work off chain (see `corpus.rs` for the corpus and its harness):
//! third-party APIs through axios, graphql-request and signed REST calls, Datadog, Slack and
//! signed-webhook notifications, the key-value store, secrets kept out of the logs, a webhook
//! trigger, and the sandbox's refusals under the runtime's default policy.
//!
//! Needs anvil and the npm packages; `DEFENDER_SKIP_EXTERNAL=1` skips when they are missing.

// Each of the corpus's two test files uses a part of the harness.
#[allow(dead_code)]
#[path = "corpus/harness.rs"]
mod harness;

use bytes::Bytes;
use defender_core::{KvStore, RunRecord, Trigger};
use defender_engine::{ActionSpec, ActionTrigger, WebhookRequest};
use defender_runtime::QuickJsRuntime;
use harness::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axios_retry_retries_a_flaky_api() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("03-axios-retry-price").await;
    w.secrets(&[("PRICE_API_URL", &w.services.url)]).await;
    let result = success(&w.run("03-axios-retry-price", None).await);
    assert_eq!(
        result,
        json!({"status": 200, "symbol": "ETH", "price": 3456.78, "attempts": 3})
    );
    let hits = w.services.hits("/flaky/price");
    assert_eq!(hits.len(), 3, "two failures, then the answer");
    assert!(hits
        .iter()
        .all(|h| h.method == "GET" && h.query == "symbol=ETH&convert=USD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_request_queries_a_subgraph() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("05-graphql-request-subgraph").await;
    w.secrets(&[("SUBGRAPH_URL", &format!("{}/graphql", w.services.url))])
        .await;
    let result = success(&w.run("05-graphql-request-subgraph", None).await);
    assert_eq!(
        result,
        json!({"pair": "USDC/WETH", "tvl": 250000.5, "low": true})
    );
    let hits = w.services.hits("/graphql");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].method, "POST");
    let body = hits[0].json();
    assert!(body["query"]
        .as_str()
        .unwrap()
        .contains("totalValueLockedUSD"));
    assert_eq!(
        body["variables"],
        json!({"id": "0x8ad599c3a0ff1de082011efddc58f1908eb6e6d8"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hmac_signed_rest_call_verifies() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("06-hmac-signed-order").await;
    w.secrets(&[
        ("EXCHANGE_URL", &w.services.url),
        ("EXCHANGE_API_KEY", "exchange-key"),
        ("EXCHANGE_API_SECRET", EXCHANGE_SECRET),
    ])
    .await;
    let result = success(&w.run("06-hmac-signed-order", None).await);
    assert_eq!(result, json!({"orderId": 4242, "status": "NEW"}));
    let hits = w.services.hits("/api/v3/order");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].verified, Some(true), "the server verified the HMAC");
    assert_eq!(hits[0].json()["symbol"], "ETHUSDC");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_client_submits_a_metric() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("07-datadog-metric").await;
    w.secrets(&[
        ("DD_API_KEY", "dd-api-key-0123"),
        ("DD_SITE_URL", &w.services.url),
    ])
    .await;
    let result = success(&w.run("07-datadog-metric", None).await);
    assert_eq!(result, json!({"status": "ok"}));
    let hits = w.services.hits("/api/v1/series");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].method, "POST");
    assert_eq!(hits[0].headers["dd-api-key"], "dd-api-key-0123");
    let series = &hits[0].json()["series"][0];
    assert_eq!(series["metric"], "defender.relayer.balance");
    assert_eq!(series["type"], "gauge");
    assert_eq!(series["points"][0][1], 4.2);
    assert_eq!(
        series["tags"],
        json!(["network:mainnet", "relayer:hot-wallet"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intl_formatted_alert_reaches_slack() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("08-intl-slack-alert").await;
    let body = json!({"tvl": 1234567.891, "change": -0.0342});
    let expected = node(&format!(
        "const h = require('../../defender-engine/tests/corpus/08-intl-slack-alert/index.js').handler;
         let sent; h({{request: {{body: {body}}}}}, {{notificationClient: {{send: (m) => {{ sent = m; }}}}}})
           .then((r) => console.log(r));"
    ));
    assert_eq!(expected, "Vault TVL is $1,234,567.89 (-3.4% in 24h)");
    let result = success(&w.run("08-intl-slack-alert", Some(body)).await);
    assert_eq!(result, json!(expected));
    let slack = wait_hits(&w, "/slack", 1).await;
    let text = slack[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("Daily vault report"), "{text}");
    assert!(text.contains(&expected), "{text}");
}

async fn wait_hits(w: &World, path: &str, n: usize) -> Vec<harness::Hit> {
    for _ in 0..200 {
        let hits = w.services.hits(path);
        if hits.len() >= n {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} did not receive {n} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_value_store_keeps_values_across_runs() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("09-kv-counter").await;
    let first = w.run("09-kv-counter", None).await;
    let first_result = success(&first);
    assert_eq!(first_result["runs"], 1);
    assert_eq!(first_result["previous"], Value::Null, "nothing stored yet");
    assert_eq!(first_result["scratch"], "temporary");
    let second = success(&w.run("09-kv-counter", None).await);
    assert_eq!(second["runs"], 2);
    assert_eq!(
        second["previous"].as_str(),
        Some(first.action_run_id.as_str())
    );
    assert_eq!(second["scratch"], Value::Null, "deleted");
    success(&w.run("09-kv-counter", None).await);
    assert_eq!(
        w.engine.kv().get("runs").await.unwrap().as_deref(),
        Some("3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_the_api_and_never_the_logs() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("10-secret-api-key").await;
    w.secrets(&[
        ("PARTNER_API_URL", &w.services.url),
        ("PARTNER_API_TOKEN", PARTNER_TOKEN),
    ])
    .await;
    let run = w.run("10-secret-api-key", None).await;
    let result = success(&run);
    assert_eq!(
        result,
        json!({"status": 200, "positions": [{"market": "ETH-PERP", "size": 2.5}]})
    );
    let hits = w.services.hits("/v1/positions");
    assert_eq!(
        hits[0].headers["authorization"],
        format!("Bearer {PARTNER_TOKEN}")
    );
    let logs = logs(&run);
    assert!(
        logs.contains("calling the partner API with token [REDACTED]"),
        "{logs}"
    );
    assert!(!logs.contains(PARTNER_TOKEN), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_triggers_the_action() {
    let Some(w) = World::start().await else {
        return;
    };
    let token = w
        .engine
        .add_action(
            ActionSpec::new("hook", "Orders", action_source("12-webhook-trigger"))
                .trigger(ActionTrigger::Webhook),
        )
        .await
        .unwrap()
        .expect("a webhook token");
    w.secrets(&[("WEBHOOK_TOKEN", "shared-hook-token")]).await;
    let call = |header: &str| WebhookRequest {
        action_id: "hook".into(),
        token: token.clone(),
        method: "POST".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-request-id".into(), "req-0042".into()),
            ("x-webhook-token".into(), header.into()),
        ],
        query: vec![("source".into(), "shop".into())],
        body: Bytes::from_static(br#"{"orderId": "A-17", "amount": 21}"#),
    };
    let answer = w.engine.handle_webhook(call("shared-hook-token")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "success");
    let result: Value = serde_json::from_str(answer.body["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({"accepted": true, "orderId": "A-17", "doubled": 42, "source": "shop",
               "requestId": "req-0042"})
    );
    let refused = w.engine.handle_webhook(call("wrong")).await;
    let result: Value = serde_json::from_str(refused.body["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["accepted"], false);
    let runs = w.engine.runs("hook", 5).await.unwrap();
    assert!(runs.iter().all(|r| r.trigger == Trigger::Webhook));
}

/// Runs each corpus action, with its request body, on one engine with the runtime's default
/// fetch policy (internal addresses refused), and returns the runs in order; `None` when the
/// npm packages are missing.
async fn runs_under_the_default_policy(
    actions: &[(&str, Option<Value>)],
) -> Option<Vec<RunRecord>> {
    if !packages_ready() {
        return None;
    }
    let engine = defender_engine::Engine::builder(Arc::new(QuickJsRuntime::default()))
        .limits(limits())
        .build();
    let mut runs = Vec::new();
    for (name, body) in actions {
        engine
            .add_action(ActionSpec::new(*name, *name, action_source(name)))
            .await
            .unwrap();
        let run = engine
            .run_action(name, Trigger::Manual, body.clone())
            .await
            .unwrap();
        runs.push(run);
    }
    engine.shutdown();
    Some(runs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_internal_addresses_are_refused() {
    // The action, and the address its request names.
    let cases = [
        ("15-refused-metadata-fetch", "169.254.169.254"),
        ("16-refused-private-axios", "10.0.0.1"),
    ];
    let actions = cases.map(|(name, _)| (name, None));
    let Some(runs) = runs_under_the_default_policy(&actions).await else {
        return;
    };
    for ((name, address), run) in cases.iter().zip(&runs) {
        let message = failure(run);
        assert!(message.contains(address), "{name}: {message}");
        assert!(
            message.to_lowercase().contains("internal") || message.contains("refused"),
            "{name}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_builtin_is_a_clear_error() {
    let Some(runs) = runs_under_the_default_policy(&[("17-missing-builtin", None)]).await else {
        return;
    };
    let message = failure(&runs[0]);
    assert!(
        message.contains("'child_process.execSync' is not available in the action sandbox"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_executes_a_local_schema() {
    let body = json!({"positions": [
        {"market": "ETH", "size": 10.5, "healthFactor": 1.05},
        {"market": "BTC", "size": 1.5, "healthFactor": 1.8},
        {"market": "ARB", "size": 300.25, "healthFactor": 0.97}
    ]});
    let Some(runs) =
        runs_under_the_default_policy(&[("23-graphql-local-schema", Some(body))]).await
    else {
        return;
    };
    assert_eq!(
        success(&runs[0]),
        json!([{"market": "ETH", "size": 10.5}, {"market": "ARB", "size": 300.25}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_reaches_a_signed_webhook() {
    let Some(w) = World::start().await else {
        return;
    };
    w.add("24-signed-webhook-notification").await;
    let quiet = w
        .run(
            "24-signed-webhook-notification",
            Some(json!({"balance": "3", "threshold": "1", "account": "hot"})),
        )
        .await;
    assert_eq!(success(&quiet), json!({"alerted": false}));
    let result = success(
        &w.run(
            "24-signed-webhook-notification",
            Some(json!({"balance": "0.2", "threshold": "1", "account": "hot"})),
        )
        .await,
    );
    assert_eq!(result, json!({"alerted": true}));
    let hits = wait_hits(&w, "/webhook", 1).await;
    assert_eq!(hits.len(), 1, "one alert, for the low balance only");
    assert_eq!(hits[0].verified, Some(true), "Defender-Signature verifies");
    let body = hits[0].json();
    assert_eq!(body["subject"], "Low balance on hot");
    assert_eq!(body["message"], "Balance 0.2 ETH is below 1 ETH");
}
