//! Compiled nodes and their evaluation.

use std::cmp::Ordering;
use std::ops::Range;

use alloy_primitives::{Address, I256, U256};

use crate::ast::BinaryOp;
use crate::error::{EvalError, EvalErrorKind};
use crate::value::{
    address_as_uint, bytes_as_uint, bytes_eq_hex, is_hex_text, parse_address_text, parse_num_text,
    Env, Num, Value,
};

/// A constant, pre-parsed at compile time.
#[derive(Clone, Debug)]
pub(crate) enum Const {
    Bool(bool),
    Num(Num),
    Str(Box<str>),
}

/// How a fast comparison reads its variable: a name, a position, or either followed by constant
/// indexes and members.
#[derive(Clone, Debug)]
pub(crate) enum VarRef {
    Name(Box<str>),
    Pos(usize),
    Path(Box<(VarRef, Box<[Step]>)>),
}

#[derive(Clone, Debug)]
pub(crate) enum Step {
    Index(usize),
    Member(Box<str>),
}

impl VarRef {
    /// Reads the variable; `None` sends the comparison down the general path.
    #[inline(always)]
    fn read<'a, E: Env + ?Sized>(&'a self, env: &'a E) -> Option<Value<'a>> {
        match self {
            VarRef::Name(n) => env.lookup(n),
            VarRef::Pos(i) => env.position(*i),
            VarRef::Path(path) => read_path(&path.0, &path.1, env),
        }
    }

    fn of(n: &Node) -> Option<VarRef> {
        let (root, step) = match n {
            Node::Var { name, .. } => return Some(VarRef::Name(name.clone())),
            Node::Pos { index, .. } => return Some(VarRef::Pos(*index)),
            Node::Index(base, index, _) => {
                let Node::Const(Const::Num(Num::U(i))) = &**index else {
                    return None;
                };
                (VarRef::of(base)?, Step::Index(usize::try_from(*i).ok()?))
            }
            Node::Member(base, name, _) => (VarRef::of(base)?, Step::Member(name.clone())),
            _ => return None,
        };
        Some(match root {
            VarRef::Path(path) => {
                let (root, steps) = *path;
                let mut steps = steps.into_vec();
                steps.push(step);
                VarRef::Path(Box::new((root, steps.into_boxed_slice())))
            }
            simple => VarRef::Path(Box::new((simple, Box::new([step])))),
        })
    }
}

#[inline(never)]
fn read_path<'a, E: Env + ?Sized>(
    root: &'a VarRef,
    steps: &'a [Step],
    env: &'a E,
) -> Option<Value<'a>> {
    let mut v = root.read(env)?;
    for step in steps {
        let Value::List(list) = v else {
            return None;
        };
        v = match step {
            Step::Index(i) => list.get(*i)?,
            Step::Member(name) => list.member(name)?,
        };
    }
    Some(v)
}

/// The constant side of a fast comparison, with its text pre-parsed.
#[derive(Clone, Debug)]
pub(crate) enum FastConst {
    Num(Num),
    Str {
        s: Box<str>,
        hex: bool,
        addr: Option<Address>,
    },
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(Const),
    /// `variable <op> constant` (operands normalised so the variable is on the left): the common
    /// shapes are decided without the general machinery; anything else runs `general`.
    CmpVarConst {
        op: BinaryOp,
        var: VarRef,
        konst: FastConst,
        general: Box<Node>,
    },
    Var {
        name: Box<str>,
        pos: Option<usize>,
        span: Range<usize>,
    },
    Pos {
        index: usize,
        name: Option<Box<str>>,
        span: Range<usize>,
    },
    Not(Box<Node>, Range<usize>),
    Neg(Box<Node>, Range<usize>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Arith(BinaryOp, Box<Node>, Box<Node>, Range<usize>),
    Cmp(BinaryOp, Box<Node>, Box<Node>, Range<usize>),
    StrOp(BinaryOp, Box<Node>, Box<Node>, Range<usize>),
    InList(Box<Node>, Vec<Node>, Range<usize>),
    InValue(Box<Node>, Box<Node>, Range<usize>),
    Index(Box<Node>, Box<Node>, Range<usize>),
    Member(Box<Node>, Box<str>, Range<usize>),
}

type R<T> = Result<T, EvalError>;

fn type_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Uint(_) | Value::Int(_) => "a number",
        Value::Address(_) => "an address",
        Value::Str(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "a list",
    }
}

