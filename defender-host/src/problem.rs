//! What `validate` reports: each problem with its file, YAML path and line.

use std::fmt;
use std::sync::Arc;

/// Where a node is written: the file (relative to the project directory), its line (from 1)
/// and column (from 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    /// The file, relative to the project directory (`serverless.yml`, `config/dev.yml`).
    pub file: Arc<str>,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 0.
    pub col: usize,
}

impl Pos {
    /// A position.
    pub fn new(file: &Arc<str>, line: usize, col: usize) -> Self {
        Pos {
            file: file.clone(),
            line,
            col,
        }
    }
}

/// One problem of a project or of the host's config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file it is in, relative to the project directory.
    pub file: String,
    /// The YAML path of the offending value (`resources.monitors.m1.conditions.event[0].signature`);
    /// empty for the whole file.
    pub path: String,
    /// The line, from 1 (0 when no line applies, as for a missing file).
    pub line: usize,
    /// What is wrong, in plain words.
    pub message: String,
}

impl Problem {
    /// A problem at `pos`, about the value at `path`.
    pub fn at(pos: &Pos, path: &str, message: impl Into<String>) -> Self {
        Problem {
            file: pos.file.to_string(),
            path: path.to_owned(),
            line: pos.line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

/// Problems collected while reading, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, p: Problem) {
        if !self.0.contains(&p) {
            self.0.push(p);
        }
    }

    pub(crate) fn at(&mut self, pos: &Pos, path: &str, message: impl Into<String>) {
        self.push(Problem::at(pos, path, message));
    }
}

/// `parent.key`, or `key` at the root.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index_path(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
