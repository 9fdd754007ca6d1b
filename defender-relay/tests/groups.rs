//! Relayer groups against a real anvil: sends spread over the members, every transaction
//! mined, each member's nonces contiguous, `get`/`list` through the group, notifications of
//! the configured statuses, paused members skipped.

mod common;
mod relay_support;

use common::*;
use defender_core::wire::{ListTransactionsQuery, TxStatus};
use defender_core::{Notifier, RecordingNotifier, Relayer, RelayerError};
use defender_relay::{GroupMember, GroupNotifications, RelayerGroup, RpcRelayer};
use relay_support::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A member of a group: the relayer `id` signing with `key`.
async fn member(anvil: &Anvil, id: &str, key: &str, paused: bool) -> Arc<RpcRelayer> {
    let config = config_for(id, vec![anvil.url.clone()])
        // Mined transactions stay `mined` (each is notified once as such).
        .with_confirmations(1000)
        .with_paused(paused);
    Arc::new(start_keyed(config, key).await)
}

/// The group `id` on anvil of `members`, in that order.
fn group_of(id: &str, name: &str, members: &[&Arc<RpcRelayer>]) -> RelayerGroup {
    let members = members.iter().map(|m| GroupMember::new((*m).clone()));
    RelayerGroup::new(id, name, "anvil", members.collect()).expect("a valid group")
}

/// Sends `count` transfers through `group`, each of which `sender` must send.
async fn assert_sent_by(group: &RelayerGroup, count: u64, sender: &RpcRelayer) {
    for i in 0..count {
        let tx = group.send_transaction(transfer(i + 1)).await.unwrap();
        assert_eq!(tx.from, sender.address().to_checksum(None));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_spreads_sends_over_its_members_and_answers_for_all_of_them() {
    let Some(anvil) = Anvil::start(&["--block-time", "1"]).await else {
        return;
    };
    let a = member(&anvil, "group#1", KEY, false).await;
    let b = member(&anvil, "group#2", KEY2, false).await;
    let inbox = Arc::new(RecordingNotifier::default());
    let group = group_of("group", "Group", &[&a, &b]).with_notifications(GroupNotifications::new(
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
        assert!(
            wait_mined(&*group, &tx.transaction_id).await,
            "{} mined",
            tx.transaction_id
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
    assert!(wait_for(|| async { inbox.messages().len() >= 12 }).await);
    assert!(inbox
        .messages()
        .iter()
        .all(|m| m.subject == "Relayer group Group: transaction mined"));
    let status = group.get_relayer_status().await.unwrap();
    assert_eq!(status.relayer_id, "group");
    assert_eq!(group.get_relayer().await.unwrap().relayer_id, "group");
    drop(group);
    drop((a, b));

    // A paused member is skipped; a group of paused members refuses like a paused relayer.
    let paused = member(&anvil, "paused#1", KEY3, true).await;
    let active = member(&anvil, "paused#2", KEY2, false).await;
    let group = group_of("g2", "G2", &[&paused, &active]);
    assert_sent_by(&group, 3, &active).await;
    let all_paused = group_of("g3", "G3", &[&paused]);
    assert!(matches!(
        all_paused.send_transaction(transfer(1)).await,
        Err(RelayerError::Policy(
            defender_core::relayer::PolicyViolation::Paused
        ))
    ));

    drop((all_paused, group));

    // A member that cannot pay passes the send to the next one.
    anvil.set_balance(ADDRESS3, 1000).await;
    let poor = member(&anvil, "poor#1", KEY3, false).await;
    let rich = member(&anvil, "poor#2", KEY2, false).await;
    let group = group_of("g4", "G4", &[&poor, &rich]);
    assert_sent_by(&group, 2, &rich).await;
    let alone = group_of("g5", "G5", &[&poor]);
    assert!(matches!(
        alone.send_transaction(transfer(1)).await,
        Err(RelayerError::InsufficientFunds { .. })
    ));
}
