//! Relayers, relayer groups, policies, contracts and tenant networks.

use super::{Contract, GroupNotificationChannels, Policy, Relayer, RelayerGroup, TenantNetwork};
use crate::problem::{index_path, Problems};
use crate::read::fields;
use crate::refs::{Kind, Refs};
use crate::yaml::Node;
use alloy_primitives::Address;
use defender_core::wire::TxStatus;

/// Reads a checksummed address; a problem when it is not 20 bytes of hex.
pub(crate) fn address(s: &str, node: &Node, path: &str, p: &mut Problems) -> Option<String> {
    match s.trim().parse::<Address>() {
        Ok(a) => Some(a.to_checksum(None)),
        Err(_) => {
            p.at(
                &node.pos,
                path,
                format!("`{s}` is not an address (0x and 40 hex digits)"),
            );
            None
        }
    }
}

pub(crate) fn policy(node: &Node, path: &str, p: &mut Problems) -> Option<Policy> {
    let mut f = fields(node, path, p)?;
    let gas_price_cap = f.uint("gas-price-cap", p);
    let mut whitelist_receivers = Vec::new();
    if let Some(list) = f.get("whitelist-receivers") {
        let lp = f.key_path("whitelist-receivers");
        for (i, s) in f.strings("whitelist-receivers", p).iter().enumerate() {
            let item = match &list.value {
                crate::yaml::Value::Seq(items) => items.get(i).unwrap_or(list),
                _ => list,
            };
            if let Some(a) = address(s, item, &index_path(&lp, i), p) {
                whitelist_receivers.push(a);
            }
        }
    }
    let eip1559_pricing = f.bool("eip1559-pricing", p);
    // Sent through the network's `private-rpc` (defender-host.yml), which decides how (a
    // Flashbots mode is the endpoint's URL); a network without one is a configuration problem.
    let private_transactions = match f.get("private-transactions").map(|v| (v, &v.value)) {
        None => false,
        Some((_, crate::yaml::Value::Bool(b))) => *b,
        Some((_, crate::yaml::Value::Str(m)))
            if m == "flashbots-normal" || m == "flashbots-fast" =>
        {
            true
        }
        Some((v, _)) => {
            p.at(
                &v.pos,
                &f.key_path("private-transactions"),
                "`private-transactions` is true, false, flashbots-normal or flashbots-fast",
            );
            false
        }
    };
    f.finish(p, &[]);
    Some(Policy {
        gas_price_cap,
        whitelist_receivers,
        eip1559_pricing,
        private_transactions,
    })
}

pub(crate) fn relayer(
    node: &Node,
    path: &str,
    refs: &Refs<'_>,
    p: &mut Problems,
) -> Option<Relayer> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let network = f.req_str("network", p);
    let min_balance = f.uint("min-balance", p).unwrap_or(0);
    let policy = f
        .get("policy")
        .and_then(|n| refs.policy(n, &f.key_path("policy"), p));
    let api_keys = f.strings("api-keys", p);
    let address_from_relayer = f
        .get("address-from-relayer")
        .and_then(|n| refs.relayer(n, &f.key_path("address-from-relayer"), p));
    f.finish(p, &[]);
    Some(Relayer {
        name: name?,
        network: network?,
        min_balance,
        policy,
        api_keys,
        address_from_relayer,
    })
}

pub(crate) fn relayer_group(
    node: &Node,
    path: &str,
    refs: &Refs<'_>,
    p: &mut Problems,
) -> Option<RelayerGroup> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let network = f.req_str("network", p);
    let min_balance = f.uint("min-balance", p).unwrap_or(0);
    let relayers = f.uint("relayers", p).unwrap_or(1);
    let policy = f
        .get("policy")
        .or_else(|| f.get("policies"))
        .and_then(|n| refs.policy(n, &f.key_path("policy"), p));
    let api_keys = f.strings("api-keys", p);
    let notification_channels = f
        .get("notification-channels")
        .and_then(|n| group_channels(n, &f.key_path("notification-channels"), refs, p));
    f.finish(
        p,
        &[(
            "user-weight-caps",
            "sends go to the member with the fewest pending transactions, with no per-user weights",
        )],
    );
    let relayers = match u32::try_from(relayers) {
        Ok(n) if (1..=100).contains(&n) => n,
        _ => {
            p.at(
                &node.pos,
                &format!("{path}.relayers"),
                "`relayers` must be from 1 to 100",
            );
            1
        }
    };
    Some(RelayerGroup {
        name: name?,
        network: network?,
        relayers,
        min_balance,
        policy,
        api_keys,
        notification_channels,
    })
}

