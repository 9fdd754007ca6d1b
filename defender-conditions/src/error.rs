//! Errors of the three stages: parse and compile ([`Error`]) and evaluation ([`EvalError`]).

use std::ops::Range;

/// What went wrong while parsing or compiling a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text does not follow the grammar (unexpected character, missing operand or parenthesis).
    Syntax,
    /// A number literal is malformed, not an integer, or larger than 256 bits.
    InvalidNumber,
    /// A string literal contains an invalid escape sequence.
    InvalidString,
    /// A variable name is not in the schema.
    UnknownVariable,
    /// A positional variable (`$3`) is beyond the schema's parameters.
    UnknownPosition,
    /// A member (`a.b`) does not exist in the schema's tuple type.
    UnknownMember,
    /// A constant index is beyond a fixed-size array of the schema.
    IndexOutOfBounds,
    /// Operands of an operator have types it cannot combine (for example `value > "x"` or `1 + true`).
    TypeMismatch,
    /// An event or function signature given to [`Schema::from_signature`](crate::Schema::from_signature)
    /// is malformed.
    InvalidSignature,
}

/// A parse or compile error: a byte span into the source text and a plain message.
///
/// `parse` and `compile` return every error they find, not only the first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {}..{})", span.start, span.end)]
#[non_exhaustive]
pub struct Error {
    /// The kind of error, for callers that want to match on it.
    pub kind: ErrorKind,
    /// Byte range of the offending text in the source.
    pub span: Range<usize>,
    /// A plain-language description.
    pub message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            kind,
            span,
            message: message.into(),
        }
    }
}

/// What went wrong while evaluating a compiled condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvalErrorKind {
    /// An arithmetic result is above the largest value of its type (`uint256` or `int256`).
    Overflow,
    /// An arithmetic result is below the smallest value of its type (for example `1 - 2` on unsigned values).
    Underflow,
    /// Division or remainder by zero.
    DivisionByZero,
    /// The environment has no variable with this name (and none at its schema position).
    UnknownVariable,
    /// The environment has no value at this position (and none under its schema name).
    UnknownPosition,
    /// A value has no member with this name.
    UnknownMember,
    /// An index is beyond the end of an array, tuple or byte string.
    IndexOutOfBounds,
    /// A value has a type the operator cannot use (for example a string in arithmetic,
    /// or a condition that is not a boolean).
    TypeMismatch,
}

/// An evaluation error: the span of the sub-expression that failed and a plain message.
///
/// The message is only built when an error happens; successful evaluation does not allocate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {}..{})", span.start, span.end)]
#[non_exhaustive]
pub struct EvalError {
    /// The kind of error, for callers that want to match on it.
    pub kind: EvalErrorKind,
    /// Byte range of the failing sub-expression in the source.
    pub span: Range<usize>,
    /// A plain-language description.
    pub message: String,
}

impl EvalError {
    #[cold]
    pub(crate) fn new(
        kind: EvalErrorKind,
        span: &Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            span: span.clone(),
            message: message.into(),
        }
    }
}
