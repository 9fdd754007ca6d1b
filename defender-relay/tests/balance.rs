//! The `min-balance` watch against a real anvil: one alert when a send takes the balance below
//! the minimum, none while it stays there however often it is read, another after it went
//! back above and fell again.

mod common;
mod relay_support;

use alloy_primitives::U256;
use common::servers::*;
use common::*;
use defender_core::{Notifier, RecordingNotifier, Relayer};
use defender_relay::{BalanceWatch, BalanceWatchConfig};
use relay_support::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Anvil's fourth account, with the balance the test gives it.
const KEY4: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const ADDRESS4: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
/// One ether, in wei.
const ETH: u64 = 1_000_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_crossing_below_the_minimum() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    anvil.set_balance(ADDRESS4, (2 * ETH).into()).await;
    let (url, reads) = counting_proxy(anvil.url.clone(), "eth_getBalance").await;
    let config = config_for("low", vec![url])
        .with_name("Low relayer")
        .with_confirmations(1);
    let relayer = Arc::new(start_keyed(config, KEY4).await);
    let inbox = Arc::new(RecordingNotifier::default());
    let watch = BalanceWatch::start(
        &relayer,
        BalanceWatchConfig::new(U256::from(ETH))
            .with_interval(Duration::from_millis(50))
            .with_channel("inbox", inbox.clone() as Arc<dyn Notifier>),
    );
    // Read a few times above the minimum: nothing sent.
    let start = reads.load(Ordering::SeqCst);
    assert!(wait_for(|| async { reads.load(Ordering::SeqCst) >= start + 3 }).await);
    assert_eq!(inbox.messages().len(), 0);
    assert!(!watch.is_below());

    // A send takes it below: one alert, naming the relayer and the amounts.
    let tx = relayer
        .send_transaction(transfer(3 * ETH / 2))
        .await
        .unwrap();
    assert!(
        wait_for(|| async { inbox.messages().len() == 1 }).await,
        "alerted"
    );
    assert!(watch.is_below());
    {
        let m = &inbox.messages()[0];
        assert_eq!(m.subject, "Relayer Low relayer is low on funds");
        assert!(m.body.contains(ADDRESS4), "{}", m.body);
        assert!(m.body.contains("1000000000000000000 wei"), "{}", m.body);
    }
    assert!(wait_mined(&*relayer, &tx.transaction_id).await);
    // Still below, read many more times, and after another send: no second alert.
    relayer.send_transaction(transfer(1)).await.unwrap();
    let later = reads.load(Ordering::SeqCst);
    assert!(wait_for(|| async { reads.load(Ordering::SeqCst) >= later + 5 }).await);
    assert_eq!(
        inbox.messages().len(),
        1,
        "not alerted again while still below"
    );

    // Back above (funded), then below again: alerted again.
    anvil.set_balance(ADDRESS4, (3 * ETH).into()).await;
    assert!(wait_for(|| async { !watch.is_below() }).await, "recovered");
    assert_eq!(inbox.messages().len(), 1);
    anvil.set_balance(ADDRESS4, (ETH / 10).into()).await;
    assert!(
        wait_for(|| async { inbox.messages().len() == 2 }).await,
        "alerted again"
    );
    assert!(watch.is_below());
    drop(watch);
}
