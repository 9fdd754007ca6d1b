//! Relayer groups against a real anvil: sends spread over the members, every transaction
//! mined, each member's nonces contiguous, `get`/`list` through the group, notifications of
//! the configured statuses, paused members skipped.

mod common;

use async_trait::async_trait;
use common::*;
use defender_core::wire::{ListTransactionsQuery, TxRequest, TxStatus};
use defender_core::{Message, Metric, Notifier, NotifyError, Relayer, RelayerError};
use defender_relay::{
    GroupMember, GroupNotifications, InMemoryRelayerStore, RelayerConfig, RelayerGroup,
    ResubmitAfter, RpcRelayer,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Anvil's third account.
const KEY3: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/// A channel that keeps what it is sent.
#[derive(Debug, Default)]
struct Inbox(Mutex<Vec<Message>>);

impl Inbox {
    fn subjects(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.subject.clone())
            .collect()
    }
}

#[async_trait]
impl Notifier for Inbox {
    fn kind(&self) -> &str {
        "inbox"
    }
    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
    async fn send_metric(&self, _: &Metric) -> Result<(), NotifyError> {
        Err(NotifyError::Unsupported {
            channel: "inbox".into(),
            what: "metrics",
        })
    }
}

async fn member(anvil: &Anvil, id: &str, key: &str, paused: bool) -> Arc<RpcRelayer> {
    let config = RelayerConfig::new(id, vec![anvil.url.clone()])
        .with_network("anvil")
        .with_retry(quick_retry())
        .with_poll_interval(Duration::from_millis(100))
        // Mined transactions stay `mined` (each is notified once as such).
        .with_confirmations(1000)
        .with_resubmit_after(ResubmitAfter::all(Duration::from_secs(3600)))
        .with_paused(paused);
    let signer = defender_relay::LocalSigner::from_private_key(key).unwrap();
    Arc::new(
        RpcRelayer::start(
            config,
            Arc::new(signer),
            Arc::new(InMemoryRelayerStore::default()),
        )
        .await
        .unwrap(),
    )
}

fn transfer(value: u64) -> TxRequest {
    serde_json::from_value(json!({
        "to": OTHER, "value": value, "speed": "fast", "gasLimit": 21000
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_spreads_sends_over_its_members_and_answers_for_all_of_them() {
    let Some(anvil) = Anvil::start(&["--block-time", "1"]).await else {
        return;
    };
    let a = member(&anvil, "group#1", KEY, false).await;
    let b = member(&anvil, "group#2", KEY2, false).await;
    let inbox = Arc::new(Inbox::default());
    let group = RelayerGroup::new(
        "group",
        "Group",
        "anvil",
        vec![GroupMember::new(a.clone()), GroupMember::new(b.clone())],
    )
    .unwrap()
    .with_notifications(GroupNotifications::new(
        vec![TxStatus::Mined],
        vec![("inbox".into(), inbox.clone() as Arc<dyn Notifier>)],
    ));
    let group = Arc::new(group);

    // Twelve sends at once, as concurrent action runs would.
    let sends = (0..12u64).map(|i| {
        let g = group.clone();
        async move { g.send_transaction(transfer(i + 1)).await }
    });
    let sent: Vec<_> = futures::future::join_all(sends)
        .await
        .into_iter()
        .collect::<Result<_, RelayerError>>()
        .expect("every send accepted");

    let mut nonces: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for tx in &sent {
        nonces.entry(tx.from.clone()).or_default().push(tx.nonce);
    }
    let (addr_a, addr_b) = (a.address().to_checksum(None), b.address().to_checksum(None));
    assert_eq!(
        nonces.keys().cloned().collect::<Vec<_>>(),
        {
            let mut k = vec![addr_a.clone(), addr_b.clone()];
            k.sort();
            k
        },
        "both members sent"
    );
    for (from, mut n) in nonces.clone() {
        n.sort_unstable();
        assert!(n.len() >= 3, "{from} sent only {n:?}: sends are not spread");
        assert_eq!(
            n,
            (0..n.len() as u64).collect::<Vec<_>>(),
            "{from}'s nonces"
        );
    }

    // Every transaction mined, followed through the group.
    for tx in &sent {
        let id = tx.transaction_id.clone();
        let g = group.clone();
        assert!(
            wait_for(|| {
                let (g, id) = (g.clone(), id.clone());
                async move {
                    matches!(
                        g.get_transaction(&id).await.map(|t| t.status),
                        Ok(TxStatus::Mined | TxStatus::Confirmed)
                    )
                }
            })
            .await,
            "{id} mined"
        );
    }
    for (addr, n) in &nonces {
        assert_eq!(anvil.nonce(addr, "latest").await, n.len() as u64);
    }
    let listed = group
        .list_transactions(ListTransactionsQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 12);
    let limited = group
        .list_transactions(ListTransactionsQuery {
            limit: Some(5),
            ..ListTransactionsQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 5);
    assert!(matches!(
        group.get_transaction("no-such-id").await,
        Err(RelayerError::NotFound(_))
    ));
    // One `mined` notification per transaction, nothing for the other statuses.
    let inbox_ = inbox.clone();
    assert!(wait_for(|| async { inbox_.subjects().len() >= 12 }).await);
    assert!(inbox
        .subjects()
        .iter()
        .all(|s| s == "Relayer group Group: transaction mined"));
    let status = group.get_relayer_status().await.unwrap();
    assert_eq!(status.relayer_id, "group");
    assert_eq!(group.get_relayer().await.unwrap().relayer_id, "group");
    drop(group);
    drop((a, b));

    // A paused member is skipped; a group of paused members refuses like a paused relayer.
    let paused = member(&anvil, "paused#1", KEY3, true).await;
    let active = member(&anvil, "paused#2", KEY2, false).await;
    let group = RelayerGroup::new(
        "g2",
        "G2",
        "anvil",
        vec![
            GroupMember::new(paused.clone()),
            GroupMember::new(active.clone()),
        ],
    )
    .unwrap();
    for i in 0..3 {
        let tx = group.send_transaction(transfer(i + 1)).await.unwrap();
        assert_eq!(tx.from, active.address().to_checksum(None));
    }
    let all_paused =
        RelayerGroup::new("g3", "G3", "anvil", vec![GroupMember::new(paused)]).unwrap();
    assert!(matches!(
        all_paused.send_transaction(transfer(1)).await,
        Err(RelayerError::Policy(
            defender_core::relayer::PolicyViolation::Paused
        ))
    ));

    drop((all_paused, group));

    // A member that cannot pay passes the send to the next one.
    anvil
        .call(
            "anvil_setBalance",
            json!(["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x3e8"]),
        )
        .await;
    let poor = member(&anvil, "poor#1", KEY3, false).await;
    let rich = member(&anvil, "poor#2", KEY2, false).await;
    let group = RelayerGroup::new(
        "g4",
        "G4",
        "anvil",
        vec![
            GroupMember::new(poor.clone()),
            GroupMember::new(rich.clone()),
        ],
    )
    .unwrap();
    for i in 0..2 {
        let tx = group.send_transaction(transfer(i + 1)).await.unwrap();
        assert_eq!(tx.from, rich.address().to_checksum(None));
    }
    let alone = RelayerGroup::new("g5", "G5", "anvil", vec![GroupMember::new(poor)]).unwrap();
    assert!(matches!(
        alone.send_transaction(transfer(1)).await,
        Err(RelayerError::InsufficientFunds { .. })
    ));
}