#[cold]
fn mismatch(span: &Range<usize>, message: String) -> EvalError {
    EvalError::new(EvalErrorKind::TypeMismatch, span, message)
}

#[inline]
fn holds(op: BinaryOp, o: Ordering) -> bool {
    match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::Ne => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::Le => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    }
}

impl Node {
    /// Evaluates a node that must be a boolean.
    #[inline]
    pub(crate) fn truth<'a, E: Env + ?Sized>(&'a self, env: &'a E) -> R<bool> {
        match self {
            Node::And(l, r) => Ok(l.truth(env)? && r.truth(env)?),
            Node::Or(l, r) => Ok(l.truth(env)? || r.truth(env)?),
            Node::Not(inner, _) => Ok(!inner.truth(env)?),
            Node::CmpVarConst {
                op,
                var,
                konst,
                general,
            } => {
                let eq_op = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
                let fast = match (var.read(env), konst) {
                    (Some(Value::Uint(u)), FastConst::Num(Num::U(c))) => Some(holds(*op, u.cmp(c))),
                    (Some(Value::Uint(u)), FastConst::Num(c)) => {
                        Some(holds(*op, Num::U(u).cmp(*c)))
                    }
                    (Some(Value::Int(i)), FastConst::Num(c)) => Some(holds(*op, Num::I(i).cmp(*c))),
                    (Some(Value::Str(x)), FastConst::Num(c)) => {
                        parse_num_text(x).map(|n| holds(*op, n.cmp(*c)))
                    }
                    (Some(Value::Str(x)), FastConst::Str { s, hex, .. }) if eq_op => {
                        let eq = if *hex && is_hex_text(x) {
                            x.eq_ignore_ascii_case(s)
                        } else {
                            x == &**s
                        };
                        Some(eq == (*op == BinaryOp::Eq))
                    }
                    (Some(Value::Address(a)), FastConst::Str { addr: Some(c), .. }) if eq_op => {
                        Some((a == *c) == (*op == BinaryOp::Eq))
                    }
                    _ => None,
                };
                match fast {
                    Some(b) => Ok(b),
                    None => general.truth_slow(env),
                }
            }
            _ => self.truth_slow(env),
        }
    }

    /// The general evaluation of a boolean node.
    #[inline(never)]
    fn truth_slow<'a, E: Env + ?Sized>(&'a self, env: &'a E) -> R<bool> {
        match self {
            Node::Const(Const::Bool(b)) => Ok(*b),
            Node::Not(inner, _) => Ok(!inner.truth(env)?),
            Node::And(l, r) => Ok(l.truth(env)? && r.truth(env)?),
            Node::Or(l, r) => Ok(l.truth(env)? || r.truth(env)?),
            Node::Cmp(op, l, r, span) => {
                let a = l.value(env)?;
                let b = r.value(env)?;
                compare(*op, a, b, span)
            }
            Node::StrOp(op, l, r, span) => {
                let a = l.value(env)?;
                let b = r.value(env)?;
                str_op(*op, a, b, span)
            }
            Node::InList(l, items, span) => {
                let a = l.value(env)?;
                for item in items {
                    let b = item.value(env)?;
                    if equal(a, b, span)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::InValue(l, r, span) => {
                let a = l.value(env)?;
                let b = r.value(env)?;
                match b {
                    Value::List(list) => list_contains(list, a, span),
                    other => Err(mismatch(
                        span,
                        format!(
                            "`in` needs a list on its right, but got {}",
                            type_name(&other)
                        ),
                    )),
                }
            }
            other => match other.value(env)? {
                Value::Bool(b) => Ok(b),
                v => Err(mismatch(
                    other.span(),
                    format!("expected true or false, but got {}", type_name(&v)),
                )),
            },
        }
    }

    fn span(&self) -> &Range<usize> {
        const EMPTY: &Range<usize> = &(0..0);
        match self {
            Node::CmpVarConst { general, .. } => general.span(),
            Node::Const(_) | Node::And(..) | Node::Or(..) => EMPTY,
            Node::Var { span, .. } | Node::Pos { span, .. } => span,
            Node::Not(_, s)
            | Node::Neg(_, s)
            | Node::Arith(.., s)
            | Node::Cmp(.., s)
            | Node::StrOp(.., s)
            | Node::InList(.., s)
            | Node::InValue(.., s)
            | Node::Index(.., s)
            | Node::Member(.., s) => s,
        }
    }

    /// Evaluates a node to a value.
    #[inline(never)]
    pub(crate) fn value<'a, E: Env + ?Sized>(&'a self, env: &'a E) -> R<Value<'a>> {
        match self {
            Node::Const(Const::Bool(b)) => Ok(Value::Bool(*b)),
            Node::Const(Const::Num(n)) => Ok(n.into_value()),
            Node::Const(Const::Str(s)) => Ok(Value::Str(s)),
            Node::Var { name, pos, span } => match env.lookup(name) {
                Some(v) => Ok(v),
                None => match pos.and_then(|i| env.position(i)) {
                    Some(v) => Ok(v),
                    None => Err(EvalError::new(
                        EvalErrorKind::UnknownVariable,
                        span,
                        format!("no variable `{name}`"),
                    )),
                },
            },
            Node::Pos { index, name, span } => match env.position(*index) {
                Some(v) => Ok(v),
                None => match name.as_deref().and_then(|n| env.lookup(n)) {
                    Some(v) => Ok(v),
                    None => Err(EvalError::new(
                        EvalErrorKind::UnknownPosition,
                        span,
                        format!("no variable at position ${index}"),
                    )),
                },
            },
            Node::Neg(inner, span) => {
                let v = inner.value(env)?;
                let n = to_num(v, span, "-")?;
                negate(n)
                    .map(Num::into_value)
                    .map_err(|k| arith_error(k, span, "-"))
            }
            Node::Arith(op, l, r, span) => {
                let a = to_num(l.value(env)?, span, op.as_str())?;
                let b = to_num(r.value(env)?, span, op.as_str())?;
                arith(*op, a, b)
                    .map(Num::into_value)
                    .map_err(|k| arith_error(k, span, op.as_str()))
            }
            Node::Index(base, index, span) => {
                let b = base.value(env)?;
                let i = index.value(env)?;
                let i = match to_num(i, span, "[]")? {
                    Num::U(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    Num::I(_) => usize::MAX,
                };
                index_value(b, i, span)
            }
            Node::Member(base, name, span) => {
                let b = base.value(env)?;
                member_value(b, name, span)
            }
            other => other.truth(env).map(Value::Bool),
        }
    }

    /// Builds a comparison, using the fast form for `variable <op> constant` and
    /// `constant <op> variable`.
    pub(crate) fn comparison(op: BinaryOp, l: Node, r: Node, span: Range<usize>) -> Node {
        let var_ref = VarRef::of;
        fn fast_const(n: &Node) -> Option<FastConst> {
            match n {
                Node::Const(Const::Num(c)) => Some(FastConst::Num(*c)),
                Node::Const(Const::Str(s)) => Some(FastConst::Str {
                    s: s.clone(),
                    hex: is_hex_text(s),
                    addr: parse_address_text(s),
                }),
                _ => None,
            }
        }
        let flipped = match op {
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::Le => BinaryOp::Ge,
            BinaryOp::Ge => BinaryOp::Le,
            other => other,
        };
        let fast = match (var_ref(&l), fast_const(&r), var_ref(&r), fast_const(&l)) {
            (Some(var), Some(konst), _, _) => Some((op, var, konst)),
            (_, _, Some(var), Some(konst)) => Some((flipped, var, konst)),
            _ => None,
        };
        let general = Node::Cmp(op, Box::new(l), Box::new(r), span);
        match fast {
            // Ordering a string constant always goes the general way (it is an error).
            Some((op, var, konst))
                if !matches!(konst, FastConst::Str { .. })
                    || matches!(op, BinaryOp::Eq | BinaryOp::Ne) =>
            {
                Node::CmpVarConst {
                    op,
                    var,
                    konst,
                    general: Box::new(general),
                }
            }
            _ => general,
        }
    }
}

fn index_value<'a>(b: Value<'a>, i: usize, span: &Range<usize>) -> R<Value<'a>> {
    let oob = |len: usize| {
        EvalError::new(
            EvalErrorKind::IndexOutOfBounds,
            span,
            format!("index {i} is out of bounds (length {len})"),
        )
    };
    match b {
        Value::List(list) => list.get(i).ok_or_else(|| oob(list.len())),
        Value::Bytes(bytes) => bytes
            .get(i)
            .map(|b| Value::Uint(U256::from(*b)))
            .ok_or_else(|| oob(bytes.len())),
        other => Err(mismatch(
            span,
            format!(
                "only lists and bytes can be indexed, but this is {}",
                type_name(&other)
            ),
        )),
    }
}

