//! The top level of `serverless.yml` and its `resources`, in both formats.

use super::monitor::{DAC_KEYS, LEGACY_KEYS};
use super::{action, forta, monitor, notification, relayer, workflow, Project, ProjectFormat};
use crate::problem::{child_path, Problems};
use crate::read::{fields, Fields};
use crate::refs::{Kind, Refs};
use crate::yaml::{Node, Value};
use std::collections::BTreeMap;
use std::path::Path;

const UNSUPPORTED_RESOURCES: &[(&str, &str)] = &[
    ("categories", "notification categories are not supported yet: list channels in each monitor's `notify-config.channels`"),
    ("block-explorer-api-keys", "contract verification is not part of a self-hosted project"),
    ("deployment-configs", "Defender Deploy is not part of a self-hosted project"),
    ("approval-processes", "approval processes are not supported yet"),
];

/// Reads a resolved document into a project. `stage` is the resolved stage.
pub(crate) fn read_project(root: &Node, dir: &Path, stage: &str, p: &mut Problems) -> Project {
    let mut project = Project {
        format: ProjectFormat::DefenderAsCode,
        dir: dir.to_path_buf(),
        service: None,
        stage: stage.to_owned(),
        stack_name: String::new(),
        ssot: false,
        actions: BTreeMap::new(),
        monitors: BTreeMap::new(),
        forta_monitors: BTreeMap::new(),
        workflows: BTreeMap::new(),
        notifications: BTreeMap::new(),
        relayers: BTreeMap::new(),
        relayer_groups: BTreeMap::new(),
        policies: BTreeMap::new(),
        secrets: BTreeMap::new(),
        contracts: BTreeMap::new(),
        private_networks: BTreeMap::new(),
        forked_networks: BTreeMap::new(),
        host: Default::default(),
    };
    let Some(mut top) = fields(root, "", p) else {
        p.at(
            &root.pos,
            "",
            "the project file is empty: expected `service`, `provider` and `resources`",
        );
        return project;
    };
    project.service = match top.get("service") {
        Some(n) => match &n.value {
            Value::Str(s) => Some(s.clone()),
            Value::Map(_) => n.get("name").and_then(Node::scalar_text),
            _ => None,
        },
        None => None,
    };
    let mut stack_name = None;
    if let Some(prov) = top.get("provider") {
        if let Some(mut f) = fields(prov, "provider", p) {
            if let Some(name) = f.str("name", p) {
                if name != "defender" && name != "platform" {
                    let at = f.get("name").unwrap_or(prov).pos.clone();
                    p.at(
                        &at,
                        "provider.name",
                        format!("provider `{name}` is not a Defender project: expected `defender`"),
                    );
                }
            }
            let _ = f.str("stage", p);
            stack_name = f.str("stackName", p);
            project.ssot = f.bool("ssot", p).unwrap_or(false);
            f.finish(
                p,
                &[
                    ("region", "a self-hosted project has no region"),
                    ("runtime", "actions run in the host's sandbox"),
                ],
            );
        }
    }
    for section in ["defender", "platform"] {
        if let Some(d) = top.get(section) {
            if let Some(mut f) = fields(d, section, p) {
                // The Defender team API key and secret: a self-hosted project needs none.
                let _ = f.str("key", p);
                let _ = f.str("secret", p);
                if let Some(s) = f.str("stackName", p) {
                    stack_name = Some(s);
                }
                if let Some(s) = f.bool("ssot", p) {
                    project.ssot = s;
                }
                f.finish(p, &[]);
            }
        }
    }
    // Known keys with no meaning for a self-hosted project (`custom` holds values for variables).
    for key in [
        "custom",
        "plugins",
        "frameworkVersion",
        "configValidationMode",
        "useDotenv",
        "variablesResolutionMode",
    ] {
        let _ = top.get(key);
    }
    project.stack_name = stack_name.unwrap_or_else(|| {
        format!(
            "{}-{stage}",
            project.service.as_deref().unwrap_or("defender")
        )
    });
    let functions = top.get("functions");
    let resources = top.get("resources");
    finish_top(top, p);
    let legacy = functions.is_some() || resources.and_then(|r| r.get("Resources")).is_some();
    if legacy {
        project.format = ProjectFormat::LegacyServerless;
    }
    let (section_node, section_path) = match resources {
        Some(r) if legacy => match r.get("Resources") {
            Some(inner) => {
                if let Some(mut f) = fields(r, "resources", p) {
                    let _ = f.get("Resources");
                    f.finish(p, &[]);
                }
                (Some(inner), "resources.Resources")
            }
            None => (Some(r), "resources"),
        },
        Some(r) => (Some(r), "resources"),
        None => (None, "resources"),
    };
    let Some(section_node) = section_node else {
        if functions.is_none() {
            p.at(&root.pos, "", "the project has no `resources`");
        }
        return project;
    };
    let Some(mut res) = fields(section_node, section_path, p) else {
        return project;
    };
    read_resources(&mut project, &mut res, functions, legacy, dir, p);
    res.finish(p, UNSUPPORTED_RESOURCES);
    project
}

