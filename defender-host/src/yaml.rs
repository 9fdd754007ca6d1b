//! The document tree the loader works on: YAML (or JSON) values that remember the file and line
//! they came from, so that every problem can name both.

use crate::problem::{Pos, Problem};
use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use std::fmt;
use std::sync::Arc;

/// Largest file the loader reads (a project file, an included file, an ABI).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A value of the tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    /// The key as text.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
}

/// A value and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// The value.
    pub value: Value,
    /// Where it is written.
    pub pos: Pos,
    /// For a value copied by `${self:path}` as a whole, the path it was copied from: how a
    /// reference such as `relayer: ${self:resources.relayers.r1}` names the resource.
    pub origin: Option<String>,
}

impl Node {
    /// A node without an origin.
    pub(crate) fn new(value: Value, pos: Pos) -> Self {
        Node {
            value,
            pos,
            origin: None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether the value is `null`.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the value's type, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar as text (for interpolation into a string); `None` for lists and mappings.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        Some(match &self.value {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }

    /// The tree as JSON (an ABI written as YAML, a channel's free-form fields).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scalar_text() {
            Some(s) => f.write_str(&s),
            None => f.write_str(self.kind()),
        }
    }
}

/// Parses one YAML document (JSON is YAML too). `file` names the source in positions.
///
/// Anchors and aliases are expanded (within the parser's node budget, so an alias bomb fails);
/// `<<` merge keys are applied as Serverless (js-yaml) applies them; duplicate keys and tags
/// are problems.
pub(crate) fn parse(text: &str, file: &Arc<str>) -> Result<Node, Problem> {
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| Problem {
        file: file.to_string(),
        path: String::new(),
        line: e.marker().line(),
        message: format!("invalid YAML: {}", e.info()),
    })?;
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        return Ok(Node::new(Value::Null, Pos::new(file, 1, 0)));
    };
    if let Some(second) = docs.next() {
        return Err(Problem {
            file: file.to_string(),
            path: String::new(),
            line: second.span.start.line(),
            message: "the file holds more than one YAML document".to_owned(),
        });
    }
    convert(doc, file)
}

fn convert(node: MarkedYamlOwned, file: &Arc<str>) -> Result<Node, Problem> {
    let pos = Pos::new(file, node.span.start.line(), node.span.start.col());
    let problem = |message: String| Problem {
        file: file.to_string(),
        path: String::new(),
        line: pos.line,
        message,
    };
    let value = match node.data {
        YamlDataOwned::Value(s) => scalar(s),
        YamlDataOwned::Representation(text, _, _) => Value::Str(text),
        YamlDataOwned::Sequence(items) => Value::Seq(
            items
                .into_iter()
                .map(|n| convert(n, file))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(map) => {
            let mut entries: Vec<(Key, Node)> = Vec::with_capacity(map.len());
            let mut merged: Vec<(Key, Node)> = Vec::new();
            for (k, v) in map {
                let key_pos = Pos::new(file, k.span.start.line(), k.span.start.col());
                let name = match k.data {
                    YamlDataOwned::Value(s) => match scalar(s) {
                        Value::Str(s) => s,
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Null => "null".to_owned(),
                        Value::Seq(_) | Value::Map(_) => String::new(),
                    },
                    YamlDataOwned::Representation(text, _, _) => text,
                    _ => {
                        return Err(Problem {
                            line: key_pos.line,
                            ..problem("a mapping key must be a plain value".into())
                        })
                    }
                };
                let value = convert(v, file)?;
                if name == "<<" {
                    // Merge keys: a mapping or a list of mappings; keys written here win.
                    let sources = match value.value {
                        Value::Map(m) => vec![m],
                        Value::Seq(items) => items
                            .into_iter()
                            .filter_map(|n| match n.value {
                                Value::Map(m) => Some(m),
                                _ => None,
                            })
                            .collect(),
                        _ => {
                            return Err(Problem {
                                line: key_pos.line,
                                ..problem("`<<` must merge a mapping".into())
                            })
                        }
                    };
                    for m in sources {
                        for (k, v) in m {
                            if !merged.iter().any(|(e, _)| e.name == k.name) {
                                merged.push((k, v));
                            }
                        }
                    }
                    continue;
                }
                entries.push((Key { name, pos: key_pos }, value));
            }
            for (k, v) in merged {
                if !entries.iter().any(|(e, _)| e.name == k.name) {
                    entries.push((k, v));
                }
            }
            Value::Map(entries)
        }
        YamlDataOwned::Tagged(tag, _) => {
            return Err(problem(format!(
                "YAML tag `{}{}` is not supported",
                tag.handle, tag.suffix
            )))
        }
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => {
            return Err(problem(
                "an alias names no anchor, or expands beyond the size limit".into(),
            ))
        }
    };
    Ok(Node::new(value, pos))
}

fn scalar(s: ScalarOwned) -> Value {
    match s {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(b) => Value::Bool(b),
        ScalarOwned::Integer(i) => Value::Int(i),
        ScalarOwned::FloatingPoint(f) => Value::Float(f.into_inner()),
        ScalarOwned::String(s) => Value::Str(s),
    }
}