fn member_value<'a>(b: Value<'a>, name: &str, span: &Range<usize>) -> R<Value<'a>> {
    let missing = || {
        EvalError::new(
            EvalErrorKind::UnknownMember,
            span,
            format!("no member `{name}`"),
        )
    };
    match b {
        Value::List(list) => {
            if let Some(v) = list.member(name) {
                return Ok(v);
            }
            if let Ok(i) = name.parse::<usize>() {
                return index_value(b, i, span);
            }
            if name == "length" {
                return Ok(Value::Uint(U256::from(list.len())));
            }
            Err(missing())
        }
        Value::Str(s) if name == "length" => Ok(Value::Uint(U256::from(s.len()))),
        Value::Bytes(bs) if name == "length" => Ok(Value::Uint(U256::from(bs.len()))),
        _ => Err(missing()),
    }
}

#[cold]
fn arith_error(kind: EvalErrorKind, span: &Range<usize>, op: &str) -> EvalError {
    let message = match kind {
        EvalErrorKind::Overflow => format!("`{op}` overflows"),
        EvalErrorKind::Underflow => format!("`{op}` underflows"),
        EvalErrorKind::DivisionByZero => format!("`{op}` divides by zero"),
        _ => format!("`{op}` with a negative exponent"),
    };
    EvalError::new(kind, span, message)
}