/// A group's `notification-channels`: `events` (transaction statuses) and `notification-ids`.
fn group_channels(
    node: &Node,
    path: &str,
    refs: &Refs<'_>,
    p: &mut Problems,
) -> Option<GroupNotificationChannels> {
    let mut f = fields(node, path, p)?;
    let mut events = Vec::new();
    let event_node = f.get("events");
    let ep = f.key_path("events");
    for (i, e) in f.strings("events", p).iter().enumerate() {
        match serde_json::from_value::<TxStatus>(serde_json::Value::String(e.clone())) {
            Ok(s) => events.push(s),
            Err(_) => p.at(
                &event_node.unwrap_or(node).pos,
                &index_path(&ep, i),
                format!("unknown transaction event `{e}`: expected pending, sent, submitted, inmempool, mined, confirmed, failed or expired"),
            ),
        }
    }
    let mut channels = Vec::new();
    let lp = f.key_path("notification-ids");
    match f.get("notification-ids").map(|n| (n, &n.value)) {
        Some((_, crate::yaml::Value::Seq(items))) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(k) = refs.resolve(Kind::Notification, item, &index_path(&lp, i), p) {
                    channels.push(k);
                }
            }
        }
        Some((n, _)) => p.at(
            &n.pos,
            &lp,
            "`notification-ids` is a list of notification channels",
        ),
        None => p.at(&node.pos, &lp, "`notification-ids` is required"),
    }
    f.finish(p, &[]);
    Some(GroupNotificationChannels { events, channels })
}

pub(crate) fn contract(node: &Node, path: &str, p: &mut Problems) -> Option<Contract> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let addr = f.req_str("address", p).and_then(|a| {
        let n = f.get("address").unwrap_or(node);
        address(&a, n, &f.key_path("address"), p)
    });
    let network = f.req_str("network", p);
    let abi = f
        .get("abi")
        .and_then(|n| super::monitor::abi_text(n, &f.key_path("abi"), p));
    let nat_spec = f.str("nat-spec", p);
    f.finish(p, &[]);
    Some(Contract {
        name: name?,
        address: addr?,
        network: network?,
        abi,
        nat_spec,
    })
}

pub(crate) fn tenant_network(
    node: &Node,
    path: &str,
    forked: bool,
    p: &mut Problems,
) -> Option<TenantNetwork> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let forked_from = if forked {
        // The schema's `supported-network`; the example project writes `forked-network`.
        f.str("supported-network", p)
            .or_else(|| f.str("forked-network", p))
    } else {
        None
    };
    if forked && forked_from.is_none() {
        p.at(&node.pos, path, "`supported-network` is required");
    }
    let rpc_url = f.req_str("rpc-url", p);
    if let Some(u) = &rpc_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            let n = f.get("rpc-url").unwrap_or(node);
            p.at(
                &n.pos,
                &f.key_path("rpc-url"),
                "`rpc-url` must start with http:// or https://",
            );
        }
    }
    let api_key = f.str("api-key", p);
    let block_explorer_url = f.str("block-explorer-url", p);
    let symbol = if forked {
        None
    } else {
        let c = f.get("configuration");
        let cp = f.key_path("configuration");
        c.and_then(|c| {
            let mut cf = fields(c, &cp, p)?;
            let s = cf.req_str("symbol", p);
            cf.finish(
                p,
                &[
                    ("eips", "EIP support is detected from the network"),
                    ("safe-contracts", "Safe wallets are not supported yet"),
                    ("subgraph-url", "subgraphs are not used"),
                ],
            );
            s
        })
    };
    f.finish(p, &[]);
    Some(TenantNetwork {
        name: name?,
        forked_from,
        rpc_url: rpc_url?,
        api_key,
        block_explorer_url,
        symbol,
    })
}
