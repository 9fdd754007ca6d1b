//! `getRelayer`'s answer: Defender's `RelayerGetResponse` (`relayerId`, `name`, `address`,
//! `network`, `paused`, `createdAt`, `pendingTxCost`, `minBalance`, `policies`), or for a
//! relayer group its `RelayerGroupResponse`, from the relayer itself and from what the project
//! configures for it ([`RelayerProfile`]).
//!
//! `createdAt` is when a host first served the relayer on its engine state: the first process
//! writes it there (space `relayer-profiles`), and restarts and other processes on the same
//! state read it back. `stackResourceId` is `<stack name>.<resource key>`, as defender-as-code
//! names what it deploys.

use super::super::ApiError;
use crate::project::{Policy, Project};
use alloy_primitives::U256;
use defender_core::state::{Space, StateError, StateStore};
use defender_core::wire::iso8601;
use defender_core::{
    Clock, DynRelayer, ListTransactionsQuery, RelayerInfo, RelayerTransaction, SystemClock,
    TxStatus,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Where the relayers' `createdAt` is kept, as `<id>/created-at`.
const PROFILES: Space = Space::new("relayer-profiles");

/// What `getRelayer` answers beside the relayer's own id, name, address, network and pause:
/// its `minBalance` and `policies` as the project configures them, and its `createdAt`; for
/// a relayer group, its members and notification channels.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayerProfile {
    /// ISO-8601, as JavaScript's `toISOString` writes it.
    created_at: String,
    /// `min-balance`, in wei.
    min_balance: u128,
    /// Defender's `policies` object: only the policies set.
    policies: Value,
    /// Set for a relayer group: it answers Defender's `RelayerGroupResponse`.
    group: Option<GroupProfile>,
    /// `<stack name>.<resource key>` for a relayer the project declares.
    stack_resource_id: Option<String>,
}

/// What a relayer group's `getRelayer` answers beside its profile's common fields.
#[derive(Clone, Debug, PartialEq)]
struct GroupProfile {
    /// Each member's id and address, in order.
    members: Vec<(String, String)>,
    /// `notificationChannels`, when the group has some.
    notifications: Option<Value>,
}

impl RelayerProfile {
    /// A relayer with this `min-balance` (wei) and policy, created now.
    pub fn new(min_balance: u128, policy: Option<&Policy>) -> Self {
        RelayerProfile {
            created_at: iso8601::format(&SystemClock.now()),
            min_balance,
            policies: policies(policy),
            group: None,
            stack_resource_id: None,
        }
    }
}

