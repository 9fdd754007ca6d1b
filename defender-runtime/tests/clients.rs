//! Defender's client modules bound to the core traits: key-value store, notifications,
//! relayer configuration errors, and `fetch` through the allowlist.

mod common;

use common::*;
use defender_core::{
    ActionRuntime, InMemoryKvStore, KvStore, NotifierRegistry, RecordingNotifier, RunError,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::json;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn kvstore_clients() {
    let rt = QuickJsRuntime::default();
    let kv = Arc::new(InMemoryKvStore::default());
    kv.put("preset", "from-host").await.unwrap();
    let code = script(
        r#"
const { KeyValueStoreClient } = require('defender-kvstore-client');
const scoped = require('@openzeppelin/defender-kvstore-client');
const { Defender } = require('@openzeppelin/defender-sdk');
exports.handler = async function(event) {
  const store = new KeyValueStoreClient(event);
  await store.put('myKey', 'myValue');
  const value = await store.get('myKey');
  await store.del('myKey');
  const gone = await store.get('myKey');
  const client = new Defender(event);
  await client.keyValueStore.put('sdk', 'yes');
  let typeError;
  try { await store.put('n', 5); } catch (e) { typeError = e.message; }
  let tooLong;
  try { await store.put('k'.repeat(2000), 'v'); } catch (e) { tooLong = e.code; }
  let local;
  try { new scoped.KeyValueStoreClient({ path: './store.json' }); } catch (e) { local = e.message; }
  return { value, gone: gone === undefined, preset: await store.get('preset'), sdk: await client.keyValueStore.get('sdk'), typeError, tooLong, local: !!local };
};"#,
    );
    let mut req = request(event());
    req.services.kv = kv.clone();
    let out = rt.run(&code, req).await;
    assert_eq!(
        out.result.unwrap(),
        json!({"value": "myValue", "gone": true, "preset": "from-host", "sdk": "yes", "typeError": "KeyValueStoreClient.put: value must be a string", "tooLong": "KVSTORE_ERROR", "local": true})
    );
    assert_eq!(kv.get("sdk").await.unwrap().as_deref(), Some("yes"));
    assert_eq!(kv.get("myKey").await.unwrap(), None);
}

#[tokio::test]
async fn notification_client() {
    let rt = QuickJsRuntime::default();
    let ops = Arc::new(RecordingNotifier::default());
    let failing = Arc::new(RecordingNotifier::default());
    failing.fail_with(Some("webhook down"));
    let registry = NotifierRegistry::default();
    registry.add("ops", ops.clone());
    registry.add("ops", failing.clone());
    registry.add("metrics", ops.clone());
    let code = script(
        r#"
exports.handler = async function(event, context) {
  const { notificationClient } = context;
  await notificationClient.send({ channelAlias: 'ops', subject: `From ${event.actionName}`, message: '<h1>hi</h1>' });
  await notificationClient.sendMetric({ channelAlias: 'metrics', name: 'datadog-test-metric', value: 1 });
  let unknown;
  try { await notificationClient.send({ channelAlias: 'nobody', subject: 's', message: 'm' }); } catch (e) { unknown = e.message; }
  return { unknown };
};"#,
    );
    let mut req = request(event());
    req.services.notifiers = Arc::new(registry);
    let out = rt.run(&code, req).await;
    let v = out.result.unwrap();
    assert!(v["unknown"].as_str().unwrap().contains("nobody"), "{v}");
    let msgs = ops.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].subject, "From Test action");
    assert_eq!(msgs[0].body, "<h1>hi</h1>");
    let metrics = ops.metrics();
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].name, "datadog-test-metric");
    assert_eq!(metrics[0].value, 1.0);
    // The failed delivery is logged, not thrown.
    assert!(
        out.logs.iter().any(|l| l.message.contains("webhook down")),
        "{:?}",
        out.logs
    );
}

/// A channel that takes its time, then records what it was sent.
#[derive(Debug, Default)]
struct SlowNotifier {
    inner: RecordingNotifier,
}

#[async_trait::async_trait]
impl defender_core::Notifier for SlowNotifier {
    fn kind(&self) -> &str {
        "slow"
    }
    async fn send(
        &self,
        message: &defender_core::Message,
    ) -> Result<(), defender_core::NotifyError> {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        self.inner.send(message).await
    }
    async fn send_metric(
        &self,
        metric: &defender_core::Metric,
    ) -> Result<(), defender_core::NotifyError> {
        self.inner.send_metric(metric).await
    }
}

