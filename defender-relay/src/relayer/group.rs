//! Relayer groups (defender-as-code `relayer-groups`): several relayers behind one id.
//!
//! Each send goes to the member with the fewest transactions in flight, ties taken in turn;
//! paused members are skipped, and so are members below their `min-balance` while another
//! member is not. Every member keeps its own nonces. `get`, `list`, `replace` and `cancel`
//! answer for every member's transactions; status changes can be sent to notification
//! channels, filtered by status (the group's `notification-channels` with `events`).

use super::{BalanceWatch, RpcRelayer};
use alloy_primitives::U256;
use async_trait::async_trait;
use defender_core::relayer::PolicyViolation;
use defender_core::wire::{
    ListTransactionsQuery, Quantity, RelayerInfo, RelayerStatus, RelayerTransaction,
    SignMessagePayload, SignTypedDataPayload, SignedMessage, TxRequest, TxStatus,
};
use defender_core::{Message, Notifier, Relayer, RelayerError};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// A member's state when a send is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberLoad {
    /// The member refuses to send.
    pub paused: bool,
    /// Its balance is below its minimum.
    pub below_min_balance: bool,
    /// Its transactions in flight, sends being placed included.
    pub pending: u64,
}

/// The member a send goes to: among the members neither paused nor below their minimum
/// balance (else among those not paused), the one with the fewest pending transactions, ties
/// broken by taking members in turn from `turn`. `None` when every member is paused.
pub fn pick_member(loads: &[MemberLoad], turn: usize) -> Option<usize> {
    let n = loads.len();
    let start = turn.checked_rem(n)?;
    let best = |funded_only: bool| {
        loads
            .iter()
            .enumerate()
            .cycle()
            .skip(start)
            .take(n)
            .filter(|(_, l)| !(l.paused || funded_only && l.below_min_balance))
            .min_by_key(|(_, l)| l.pending)
            .map(|(i, _)| i)
    };
    best(true).or_else(|| best(false))
}

/// Which transaction statuses are sent to which channels.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupNotifications {
    /// The statuses notified (`events`: `mined`, `failed`...).
    pub events: Vec<TxStatus>,
    /// The channels, by alias (for logs).
    pub channels: Vec<(String, Arc<dyn Notifier>)>,
}

impl GroupNotifications {
    /// Notifications of `events` to `channels`.
    pub fn new(events: Vec<TxStatus>, channels: Vec<(String, Arc<dyn Notifier>)>) -> Self {
        GroupNotifications { events, channels }
    }

    /// Whether a transaction now in `status` is notified.
    pub fn wants(&self, status: TxStatus) -> bool {
        self.events.contains(&status)
    }
}

/// One relayer of a group, with its `min-balance` watch if it has one.
#[derive(Debug)]
pub struct GroupMember {
    relayer: Arc<RpcRelayer>,
    balance: Option<BalanceWatch>,
    placing: AtomicUsize,
}

impl GroupMember {
    /// A member without a balance watch.
    pub fn new(relayer: Arc<RpcRelayer>) -> Self {
        GroupMember {
            relayer,
            balance: None,
            placing: AtomicUsize::new(0),
        }
    }

    /// The member with its `min-balance` watch: skipped while below its minimum.
    pub fn with_balance_watch(mut self, watch: BalanceWatch) -> Self {
        self.balance = Some(watch);
        self
    }

    /// The member's relayer.
    pub fn relayer(&self) -> &Arc<RpcRelayer> {
        &self.relayer
    }

    fn load(&self) -> MemberLoad {
        let in_flight = self
            .relayer
            .shared
            .live()
            .iter()
            .filter(|t| t.tx.status.is_in_flight())
            .count();
        MemberLoad {
            paused: self.relayer.shared.config.paused,
            below_min_balance: self.balance.as_ref().is_some_and(BalanceWatch::is_below),
            pending: (in_flight as u64).saturating_add(self.placing.load(Ordering::Relaxed) as u64),
        }
    }

    fn owns(&self, id: &str) -> bool {
        self.relayer.shared.get(id).is_some()
    }
}

/// Counts a send being placed on a member until it returns.
struct Placing<'a>(&'a AtomicUsize);

impl Drop for Placing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Several relayers of one network behind one id, usable wherever a relayer is.
#[derive(Debug)]
pub struct RelayerGroup {
    id: String,
    name: String,
    network: String,
    members: Vec<GroupMember>,
    turn: AtomicUsize,
    notifiers: Vec<JoinHandle<()>>,
}

impl Drop for RelayerGroup {
    fn drop(&mut self) {
        for t in &self.notifiers {
            t.abort();
        }
    }
}

