//! Failure paths against real HTTP servers on 127.0.0.1: 429 with `Retry-After`, 500, hanging
//! servers, refused connections; the attempts are counted on the server side.

mod common;

use common::{Recorder, Reply};
use defender_core::{Message, Notifier, NotifyError};
use defender_notify::{build, verify_signature, ChannelConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn slack(url: String, retry: serde_json::Value) -> Arc<defender_core::DynNotifier> {
    let c: ChannelConfig = serde_json::from_value(
        json!({ "type": "slack", "config": { "url": url, "retry": retry } }),
    )
    .expect("config");
    build(&c).expect("build")
}

fn fast_retry() -> serde_json::Value {
    json!({ "maxAttempts": 4, "initialBackoffMs": 10, "maxBackoffMs": 50, "attemptTimeoutMs": 2000, "deadlineMs": 10000 })
}

/// Generous bound: the call must come back (never a timing assertion on speed).
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the send returned within its bound")
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let server = Recorder::start().await;
    server.script([Reply::Status(
        429,
        vec![("retry-after", "1".into())],
        "slow down".into(),
    )]);
    let ch = slack(server.url("/hook"), fast_retry());
    let started = std::time::Instant::now();
    bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect("second attempt succeeds");
    let got = server.received();
    assert_eq!(got.len(), 2, "one 429 then one 200");
    assert_eq!(got[0].body, got[1].body, "the same request is sent again");
    // Retry-After: 1 was honoured rather than the 10 ms backoff.
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_500_is_retried_with_backoff() {
    let server = Recorder::start().await;
    server.script([Reply::status(500), Reply::status(503)]);
    let ch = slack(server.url("/hook"), fast_retry());
    bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect("third attempt succeeds");
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn persistent_500s_use_every_attempt_then_report() {
    let server = Recorder::start().await;
    server.set_default(Reply::Status(500, vec![], "internal error".into()));
    let ch = slack(server.url("/hook"), fast_retry());
    let err = bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect_err("fails");
    match err {
        NotifyError::Delivery {
            channel,
            attempts,
            message,
        } => {
            assert_eq!(channel, "slack");
            assert_eq!(attempts, 4);
            assert!(
                message.contains("500") && message.contains("internal error"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received().len(), 4);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = Recorder::start().await;
    server.set_default(Reply::Status(400, vec![], "invalid_payload".into()));
    let ch = slack(server.url("/hook"), fast_retry());
    let err = bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect_err("fails");
    assert!(
        matches!(err, NotifyError::Delivery { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_hanging_server_is_cut_by_timeouts_and_the_deadline() {
    let server = Recorder::start().await;
    server.set_default(Reply::Hang);
    let ch = slack(
        server.url("/hook"),
        json!({ "maxAttempts": 10, "initialBackoffMs": 10, "maxBackoffMs": 10, "attemptTimeoutMs": 300, "deadlineMs": 1000 }),
    );
    let err = bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect_err("times out");
    let NotifyError::Delivery {
        attempts, message, ..
    } = err
    else {
        panic!("{err:?}")
    };
    // 300 ms per attempt within a 1 s deadline: three or four attempts, never ten.
    assert!((2..=4).contains(&attempts), "{attempts}: {message}");
    assert!(
        message.contains("timed out") || message.contains("deadline"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        server.received().len() as u32,
        attempts,
        "every attempt reached the server"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let server = Recorder::start().await;
    server.set_default(Reply::Status(
        429,
        vec![("retry-after", "3600".into())],
        "later".into(),
    ));
    let ch = slack(server.url("/hook"), fast_retry());
    let err = bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect_err("gives up");
    let NotifyError::Delivery {
        attempts, message, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(attempts, 1);
    assert!(
        message.contains("429") && message.contains("deadline"),
        "{message}"
    );
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let port = common::free_port();
    let ch = slack(format!("http://127.0.0.1:{port}/hook"), fast_retry());
    let err = bounded(ch.send(&Message::new("s", "b")))
        .await
        .expect_err("refused");
    let NotifyError::Delivery {
        attempts, message, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(attempts, 4);
    assert!(message.contains("connect"), "{message}");
    assert!(
        !message.contains(&port.to_string()),
        "no URL in errors: {message}"
    );
}

#[tokio::test]
async fn webhook_retries_are_signed_afresh() {
    let server = Recorder::start().await;
    server.script([Reply::status(502)]);
    let c: ChannelConfig = serde_json::from_value(json!({ "type": "webhook", "config": {
        "url": server.url("/w"), "secret": "k", "retry": fast_retry()
    } }))
    .unwrap();
    bounded(build(&c).unwrap().send(&Message::new("s", "b")))
        .await
        .expect("send");
    let got = server.received();
    assert_eq!(got.len(), 2);
    for r in &got {
        verify_signature(
            b"k",
            r.header("defender-timestamp").unwrap(),
            &r.body,
            r.header("defender-signature").unwrap(),
            None,
        )
        .expect("each attempt is signed");
    }
}

#[tokio::test]
async fn telegram_429_with_retry_after_then_success() {
    let server = Recorder::start().await;
    server.script([Reply::Status(
        429,
        vec![("retry-after", "0".into())],
        r#"{"ok":false,"error_code":429,"parameters":{"retry_after":0}}"#.into(),
    )]);
    let c: ChannelConfig = serde_json::from_value(json!({ "type": "telegram", "config": {
        "botToken": "1:t", "chatId": "1", "baseUrl": server.url(""), "retry": fast_retry()
    } }))
    .unwrap();
    bounded(build(&c).unwrap().send(&Message::new("s", "b")))
        .await
        .expect("send");
    assert_eq!(server.received().len(), 2);
}
