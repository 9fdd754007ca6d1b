//! Serverless variables, resolved as the Serverless Framework (v3) resolves them:
//! `${self:path.to.key}`, `${file(./x.yml)}` and `${file(./x.yml):path.to.key}` (YAML and JSON
//! files are parsed, any other file is its text, as an `.abi` file), `${opt:name}`,
//! `${env:NAME}`, `${sls:stage}`, fallbacks after commas (`${opt:stage, 'dev'}`,
//! `${env:A, ${env:B}, 42}`), nested variables (`${file(secrets.${self:provider.stage}.yml)}`)
//! and variables inside a longer string (`https://${env:HOST}/hook`).
//!
//! A value that is one variable takes the referenced value's type (a mapping, a list, a
//! number); in a longer string each variable must be a scalar. Files are read only from inside
//! the project directory. Every failure (unknown source, value not found without a fallback, a
//! cycle, a file outside the project) is a [`Problem`] at the YAML path that holds the variable.

use crate::files::{confine, read_bounded, relative_name};
use crate::problem::{child_path, index_path, Pos, Problems};
use crate::yaml::{self, Node, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// Deepest nesting of variables inside variables, and of files including files.
const MAX_DEPTH: usize = 32;

/// What variables read besides the document: the project directory (for `file()`), the
/// command-line options (`opt:`) and the environment (`env:`).
#[derive(Clone, Debug)]
pub(crate) struct VarSources<'a> {
    /// The project directory; `file()` paths are relative to it and confined to it.
    pub(crate) project_dir: &'a Path,
    /// `opt:` values (`stage`, ...).
    pub(crate) options: &'a BTreeMap<String, String>,
    /// `env:` values.
    pub(crate) env: &'a BTreeMap<String, String>,
}

enum VarError {
    /// The variable names nothing: a fallback may apply.
    NotFound(String),
    /// The variable is wrong whatever the fallbacks.
    Invalid(String),
}

/// Resolves every variable of `root`. Values whose variables fail become `null`, and each
/// failure is in `problems`.
pub(crate) fn resolve(root: Node, sources: &VarSources<'_>, problems: &mut Problems) -> Node {
    let mut r = Resolver {
        root: Rc::new(root),
        sources,
        cache: HashMap::new(),
        active: Vec::new(),
        files: Vec::new(),
        depth: 0,
        problems,
    };
    match r.resolve_at(&[]) {
        Ok(Some(n)) => n,
        Ok(None) | Err(_) => Node::new(Value::Null, r.root.pos.clone()),
    }
}

struct Resolver<'a, 'p> {
    root: Rc<Node>,
    sources: &'a VarSources<'a>,
    /// Resolved values of the document by path.
    cache: HashMap<Vec<String>, Node>,
    /// The paths being resolved, to detect cycles.
    active: Vec<Vec<String>>,
    /// The files being resolved, to detect a file that includes itself.
    files: Vec<PathBuf>,
    depth: usize,
    problems: &'p mut Problems,
}

fn display_path(segs: &[String]) -> String {
    segs.iter()
        .fold(String::new(), |acc, s| child_path(&acc, s))
}

fn has_var(s: &str) -> bool {
    s.contains("${")
}

fn child<'n>(node: &'n Node, seg: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Map(_) => node.get(seg),
        Value::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

impl Resolver<'_, '_> {
    /// The resolved value at `segs` of the document; `None` when there is none.
    fn resolve_at(&mut self, segs: &[String]) -> Result<Option<Node>, VarError> {
        if let Some(n) = self.cache.get(segs) {
            return Ok(Some(n.clone()));
        }
        if let Some(start) = self.active.iter().position(|a| a == segs) {
            let mut chain: Vec<String> = self.active[start..]
                .iter()
                .map(|p| display_path(p))
                .collect();
            chain.push(display_path(segs));
            return Err(VarError::Invalid(format!(
                "variables form a cycle: {}",
                chain.join(" -> ")
            )));
        }
        let root = self.root.clone();
        let mut raw: &Node = &root;
        let mut resolved: Option<Node> = None;
        for (i, seg) in segs.iter().enumerate() {
            if resolved.is_none() && matches!(&raw.value, Value::Str(s) if has_var(s)) {
                match self.resolve_at(&segs[..i])? {
                    Some(n) => resolved = Some(n),
                    None => return Ok(None),
                }
            }
            match &resolved {
                Some(r) => match child(r, seg) {
                    Some(c) => resolved = Some(c.clone()),
                    None => return Ok(None),
                },
                None => match child(raw, seg) {
                    Some(c) => raw = c,
                    None => return Ok(None),
                },
            }
        }
        if let Some(r) = resolved {
            return Ok(Some(r));
        }
        self.active.push(segs.to_vec());
        let out = self.deep_document(raw, segs);
        self.active.pop();
        let out = out?;
        self.cache.insert(segs.to_vec(), out.clone());
        Ok(Some(out))
    }

