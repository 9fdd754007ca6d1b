//! Runtime values and the [`Env`] trait through which a program reads its variables.

use std::cmp::Ordering;
use std::fmt;

use alloy_primitives::{Address, I256, U256};

/// A value a condition can read, usually borrowed from the caller's data.
///
/// Numbers and addresses are held by value (no allocation); strings, byte strings and
/// compound values (arrays, tuples, structs) are borrowed.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Value<'a> {
    /// An absent value (JSON `null`, for example `to` of a contract creation).
    Null,
    /// `bool`.
    Bool(bool),
    /// `uint8` .. `uint256`.
    Uint(U256),
    /// `int8` .. `int256`.
    Int(I256),
    /// `address`.
    Address(Address),
    /// `string`, or any text (decimal or `0x` hex numbers as text compare numerically with numbers).
    Str(&'a str),
    /// `bytes` and `bytes1` .. `bytes32`.
    Bytes(&'a [u8]),
    /// An array, tuple or struct: components reachable by index and, for structs, by name.
    List(&'a dyn List),
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Uint(n) => write!(f, "Uint({n})"),
            Value::Int(n) => write!(f, "Int({n})"),
            Value::Address(a) => write!(f, "Address({a})"),
            Value::Str(s) => write!(f, "Str({s:?})"),
            Value::Bytes(b) => write!(f, "Bytes(0x{})", alloy_primitives::hex::encode(b)),
            Value::List(l) => {
                let mut list = f.debug_list();
                for i in 0..l.len() {
                    if let Some(v) = l.get(i) {
                        list.entry(&v);
                    }
                }
                list.finish()
            }
        }
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<U256> for Value<'_> {
    fn from(n: U256) -> Self {
        Value::Uint(n)
    }
}
impl From<I256> for Value<'_> {
    fn from(n: I256) -> Self {
        Value::Int(n)
    }
}
impl From<u64> for Value<'_> {
    fn from(n: u64) -> Self {
        Value::Uint(U256::from(n))
    }
}
impl From<Address> for Value<'_> {
    fn from(a: Address) -> Self {
        Value::Address(a)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(s)
    }
}
impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(b: &'a [u8]) -> Self {
        Value::Bytes(b)
    }
}

/// An array, tuple or struct whose components a condition can reach by index (`a[0]`, `a.0`)
/// and, for structs, by name (`a.b`).
pub trait List {
    /// Number of components.
    fn len(&self) -> usize;
    /// Whether there are no components.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The component at `index`, or `None` past the end.
    fn get(&self, index: usize) -> Option<Value<'_>>;
    /// The component named `name` (structs); `None` by default.
    fn member(&self, name: &str) -> Option<Value<'_>> {
        let _ = name;
        None
    }
}

