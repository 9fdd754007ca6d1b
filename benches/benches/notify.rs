//! defender-notify: rendering Defender's default alert and custom templates (minijinja), the
//! per-channel Markdown conversions, webhook signing, and one signed webhook delivery end to end
//! to a minimal HTTP/1.1 server on 127.0.0.1 (keep-alive).
//!
//! Run: `cargo bench -p defender-benches --bench notify`

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use defender_core::{AlertFormatter, MonitorMatch, Notifier};
use defender_notify::{markdown, signature, ChannelConfig, TemplateFormatter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn alert() -> MonitorMatch {
    serde_json::from_value(defender_notify::template::example_match()).expect("example match")
}

fn templates(c: &mut Criterion) {
    let f = TemplateFormatter::new();
    let a = alert();
    c.bench_function("notify/format default alert", |b| {
        b.iter(|| f.format(black_box(&a), None, None).expect("format"))
    });
    let subject = "{{ monitor.name }} on {{ network }}";
    let body = "Transfer of {{ matchReasons[0].params.value }} in block {{ blockNumber }}: {{ transaction.link }}";
    c.bench_function("notify/format custom templates", |b| {
        b.iter(|| {
            f.format(black_box(&a), Some(subject), Some(body))
                .expect("format")
        })
    });
}

fn conversions(c: &mut Criterion) {
    let body = TemplateFormatter::new()
        .format(&alert(), None, None)
        .expect("format")
        .body;
    c.bench_function("notify/markdown to slack", |b| {
        b.iter(|| markdown::to_slack(black_box(&body)))
    });
    c.bench_function("notify/markdown to telegram", |b| {
        b.iter(|| markdown::to_telegram(black_box(&body)))
    });
    c.bench_function("notify/markdown to html", |b| {
        b.iter(|| markdown::to_html(black_box(&body)))
    });
    let payload = serde_json::to_vec(
        &serde_json::json!({ "subject": "s", "message": body, "event": alert() }),
    )
    .expect("json");
    c.bench_function("notify/sign webhook body", |b| {
        b.iter(|| signature::sign(b"secret", "1700000000000", black_box(&payload)))
    });
}

/// A minimal keep-alive HTTP/1.1 server answering 200 to every request.
async fn serve(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(8192);
            let mut chunk = [0u8; 8192];
            loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        break;
                    }
                    buf.drain(..end + 4 + len);
                    if sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
    }
}

fn delivery(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(serve(listener));
    let config: ChannelConfig = serde_json::from_value(serde_json::json!({
        "type": "webhook", "config": { "url": format!("http://{addr}/hook"), "secret": "s" }
    }))
    .expect("config");
    let channel = defender_notify::build(&config).expect("channel");
    let message = TemplateFormatter::new()
        .format(&alert(), None, None)
        .expect("format");
    c.bench_function("notify/signed webhook send (loopback)", |b| {
        b.to_async(&rt)
            .iter(|| async { channel.send(black_box(&message)).await.expect("send") })
    });
}

criterion_group!(benches, templates, conversions, delivery);
criterion_main!(benches);