fn finish_top(top: Fields<'_>, p: &mut Problems) {
    top.finish(
        p,
        &[
            ("package", "actions are loaded from each action's `path`"),
            ("layers", "a self-hosted project has no layers"),
        ],
    );
}

/// Each entry of a resource section: the key, the node and its path; a plain-string entry
/// (a Defender id) is a problem.
fn entries<'n>(
    section: Option<&'n Node>,
    path: &str,
    what: &str,
    p: &mut Problems,
) -> Vec<(String, &'n Node, String)> {
    let Some(node) = section else {
        return Vec::new();
    };
    let Some(mut f) = fields(node, path, p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in f.entries() {
        let ep = child_path(path, &k.name);
        match &v.value {
            Value::Str(id) => p.at(
                &v.pos,
                &ep,
                format!("`{id}` refers to an existing {what} in Defender by id: a self-hosted project defines each {what} here"),
            ),
            Value::Null => p.at(&v.pos, &ep, format!("the {what} is empty")),
            _ => out.push((k.name.clone(), v, ep)),
        }
    }
    out
}

fn read_resources<'n>(
    project: &mut Project,
    res: &mut Fields<'n>,
    functions: Option<&'n Node>,
    legacy: bool,
    dir: &Path,
    p: &mut Problems,
) {
    let base = res.path().to_owned();
    let path_of = |k: &str| child_path(&base, k);
    let (actions_node, actions_path) = if legacy {
        match (functions, res.get("autotasks")) {
            (Some(f), _) => (Some(f), "functions".to_owned()),
            (None, a) => (a, path_of("autotasks")),
        }
    } else {
        (res.get("actions"), path_of("actions"))
    };
    if legacy && functions.is_some() {
        let _ = res.get("autotasks");
    }
    let monitors_key = if legacy { "sentinels" } else { "monitors" };
    let monitors_node = res.get(monitors_key);
    let workflows = if legacy { None } else { res.get("workflows") };
    if let Some(n) = res.get("proposals") {
        p.at(
            &n.pos,
            &path_of("proposals"),
            "proposals are not declared: a proposal is a one-off request with its own approvals \
             and execution; create it through the management API, or as a `proposal` step of a \
             workflow (created each time the workflow runs)",
        );
    }
    let notifications = res.get("notifications");
    let relayers = res.get("relayers");
    let policies = res.get("policies");
    let contracts = res.get("contracts");
    let secrets = res.get("secrets");
    let (groups, private, forked) = if legacy {
        (None, None, None)
    } else {
        (
            res.get("relayer-groups"),
            res.get("private-networks"),
            res.get("forked-networks"),
        )
    };
    let mut refs = Refs::default();
    refs.add(Kind::Action, actions_node);
    refs.add(Kind::Relayer, relayers);
    refs.add(Kind::Relayer, groups);
    refs.add(Kind::Policy, policies);
    refs.add(Kind::Notification, notifications);
    refs.add(Kind::Contract, contracts);
    refs.add(Kind::Workflow, workflows);

    for (k, v, ep) in entries(policies, &path_of("policies"), "policy", p) {
        if let Some(x) = relayer::policy(v, &ep, p) {
            project.policies.insert(k, x);
        }
    }
    for (k, v, ep) in entries(contracts, &path_of("contracts"), "contract", p) {
        if let Some(x) = relayer::contract(v, &ep, p) {
            project.contracts.insert(k, x);
        }
    }
    for (k, v, ep) in entries(relayers, &path_of("relayers"), "relayer", p) {
        if let Some(x) = relayer::relayer(v, &ep, &refs, p) {
            project.relayers.insert(k, x);
        }
    }
    for (k, v, ep) in entries(groups, &path_of("relayer-groups"), "relayer group", p) {
        if let Some(x) = relayer::relayer_group(v, &ep, &refs, p) {
            project.relayer_groups.insert(k, x);
        }
    }
    for (k, v, ep) in entries(private, &path_of("private-networks"), "private network", p) {
        if let Some(x) = relayer::tenant_network(v, &ep, false, p) {
            project.private_networks.insert(k, x);
        }
    }
    for (k, v, ep) in entries(forked, &path_of("forked-networks"), "forked network", p) {
        if let Some(x) = relayer::tenant_network(v, &ep, true, p) {
            project.forked_networks.insert(k, x);
        }
    }
    for (k, v, ep) in entries(
        notifications,
        &path_of("notifications"),
        "notification channel",
        p,
    ) {
        if let Some(x) = notification::read(&k, v, &ep, p) {
            project.notifications.insert(k, x);
        }
    }
    for (k, v, ep) in entries(actions_node, &actions_path, "action", p) {
        if let Some(x) = action::read(&k, v, &ep, dir, &refs, p) {
            project.actions.insert(k, x);
        }
    }
    let known = workflow::Known {
        refs: &refs,
        contracts: &project.contracts,
        relayers: &project.relayers,
    };
    let mut read_workflows = BTreeMap::new();
    for (k, v, ep) in entries(workflows, &path_of("workflows"), "workflow", p) {
        if let Some(x) = workflow::read(&k, v, &ep, &known, p) {
            read_workflows.insert(k, x);
        }
    }
    project.workflows = read_workflows;
    let keys = if legacy { &LEGACY_KEYS } else { &DAC_KEYS };
    for (k, v, ep) in entries(monitors_node, &path_of(monitors_key), "monitor", p) {
        if forta::is_forta(v) {
            if let Some(x) = forta::read(v, &ep, keys, &refs, p) {
                project.forta_monitors.insert(k, x);
            }
        } else if let Some(x) = monitor::read(&k, v, &ep, keys, &refs, &project.contracts, p) {
            project.monitors.insert(k, x);
        }
    }
    if let Some(s) = secrets {
        read_secrets(project, s, &path_of("secrets"), p);
    }
}