impl RelayerGroup {
    /// A group of `members` (at least one), all on `network`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        network: impl Into<String>,
        members: Vec<GroupMember>,
    ) -> Result<Self, RelayerError> {
        let id = id.into();
        if members.is_empty() {
            return Err(RelayerError::Configuration(format!(
                "relayer group `{id}` has no relayer"
            )));
        }
        Ok(RelayerGroup {
            id,
            name: name.into(),
            network: network.into(),
            members,
            turn: AtomicUsize::new(0),
            notifiers: Vec::new(),
        })
    }

    /// Sends the status changes `notifications` names, of every member's transactions, to its
    /// channels. Must be called within a tokio runtime.
    pub fn with_notifications(mut self, notifications: GroupNotifications) -> Self {
        let notifications = Arc::new(notifications);
        for m in &self.members {
            let mut events = m.relayer.subscribe();
            let n = notifications.clone();
            let (group, name) = (self.id.clone(), self.name.clone());
            let address = m.relayer.address().to_checksum(None);
            self.notifiers.push(tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(tx) if n.wants(tx.status) => {
                            let message = transaction_message(&group, &name, &address, &tx);
                            for (alias, channel) in &n.channels {
                                if let Err(e) = channel.send(&message).await {
                                    tracing::warn!(group = %group, channel = %alias, error = %e, "relayer group notification not delivered");
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(group = %group, missed, "relayer group notifications fell behind")
                        }
                        Err(RecvError::Closed) => return,
                    }
                }
            }));
        }
        self
    }

    /// The members, in order.
    pub fn members(&self) -> &[GroupMember] {
        &self.members
    }

    fn first(&self) -> &GroupMember {
        // `new` refuses an empty group.
        &self.members[0]
    }

    /// The member a send goes to now, leaving out the members of `tried`.
    fn pick(&self, tried: &[usize]) -> Result<(usize, &GroupMember), RelayerError> {
        let loads: Vec<MemberLoad> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut load = m.load();
                load.paused |= tried.contains(&i);
                load
            })
            .collect();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        pick_member(&loads, turn)
            .and_then(|i| self.members.get(i).map(|m| (i, m)))
            .ok_or(RelayerError::Policy(PolicyViolation::Paused))
    }

    fn owner(&self, id: &str) -> Result<&GroupMember, RelayerError> {
        self.members
            .iter()
            .find(|m| m.owns(id))
            .ok_or_else(|| RelayerError::NotFound(id.to_owned()))
    }
}

/// The notification of a transaction's new status.
fn transaction_message(group: &str, name: &str, address: &str, tx: &RelayerTransaction) -> Message {
    let hash = &tx.hash;
    let to = tx.to.as_deref().unwrap_or("(deployment)");
    Message::new(
        format!("Relayer group {name}: transaction {}", tx.status),
        format!(
            "Transaction `{}` of relayer group **{name}** (`{group}`) is **{}**.\n\n\
             - from: `{address}`\n- to: `{to}`\n- nonce: {}\n- hash: `{hash}`",
            tx.transaction_id, tx.status, tx.nonce,
        ),
    )
    .with_idempotency_key(format!("{group}:{}:{}", tx.transaction_id, tx.status))
}

#[async_trait]
impl Relayer for RelayerGroup {
    /// Sent by the member [`pick_member`] chooses; a member that cannot pay for it passes it
    /// to the next.
    async fn send_transaction(&self, tx: TxRequest) -> Result<RelayerTransaction, RelayerError> {
        let mut tried = Vec::new();
        loop {
            let (i, member) = self.pick(&tried)?;
            member.placing.fetch_add(1, Ordering::Relaxed);
            let _placing = Placing(&member.placing);
            let sent = member.relayer.send_transaction(tx.clone()).await;
            let others_left = self
                .members
                .iter()
                .enumerate()
                .any(|(j, m)| j != i && !tried.contains(&j) && !m.relayer.shared.config.paused);
            match sent {
                Err(RelayerError::InsufficientFunds { .. }) if others_left => tried.push(i),
                other => return other,
            }
        }
    }

    async fn get_transaction(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
        self.owner(id)?.relayer.get_transaction(id).await
    }