    /// Resolves a node of the document; children go through [`Self::resolve_at`] (cached).
    fn deep_document(&mut self, raw: &Node, segs: &[String]) -> Result<Node, VarError> {
        let path = display_path(segs);
        match &raw.value {
            Value::Str(s) if has_var(s) => match self.eval_string(s, &raw.pos, &path) {
                Ok(n) => Ok(n),
                Err(VarError::Invalid(m)) if m.starts_with("variables form a cycle") => {
                    Err(VarError::Invalid(m))
                }
                Err(VarError::Invalid(m) | VarError::NotFound(m)) => {
                    self.problems.at(&raw.pos, &path, m);
                    Ok(Node::new(Value::Null, raw.pos.clone()))
                }
            },
            Value::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let mut s = segs.to_vec();
                    s.push(k.name.clone());
                    let n = self.child_or_null(v, &s)?;
                    out.push((k.clone(), n));
                }
                Ok(Node::new(Value::Map(out), raw.pos.clone()))
            }
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    let mut s = segs.to_vec();
                    s.push(i.to_string());
                    out.push(self.child_or_null(v, &s)?);
                }
                Ok(Node::new(Value::Seq(out), raw.pos.clone()))
            }
            _ => Ok(raw.clone()),
        }
    }

    fn child_or_null(&mut self, raw: &Node, segs: &[String]) -> Result<Node, VarError> {
        match self.resolve_at(segs) {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Ok(Node::new(Value::Null, raw.pos.clone())),
            Err(VarError::Invalid(m) | VarError::NotFound(m)) => {
                // Reported where the cycle closes; the value is left empty.
                let path = yaml_path(segs);
                self.problems.at(&raw.pos, &path, m);
                Ok(Node::new(Value::Null, raw.pos.clone()))
            }
        }
    }

    /// Resolves a tree that is not part of the document (an included file's content).
    fn deep_detached(&mut self, node: &Node, path: &str) -> Node {
        match &node.value {
            Value::Str(s) if has_var(s) => match self.eval_string(s, &node.pos, path) {
                Ok(n) => n,
                Err(VarError::Invalid(m) | VarError::NotFound(m)) => {
                    self.problems.at(&node.pos, path, m);
                    Node::new(Value::Null, node.pos.clone())
                }
            },
            Value::Map(entries) => {
                let out = entries
                    .iter()
                    .map(|(k, v)| (k.clone(), self.deep_detached(v, &child_path(path, &k.name))))
                    .collect();
                Node::new(Value::Map(out), node.pos.clone())
            }
            Value::Seq(items) => {
                let out = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.deep_detached(v, &index_path(path, i)))
                    .collect();
                Node::new(Value::Seq(out), node.pos.clone())
            }
            _ => node.clone(),
        }
    }

    /// A string with variables: one variable as a whole keeps the value's type; otherwise the
    /// text with each variable replaced.
    fn eval_string(&mut self, s: &str, pos: &Pos, path: &str) -> Result<Node, VarError> {
        if self.depth >= MAX_DEPTH {
            return Err(VarError::Invalid(
                "variables are nested too deeply".to_owned(),
            ));
        }
        self.depth += 1;
        let out = self.eval_string_inner(s, pos, path);
        self.depth -= 1;
        out
    }

    fn eval_string_inner(&mut self, s: &str, pos: &Pos, path: &str) -> Result<Node, VarError> {
        let parts = split_vars(s).map_err(VarError::Invalid)?;
        if let [Part::Var(inner)] = parts.as_slice() {
            let mut n = self.eval_var(inner, pos, path)?;
            n.pos = pos.clone();
            return Ok(n);
        }
        let mut text = String::new();
        for part in parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Var(inner) => {
                    let n = self.eval_var(inner, pos, path)?;
                    match n.scalar_text() {
                        Some(t) => text.push_str(&t),
                        None => {
                            return Err(VarError::Invalid(format!(
                                "`${{{inner}}}` is {}, which cannot be put inside a string",
                                n.kind()
                            )))
                        }
                    }
                }
            }
        }
        Ok(Node::new(Value::Str(text), pos.clone()))
    }

    /// One variable's content (between `${` and `}`), with its fallbacks.
    fn eval_var(&mut self, inner: &str, pos: &Pos, path: &str) -> Result<Node, VarError> {
        let alternatives = split_top_level_commas(inner);
        let mut first_miss: Option<String> = None;
        for alt in alternatives {
            let alt = alt.trim();
            let result = self.eval_alternative(alt, pos, path);
            match result {
                Ok(n) => return Ok(n),
                Err(VarError::NotFound(m)) => {
                    first_miss.get_or_insert(m);
                }
                Err(e @ VarError::Invalid(_)) => return Err(e),
            }
        }
        Err(VarError::NotFound(
            first_miss.unwrap_or_else(|| format!("`${{{inner}}}` names nothing")),
        ))
    }

    fn eval_alternative(&mut self, alt: &str, pos: &Pos, path: &str) -> Result<Node, VarError> {
        if let Some(lit) = quoted(alt) {
            return Ok(Node::new(Value::Str(lit.to_owned()), pos.clone()));
        }
        if let Ok(i) = alt.parse::<i64>() {
            return Ok(Node::new(Value::Int(i), pos.clone()));
        }
        match alt {
            "true" | "false" => return Ok(Node::new(Value::Bool(alt == "true"), pos.clone())),
            "null" => return Ok(Node::new(Value::Null, pos.clone())),
            _ => {}
        }
        if alt.starts_with("${")
            && alt.ends_with('}')
            && split_vars(alt).is_ok_and(|p| p.len() == 1)
        {
            return self.eval_string(alt, pos, path);
        }
        // Inner variables first: `file(secrets.${self:provider.stage}.yml)`.
        let expr = if has_var(alt) {
            match self.eval_string(alt, pos, path)?.scalar_text() {
                Some(t) => t,
                None => {
                    return Err(VarError::Invalid(format!(
                        "`{alt}` does not form a variable"
                    )))
                }
            }
        } else {
            alt.to_owned()
        };
        self.lookup(&expr, pos, path)
    }

    /// `source:address` with no variable left in it.
    fn lookup(&mut self, expr: &str, pos: &Pos, path: &str) -> Result<Node, VarError> {
        if let Some(rest) = expr.strip_prefix("file(") {
            return self.file(rest, path);
        }
        let Some((source, address)) = expr.split_once(':') else {
            return Err(VarError::Invalid(format!(
                "unknown variable `${{{expr}}}`: expected `self:`, `file(...)`, `opt:`, `env:` or `sls:`"
            )));
        };
        let address = address.trim();
        match source.trim() {
            "self" => {
                if address.is_empty() {
                    return Err(VarError::Invalid(
                        "`${self:}` (the whole document) is not supported".to_owned(),
                    ));
                }
                let segs: Vec<String> = address.split('.').map(str::to_owned).collect();
                match self.resolve_at(&segs)? {
                    Some(mut n) => {
                        n.origin = Some(address.to_owned());
                        Ok(n)
                    }
                    None => Err(VarError::NotFound(format!(
                        "`${{self:{address}}}`: no value at `{address}`"
                    ))),
                }
            }
            "opt" => self
                .sources
                .options
                .get(address)
                .map(|v| Node::new(Value::Str(v.clone()), pos.clone()))
                .ok_or_else(|| {
                    VarError::NotFound(format!(
                        "`${{opt:{address}}}`: option `--{address}` was not given"
                    ))
                }),
            "env" => self
                .sources
                .env
                .get(address)
                .map(|v| Node::new(Value::Str(v.clone()), pos.clone()))
                .ok_or_else(|| {
                    VarError::NotFound(format!(
                        "`${{env:{address}}}`: environment variable {address} is not set"
                    ))
                }),
            "sls" if address == "stage" => {
                let stage = self
                    .sources
                    .options
                    .get("stage")
                    .cloned()
                    .unwrap_or_else(|| "dev".to_owned());
                Ok(Node::new(Value::Str(stage), pos.clone()))
            }
            other => Err(VarError::Invalid(format!(
                "variable source `{other}:` is not supported here (supported: self, file, opt, env, sls:stage)"
            ))),
        }
    }

    /// `file(path)` or `file(path):key.path`; `rest` follows `file(`.
    fn file(&mut self, rest: &str, path: &str) -> Result<Node, VarError> {
        let Some(close) = rest.find(')') else {
            return Err(VarError::Invalid("`file(` has no closing `)`".to_owned()));
        };
        let raw_path = rest[..close].trim();
        let raw_path = quoted(raw_path).unwrap_or(raw_path);
        let after = rest[close + 1..].trim();
        let key = match after.strip_prefix(':') {
            Some(k) => Some(k.trim()),
            None if after.is_empty() => None,
            None => {
                return Err(VarError::Invalid(format!(
                    "unexpected `{after}` after `file({raw_path})`"
                )))
            }
        };
        let full = confine(self.sources.project_dir, raw_path).map_err(VarError::Invalid)?;
        let Some(full) = full else {
            return Err(VarError::NotFound(format!(
                "`${{file({raw_path})}}`: the file does not exist"
            )));
        };
        if self.files.contains(&full) || self.files.len() >= MAX_DEPTH {
            return Err(VarError::Invalid(format!(
                "`${{file({raw_path})}}` includes itself"
            )));
        }
        let text = read_bounded(&full).map_err(VarError::Invalid)?;
        let rel: Arc<str> = Arc::from(relative_name(self.sources.project_dir, &full).as_str());
        let ext = full
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let node = match ext.as_str() {
            "yml" | "yaml" | "json" => {
                let parsed = yaml::parse(&text, &rel).map_err(|p| {
                    VarError::Invalid(format!("{}: line {}: {}", p.file, p.line, p.message))
                })?;
                self.files.push(full.clone());
                let n = self.deep_detached(&parsed, path);
                self.files.pop();
                n
            }
            "js" | "cjs" | "mjs" | "ts" => {
                return Err(VarError::Invalid(format!(
                    "`${{file({raw_path})}}`: JavaScript files are not run; export the values as YAML or JSON"
                )))
            }
            _ => Node::new(Value::Str(text), Pos::new(&rel, 1, 0)),
        };
        match key {
            None => Ok(node),
            Some(k) => {
                let mut cur = &node;
                for seg in k.split('.') {
                    cur = child(cur, seg).ok_or_else(|| {
                        VarError::NotFound(format!(
                            "`${{file({raw_path}):{k}}}`: the file has no `{k}`"
                        ))
                    })?;
                }
                Ok(cur.clone())
            }
        }
    }
}

