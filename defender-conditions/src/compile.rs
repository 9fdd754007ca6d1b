//! [`Ast`] to [`Program`]: name resolution, type checking against an optional [`Schema`],
//! constant pre-parsing and folding.

use std::fmt;
use std::ops::Range;

use crate::ast::{Ast, BinaryOp, Expr, ExprKind, UnaryOp};
use crate::error::{Error, ErrorKind};
use crate::eval::{arith, negate, Const, Node};
use crate::schema::{AbiType, Param, Schema};
use crate::value::{parse_address_text, parse_num_text, Num};
use crate::Program;

/// Compiles a parsed condition, optionally checking it against a [`Schema`].
///
/// Without a schema every name and position is accepted and types are checked at evaluation.
/// With one, unknown names, positions and members, and operands of the wrong type, are compile
/// errors. Every error found is returned.
///
/// ```
/// use defender_conditions::{compile, parse, ErrorKind, Schema};
/// let schema = Schema::from_signature("Transfer(address from, address to, uint256 value)").unwrap();
/// let errors = compile(&parse(r#"valu > 1 or value > "x""#).unwrap(), Some(&schema)).unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert_eq!(errors[0].kind, ErrorKind::UnknownVariable);
/// assert_eq!(errors[0].span, 0..4);
/// assert_eq!(errors[1].kind, ErrorKind::TypeMismatch);
/// ```
pub fn compile(ast: &Ast, schema: Option<&Schema>) -> Result<Program, Vec<Error>> {
    let mut c = Compiler {
        schema,
        errors: Vec::new(),
    };
    let (root, ty) = c.node(&ast.expr);
    if !matches!(ty, Ty::Bool | Ty::Unknown) {
        c.error(
            ErrorKind::TypeMismatch,
            ast.expr.span.clone(),
            format!(
                "a condition must be true or false, but this is {}",
                ty.described()
            ),
        );
    }
    if c.errors.is_empty() {
        Ok(Program { root })
    } else {
        Err(c.errors)
    }
}

/// Static type of a sub-expression.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    Unknown,
    Bool,
    Num,
    Address,
    Str,
    Bytes,
    Array(Box<Ty>, Option<usize>),
    Tuple(Vec<(Option<String>, Ty)>),
    List,
}

impl Ty {
    fn from_abi(t: &AbiType) -> Ty {
        match t {
            AbiType::Uint(_) | AbiType::Int(_) => Ty::Num,
            AbiType::Address => Ty::Address,
            AbiType::Bool => Ty::Bool,
            AbiType::String => Ty::Str,
            AbiType::Bytes(_) => Ty::Bytes,
            AbiType::Array(e, n) => Ty::Array(Box::new(Ty::from_abi(e)), *n),
            AbiType::Tuple(ps) => Ty::Tuple(
                ps.iter()
                    .map(|p: &Param| (p.name.clone(), Ty::from_abi(&p.ty)))
                    .collect(),
            ),
            #[allow(unreachable_patterns)]
            _ => Ty::Unknown,
        }
    }

    fn described(&self) -> &'static str {
        match self {
            Ty::Unknown => "a value",
            Ty::Bool => "a boolean",
            Ty::Num => "a number",
            Ty::Address => "an address",
            Ty::Str => "a string",
            Ty::Bytes => "bytes",
            Ty::Array(..) => "an array",
            Ty::Tuple(_) => "a tuple",
            Ty::List => "a list",
        }
    }

    fn is(&self, other: &Ty) -> bool {
        *self == Ty::Unknown || self == other
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.described())
    }
}

struct Compiler<'s> {
    schema: Option<&'s Schema>,
    errors: Vec<Error>,
}

fn bx(n: Node) -> Box<Node> {
    Box::new(n)
}