/// Defender's own example calls `notificationClient.send` without awaiting it: the message
/// still goes out after the handler returned, and nothing of it reaches the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_not_awaited_is_still_sent() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(4));
    let slow = Arc::new(SlowNotifier::default());
    let registry = Arc::new(NotifierRegistry::default());
    registry.add("ops", slow.clone());
    let code = script(
        r#"
exports.handler = async function(event, context) {
  context.notificationClient.send({ channelAlias: 'ops', subject: 'fire', message: 'and forget' });
  return 'returned first';
};"#,
    );
    let mut req = request(event());
    req.services.notifiers = registry.clone();
    let out = rt.run(&code, req).await;
    assert_eq!(out.result.unwrap(), json!("returned first"));
    assert!(
        slow.inner.messages().is_empty(),
        "sent before the run ended"
    );
    // The next run of the same (warm) context sees nothing of it.
    let mut req = request(event());
    req.services.notifiers = registry;
    let next = rt
        .run(&script("exports.handler = async () => 'second';"), req)
        .await;
    assert_eq!(next.result.unwrap(), json!("second"));
    for _ in 0..100 {
        if !slow.inner.messages().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sent = slow.inner.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, "and forget");
    assert!(next.logs.is_empty(), "{:?}", next.logs);
}

#[tokio::test]
async fn relayer_without_link_is_a_configuration_error() {
    let rt = QuickJsRuntime::default();
    let out = run(&rt, "const { Defender } = require('@openzeppelin/defender-sdk');\nexports.handler = async (event) => new Defender(event).relaySigner.sendTransaction({ to: '0xc7464dbcA260A8faF033460622B23467Df5AEA42', value: 1, speed: 'fast', gasLimit: 21000 });").await;
    let err = out.result.unwrap_err();
    assert!(matches!(err, RunError::RelayerConfiguration(_)), "{err:?}");
    assert_eq!(
        err.error_type(),
        defender_core::ErrorType::RelayerConfiguration
    );
    // Caught by the code, it is an ordinary error with a code.
    let out = run(&rt, "const { Relayer } = require('defender-relay-client');\nexports.handler = async (event) => { try { await new Relayer(event).getRelayer(); } catch (e) { return e.code; } };").await;
    assert_eq!(out.result.unwrap(), json!("RELAYER_CONFIGURATION"));
}

/// A one-route HTTP server on 127.0.0.1 that echoes the request line and body as JSON.
async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                let first = text.lines().next().unwrap_or_default().to_string();
                let body = text
                    .split("\r\n\r\n")
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let resp = json!({"line": first, "body": body}).to_string();
                let out = format!("HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nx-test: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}", resp.len(), resp);
                let _ = sock.write_all(out.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_through_the_allowlist() {
    let port = echo_server().await;
    let rt = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(format!("127.0.0.1:{port}")));
    let code = script(&format!(
        r#"
exports.handler = async () => {{
  const res = await fetch('http://127.0.0.1:{port}/path?q=1', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }}, body: JSON.stringify({{ a: 1 }}) }});
  const data = await res.json();
  let denied;
  try {{ await fetch('http://localhost:{port}/'); }} catch (e) {{ denied = e.message; }}
  return {{ status: res.status, ok: res.ok, header: res.headers.get('X-Test'), data, denied }};
}};"#
    ));
    let out = rt.run(&code, request(event())).await;
    let v = out.result.unwrap();
    assert_eq!(v["status"], json!(201));
    assert_eq!(v["ok"], json!(true));
    assert_eq!(v["header"], json!("yes"));
    assert_eq!(v["data"]["line"], json!("POST /path?q=1 HTTP/1.1"));
    assert_eq!(v["data"]["body"], json!("{\"a\":1}"));
    assert!(v["denied"].as_str().unwrap().contains("not allowed"), "{v}");
    // With no allowlist, public addresses only: a local one is refused.
    let rt = QuickJsRuntime::default();
    let out = run(
        &rt,
        &format!("exports.handler = () => fetch('http://127.0.0.1:{port}/');"),
    )
    .await;
    assert!(
        matches!(out.result, Err(RunError::Thrown { ref message, .. }) if message.contains("not allowed")),
        "{:?}",
        out.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_parallel_runs_do_not_block_the_executor() {
    let rt = Arc::new(QuickJsRuntime::default());
    let code = script("exports.handler = async (e) => { await new Promise((r) => setTimeout(r, 100)); return e.actionRunId; };");
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (rt, code) = (rt.clone(), code.clone());
            tokio::spawn(async move {
                let mut ev = event();
                ev.action_run_id = format!("run-{i}");
                rt.run(&code, request(ev)).await.result.unwrap()
            })
        })
        .collect();
    // The executor stays responsive while scripts wait.
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), json!(format!("run-{i}")));
    }
    let _ = started;
}
