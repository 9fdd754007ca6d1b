//! The email channel against a real SMTP server on 127.0.0.1: Python's aiosmtpd, started here,
//! in plain, STARTTLS and implicit-TLS modes (a self-signed certificate made with rcgen, trusted
//! through the channel's `caCertPem`).
//!
//! Needs `python3` with `aiosmtpd` (`apt-get install python3-aiosmtpd` or `pip install aiosmtpd`);
//! `DEFENDER_SMTP_PYTHON` names the interpreter. `DEFENDER_SKIP_EXTERNAL=1` skips these tests.

#![cfg(feature = "email")]

mod common;

use defender_core::{AlertFormatter, Message, Notifier, NotifyError};
use defender_notify::{build, ChannelConfig, TemplateFormatter};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

struct SmtpServer {
    port: u16,
    mails: mpsc::UnboundedReceiver<Value>,
    /// DATA commands seen (accepted or not).
    attempts: Arc<AtomicU32>,
    cert_pem: Option<String>,
    _child: Child,
    _dir: tempfile::TempDir,
}

fn python() -> Option<String> {
    let mut candidates = vec![];
    if let Ok(p) = std::env::var("DEFENDER_SMTP_PYTHON") {
        candidates.push(p);
    }
    candidates.extend(["python3".to_owned(), "/usr/bin/python3".to_owned()]);
    candidates.into_iter().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl SmtpServer {
    /// Starts aiosmtpd in `mode` (`plain`, `starttls`, `tls`); `None` when skipped.
    async fn start(mode: &str) -> Option<SmtpServer> {
        Self::start_with(mode, &[]).await
    }

    /// Starts aiosmtpd with extra environment (`SMTP_FAIL_FIRST`, `SMTP_REJECT`).
    async fn start_with(mode: &str, env: &[(&str, &str)]) -> Option<SmtpServer> {
        let Some(python) = python() else {
            if common::skip_external() {
                eprintln!(
                    "DEFENDER_SKIP_EXTERNAL=1: skipping the SMTP test (no python3 with aiosmtpd)"
                );
                return None;
            }
            panic!(
                "no python3 with aiosmtpd found: install it (`apt-get install python3-aiosmtpd` or \
                 `pip install aiosmtpd`), set DEFENDER_SMTP_PYTHON, or set DEFENDER_SKIP_EXTERNAL=1"
            );
        };
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let port = common::free_port();
        let mut args = vec![
            script.display().to_string(),
            port.to_string(),
            mode.to_owned(),
        ];
        let mut cert_pem = None;
        if mode != "plain" {
            let ck = rcgen::generate_simple_self_signed(vec![
                "127.0.0.1".to_owned(),
                "localhost".to_owned(),
            ])
            .unwrap();
            let cert = dir.path().join("cert.pem");
            let key = dir.path().join("key.pem");
            std::fs::write(&cert, ck.cert.pem()).unwrap();
            std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
            args.push(cert.display().to_string());
            args.push(key.display().to_string());
            cert_pem = Some(ck.cert.pem());
        }
        let mut child = Command::new(python)
            .args(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("SMTP server started in time")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("READY"), "SMTP server did not start");
        let (tx, rx) = mpsc::unbounded_channel();
        let attempts = Arc::new(AtomicU32::new(0));
        let seen = attempts.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v.get("attempt").is_some() {
                        seen.fetch_add(1, Ordering::SeqCst);
                    } else {
                        let _ = tx.send(v);
                    }
                }
            }
        });
        Some(SmtpServer {
            port,
            mails: rx,
            attempts,
            cert_pem,
            _child: child,
            _dir: dir,
        })
    }

    async fn next_mail(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(20), self.mails.recv())
            .await
            .expect("a mail arrived")
            .expect("server running")
    }
}

