//! References between resources. In Serverless a reference is a copy of the referenced value
//! (`relayer: ${self:resources.relayers.relayer-1}`); the loader remembers where a copy came
//! from, and otherwise finds the resource whose content is equal, as defender-as-code did.
//! A plain string names a resource by its key.

use crate::problem::Problems;
use crate::yaml::{Node, Value};

/// A kind of resource that can be referenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Action,
    Relayer,
    Policy,
    Notification,
    Contract,
    Workflow,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Relayer => "relayer",
            Kind::Policy => "policy",
            Kind::Notification => "notification channel",
            Kind::Contract => "contract",
            Kind::Workflow => "workflow",
        }
    }

    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Kind::Action => &[
                "resources.actions",
                "functions",
                "resources.Resources.autotasks",
            ],
            // A relayer group is usable wherever a relayer is (an action's `relayer:`).
            Kind::Relayer => &[
                "resources.relayers",
                "resources.Resources.relayers",
                "resources.relayer-groups",
            ],
            Kind::Policy => &["resources.policies", "resources.Resources.policies"],
            Kind::Notification => &[
                "resources.notifications",
                "resources.Resources.notifications",
            ],
            Kind::Contract => &["resources.contracts", "resources.Resources.contracts"],
            Kind::Workflow => &["resources.workflows"],
        }
    }
}

/// The sections references point into.
#[derive(Default)]
pub(crate) struct Refs<'n> {
    sections: Vec<(Kind, &'n Node)>,
}

impl<'n> Refs<'n> {
    pub(crate) fn add(&mut self, kind: Kind, section: Option<&'n Node>) {
        if let Some(s) = section {
            self.sections.push((kind, s));
        }
    }

    fn keys(&self, kind: Kind) -> Vec<&'n str> {
        self.sections
            .iter()
            .filter(|(k, _)| *k == kind)
            .flat_map(|(_, n)| match &n.value {
                Value::Map(entries) => entries.iter().map(|(k, _)| k.name.as_str()).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The resource key `node` refers to, or a problem at `path`.
    pub(crate) fn resolve(
        &self,
        kind: Kind,
        node: &Node,
        path: &str,
        p: &mut Problems,
    ) -> Option<String> {
        let keys = self.keys(kind);
        let known = || {
            if keys.is_empty() {
                "the project defines none".to_owned()
            } else {
                format!("the project defines {}", keys.join(", "))
            }
        };
        if let Some(origin) = &node.origin {
            for prefix in kind.prefixes() {
                if let Some(key) = origin
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix('.'))
                {
                    if keys.contains(&key) {
                        return Some(key.to_owned());
                    }
                    p.at(
                        &node.pos,
                        path,
                        format!("unknown {} `{key}`: {}", kind.name(), known()),
                    );
                    return None;
                }
            }
        }
        match &node.value {
            Value::Str(s) => {
                if keys.contains(&s.as_str()) {
                    return Some(s.clone());
                }
                let message = if looks_like_defender_id(s) {
                    format!(
                        "`{s}` is the id of a {} in Defender, outside this project: define it in the project and reference it by key",
                        kind.name()
                    )
                } else {
                    format!("unknown {} `{s}`: {}", kind.name(), known())
                };
                p.at(&node.pos, path, message);
                None
            }
            Value::Map(_) => {
                let json = node.to_json();
                for (k, section) in &self.sections {
                    if *k != kind {
                        continue;
                    }
                    if let Value::Map(entries) = &section.value {
                        if let Some((key, _)) = entries.iter().find(|(_, v)| v.to_json() == json) {
                            return Some(key.name.clone());
                        }
                    }
                }
                p.at(
                    &node.pos,
                    path,
                    format!(
                        "this {} is not one of the project's: reference it as `${{self:{}.<key>}}` ({})",
                        kind.name(),
                        kind.prefixes()[0],
                        known()
                    ),
                );
                None
            }
            _ => {
                p.at(
                    &node.pos,
                    path,
                    format!(
                        "expected a reference to a {}, found {}",
                        kind.name(),
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn relayer(&self, node: &Node, path: &str, p: &mut Problems) -> Option<String> {
        self.resolve(Kind::Relayer, node, path, p)
    }

    pub(crate) fn policy(&self, node: &Node, path: &str, p: &mut Problems) -> Option<String> {
        self.resolve(Kind::Policy, node, path, p)
    }
}

/// Defender's resource ids: UUIDs, and `<network>-<address>` for contracts.
fn looks_like_defender_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    uuid || s.contains("-0x")
}
