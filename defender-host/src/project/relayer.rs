//! Relayers, relayer groups, policies, contracts and tenant networks.

use super::{Contract, Policy, Relayer, RelayerGroup, TenantNetwork};
use crate::problem::{index_path, Problems};
use crate::read::fields;
use crate::refs::Refs;
use crate::yaml::Node;
use alloy_primitives::Address;

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
    if let Some(v) = f.get("private-transactions") {
        let private = match &v.value {
            crate::yaml::Value::Bool(b) => *b,
            _ => true,
        };
        if private {
            p.at(
                &v.pos,
                &f.key_path("private-transactions"),
                "`private-transactions` is not supported yet: transactions go to the public mempool of the configured RPC, so a private policy is refused rather than broken",
            );
        }
    }
    f.finish(p, &[]);
    Some(Policy {
        gas_price_cap,
        whitelist_receivers,
        eip1559_pricing,
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
    f.finish(
        p,
        &[
            (
                "user-weight-caps",
                "a group's relayers are used in turn, with no per-user weights",
            ),
            (
                "notification-channels",
                "relayer transaction events are not sent to channels",
            ),
        ],
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
    })
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
