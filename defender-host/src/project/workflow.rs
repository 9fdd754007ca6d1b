//! Workflows (`resources.workflows`) into the engine's [`Workflow`]: steps run in order, each
//! one action, several actions run in parallel, or a transaction proposal.
//!
//! ```yaml
//! workflows:
//!   respond:
//!     name: Respond to a large transfer
//!     steps:
//!       - ${self:resources.actions.pause}            # one action
//!       - [snapshot, notify-ops]                     # actions run in parallel
//!       - name: Unpause proposal                     # a named step
//!         proposal:
//!           title: Unpause the vault
//!           contract: ${self:resources.contracts.vault}
//!           function: unpause
//!           via-type: Safe
//!           via: "0x..."
//!           relayer: ${self:resources.relayers.ops}
//! ```
//!
//! Defender had no YAML for workflows (they were drawn in its UI); this shape follows the rest
//! of defender-as-code: kebab-case keys, references by `${self:...}` or by resource key.
//!
//! There is no `resources.proposals`: a proposal is a one-off request with its own state (the
//! owners' approvals, the vote, the execution), not something a deployment declares and
//! re-declares; it is created through the management API, or by a workflow's proposal step
//! each time the workflow runs (Defender's "transaction templates").

use super::{Contract, Relayer};
use crate::problem::{index_path, Problems};
use crate::read::fields;
use crate::refs::{Kind, Refs};
use crate::yaml::{Node, Value};
use defender_engine::proposals::{
    OperationType, ProposalContract, ProposalMetadata, TargetFunction,
};
use defender_engine::{ProposalRequest, ViaType, Workflow, WorkflowItem, WorkflowStep};
use std::collections::BTreeMap;

/// What a workflow refers to, read before it.
pub(crate) struct Known<'a, 'n> {
    pub(crate) refs: &'a Refs<'n>,
    pub(crate) contracts: &'a BTreeMap<String, Contract>,
    pub(crate) relayers: &'a BTreeMap<String, Relayer>,
}

/// Reads workflow `key`; `None` (with problems) when it cannot be built.
pub(crate) fn read(
    key: &str,
    node: &Node,
    path: &str,
    known: &Known<'_, '_>,
    p: &mut Problems,
) -> Option<Workflow> {
    let before = p.0.len();
    let mut f = fields(node, path, p)?;
    let name = f.str("name", p).unwrap_or_else(|| key.to_owned());
    let mut steps = Vec::new();
    match f.get("steps") {
        Some(list) => {
            let lp = f.key_path("steps");
            match &list.value {
                Value::Seq(items) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        steps.extend(step(item, &index_path(&lp, i), known, p));
                    }
                }
                Value::Seq(_) => p.at(&list.pos, &lp, "a workflow needs at least one step"),
                _ => p.at(
                    &list.pos,
                    &lp,
                    format!("expected a list of steps, found {}", list.kind()),
                ),
            }
        }
        None => p.at(&node.pos, path, "`steps` is required"),
    }
    f.finish(p, &[]);
    if p.0.len() > before {
        return None;
    }
    let workflow = Workflow {
        id: key.to_owned(),
        name,
        steps,
    };
    if let Err(message) = workflow.validate() {
        p.at(&node.pos, path, message);
        return None;
    }
    Some(workflow)
}

/// One step: an action reference, a list of them (run in parallel), or a mapping with `name`
/// and `action`, `actions` and/or `proposal`.
fn step(node: &Node, path: &str, known: &Known<'_, '_>, p: &mut Problems) -> Option<WorkflowStep> {
    let action = |n: &Node, path: &str, p: &mut Problems| {
        known
            .refs
            .resolve(Kind::Action, n, path, p)
            .map(|action_id| WorkflowItem::Action { action_id })
    };
    let parallel = |items: &[Node], path: &str, p: &mut Problems| -> Vec<WorkflowItem> {
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| action(n, &index_path(path, i), p))
            .collect()
    };
    let (name, items) = match &node.value {
        // A copy of an action resource (`${self:resources.actions.a}`) or its key.
        Value::Str(_) => (String::new(), action(node, path, p).into_iter().collect()),
        Value::Map(_) if node.origin.is_some() => {
            (String::new(), action(node, path, p).into_iter().collect())
        }
        Value::Seq(items) => (String::new(), parallel(items, path, p)),
        Value::Map(_) => {
            let mut f = fields(node, path, p)?;
            let name = f.str("name", p).unwrap_or_default();
            let mut items = Vec::new();
            if let Some(a) = f.get("action") {
                items.extend(action(a, &f.key_path("action"), p));
            }
            if let Some(list) = f.get("actions") {
                let lp = f.key_path("actions");
                match &list.value {
                    Value::Seq(l) => items.extend(parallel(l, &lp, p)),
                    _ => p.at(
                        &list.pos,
                        &lp,
                        format!("expected a list of actions, found {}", list.kind()),
                    ),
                }
            }
            if let Some(prop) = f.get("proposal") {
                let pp = f.key_path("proposal");
                if let Some((proposal, execute)) = proposal(prop, &pp, known, p) {
                    items.push(WorkflowItem::Proposal {
                        proposal: Box::new(proposal),
                        execute,
                    });
                }
            }
            let empty = ["action", "actions", "proposal"]
                .iter()
                .all(|k| node.get(k).is_none_or(Node::is_null));
            if empty {
                p.at(
                    &node.pos,
                    path,
                    "a step needs `action`, `actions` (run in parallel) or `proposal`",
                );
            }
            f.finish(p, &[]);
            (name, items)
        }
        _ => {
            p.at(
                &node.pos,
                path,
                format!(
                    "expected a step (an action, a list of actions or a mapping), found {}",
                    node.kind()
                ),
            );
            return None;
        }
    };
    Some(WorkflowStep { name, items })
}

