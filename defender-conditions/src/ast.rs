//! The syntax tree produced by [`parse`](crate::parse), and its printer.
//!
//! Printing an [`Ast`] (its `Display`) gives source text that parses back to the same tree
//! (spans aside): binary and unary operations are fully parenthesised.

use std::fmt;
use std::ops::Range;

use alloy_primitives::U256;

/// A parsed condition: the root expression and the source length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ast {
    /// The root expression.
    pub expr: Expr,
}

/// An expression with the byte span it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Byte range in the source text.
    pub span: Range<usize>,
}

/// The kinds of expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExprKind {
    /// `true` or `false` (any letter case).
    Bool(bool),
    /// An unsigned integer literal, decimal (`1_000`, `1e18`, `1.5e18`) or hex (`0xabc`).
    Number(U256),
    /// A string literal with its escapes decoded.
    Str(String),
    /// A variable referred to by name.
    Var(String),
    /// A variable referred to by position (`$0`).
    Position(usize),
    /// A list literal `[a, b, c]`, allowed on the right of `in`.
    List(Vec<Expr>),
    /// A unary operation.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// Index access `base[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// Member access `base.name` (or `base.0` for a tuple component by position).
    Member(Box<Expr>, String),
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `not`, `!`.
    Not,
    /// Arithmetic negation `-`.
    Neg,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`, `||`.
    Or,
    /// `and`, `&&`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `contains`.
    Contains,
    /// `starts_with`.
    StartsWith,
    /// `ends_with`.
    EndsWith,
    /// `in`.
    In,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
    /// `^` (power).
    Pow,
}

impl BinaryOp {
    /// The operator's canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Contains => "contains",
            BinaryOp::StartsWith => "starts_with",
            BinaryOp::EndsWith => "ends_with",
            BinaryOp::In => "in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Pow => "^",
        }
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Number(n) => write!(f, "{n}"),
            ExprKind::Str(s) => write_string(f, s),
            ExprKind::Var(name) => f.write_str(name),
            ExprKind::Position(i) => write!(f, "${i}"),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str("]")
            }
            ExprKind::Unary(UnaryOp::Not, e) => write!(f, "(not {e})"),
            ExprKind::Unary(UnaryOp::Neg, e) => write!(f, "(-{e})"),
            ExprKind::Binary(op, l, r) => write!(f, "({l} {} {r})", op.as_str()),
            ExprKind::Index(base, i) => {
                write_base(f, base)?;
                write!(f, "[{i}]")
            }
            ExprKind::Member(base, name) => {
                write_base(f, base)?;
                write!(f, ".{name}")
            }
        }
    }
}

fn write_base(f: &mut fmt::Formatter<'_>, base: &Expr) -> fmt::Result {
    if matches!(base.kind, ExprKind::Number(_)) {
        write!(f, "({base})")
    } else {
        fmt::Display::fmt(base, f)
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}