/// A value as a number for arithmetic: numbers, and strings holding a decimal or hex number.
fn to_num(v: Value<'_>, span: &Range<usize>, op: &str) -> R<Num> {
    match v {
        Value::Uint(n) => Ok(Num::U(n)),
        Value::Int(n) => Ok(Num::I(n)),
        Value::Str(s) => parse_num_text(s).ok_or_else(|| {
            mismatch(
                span,
                format!("`{op}` needs numbers, but got the string {s:?}"),
            )
        }),
        other => Err(mismatch(
            span,
            format!("`{op}` needs numbers, but got {}", type_name(&other)),
        )),
    }
}

fn to_signed(n: Num) -> Result<I256, EvalErrorKind> {
    match n {
        Num::I(i) => Ok(i),
        Num::U(u) => {
            if u > I256::MAX.into_raw() {
                Err(EvalErrorKind::Overflow)
            } else {
                Ok(I256::from_raw(u))
            }
        }
    }
}

/// Negation: the result is signed.
pub(crate) fn negate(n: Num) -> Result<Num, EvalErrorKind> {
    match n {
        Num::U(u) if u.is_zero() => Ok(Num::U(U256::ZERO)),
        Num::U(u) => {
            let min = I256::MIN.into_raw();
            match u.cmp(&min) {
                Ordering::Greater => Err(EvalErrorKind::Underflow),
                Ordering::Equal => Ok(Num::I(I256::MIN)),
                Ordering::Less => Ok(Num::I(-I256::from_raw(u))),
            }
        }
        Num::I(i) => i.checked_neg().map(Num::I).ok_or(EvalErrorKind::Overflow),
    }
}

