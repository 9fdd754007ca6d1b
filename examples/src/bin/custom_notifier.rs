//! A notification channel of your own: implement `Notifier`, register it under an alias, and
//! actions (`context.notificationClient.send`) and monitors reach it like any built-in channel.
//!
//! Run with `cargo run -p defender-examples --bin custom_notifier`.

use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifierRegistry, NotifyError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Writes notifications to standard output, numbered.
#[derive(Debug, Default)]
struct Stdout {
    sent: AtomicUsize,
}

#[async_trait]
impl Notifier for Stdout {
    fn kind(&self) -> &str {
        "stdout"
    }

    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        println!("[stdout #{n}] {}\n{}", m.subject, m.body);
        Ok(())
    }

    async fn send_metric(&self, m: &Metric) -> Result<(), NotifyError> {
        println!("[stdout metric] {} = {} {:?}", m.name, m.value, m.tags);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), NotifyError> {
    let registry = NotifierRegistry::default();
    let stdout = Arc::new(Stdout::default());
    registry.add("ops", stdout.clone());

    let report = registry
        .send(
            "ops",
            &Message::new("Action notification example", "Hello from **Rust**"),
        )
        .await?;
    assert!(report.all_delivered());
    registry
        .send_metric(
            "ops",
            &Metric {
                name: "datadog-test-metric".into(),
                value: 1.0,
                tags: vec![("network".into(), "mainnet".into())],
            },
        )
        .await?;

    // As in Defender: a paused or unknown alias is an error the caller sees.
    registry.set_paused("ops", true);
    match registry.send("ops", &Message::new("x", "y")).await {
        Err(NotifyError::Paused(alias)) => println!("alias `{alias}` is paused, as expected"),
        other => panic!("expected a paused error, got {other:?}"),
    }
    println!("sent {} message(s)", stdout.sent.load(Ordering::SeqCst));
    Ok(())
}