impl Compiler<'_> {
    fn error(&mut self, kind: ErrorKind, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(Error::new(kind, span, message));
    }

    fn node(&mut self, e: &Expr) -> (Node, Ty) {
        let span = e.span.clone();
        match &e.kind {
            ExprKind::Bool(b) => (Node::Const(Const::Bool(*b)), Ty::Bool),
            ExprKind::Number(n) => (Node::Const(Const::Num(Num::U(*n))), Ty::Num),
            ExprKind::Str(s) => (Node::Const(Const::Str(s.as_str().into())), Ty::Str),
            ExprKind::Var(name) => self.var(name, span),
            ExprKind::Position(i) => self.position(*i, span),
            ExprKind::List(items) => {
                for item in items {
                    self.node(item);
                }
                self.error(
                    ErrorKind::TypeMismatch,
                    span,
                    "a list `[...]` can only appear on the right of `in`",
                );
                (Node::Const(Const::Bool(false)), Ty::List)
            }
            ExprKind::Unary(UnaryOp::Not, inner) => {
                let (n, t) = self.node(inner);
                if !t.is(&Ty::Bool) {
                    self.error(
                        ErrorKind::TypeMismatch,
                        span.clone(),
                        format!(
                            "`not` needs a boolean, but its operand is {}",
                            t.described()
                        ),
                    );
                }
                (Node::Not(bx(n), span), Ty::Bool)
            }
            ExprKind::Unary(UnaryOp::Neg, inner) => {
                let (n, t) = self.node(inner);
                if !t.is(&Ty::Num) {
                    self.error(
                        ErrorKind::TypeMismatch,
                        span.clone(),
                        format!("`-` needs a number, but its operand is {}", t.described()),
                    );
                }
                if let Node::Const(Const::Num(x)) = &n {
                    if let Ok(v) = negate(*x) {
                        return (Node::Const(Const::Num(v)), Ty::Num);
                    }
                }
                (Node::Neg(bx(n), span), Ty::Num)
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, span),
            ExprKind::Index(base, index) => self.index(base, index, span),
            ExprKind::Member(base, name) => self.member(base, name, span),
        }
    }

    fn var(&mut self, name: &str, span: Range<usize>) -> (Node, Ty) {
        let Some(schema) = self.schema else {
            return (
                Node::Var {
                    name: name.into(),
                    pos: None,
                    span,
                },
                Ty::Unknown,
            );
        };
        match schema.position_of(name) {
            Some(i) => (
                Node::Var {
                    name: name.into(),
                    pos: Some(i),
                    span,
                },
                Ty::from_abi(&schema.params()[i].ty),
            ),
            None => {
                let known: Vec<&str> = schema
                    .params()
                    .iter()
                    .filter_map(|p| p.name.as_deref())
                    .collect();
                let message = if known.is_empty() {
                    format!("unknown variable `{name}`: the parameters have no names, use `$0`, `$1`...")
                } else {
                    format!(
                        "unknown variable `{name}`; known variables: {}",
                        known.join(", ")
                    )
                };
                self.error(ErrorKind::UnknownVariable, span.clone(), message);
                (
                    Node::Var {
                        name: name.into(),
                        pos: None,
                        span,
                    },
                    Ty::Unknown,
                )
            }
        }
    }

    fn position(&mut self, index: usize, span: Range<usize>) -> (Node, Ty) {
        let Some(schema) = self.schema else {
            return (
                Node::Pos {
                    index,
                    name: None,
                    span,
                },
                Ty::Unknown,
            );
        };
        match schema.params().get(index) {
            Some(p) => (
                Node::Pos {
                    index,
                    name: p.name.as_deref().map(Into::into),
                    span,
                },
                Ty::from_abi(&p.ty),
            ),
            None => {
                let n = schema.params().len();
                self.error(
                    ErrorKind::UnknownPosition,
                    span.clone(),
                    format!("`${index}` is out of range: there are {n} parameters"),
                );
                (
                    Node::Pos {
                        index,
                        name: None,
                        span,
                    },
                    Ty::Unknown,
                )
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr, span: Range<usize>) -> (Node, Ty) {
        if op == BinaryOp::In {
            return self.membership(l, r, span);
        }
        let (ln, lt) = self.node(l);
        let (rn, rt) = self.node(r);
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (t, side) in [(&lt, l), (&rt, r)] {
                    if !t.is(&Ty::Bool) {
                        self.error(
                            ErrorKind::TypeMismatch,
                            side.span.clone(),
                            format!(
                                "`{}` needs booleans, but this is {}",
                                op.as_str(),
                                t.described()
                            ),
                        );
                    }
                }
                let node = if op == BinaryOp::And {
                    Node::And(bx(ln), bx(rn))
                } else {
                    Node::Or(bx(ln), bx(rn))
                };
                (node, Ty::Bool)
            }
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Rem
            | BinaryOp::Pow => {
                for (t, side) in [(&lt, l), (&rt, r)] {
                    if !t.is(&Ty::Num) {
                        self.error(
                            ErrorKind::TypeMismatch,
                            side.span.clone(),
                            format!(
                                "`{}` needs numbers, but this is {}",
                                op.as_str(),
                                t.described()
                            ),
                        );
                    }
                }
                if let (Node::Const(Const::Num(a)), Node::Const(Const::Num(b))) = (&ln, &rn) {
                    if let Ok(v) = arith(op, *a, *b) {
                        return (Node::Const(Const::Num(v)), Ty::Num);
                    }
                }
                (Node::Arith(op, bx(ln), bx(rn), span), Ty::Num)
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                self.check_eq(&lt, l, &rt, r, &span);
                (Node::comparison(op, ln, rn, span), Ty::Bool)
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                self.check_order(op, &lt, l, &rt, r, &span);
                (Node::comparison(op, ln, rn, span), Ty::Bool)
            }
            BinaryOp::Contains | BinaryOp::StartsWith | BinaryOp::EndsWith => {
                let list_contains = op == BinaryOp::Contains && matches!(lt, Ty::Array(..));
                if let (true, Ty::Array(elem, _)) = (list_contains, &lt) {
                    self.check_eq(elem, l, &rt, r, &span);
                } else {
                    let maybe_list = op == BinaryOp::Contains && lt == Ty::Unknown;
                    for (t, side) in [(&lt, l), (&rt, r)] {
                        if !t.is(&Ty::Str) && !maybe_list {
                            self.error(
                                ErrorKind::TypeMismatch,
                                side.span.clone(),
                                format!(
                                    "`{}` needs strings, but this is {}",
                                    op.as_str(),
                                    t.described()
                                ),
                            );
                        }
                    }
                }
                (Node::StrOp(op, bx(ln), bx(rn), span), Ty::Bool)
            }
            // `In` is handled above.
            BinaryOp::In => (Node::Const(Const::Bool(false)), Ty::Bool),
        }
    }

    fn membership(&mut self, l: &Expr, r: &Expr, span: Range<usize>) -> (Node, Ty) {
        let (ln, lt) = self.node(l);
        if let ExprKind::List(items) = &r.kind {
            let mut nodes = Vec::with_capacity(items.len());
            for item in items {
                let (n, t) = self.node(item);
                self.check_eq(&lt, l, &t, item, &span);
                nodes.push(n);
            }
            return (Node::InList(bx(ln), nodes, span), Ty::Bool);
        }
        let (rn, rt) = self.node(r);
        match &rt {
            Ty::Unknown => {}
            Ty::Array(elem, _) => self.check_eq(&lt, l, elem, r, &span),
            other => self.error(
                ErrorKind::TypeMismatch,
                r.span.clone(),
                format!(
                    "`in` needs a list or an array on its right, but this is {}",
                    other.described()
                ),
            ),
        }
        (Node::InValue(bx(ln), bx(rn), span), Ty::Bool)
    }

    fn check_eq(&mut self, lt: &Ty, l: &Expr, rt: &Ty, r: &Expr, span: &Range<usize>) {
        if let Err(message) = eq_compatible(lt, l, rt, r) {
            self.error(ErrorKind::TypeMismatch, span.clone(), message);
        }
    }

    fn check_order(
        &mut self,
        op: BinaryOp,
        lt: &Ty,
        l: &Expr,
        rt: &Ty,
        r: &Expr,
        span: &Range<usize>,
    ) {
        for (t, side) in [(lt, l), (rt, r)] {
            match t {
                Ty::Unknown | Ty::Num | Ty::Address => {}
                Ty::Str => self.error(
                    ErrorKind::TypeMismatch,
                    side.span.clone(),
                    format!(
                        "strings compare only with `==` and `!=`, not `{}`",
                        op.as_str()
                    ),
                ),
                other => self.error(
                    ErrorKind::TypeMismatch,
                    side.span.clone(),
                    format!(
                        "`{}` compares numbers, but this is {}",
                        op.as_str(),
                        other.described()
                    ),
                ),
            }
        }
        let _ = span;
    }

    fn index(&mut self, base: &Expr, index: &Expr, span: Range<usize>) -> (Node, Ty) {
        let (bn, bt) = self.node(base);
        let (inode, it) = self.node(index);
        if !it.is(&Ty::Num) {
            self.error(
                ErrorKind::TypeMismatch,
                index.span.clone(),
                format!("an index must be a number, but this is {}", it.described()),
            );
        }
        let const_index = match &inode {
            Node::Const(Const::Num(Num::U(n))) => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
            _ => None,
        };
        let ty = match &bt {
            Ty::Unknown => Ty::Unknown,
            Ty::Bytes => Ty::Num,
            Ty::Array(elem, len) => {
                if let (Some(i), Some(n)) = (const_index, len) {
                    if i >= *n {
                        self.error(
                            ErrorKind::IndexOutOfBounds,
                            index.span.clone(),
                            format!("index {i} is out of bounds: the array has {n} elements"),
                        );
                    }
                }
                (**elem).clone()
            }
            Ty::Tuple(fields) => match const_index {
                Some(i) if i < fields.len() => fields[i].1.clone(),
                Some(i) => {
                    self.error(
                        ErrorKind::IndexOutOfBounds,
                        index.span.clone(),
                        format!(
                            "index {i} is out of bounds: the tuple has {} components",
                            fields.len()
                        ),
                    );
                    Ty::Unknown
                }
                None => Ty::Unknown,
            },
            other => {
                self.error(
                    ErrorKind::TypeMismatch,
                    base.span.clone(),
                    format!(
                        "only arrays, tuples and bytes can be indexed, but this is {}",
                        other.described()
                    ),
                );
                Ty::Unknown
            }
        };
        (Node::Index(bx(bn), bx(inode), span), ty)
    }

    fn member(&mut self, base: &Expr, name: &str, span: Range<usize>) -> (Node, Ty) {
        let (bn, bt) = self.node(base);
        let ty = match &bt {
            Ty::Unknown => Ty::Unknown,
            Ty::Tuple(fields) => {
                let by_name = fields.iter().find(|(n, _)| n.as_deref() == Some(name));
                let by_pos = name.parse::<usize>().ok().and_then(|i| fields.get(i));
                match by_name.or(by_pos) {
                    Some((_, t)) => t.clone(),
                    None => {
                        let known: Vec<&str> =
                            fields.iter().filter_map(|(n, _)| n.as_deref()).collect();
                        self.error(
                            ErrorKind::UnknownMember,
                            span.clone(),
                            format!("no member `{name}`; members: {}", known.join(", ")),
                        );
                        Ty::Unknown
                    }
                }
            }
            Ty::Array(..) | Ty::Str | Ty::Bytes if name == "length" => Ty::Num,
            other => {
                self.error(
                    ErrorKind::UnknownMember,
                    span.clone(),
                    format!("{} has no member `{name}`", other.described()),
                );
                Ty::Unknown
            }
        };
        (Node::Member(bx(bn), name.into(), span), ty)
    }
}