/// Checked arithmetic: unsigned when both operands are unsigned, otherwise `int256`.
pub(crate) fn arith(op: BinaryOp, a: Num, b: Num) -> Result<Num, EvalErrorKind> {
    use EvalErrorKind::{DivisionByZero, Overflow, TypeMismatch, Underflow};
    if let (Num::U(x), Num::U(y)) = (a, b) {
        let r = match op {
            BinaryOp::Add => x.checked_add(y).ok_or(Overflow),
            BinaryOp::Sub => x.checked_sub(y).ok_or(Underflow),
            BinaryOp::Mul => x.checked_mul(y).ok_or(Overflow),
            BinaryOp::Div => x.checked_div(y).ok_or(DivisionByZero),
            BinaryOp::Rem => x.checked_rem(y).ok_or(DivisionByZero),
            _ => x.checked_pow(y).ok_or(Overflow),
        };
        return r.map(Num::U);
    }
    let x = to_signed(a)?;
    let y = to_signed(b)?;
    let r = match op {
        BinaryOp::Add => x
            .checked_add(y)
            .ok_or(if y.is_negative() { Underflow } else { Overflow }),
        BinaryOp::Sub => x
            .checked_sub(y)
            .ok_or(if y.is_negative() { Overflow } else { Underflow }),
        BinaryOp::Mul => x
            .checked_mul(y)
            .ok_or(if x.is_negative() != y.is_negative() {
                Underflow
            } else {
                Overflow
            }),
        BinaryOp::Div => {
            if y.is_zero() {
                Err(DivisionByZero)
            } else {
                x.checked_div(y).ok_or(Overflow)
            }
        }
        BinaryOp::Rem => {
            if y.is_zero() {
                Err(DivisionByZero)
            } else {
                Ok(x.checked_rem(y).unwrap_or(I256::ZERO))
            }
        }
        _ => {
            if y.is_negative() {
                Err(TypeMismatch)
            } else {
                let odd = y.into_raw().bit(0);
                x.checked_pow(y.into_raw())
                    .ok_or(if x.is_negative() && odd {
                        Underflow
                    } else {
                        Overflow
                    })
            }
        }
    };
    r.map(Num::I)
}

fn num_of(v: &Value<'_>) -> Option<Num> {
    match v {
        Value::Uint(n) => Some(Num::U(*n)),
        Value::Int(n) => Some(Num::I(*n)),
        _ => None,
    }
}

/// Whether two values are equal; `Err` when they cannot be compared at all.
fn equal(a: Value<'_>, b: Value<'_>, span: &Range<usize>) -> R<bool> {
    use Value::*;
    let r = match (a, b) {
        (Null, Null) => true,
        (Null, _) | (_, Null) => false,
        (Bool(x), Bool(y)) => x == y,
        (Uint(_) | Int(_), Uint(_) | Int(_)) => match (num_of(&a), num_of(&b)) {
            (Some(x), Some(y)) => x.cmp(y) == Ordering::Equal,
            _ => false,
        },
        (Address(x), Address(y)) => x == y,
        (Address(x), Uint(_) | Int(_)) | (Uint(_) | Int(_), Address(x)) => {
            let n = num_of(&a).or(num_of(&b));
            n.is_some_and(|n| n.cmp(Num::U(address_as_uint(&x))) == Ordering::Equal)
        }
        (Address(x), Str(s)) | (Str(s), Address(x)) => match parse_address_text(s) {
            Some(y) => x == y,
            None => parse_num_text(s)
                .is_some_and(|n| n.cmp(Num::U(address_as_uint(&x))) == Ordering::Equal),
        },
        (Str(x), Str(y)) => {
            if is_hex_text(x) && is_hex_text(y) {
                x.eq_ignore_ascii_case(y)
            } else {
                x == y
            }
        }
        (Str(s), Uint(_) | Int(_)) | (Uint(_) | Int(_), Str(s)) => {
            let n = num_of(&a).or(num_of(&b));
            match (parse_num_text(s), n) {
                (Some(x), Some(y)) => x.cmp(y) == Ordering::Equal,
                _ => false,
            }
        }
        (Bytes(x), Bytes(y)) => x == y,
        (Bytes(x), Str(s)) | (Str(s), Bytes(x)) => bytes_eq_hex(x, s).unwrap_or(false),
        (Bytes(x), Uint(_) | Int(_)) | (Uint(_) | Int(_), Bytes(x)) => {
            let n = num_of(&a).or(num_of(&b));
            match (bytes_as_uint(x), n) {
                (Some(x), Some(y)) => Num::U(x).cmp(y) == Ordering::Equal,
                _ => false,
            }
        }
        (List(x), List(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for i in 0..x.len() {
                match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => {
                        if !equal(p, q, span)? {
                            return Ok(false);
                        }
                    }
                    _ => return Ok(false),
                }
            }
            true
        }
        _ => {
            return Err(mismatch(
                span,
                format!("cannot compare {} with {}", type_name(&a), type_name(&b)),
            ))
        }
    };
    Ok(r)
}