/// A proposal step: the proposal it creates each time the workflow runs, and whether it is
/// executed at once.
fn proposal(
    node: &Node,
    path: &str,
    known: &Known<'_, '_>,
    p: &mut Problems,
) -> Option<(ProposalRequest, bool)> {
    let before = p.0.len();
    let mut f = fields(node, path, p)?;
    let title = f.req_str("title", p);
    let description = f.str("description", p).unwrap_or_default();
    let contract = match f.get("contract") {
        Some(c) => contract(c, &f.key_path("contract"), known, p),
        None => {
            p.at(&node.pos, path, "`contract` is required");
            None
        }
    };
    let function = f.get("function");
    let function_interface = match function {
        Some(n) => function_of(n, &f.key_path("function"), contract.as_ref(), p),
        None => {
            p.at(&node.pos, path, "`function` is required");
            None
        }
    };
    let function_inputs = match f.get("inputs") {
        Some(n) => match &n.value {
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            _ => {
                p.at(
                    &n.pos,
                    &f.key_path("inputs"),
                    format!("expected a list of arguments, found {}", n.kind()),
                );
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let via_type = f.req_str("via-type", p).and_then(|v| {
        let at = f.get("via-type").unwrap_or(node).pos.clone();
        match serde_json::from_value::<ViaType>(serde_json::Value::String(v.clone())) {
            Ok(ViaType::Eoa) => {
                p.at(&at, &f.key_path("via-type"), "an EOA proposal is sent with a key the host does not hold: use `via-type: Relayer`, or a Safe, Governor or Timelock executed by a `relayer`");
                None
            }
            Ok(t) => Some(t),
            Err(_) => {
                p.at(
                    &at,
                    &f.key_path("via-type"),
                    format!("unknown approval process `{v}`: expected Relayer, Safe, Governor or Timelock"),
                );
                None
            }
        }
    });
    let via = match f.get("via") {
        Some(n) => f
            .str("via", p)
            .and_then(|a| super::relayer::address(&a, n, &f.key_path("via"), p)),
        None => None,
    };
    let relayer_id = f
        .get("relayer")
        .and_then(|n| known.refs.relayer(n, &f.key_path("relayer"), p));
    match (via_type, &via, &relayer_id) {
        (Some(ViaType::Relayer), _, None) => p.at(
            &node.pos,
            path,
            "a Relayer proposal needs `relayer`: the relayer that sends it",
        ),
        (Some(t), None, _) if t != ViaType::Relayer => p.at(
            &node.pos,
            path,
            format!("a {t:?} proposal needs `via`: the address of its approval process"),
        ),
        (Some(t), Some(_), None) if t != ViaType::Relayer => p.at(
            &node.pos,
            path,
            format!("a {t:?} proposal needs `relayer`: the relayer that sends its transactions"),
        ),
        _ => {}
    }
    if let (Some(c), Some(r)) = (&contract, &relayer_id) {
        if let Some(relayer) = known.relayers.get(r) {
            if relayer.network != c.network {
                let at = f.get("relayer").unwrap_or(node).pos.clone();
                p.at(
                    &at,
                    &f.key_path("relayer"),
                    format!(
                        "relayer `{r}` is on network `{}`, the contract on `{}`",
                        relayer.network, c.network
                    ),
                );
            }
        }
    }
    let send_value = f.uint("value", p).map(|v| serde_json::json!(v.to_string()));
    let operation_type = match f.str("operation-type", p) {
        None => None,
        Some(o) => match o.as_str() {
            "call" => Some(OperationType::Call),
            "delegateCall" | "delegate-call" => Some(OperationType::DelegateCall),
            other => {
                let at = f.get("operation-type").unwrap_or(node).pos.clone();
                p.at(
                    &at,
                    &f.key_path("operation-type"),
                    format!("unknown operation `{other}`: expected call or delegateCall"),
                );
                None
            }
        },
    };
    let execute = f.bool("execute", p).unwrap_or(false);
    f.finish(
        p,
        &[(
            "executor",
            "the host holds no proposal keys: name the `relayer` that sends the transactions",
        )],
    );
    if p.0.len() > before {
        return None;
    }
    let metadata = (send_value.is_some() || operation_type.is_some()).then_some(ProposalMetadata {
        operation_type,
        send_value,
    });
    Some((
        ProposalRequest {
            contract: contract?,
            title: title?,
            description,
            kind: "custom".into(),
            metadata,
            via,
            via_type: via_type?,
            function_interface,
            function_inputs,
            relayer_id,
            executor: None,
        },
        execute,
    ))
}

/// The contract: a reference to one of `resources.contracts`, or a mapping with `network`,
/// `address`, and optionally `name` and `abi`.
fn contract(
    node: &Node,
    path: &str,
    known: &Known<'_, '_>,
    p: &mut Problems,
) -> Option<ProposalContract> {
    if matches!(node.value, Value::Str(_)) || node.origin.is_some() {
        let key = known.refs.resolve(Kind::Contract, node, path, p)?;
        let c = known.contracts.get(&key)?;
        return Some(ProposalContract {
            network: c.network.clone(),
            address: c.address.clone(),
            name: Some(c.name.clone()),
            abi: c.abi.clone(),
        });
    }
    let mut f = fields(node, path, p)?;
    let network = f.req_str("network", p);
    let address = match f.get("address") {
        Some(n) => f
            .req_str("address", p)
            .and_then(|a| super::relayer::address(&a, n, &f.key_path("address"), p)),
        None => {
            p.at(&node.pos, path, "`address` is required");
            None
        }
    };
    let name = f.str("name", p);
    let abi = f
        .get("abi")
        .and_then(|a| super::monitor::abi_text(a, &f.key_path("abi"), p));
    f.finish(p, &[]);
    Some(ProposalContract {
        network: network?,
        address: address?,
        name,
        abi,
    })
}

/// The function: its name (looked up in the contract's ABI), or a mapping with `name` and
/// `inputs` (`[{ name, type }]`) for a contract without an ABI.
fn function_of(
    node: &Node,
    path: &str,
    contract: Option<&ProposalContract>,
    p: &mut Problems,
) -> Option<TargetFunction> {
    let function = match &node.value {
        Value::Str(name) => TargetFunction {
            name: Some(name.clone()),
            inputs: Vec::new(),
        },
        Value::Map(_) => match serde_json::from_value::<TargetFunction>(node.to_json()) {
            Ok(f) if f.name.as_deref().is_some_and(|n| !n.trim().is_empty()) => f,
            Ok(_) => {
                p.at(&node.pos, path, "the function needs a `name`");
                return None;
            }
            Err(e) => {
                p.at(
                    &node.pos,
                    path,
                    format!("expected `{{ name, inputs: [{{ name, type }}] }}`: {e}"),
                );
                return None;
            }
        },
        _ => {
            p.at(
                &node.pos,
                path,
                format!("expected a function name or mapping, found {}", node.kind()),
            );
            return None;
        }
    };
    let name = function.name.clone().unwrap_or_default();
    if function.inputs.is_empty() {
        // Looked up by name in the ABI when the proposal is created: check it is there.
        match contract.map(|c| c.abi.as_deref()) {
            Some(None) => p.at(
                &node.pos,
                path,
                format!("the contract has no ABI to find `{name}` in: give the function as `{{ name, inputs }}`, or the contract an `abi`"),
            ),
            Some(Some(abi)) => {
                let has = serde_json::from_str::<alloy_json_abi::JsonAbi>(abi)
                    .is_ok_and(|abi| abi.functions.contains_key(&name));
                if !has {
                    p.at(
                        &node.pos,
                        path,
                        format!("the contract's ABI has no function `{name}`"),
                    );
                }
            }
            None => {}
        }
    }
    Some(function)
}

/// The networks the workflows' proposals call contracts on, sorted.
pub(crate) fn proposal_networks<'a>(workflows: impl Iterator<Item = &'a Workflow>) -> Vec<String> {
    let mut n: Vec<String> = workflows
        .flat_map(|w| w.steps.iter())
        .flat_map(|s| s.items.iter())
        .filter_map(|i| match i {
            WorkflowItem::Proposal { proposal, .. } => Some(proposal.contract.network.clone()),
            _ => None,
        })
        .collect();
    n.sort();
    n.dedup();
    n
}