    async fn list_transactions(
        &self,
        query: ListTransactionsQuery,
    ) -> Result<Vec<RelayerTransaction>, RelayerError> {
        let limit = query.limit;
        let mut out = Vec::new();
        for m in &self.members {
            out.extend(m.relayer.list_transactions(query.clone()).await?);
        }
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.nonce.cmp(&a.nonce))
        });
        if let Some(l) = limit {
            out.truncate(usize::try_from(l).unwrap_or(usize::MAX));
        }
        Ok(out)
    }

    async fn replace_transaction_by_id(
        &self,
        id: &str,
        tx: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError> {
        self.owner(id)?
            .relayer
            .replace_transaction_by_id(id, tx)
            .await
    }

    /// Nonces are per member: the one member with an in-flight transaction at `nonce`, else an
    /// error asking for the transaction's id.
    async fn replace_transaction_by_nonce(
        &self,
        nonce: u64,
        tx: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError> {
        let holders: Vec<&GroupMember> = self
            .members
            .iter()
            .filter(|m| {
                m.relayer
                    .shared
                    .live()
                    .iter()
                    .any(|t| t.tx.nonce == nonce && t.tx.status.is_in_flight())
            })
            .collect();
        match holders.as_slice() {
            [one] => one.relayer.replace_transaction_by_nonce(nonce, tx).await,
            [] => Err(RelayerError::NotFound(format!("nonce {nonce}"))),
            _ => Err(RelayerError::Configuration(format!(
                "relayer group `{}`: {} members have a transaction at nonce {nonce}; replace it by id",
                self.id,
                holders.len()
            ))),
        }
    }

    async fn cancel_transaction_by_id(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
        self.owner(id)?.relayer.cancel_transaction_by_id(id).await
    }

    /// The group's id, name and network; the address of its first member; paused when every
    /// member is.
    async fn get_relayer(&self) -> Result<RelayerInfo, RelayerError> {
        Ok(RelayerInfo {
            relayer_id: self.id.clone(),
            name: self.name.clone(),
            address: self.first().relayer.address().to_checksum(None),
            network: self.network.clone(),
            paused: self.members.iter().all(|m| m.relayer.shared.config.paused),
        })
    }

    /// The members' balances and pending transactions added up; the first member's address
    /// and nonce.
    async fn get_relayer_status(&self) -> Result<RelayerStatus, RelayerError> {
        let mut balance = U256::ZERO;
        let mut pending = 0u64;
        let mut first = None;
        for m in &self.members {
            let s = m.relayer.get_relayer_status().await?;
            balance = balance.saturating_add(s.balance.0);
            pending = pending.saturating_add(s.number_of_pending_transactions);
            first.get_or_insert(s);
        }
        let first = first.ok_or_else(|| RelayerError::Configuration("empty group".into()))?;
        Ok(RelayerStatus {
            relayer_id: self.id.clone(),
            address: first.address,
            nonce: first.nonce,
            balance: Quantity(balance),
            number_of_pending_transactions: pending,
            paused: self.members.iter().all(|m| m.relayer.shared.config.paused),
        })
    }

    /// Signed by the member a send would go to now (the signature names its address).
    async fn sign(&self, payload: SignMessagePayload) -> Result<SignedMessage, RelayerError> {
        self.pick(&[])?.1.relayer.sign(payload).await
    }

    /// Signed by the member a send would go to now.
    async fn sign_typed_data(
        &self,
        payload: SignTypedDataPayload,
    ) -> Result<SignedMessage, RelayerError> {
        self.pick(&[])?.1.relayer.sign_typed_data(payload).await
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RelayerError> {
        self.first().relayer.call(method, params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(paused: bool, below: bool, pending: u64) -> MemberLoad {
        MemberLoad {
            paused,
            below_min_balance: below,
            pending,
        }
    }

    #[test]
    fn picks_the_least_loaded_usable_member_in_turn() {
        let ok = |p| load(false, false, p);
        // (loads, turn) -> pick
        let table: Vec<(Vec<MemberLoad>, usize, Option<usize>)> = vec![
            (vec![ok(0), ok(0)], 0, Some(0)),
            (vec![ok(0), ok(0)], 1, Some(1)),
            (vec![ok(0), ok(0)], 2, Some(0)),
            (vec![ok(0), ok(0), ok(0)], usize::MAX, Some(0)),
            (vec![ok(3), ok(1), ok(2)], 0, Some(1)),
            (vec![ok(1), ok(1), ok(0)], 0, Some(2)),
            // Paused members never; members below their minimum only when no other can.
            (vec![load(true, false, 0), ok(5)], 0, Some(1)),
            (vec![load(false, true, 0), ok(5)], 0, Some(1)),
            (vec![load(false, true, 2), load(false, true, 1)], 0, Some(1)),
            (vec![load(true, false, 0), load(false, true, 9)], 0, Some(1)),
            (vec![load(true, false, 0), load(true, false, 0)], 0, None),
            (vec![], 3, None),
        ];
        for (loads, turn, want) in table {
            assert_eq!(pick_member(&loads, turn), want, "{loads:?} turn {turn}");
        }
    }

    #[test]
    fn notifies_only_the_configured_statuses() {
        let n = GroupNotifications::new(vec![TxStatus::Mined, TxStatus::Failed], Vec::new());
        assert!(n.wants(TxStatus::Mined));
        assert!(n.wants(TxStatus::Failed));
        assert!(!n.wants(TxStatus::Submitted));
        assert!(!n.wants(TxStatus::Confirmed));
    }
}