/// A value as a number for ordering.
fn order_num(v: &Value<'_>) -> Option<Num> {
    match v {
        Value::Uint(n) => Some(Num::U(*n)),
        Value::Int(n) => Some(Num::I(*n)),
        Value::Address(a) => Some(Num::U(address_as_uint(a))),
        Value::Str(s) => parse_num_text(s),
        Value::Bytes(b) => bytes_as_uint(b).map(Num::U),
        _ => None,
    }
}

fn compare(op: BinaryOp, a: Value<'_>, b: Value<'_>, span: &Range<usize>) -> R<bool> {
    match op {
        BinaryOp::Eq => equal(a, b, span),
        BinaryOp::Ne => equal(a, b, span).map(|e| !e),
        _ => {
            let (Some(x), Some(y)) = (order_num(&a), order_num(&b)) else {
                return Err(mismatch(
                    span,
                    if matches!(a, Value::Str(_)) || matches!(b, Value::Str(_)) {
                        format!(
                            "strings compare only with `==` and `!=`, not `{}`",
                            op.as_str()
                        )
                    } else {
                        format!(
                            "`{}` compares numbers, not {} and {}",
                            op.as_str(),
                            type_name(&a),
                            type_name(&b)
                        )
                    },
                ));
            };
            let o = x.cmp(y);
            Ok(match op {
                BinaryOp::Lt => o == Ordering::Less,
                BinaryOp::Le => o != Ordering::Greater,
                BinaryOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
    }
}

fn list_contains(list: &dyn crate::value::List, a: Value<'_>, span: &Range<usize>) -> R<bool> {
    for i in 0..list.len() {
        if let Some(item) = list.get(i) {
            if equal(a, item, span)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn str_op(op: BinaryOp, a: Value<'_>, b: Value<'_>, span: &Range<usize>) -> R<bool> {
    match (a, b) {
        (Value::List(list), item) if op == BinaryOp::Contains => list_contains(list, item, span),
        (Value::Str(hay), Value::Str(needle)) => {
            // Hex text compares case-insensitively, like addresses.
            let fold = is_hex_text(hay)
                && needle
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'x' || b == b'X');
            let (h, n) = (hay.as_bytes(), needle.as_bytes());
            let eq = |x: &[u8], y: &[u8]| {
                if fold {
                    x.eq_ignore_ascii_case(y)
                } else {
                    x == y
                }
            };
            Ok(match op {
                BinaryOp::StartsWith => h.len() >= n.len() && eq(&h[..n.len()], n),
                BinaryOp::EndsWith => h.len() >= n.len() && eq(&h[h.len() - n.len()..], n),
                _ => n.is_empty() || h.windows(n.len()).any(|w| eq(w, n)),
            })
        }
        (x, y) => Err(mismatch(
            span,
            format!(
                "`{}` needs strings, but got {} and {}",
                op.as_str(),
                type_name(&x),
                type_name(&y)
            ),
        )),
    }
}
