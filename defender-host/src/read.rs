//! Typed reading of a resolved tree, with every key accounted for: each mapping is read
//! through [`Fields`], and the keys no reader asked for are reported by name.

use crate::problem::{child_path, index_path, Problems};
use crate::yaml::{Key, Node, Value};

/// The fields of one mapping being read.
pub(crate) struct Fields<'n> {
    entries: &'n [(Key, Node)],
    node: &'n Node,
    path: String,
    read: Vec<&'n str>,
}

/// `node` as a mapping; a problem when it is something else (`None` for `null`).
pub(crate) fn fields<'n>(node: &'n Node, path: &str, p: &mut Problems) -> Option<Fields<'n>> {
    match &node.value {
        Value::Map(entries) => Some(Fields {
            entries,
            node,
            path: path.to_owned(),
            read: Vec::new(),
        }),
        Value::Null => None,
        _ => {
            p.at(
                &node.pos,
                path,
                format!("expected a mapping, found {}", node.kind()),
            );
            None
        }
    }
}

impl<'n> Fields<'n> {
    /// The mapping's own node.
    pub(crate) fn node(&self) -> &'n Node {
        self.node
    }

    /// The YAML path of the mapping.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The path of one of its keys.
    pub(crate) fn key_path(&self, key: &str) -> String {
        child_path(&self.path, key)
    }

    /// The entries in document order (marks them all read).
    pub(crate) fn entries(&mut self) -> &'n [(Key, Node)] {
        for (k, _) in self.entries {
            self.read.push(&k.name);
        }
        self.entries
    }

    /// The value of `key`; `None` when absent or `null`.
    pub(crate) fn get(&mut self, key: &str) -> Option<&'n Node> {
        let (k, v) = self.entries.iter().find(|(k, _)| k.name == key)?;
        self.read.push(&k.name);
        (!v.is_null()).then_some(v)
    }

    /// A string (numbers are accepted and written as text, as YAML readers of Serverless do).
    pub(crate) fn str(&mut self, key: &str, p: &mut Problems) -> Option<String> {
        let v = self.get(key)?;
        match &v.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => v.scalar_text(),
            _ => {
                p.at(
                    &v.pos,
                    &self.key_path(key),
                    format!("expected a string, found {}", v.kind()),
                );
                None
            }
        }
    }

    /// A required string: a problem when absent or empty.
    pub(crate) fn req_str(&mut self, key: &str, p: &mut Problems) -> Option<String> {
        match self.str(key, p) {
            Some(s) if !s.trim().is_empty() => Some(s),
            Some(_) => {
                let pos = self.get(key).map_or(&self.node.pos, |n| &n.pos).clone();
                p.at(&pos, &self.key_path(key), format!("`{key}` is empty"));
                None
            }
            None => {
                if self
                    .entries
                    .iter()
                    .all(|(k, v)| k.name != key || v.is_null())
                {
                    p.at(&self.node.pos, &self.path, format!("`{key}` is required"));
                }
                None
            }
        }
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, key: &str, p: &mut Problems) -> Option<bool> {
        let v = self.get(key)?;
        match v.value {
            Value::Bool(b) => Some(b),
            _ => {
                p.at(
                    &v.pos,
                    &self.key_path(key),
                    format!("expected true or false, found {}", v.kind()),
                );
                None
            }
        }
    }

    /// A non-negative integer (a string of digits is accepted).
    pub(crate) fn uint(&mut self, key: &str, p: &mut Problems) -> Option<u128> {
        let v = self.get(key)?;
        let parsed = match &v.value {
            Value::Int(i) => u128::try_from(*i).ok(),
            Value::Str(s) => s.trim().parse::<u128>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            p.at(
                &v.pos,
                &self.key_path(key),
                format!("expected a non-negative integer, found {v}"),
            );
        }
        parsed
    }

    /// A list of strings.
    pub(crate) fn strings(&mut self, key: &str, p: &mut Problems) -> Vec<String> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let path = self.key_path(key);
        match &v.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| match &n.value {
                    Value::Str(s) => Some(s.clone()),
                    Value::Int(_) => n.scalar_text(),
                    _ => {
                        p.at(
                            &n.pos,
                            &index_path(&path, i),
                            format!("expected a string, found {}", n.kind()),
                        );
                        None
                    }
                })
                .collect(),
            _ => {
                p.at(
                    &v.pos,
                    &path,
                    format!("expected a list, found {}", v.kind()),
                );
                Vec::new()
            }
        }
    }

    /// Reports every key that was not read: `unsupported` ones with their reason, others as
    /// unknown.
    pub(crate) fn finish(self, p: &mut Problems, unsupported: &[(&str, &str)]) {
        for (k, v) in self.entries {
            if self.read.contains(&k.name.as_str()) {
                continue;
            }
            let path = child_path(&self.path, &k.name);
            match unsupported.iter().find(|(name, _)| *name == k.name) {
                Some((_, why)) if v.is_null() => {
                    let _ = why;
                }
                Some((_, why)) => p.at(
                    &k.pos,
                    &path,
                    format!("`{}` is not supported yet: {why}", k.name),
                ),
                None => p.at(&k.pos, &path, format!("unknown key `{}`", k.name)),
            }
        }
    }
}