/// The YAML path of document segments, with list indices as `[i]`.
fn yaml_path(segs: &[String]) -> String {
    let mut out = String::new();
    for s in segs {
        if s.parse::<usize>().is_ok() && !out.is_empty() {
            out = format!("{out}[{s}]");
        } else {
            out = child_path(&out, s);
        }
    }
    out
}

enum Part<'s> {
    Text(&'s str),
    /// The content between `${` and its matching `}`.
    Var(&'s str),
}

/// Splits a string into text and variables, matching nested `${...}`.
fn split_vars(s: &str) -> Result<Vec<Part<'_>>, String> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            if text_start < i {
                parts.push(Part::Text(&s[text_start..i]));
            }
            let start = i + 2;
            let mut depth = 1usize;
            let mut j = start;
            while j < bytes.len() {
                if bytes[j] == b'$' && bytes.get(j + 1) == Some(&b'{') {
                    depth += 1;
                    j += 2;
                    continue;
                }
                if bytes[j] == b'}' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                j += 1;
            }
            if depth != 0 {
                return Err(format!("`{s}`: a `${{` has no closing `}}`"));
            }
            parts.push(Part::Var(&s[start..j]));
            i = j + 1;
            text_start = i;
        } else {
            i += 1;
        }
    }
    if text_start < bytes.len() {
        parts.push(Part::Text(&s[text_start..]));
    }
    Ok(parts)
}

/// Splits at commas outside quotes and nested variables.
fn split_top_level_commas(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    depth += 1;
                    i += 1;
                }
                b'}' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// The text of a `'quoted'` or `"quoted"` literal.
fn quoted(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
        Some(&s[1..s.len() - 1])
    } else {
        None
    }
}