impl List for [Value<'_>] {
    fn len(&self) -> usize {
        <[Value<'_>]>::len(self)
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        <[Value<'_>]>::get(self, index).copied()
    }
}

impl<const N: usize> List for [Value<'_>; N] {
    fn len(&self) -> usize {
        N
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.as_slice().get(index).copied()
    }
}

impl<const N: usize> List for [(&str, Value<'_>); N] {
    fn len(&self) -> usize {
        N
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.as_slice().get(index).map(|(_, v)| *v)
    }
    fn member(&self, name: &str) -> Option<Value<'_>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

impl List for Vec<(&str, Value<'_>)> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.as_slice().get(index).map(|(_, v)| *v)
    }
    fn member(&self, name: &str) -> Option<Value<'_>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

impl List for Vec<Value<'_>> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.as_slice().get(index).copied()
    }
}

impl List for [(&str, Value<'_>)] {
    fn len(&self) -> usize {
        <[(&str, Value<'_>)]>::len(self)
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        <[(&str, Value<'_>)]>::get(self, index).map(|(_, v)| *v)
    }
    fn member(&self, name: &str) -> Option<Value<'_>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Where a program reads its variables: by name (`value`) and by position (`$0`).
///
/// Implement it over your own data so nothing is copied; a program looks a variable up each time
/// it reads it, so lookups should be cheap. When a condition was compiled against a [`Schema`](crate::Schema),
/// a name the environment does not know is also tried at its schema position, and a position
/// at its schema name.
///
/// ```
/// use defender_conditions::{Env, Program, Value};
/// use alloy_primitives::U256;
///
/// struct Transfer { value: U256 }
/// impl Env for Transfer {
///     fn lookup(&self, name: &str) -> Option<Value<'_>> {
///         (name == "value").then_some(Value::Uint(self.value))
///     }
///     fn position(&self, index: usize) -> Option<Value<'_>> {
///         (index == 2).then_some(Value::Uint(self.value))
///     }
/// }
/// let p = Program::compile("value > 1e18 and $2 < 100e18", None).unwrap();
/// assert!(p.eval(&Transfer { value: U256::from(5u64) * U256::from(10u64).pow(U256::from(18u64)) }).unwrap());
/// ```
pub trait Env {
    /// The variable called `name`, or `None` if there is none.
    fn lookup(&self, name: &str) -> Option<Value<'_>>;
    /// The variable at position `index` (`$index`), or `None`; none by default.
    fn position(&self, index: usize) -> Option<Value<'_>> {
        let _ = index;
        None
    }
}

impl<E: Env + ?Sized> Env for &E {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        (**self).lookup(name)
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        (**self).position(index)
    }
}

/// Named variables in a slice; positions are the slice order.
impl Env for [(&str, Value<'_>)] {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        self.get(index).map(|(_, v)| *v)
    }
}

impl<const N: usize> Env for [(&str, Value<'_>); N] {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        self.as_slice().lookup(name)
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        self.as_slice().position(index)
    }
}

/// Positional variables only.
impl Env for [Value<'_>] {
    fn lookup(&self, _name: &str) -> Option<Value<'_>> {
        None
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        self.get(index).copied()
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// An exact integer: unsigned or signed 256-bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Num {
    U(U256),
    I(I256),
}

impl Num {
    pub(crate) fn cmp(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::U(a), Num::U(b)) => a.cmp(&b),
            (Num::I(a), Num::I(b)) => a.cmp(&b),
            (Num::U(a), Num::I(b)) => {
                if b.is_negative() {
                    Ordering::Greater
                } else {
                    a.cmp(&b.into_raw())
                }
            }
            (Num::I(a), Num::U(b)) => {
                if a.is_negative() {
                    Ordering::Less
                } else {
                    a.into_raw().cmp(&b)
                }
            }
        }
    }

    pub(crate) fn into_value<'a>(self) -> Value<'a> {
        match self {
            Num::U(n) => Value::Uint(n),
            Num::I(n) => Value::Int(n),
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::U(n) => write!(f, "{n}"),
            Num::I(n) => write!(f, "{n}"),
        }
    }
}

/// Parses text as an integer without allocating: optional `-`, then decimal digits or `0x` hex.
pub(crate) fn parse_num_text(s: &str) -> Option<Num> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mag = parse_uint_text(digits)?;
    if neg {
        if mag.is_zero() {
            return Some(Num::U(U256::ZERO));
        }
        let min_mag = I256::MIN.into_raw();
        match mag.cmp(&min_mag) {
            Ordering::Greater => None,
            Ordering::Equal => Some(Num::I(I256::MIN)),
            Ordering::Less => Some(Num::I(-I256::from_raw(mag))),
        }
    } else {
        Some(Num::U(mag))
    }
}

/// Parses decimal digits or `0x` hex digits into a `U256` without allocating.
pub(crate) fn parse_uint_text(s: &str) -> Option<U256> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 64 + hex.bytes().take_while(|b| *b == b'0').count() {
            return None;
        }
        let mut acc = U256::ZERO;
        for chunk in hex.as_bytes().chunks(16) {
            let mut part = 0u64;
            for &b in chunk {
                part = (part << 4) | u64::from(hex_val(b)?);
            }
            let bits = chunk.len() * 4;
            acc = acc.checked_shl(bits)?;
            acc |= U256::from(part);
        }
        Some(acc)
    } else {
        if s.is_empty() {
            return None;
        }
        let mut acc = U256::ZERO;
        for chunk in s.as_bytes().chunks(19) {
            let mut part = 0u64;
            for &b in chunk {
                if !b.is_ascii_digit() {
                    return None;
                }
                part = part * 10 + u64::from(b - b'0');
            }
            let scale = U256::from(10u64.pow(chunk.len() as u32));
            acc = acc.checked_mul(scale)?.checked_add(U256::from(part))?;
        }
        Some(acc)
    }
}

pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses `0x` + 40 hex digits (any case) as an address, without allocating.
pub(crate) fn parse_address_text(s: &str) -> Option<Address> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(Address::from(out))
}

/// Whether `s` is `0x` followed by hex digits only.
pub(crate) fn is_hex_text(s: &str) -> bool {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `bytes` equal the hex text `s` (`0x` optional, any case), without allocating.
pub(crate) fn bytes_eq_hex(bytes: &[u8], s: &str) -> Option<bool> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if hex.len() != bytes.len() * 2 {
        return Some(false);
    }
    Some(
        hex.as_bytes()
            .chunks(2)
            .zip(bytes)
            .all(|(p, b)| hex_val(p[0]).zip(hex_val(p[1])).map(|(h, l)| (h << 4) | l) == Some(*b)),
    )
}

/// Big-endian bytes (at most 32) as an unsigned number.
pub(crate) fn bytes_as_uint(bytes: &[u8]) -> Option<U256> {
    U256::try_from_be_slice(bytes)
}

pub(crate) fn address_as_uint(a: &Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}