fn str_literal(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Str(s) => Some(s),
        _ => None,
    }
}

/// Whether `==` between these types can ever hold; string literals are checked for content.
fn eq_compatible(lt: &Ty, l: &Expr, rt: &Ty, r: &Expr) -> Result<(), String> {
    use Ty::*;
    let mismatch = || {
        Err(format!(
            "cannot compare {} with {}",
            lt.described(),
            rt.described()
        ))
    };
    let pairs = [(lt, rt, r), (rt, lt, l)];
    match (lt, rt) {
        (Unknown, _) | (_, Unknown) => Ok(()),
        (Num, Num) | (Bool, Bool) | (Str, Str) | (Address, Address) | (Bytes, Bytes) => Ok(()),
        (Address, Num) | (Num, Address) | (Bytes, Num) | (Num, Bytes) => Ok(()),
        (Array(..), Array(..))
        | (Tuple(_), Tuple(_))
        | (Array(..), Tuple(_))
        | (Tuple(_), Array(..)) => Ok(()),
        (Address, Str) | (Str, Address) | (Num, Str) | (Str, Num) | (Bytes, Str) | (Str, Bytes) => {
            for (typed, other_ty, other) in pairs {
                if *other_ty != Str {
                    continue;
                }
                let Some(lit) = str_literal(other) else {
                    return mismatch();
                };
                let ok = match typed {
                    Address => parse_address_text(lit).is_some() || parse_num_text(lit).is_some(),
                    Num => parse_num_text(lit).is_some(),
                    Bytes => crate::value::bytes_eq_hex(&[], lit).is_some(),
                    _ => true,
                };
                if !ok {
                    return Err(format!(
                        "cannot compare {} with the string {lit:?}: it is not {}",
                        typed.described(),
                        match typed {
                            Address => "an address (0x and 40 hex digits)",
                            Num => "a decimal or 0x-hex number",
                            _ => "hex bytes",
                        }
                    ));
                }
                return Ok(());
            }
            mismatch()
        }
        _ => mismatch(),
    }
}