fn read_secrets(project: &mut Project, node: &Node, path: &str, p: &mut Problems) {
    let Some(mut f) = fields(node, path, p) else {
        return;
    };
    for (scope, prefix) in [
        ("global", None),
        ("stack", Some(project.stack_name.clone())),
    ] {
        let Some(section) = f.get(scope) else {
            continue;
        };
        let sp = f.key_path(scope);
        let Some(mut s) = fields(section, &sp, p) else {
            continue;
        };
        for (k, v) in s.entries() {
            // Stack secrets are named `<stackName>_<name>`, as defender-as-code named them.
            let name = match &prefix {
                Some(stack) => format!("{stack}_{}", k.name),
                None => k.name.clone(),
            };
            let value = match &v.value {
                Value::Null => None,
                Value::Map(_) | Value::Seq(_) => {
                    p.at(
                        &v.pos,
                        &child_path(&sp, &k.name),
                        format!("expected a string, found {}", v.kind()),
                    );
                    continue;
                }
                _ => v.scalar_text(),
            };
            if project.secrets.insert(name.clone(), value).is_some() {
                p.at(
                    &k.pos,
                    &child_path(&sp, &k.name),
                    format!("secret `{name}` is defined twice"),
                );
            }
        }
    }
    f.finish(p, &[]);
}
