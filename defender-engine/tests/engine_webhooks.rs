//! The engine's webhooks: Defender's answers (403, 413, 415, 409, `pending`), slow runs that
//! go on after a `pending` answer, and the axum router over HTTP.
//!
//! The runtime here is a scripted `ActionRuntime` (see `engine_support`).

mod engine_support;

use defender_core::RunStatus;
use defender_engine::{ActionSpec, ActionTrigger, Engine};
use engine_support::{webhook, Scripted};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn webhook_answers_as_defender_did() {
    let rt = Scripted::new(Duration::ZERO, |_, req| {
        let r = req.event.request.clone().unwrap();
        Ok(json!({"body": r.body, "headers": r.headers, "query": r.query_parameters}))
    });
    let engine = Engine::builder(rt).webhook_body_limit(1024).build();
    let token = engine
        .add_action(ActionSpec::new("hook", "hook", "c").trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .expect("a webhook action has a token");
    assert_eq!(token.len(), 64);

    let ok = engine
        .handle_webhook(webhook(&token, r#"{"value":"42"}"#))
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["status"], "success");
    assert_eq!(ok.body["trigger"], "webhook");
    assert_eq!(ok.body["autotaskId"], "hook");
    assert!(ok.body["encodedLogs"]
        .as_str()
        .is_some_and(|l| !l.is_empty()));
    let result: Value = serde_json::from_str(ok.body["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["body"], json!({"value": "42"}));
    assert_eq!(
        result["headers"],
        json!({"X-Request-Id": "abc", "stripe-signature": "sig"}),
        "only X- and Stripe- headers pass"
    );
    assert_eq!(result["query"], json!({"source": "ci"}));
    assert_eq!(ok.body["requestId"], ok.body["autotaskRunId"]);

    let mut get = webhook(&token, "");
    get.method = "GET".into();
    let a = engine.handle_webhook(get).await;
    assert_eq!(
        (a.status, a.body.clone()),
        (403, json!({"message": "Missing Authentication Token"}))
    );

    let a = engine.handle_webhook(webhook("wrong", "{}")).await;
    assert_eq!(a.status, 403);
    let a = engine.handle_webhook(webhook(&token[..63], "{}")).await;
    assert_eq!(a.status, 403);

    let a = engine.handle_webhook(webhook(&token, "value=42")).await;
    assert_eq!(a.status, 415);
    let mut text = webhook(&token, r#"{"a":1}"#);
    text.headers[0].1 = "text/plain".into();
    assert_eq!(engine.handle_webhook(text).await.status, 415);

    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(2000));
    assert_eq!(
        engine.handle_webhook(webhook(&token, &big)).await.status,
        413
    );

    // An empty body runs with no body.
    let empty = engine.handle_webhook(webhook(&token, "")).await;
    assert_eq!(empty.status, 200);

    // A regenerated token replaces the old one at once.
    let fresh = engine.regenerate_webhook_token("hook").await.unwrap();
    assert_eq!(
        engine.handle_webhook(webhook(&token, "{}")).await.status,
        403
    );
    assert_eq!(
        engine.handle_webhook(webhook(&fresh, "{}")).await.status,
        200
    );

    engine.set_action_paused("hook", true).unwrap();
    assert_eq!(
        engine.handle_webhook(webhook(&fresh, "{}")).await.status,
        409
    );
}

#[tokio::test]
async fn slow_webhook_runs_answer_pending_and_go_on() {
    let rt = Scripted::new(Duration::from_millis(600), |_, _| Ok(json!("done")));
    let engine = Engine::builder(rt)
        .webhook_pending_after(Duration::from_millis(100))
        .build();
    let token = engine
        .add_action(ActionSpec::new("hook", "hook", "c").trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .unwrap();
    let a = engine.handle_webhook(webhook(&token, "{}")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], "pending");
    assert!(a.body.get("result").is_none());
    let run_id = a.body["autotaskRunId"].as_str().unwrap().to_owned();
    let history = engine.runs("hook", 1).await.unwrap();
    assert_eq!(history[0].status, RunStatus::Pending);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let history = engine.runs("hook", 1).await.unwrap();
    assert_eq!(history[0].action_run_id, run_id);
    assert_eq!(history[0].status, RunStatus::Success);
    assert_eq!(history[0].result.as_deref(), Some("\"done\""));
}

#[cfg(feature = "webhook-server")]
#[tokio::test]
async fn axum_router_serves_webhooks_over_http() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let engine = Engine::builder(Scripted::echo()).build();
    let token = engine
        .add_action(ActionSpec::new("hook", "hook", "c").trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = defender_engine::webhook_router(engine.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    async fn send(addr: std::net::SocketAddr, raw: String) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }
    let body = r#"{"hello":"world"}"#;
    let post = format!(
        "POST /actions/hook/runs/webhook/{token}?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Trace: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = send(addr, post).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json_start = answer.find("\r\n\r\n").unwrap() + 4;
    let v: Value = serde_json::from_str(&answer[json_start..]).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["result"], body);

    let get = format!(
        "GET /actions/hook/runs/webhook/{token} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let answer = send(addr, get).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("Missing Authentication Token"));
}

/// Reads one HTTP/1.1 response (status line and headers, then `Content-Length` bytes of
/// body) without waiting for the connection to close.
#[cfg(feature = "webhook-server")]
async fn read_response(stream: &mut tokio::net::TcpStream) -> (String, Value) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("the answer has a Content-Length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed in the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = head.lines().next().unwrap_or_default().to_owned();
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap();
    (status, body)
}

#[cfg(feature = "webhook-server")]
#[tokio::test]
async fn webhook_router_answers_before_reading_the_body_of_a_wrong_token() {
    use tokio::io::AsyncWriteExt;
    let engine = Engine::builder(Scripted::echo())
        .webhook_body_limit(1024)
        .build();
    let token = engine
        .add_action(ActionSpec::new("hook", "hook", "c").trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = defender_engine::webhook_router(engine.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Declares a 50 MB body and sends none of it: the answer must come anyway.
    async fn declare_huge_body(addr: std::net::SocketAddr, path: &str) -> (String, Value) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(20), read_response(&mut s))
            .await
            .expect("no answer before the body was sent")
    }
    let denied = json!({"message": "Missing Authentication Token"});
    let wrong = "0".repeat(64);
    for path in [
        format!("/actions/hook/runs/webhook/{wrong}"),
        format!("/actions/hook/runs/webhook/{}", &token[..63]),
        format!("/actions/missing/runs/webhook/{token}"),
    ] {
        let (status, body) = declare_huge_body(addr, &path).await;
        assert!(status.starts_with("HTTP/1.1 403"), "{path}: {status}");
        assert_eq!(body, denied, "{path}");
    }

    // The right token with a declared body over the limit: 413, also without the body.
    let (status, body) =
        declare_huge_body(addr, &format!("/actions/hook/runs/webhook/{token}")).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(body["message"], "Request Entity Too Large");

    // A chunked body (no Content-Length) over the limit: 413.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(2000));
    let raw = format!(
        "POST /actions/hook/runs/webhook/{token} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    s.write_all(raw.as_bytes()).await.unwrap();
    let (status, _) = tokio::time::timeout(Duration::from_secs(20), read_response(&mut s))
        .await
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // The right token with a good body still runs.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"hello":"world"}"#;
    let raw = format!(
        "POST /actions/hook/runs/webhook/{token} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(raw.as_bytes()).await.unwrap();
    let (status, answer) = tokio::time::timeout(Duration::from_secs(20), read_response(&mut s))
        .await
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["result"], body);
    let runs = engine.runs("hook", 30).await.unwrap();
    assert_eq!(runs.len(), 1, "only the authorized, well-sized request ran");
}