/// The profiles of the project's relayers and relayer groups, by id, with the `createdAt`
/// that `state` keeps for each; `address_of` gives a started relayer's address by id (a
/// group's members are `<group>#1`, `<group>#2`...).
pub(crate) async fn profiles(
    project: &Project,
    state: &dyn StateStore,
    address_of: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, RelayerProfile> {
    let policy = |name: Option<&String>| name.and_then(|n| project.policies.get(n));
    let mut out = BTreeMap::new();
    for (id, r) in &project.relayers {
        let mut profile = RelayerProfile::new(r.min_balance, policy(r.policy.as_ref()));
        profile.created_at = created_at(state, id, profile.created_at).await;
        profile.stack_resource_id = Some(stack_resource_id(project, id));
        out.insert(id.clone(), profile);
    }
    for (id, g) in &project.relayer_groups {
        let mut profile = RelayerProfile::new(g.min_balance, policy(g.policy.as_ref()));
        profile.created_at = created_at(state, id, profile.created_at).await;
        profile.stack_resource_id = Some(stack_resource_id(project, id));
        let members = (0..g.relayers as usize)
            .filter_map(|i| {
                let member = crate::run::group_member_id(id, i);
                address_of(&member).map(|address| (member, address))
            })
            .collect();
        let notifications = g
            .notification_channels
            .as_ref()
            .map(|n| json!({ "events": n.events, "notificationIds": n.channels }));
        profile.group = Some(GroupProfile {
            members,
            notifications,
        });
        out.insert(id.clone(), profile);
    }
    out
}

/// Defender's `stackResourceId` of the project's resource `key`: `<stack name>.<key>`, as
/// defender-as-code names what it deploys.
fn stack_resource_id(project: &Project, key: &str) -> String {
    format!("{}.{key}", project.stack_name)
}

/// The `createdAt` of relayer (or group) `id`: the one `state` keeps, else `now`, written
/// there unless another process wrote one first. `now` when the state cannot be reached
/// (logged: the API still answers).
async fn created_at(state: &dyn StateStore, id: &str, now: String) -> String {
    let key = format!("{id}/created-at");
    let first = async {
        if let Some(kept) = kept(state.get(PROFILES, &key).await?) {
            return Ok(kept);
        }
        let written = state
            .compare_and_swap(PROFILES, &key, None, Some(now.clone().into()))
            .await?;
        if written {
            return Ok(now.clone());
        }
        // Another process wrote it meanwhile (or what was there does not read as a time).
        Ok(kept(state.get(PROFILES, &key).await?).unwrap_or_else(|| now.clone()))
    };
    match first.await {
        Ok(at) => at,
        Err(e) => {
            let e: StateError = e;
            tracing::warn!(relayer = %id, error = %e, "relayer createdAt not kept in the engine state");
            now
        }
    }
}

/// A kept `createdAt`, if it reads as a time.
fn kept(bytes: Option<impl AsRef<[u8]>>) -> Option<String> {
    let text = std::str::from_utf8(bytes.as_ref()?.as_ref()).ok()?;
    iso8601::parse(text).is_ok().then(|| text.to_owned())
}

/// Defender's `policies`: `gasPriceCap` (wei, a decimal string: it may pass 2^53),
/// `whitelistReceivers`, `EIP1559Pricing`, `privateTransactions`, each only when set.
fn policies(policy: Option<&Policy>) -> Value {
    let mut out = Map::new();
    let Some(p) = policy else {
        return Value::Object(out);
    };
    if let Some(cap) = p.gas_price_cap {
        out.insert("gasPriceCap".into(), Value::String(cap.to_string()));
    }
    if !p.whitelist_receivers.is_empty() {
        out.insert("whitelistReceivers".into(), json!(p.whitelist_receivers));
    }
    if let Some(on) = p.eip1559_pricing {
        out.insert("EIP1559Pricing".into(), Value::Bool(on));
    }
    if p.private_transactions {
        out.insert("privateTransactions".into(), Value::Bool(true));
    }
    Value::Object(out)
}

/// What the transactions in flight (not yet mined, failed or expired) may cost in gas: each
/// one's gas limit times its gas price (or EIP-1559 fee cap), added up.
fn pending_tx_cost(txs: &[RelayerTransaction]) -> U256 {
    txs.iter()
        .filter(|t| t.status.is_in_flight())
        .map(|t| {
            let price = t.gas_price.or(t.max_fee_per_gas).unwrap_or(0);
            U256::from(t.gas_limit).saturating_mul(U256::from(price))
        })
        .fold(U256::ZERO, U256::saturating_add)
}

/// `getRelayer()`: the relayer's info with its profile's fields and the cost of what it has
/// in flight; for a relayer group, [`group_answer`].
pub(super) async fn relayer_answer(
    relayer: &DynRelayer,
    profile: &RelayerProfile,
) -> Result<Value, ApiError> {
    let info = relayer.get_relayer().await?;
    if let Some(group) = &profile.group {
        return Ok(group_answer(info, profile, group));
    }
    let in_flight = ListTransactionsQuery {
        status: Some(TxStatus::Pending),
        ..ListTransactionsQuery::default()
    };
    let txs = relayer.list_transactions(in_flight).await?;
    let mut answer = json!({
        "relayerId": info.relayer_id,
        "name": info.name,
        "address": info.address,
        "network": info.network,
        "paused": info.paused,
        "createdAt": profile.created_at,
        "pendingTxCost": pending_tx_cost(&txs).to_string(),
        "minBalance": profile.min_balance.to_string(),
        "policies": profile.policies,
    });
    with_stack_resource_id(&mut answer, profile);
    Ok(answer)
}

/// Adds `stackResourceId` to an answer, for a relayer the project declares.
fn with_stack_resource_id(answer: &mut Value, profile: &RelayerProfile) {
    if let (Some(id), Some(fields)) = (&profile.stack_resource_id, answer.as_object_mut()) {
        fields.insert("stackResourceId".into(), json!(id));
    }
}

/// A relayer group's `getRelayer()`: Defender's `RelayerGroupResponse`. Each member is
/// `{ relayerId, address, network }` (Defender's `keyId` and `relayerShortId` name its KMS key
/// and its short id, which have no counterpart here); `systemPaused` is always false (no
/// operator pauses a self-hosted group).
fn group_answer(info: RelayerInfo, profile: &RelayerProfile, group: &GroupProfile) -> Value {
    let relayers: Vec<Value> = group
        .members
        .iter()
        .map(
            |(id, address)| json!({ "relayerId": id, "address": address, "network": info.network }),
        )
        .collect();
    let mut answer = json!({
        "relayerGroupId": info.relayer_id,
        "name": info.name,
        "network": info.network,
        "policies": profile.policies,
        "minBalance": profile.min_balance.to_string(),
        "relayers": relayers,
        "paused": info.paused,
        "systemPaused": false,
        "createdAt": profile.created_at,
    });
    if let (Some(n), Some(fields)) = (&group.notifications, answer.as_object_mut()) {
        fields.insert("notificationChannels".into(), n.clone());
    }
    with_stack_resource_id(&mut answer, profile);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_core::state::MemoryStateStore;
    use defender_core::wire::Quantity;

    #[tokio::test]
    async fn created_at_is_the_first_one_kept() {
        let state = MemoryStateStore::default();
        let first = "2026-01-02T03:04:05.678Z".to_owned();
        let later = "2026-05-06T07:08:09.000Z".to_owned();
        assert_eq!(created_at(&state, "r1", first.clone()).await, first);
        assert_eq!(created_at(&state, "r1", later.clone()).await, first);
        // Each relayer has its own.
        assert_eq!(created_at(&state, "r2", later.clone()).await, later);
        // What does not read as a time is not answered, nor overwritten.
        state
            .put(PROFILES, "r3/created-at", "yesterday".into())
            .await
            .unwrap();
        assert_eq!(created_at(&state, "r3", later.clone()).await, later);
        assert_eq!(
            state
                .get(PROFILES, "r3/created-at")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"yesterday"[..])
        );
    }

    fn tx(
        status: TxStatus,
        gas_limit: u64,
        gas_price: Option<u128>,
        max_fee: Option<u128>,
    ) -> RelayerTransaction {
        RelayerTransaction {
            transaction_id: "t".into(),
            hash: "0x".into(),
            to: None,
            from: "0x".into(),
            value: Quantity(U256::from(7u8)),
            data: "0x".into(),
            speed: None,
            gas_limit,
            nonce: 0,
            status,
            chain_id: 1,
            valid_until: SystemClock.now(),
            created_at: SystemClock.now(),
            sent_at: None,
            priced_at: None,
            gas_price,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: max_fee.map(|_| 1),
            is_private: None,
        }
    }

    #[test]
    fn pending_cost_is_gas_times_price_of_what_is_in_flight_only() {
        let txs = [
            tx(TxStatus::Pending, 21_000, Some(3), None),
            tx(TxStatus::Inmempool, 100, None, Some(5)),
            tx(TxStatus::Mined, 21_000, Some(9), None),
            tx(TxStatus::Failed, 21_000, Some(9), None),
            tx(TxStatus::Expired, 21_000, Some(9), None),
        ];
        assert_eq!(pending_tx_cost(&txs), U256::from(21_000 * 3 + 100 * 5));
        let huge = [
            tx(TxStatus::Sent, u64::MAX, Some(u128::MAX), None),
            tx(TxStatus::Sent, u64::MAX, Some(u128::MAX), None),
        ];
        let one = U256::from(u64::MAX) * U256::from(u128::MAX);
        assert_eq!(pending_tx_cost(&huge), one * U256::from(2u8));
    }

    #[test]
    fn policies_are_only_those_set() {
        assert_eq!(policies(None), json!({}));
        assert_eq!(policies(Some(&Policy::default())), json!({}));
        let set = Policy {
            gas_price_cap: Some(u128::MAX),
            whitelist_receivers: vec!["0xAb".into()],
            eip1559_pricing: Some(false),
            private_transactions: true,
        };
        assert_eq!(
            policies(Some(&set)),
            json!({
                "gasPriceCap": u128::MAX.to_string(),
                "whitelistReceivers": ["0xAb"],
                "EIP1559Pricing": false,
                "privateTransactions": true,
            })
        );
    }
}