fn email_channel(
    server: &SmtpServer,
    security: &str,
    emails: Value,
) -> Arc<defender_core::DynNotifier> {
    let mut config = json!({
        "emails": emails,
        "from": "Defender Alerts <alerts@defender.test>",
        "host": "127.0.0.1",
        "port": server.port,
        "security": security,
        "retry": { "maxAttempts": 2, "attemptTimeoutMs": 10000, "deadlineMs": 20000 }
    });
    if let Some(pem) = &server.cert_pem {
        config["caCertPem"] = json!(pem);
    }
    let c: ChannelConfig =
        serde_json::from_value(json!({ "type": "email", "config": config })).unwrap();
    build(&c).expect("email channel")
}

fn print_mail(title: &str, mail: &Value) {
    println!("===== {title}: mail received by aiosmtpd on 127.0.0.1 =====");
    println!("{}", serde_json::to_string_pretty(mail).unwrap());
    println!("===== end {title} =====");
}

#[tokio::test]
async fn plain_smtp_delivers_an_html_alert_to_every_recipient() {
    let Some(mut server) = SmtpServer::start("plain").await else {
        return;
    };
    let ch = email_channel(
        &server,
        "none",
        json!("dev@example.com, ops@example.com; Sec Team <sec@example.com>"),
    );
    assert_eq!(ch.kind(), "email");
    let message = TemplateFormatter::new()
        .format(
            &common::example_alert(),
            Some("{{ monitor.name }}: {{ matchReasons[0].params.value }} moved"),
            Some("**Network** {{ network }}\n_Block_ {{ blockNumber }}\n[Explorer]({{ transaction.link }}) & <more>"),
        )
        .unwrap();
    ch.send(&message).await.expect("delivered");
    let mail = server.next_mail().await;
    print_mail("email (plain SMTP)", &mail);
    assert_eq!(mail["mail_from"], "alerts@defender.test");
    assert_eq!(
        mail["rcpt_tos"],
        json!(["dev@example.com", "ops@example.com", "sec@example.com"])
    );
    assert_eq!(mail["subject"], "Large transfer: 5000 moved");
    assert_eq!(mail["from"], "Defender Alerts <alerts@defender.test>");
    assert_eq!(mail["content_type"], "multipart/alternative");
    assert_eq!(mail["tls"], false);
    let html = mail["html"].as_str().expect("html part");
    assert!(
        html.contains(
            "<strong>Network</strong> mainnet<br>\n<em>Block</em> 19000000<br>\n<a href=\"https://etherscan.io/tx/0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50\">Explorer</a> &amp; &lt;more&gt;"
        ),
        "{html}"
    );
    let text = mail["text"].as_str().expect("text part");
    assert!(
        text.starts_with(
            "Network mainnet\nBlock 19000000\nExplorer (https://etherscan.io/tx/0x1dc9"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn starttls_delivers_an_action_html_body_as_is() {
    let Some(mut server) = SmtpServer::start("starttls").await else {
        return;
    };
    let ch = email_channel(&server, "starttls", json!(["dev@example.com"]));
    let body = "<h1>Transaction sent from Action my-action</h1>\n<p>Transaction with hash <i>0xabc</i> was sent.</p>";
    ch.send(&Message::new(
        "Transaction sent from Action my-action",
        body,
    ))
    .await
    .expect("delivered");
    let mail = server.next_mail().await;
    print_mail("email (STARTTLS)", &mail);
    assert_eq!(mail["tls"], true, "the session was upgraded");
    assert_eq!(mail["rcpt_tos"], json!(["dev@example.com"]));
    assert_eq!(mail["subject"], "Transaction sent from Action my-action");
    assert!(mail["html"].as_str().unwrap().contains(body));
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains("Transaction with hash 0xabc was sent."));
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let Some(mut server) = SmtpServer::start("tls").await else {
        return;
    };
    let ch = email_channel(&server, "tls", json!("dev@example.com"));
    ch.send(&Message::new("over TLS", "hello *world*"))
        .await
        .expect("delivered");
    let mail = server.next_mail().await;
    print_mail("email (implicit TLS)", &mail);
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["subject"], "over TLS");
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains("hello <em>world</em>"));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let Some(server) = SmtpServer::start("starttls").await else {
        return;
    };
    let c: ChannelConfig = serde_json::from_value(json!({ "type": "email", "config": {
        "emails": "dev@example.com", "from": "a@b.test", "host": "127.0.0.1", "port": server.port,
        "security": "starttls", "retry": { "maxAttempts": 2, "initialBackoffMs": 10 }
    } }))
    .unwrap();
    let err = build(&c)
        .unwrap()
        .send(&Message::new("s", "b"))
        .await
        .expect_err("untrusted");
    assert!(matches!(err, NotifyError::Delivery { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported() {
    let port = common::free_port();
    let c: ChannelConfig = serde_json::from_value(json!({ "type": "email", "config": {
        "emails": "dev@example.com", "from": "a@b.test", "host": "127.0.0.1", "port": port,
        "security": "none", "retry": { "maxAttempts": 3, "initialBackoffMs": 10, "maxBackoffMs": 20 }
    } }))
    .unwrap();
    let err = build(&c)
        .unwrap()
        .send(&Message::new("s", "b"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, NotifyError::Delivery { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_temporary_smtp_failure_is_retried() {
    let Some(mut server) = SmtpServer::start_with("plain", &[("SMTP_FAIL_FIRST", "1")]).await
    else {
        return;
    };
    let c: ChannelConfig = serde_json::from_value(json!({ "type": "email", "config": {
        "emails": "dev@example.com", "from": "a@b.test", "host": "127.0.0.1", "port": server.port,
        "security": "none", "retry": { "maxAttempts": 3, "initialBackoffMs": 10, "maxBackoffMs": 20 }
    } }))
    .unwrap();
    build(&c)
        .unwrap()
        .send(&Message::new("retry me", "b"))
        .await
        .expect("second attempt");
    let mail = server.next_mail().await;
    assert_eq!(mail["subject"], "retry me");
    assert_eq!(
        server.attempts.load(Ordering::SeqCst),
        2,
        "a 451, then accepted"
    );
}

#[tokio::test]
async fn a_permanent_smtp_rejection_is_not_retried() {
    let Some(server) = SmtpServer::start_with("plain", &[("SMTP_REJECT", "1")]).await else {
        return;
    };
    let c: ChannelConfig = serde_json::from_value(json!({ "type": "email", "config": {
        "emails": "dev@example.com", "from": "a@b.test", "host": "127.0.0.1", "port": server.port,
        "security": "none", "retry": { "maxAttempts": 3, "initialBackoffMs": 10 }
    } }))
    .unwrap();
    let err = build(&c)
        .unwrap()
        .send(&Message::new("s", "b"))
        .await
        .expect_err("rejected");
    let NotifyError::Delivery {
        attempts, message, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(attempts, 1);
    assert!(
        message.contains("550") || message.contains("rejected"),
        "{message}"
    );
    // The server's stdout reader may lag the client by a moment.
    for _ in 0..50 {
        if server.attempts.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn starttls_with_authentication() {
    let Some(mut server) =
        SmtpServer::start_with("starttls", &[("SMTP_AUTH", "alice:s3cret")]).await
    else {
        return;
    };
    let (port, pem) = (server.port, server.cert_pem.clone().unwrap());
    let config = |password: &str| -> ChannelConfig {
        serde_json::from_value(json!({ "type": "email", "config": {
            "emails": "dev@example.com", "from": "a@b.test", "host": "127.0.0.1", "port": port,
            "security": "starttls", "username": "alice", "password": password,
            "caCertPem": pem,
            "retry": { "maxAttempts": 3, "initialBackoffMs": 10 }
        } }))
        .unwrap()
    };
    build(&config("s3cret"))
        .unwrap()
        .send(&Message::new("authenticated", "b"))
        .await
        .expect("delivered");
    let mail = server.next_mail().await;
    assert_eq!(mail["auth"], "alice");
    assert_eq!(mail["tls"], true);
    let err = build(&config("wrong"))
        .unwrap()
        .send(&Message::new("s", "b"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, NotifyError::Delivery { attempts: 1, .. }),
        "535 is permanent: {err:?}"
    );
}
