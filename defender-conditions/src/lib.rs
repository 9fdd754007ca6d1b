#![doc = include_str!("../README.md")]

mod ast;
mod compile;
mod error;
mod eval;
#[cfg(feature = "json")]
mod json;
mod parser;
mod schema;
mod value;

pub use alloy_primitives::{Address, I256, U256};
pub use ast::{Ast, BinaryOp, Expr, ExprKind, UnaryOp};
pub use compile::compile;
pub use error::{Error, ErrorKind, EvalError, EvalErrorKind};
#[cfg(feature = "json")]
pub use json::{json_value, JsonEnv};
pub use parser::parse;
pub use schema::{AbiType, Param, Schema, TRANSACTION_VARIABLES};
pub use value::{Env, List, Value};

/// A compiled condition, ready to evaluate any number of times.
///
/// Constants are parsed and folded at compile time; evaluation does not allocate unless it
/// fails (the error message is built then).
#[derive(Clone, Debug)]
pub struct Program {
    root: eval::Node,
}

impl Program {
    /// Parses and compiles `source` in one step; see [`parse`] and [`compile`].
    pub fn compile(source: &str, schema: Option<&Schema>) -> Result<Self, Vec<Error>> {
        compile(&parse(source)?, schema)
    }

    /// Evaluates the condition over the variables of `env`.
    ///
    /// `and` and `or` short-circuit: an error in an operand that is not needed is not reported.
    pub fn eval<E: Env + ?Sized>(&self, env: &E) -> Result<bool, EvalError> {
        self.root.truth(env)
    }
}

#[cfg(all(test, feature = "json"))]
mod tests;
