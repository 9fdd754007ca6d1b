//! Schemas: the variables a condition may use, with their ABI types.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// An ABI type, as written in Solidity signatures.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbiType {
    /// `uint<bits>` (`uint` is `uint256`).
    Uint(u16),
    /// `int<bits>` (`int` is `int256`).
    Int(u16),
    /// `address`.
    Address,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `bytes` (`None`) or `bytes<N>` (`Some(N)`).
    Bytes(Option<u8>),
    /// `T[]` (`None`) or `T[N]`.
    Array(Box<AbiType>, Option<usize>),
    /// A tuple or struct `(T1 a, T2 b)`, its components optionally named.
    Tuple(Vec<Param>),
}

impl fmt::Display for AbiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbiType::Uint(b) => write!(f, "uint{b}"),
            AbiType::Int(b) => write!(f, "int{b}"),
            AbiType::Address => f.write_str("address"),
            AbiType::Bool => f.write_str("bool"),
            AbiType::String => f.write_str("string"),
            AbiType::Bytes(None) => f.write_str("bytes"),
            AbiType::Bytes(Some(n)) => write!(f, "bytes{n}"),
            AbiType::Array(t, None) => write!(f, "{t}[]"),
            AbiType::Array(t, Some(n)) => write!(f, "{t}[{n}]"),
            AbiType::Tuple(ps) => {
                f.write_str("(")?;
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", p.ty)?;
                    if let Some(n) = &p.name {
                        write!(f, " {n}")?;
                    }
                }
                f.write_str(")")
            }
        }
    }
}

/// A named or unnamed parameter (or tuple component) with its type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// The name, if the signature gives one.
    pub name: Option<String>,
    /// The ABI type.
    pub ty: AbiType,
}

impl Param {
    /// A parameter with an optional name.
    pub fn new(name: Option<&str>, ty: AbiType) -> Self {
        Self {
            name: name.map(str::to_string),
            ty,
        }
    }
}

/// The variables a condition may refer to: by name and by position (`$0`), with their types.
///
/// Compiling against a schema turns unknown names, out-of-range positions and type errors
/// (such as `value > "x"` for a `uint256 value`) into compile errors with spans.
///
/// ```
/// use defender_conditions::{AbiType, Schema};
/// let s = Schema::from_signature("Transfer(address indexed from, address indexed to, uint256 value)").unwrap();
/// assert_eq!(s.params()[2].ty, AbiType::Uint(256));
/// assert_eq!(s.position_of("value"), Some(2));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    params: Vec<Param>,
}

/// The transaction-condition variables of Defender monitors, in order.
pub const TRANSACTION_VARIABLES: [&str; 10] = [
    "to",
    "from",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "gasLimit",
    "gasUsed",
    "value",
    "nonce",
    "status",
];

impl Schema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter at the next position.
    #[must_use]
    pub fn with(mut self, name: Option<&str>, ty: AbiType) -> Self {
        self.params.push(Param::new(name, ty));
        self
    }

    /// Adds a parameter at the next position.
    pub fn push(&mut self, param: Param) {
        self.params.push(param);
    }

    /// The parameters in positional order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The position of the first parameter with this name.
    pub fn position_of(&self, name: &str) -> Option<usize> {
        self.params
            .iter()
            .position(|p| p.name.as_deref() == Some(name))
    }

    /// The schema of Defender's transaction conditions: `to`, `from` (address), `gasPrice`,
    /// `maxFeePerGas`, `maxPriorityFeePerGas`, `gasLimit`, `gasUsed`, `value`, `nonce` (uint256)
    /// and `status` (string, `"success"` or `"failed"`).
    pub fn transaction() -> Self {
        let mut s = Self::new();
        for name in TRANSACTION_VARIABLES {
            let ty = match name {
                "to" | "from" => AbiType::Address,
                "status" => AbiType::String,
                _ => AbiType::Uint(256),
            };
            s.push(Param::new(Some(name), ty));
        }
        s
    }

    /// Builds a schema from an event or function signature such as
    /// `Transfer(address indexed from, address indexed to, uint256 value)` or `greet(address,string)`.
    ///
    /// A leading `event` or `function` keyword, `indexed`/`calldata`/`memory`/`storage` modifiers
    /// and anything after the closing parenthesis (`returns (...)`, `external view`) are ignored.
    /// Tuples are written `(T a, U b)` or `tuple(T a, U b)`, with array suffixes `[]` and `[N]`.
    pub fn from_signature(signature: &str) -> Result<Self, Error> {
        let mut p = SigParser {
            src: signature,
            pos: 0,
        };
        p.skip_ws();
        for kw in ["event", "function"] {
            if p.rest().starts_with(kw)
                && p.rest()[kw.len()..].starts_with(|c: char| c.is_whitespace())
            {
                p.pos += kw.len();
                p.skip_ws();
            }
        }
        let name = p.ident();
        if name.is_none() {
            return Err(p.error("expected the event or function name"));
        }
        p.skip_ws();
        let params = p.param_list(0)?;
        Ok(Self { params })
    }
}

struct SigParser<'a> {
    src: &'a str,
    pos: usize,
}

const MAX_TYPE_DEPTH: usize = 32;

impl<'a> SigParser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn error(&self, message: &str) -> Error {
        let end = self
            .rest()
            .chars()
            .next()
            .map_or(self.pos, |c| self.pos + c.len_utf8());
        Error::new(ErrorKind::InvalidSignature, self.pos..end, message)
    }

    fn ident(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(rest.len());
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.pos += len;
        Some(&rest[..len])
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn param_list(&mut self, depth: usize) -> Result<Vec<Param>, Error> {
        if depth > MAX_TYPE_DEPTH {
            return Err(self.error("tuples nest too deeply"));
        }
        if !self.eat('(') {
            return Err(self.error("expected `(`"));
        }
        let mut params = Vec::new();
        self.skip_ws();
        if self.eat(')') {
            return Ok(params);
        }
        loop {
            self.skip_ws();
            let ty = self.ty(depth)?;
            self.skip_ws();
            let mut name = None;
            while let Some(word) = self.ident() {
                self.skip_ws();
                if !matches!(
                    word,
                    "indexed" | "calldata" | "memory" | "storage" | "payable"
                ) {
                    if name.is_some() {
                        return Err(self.error("expected `,` or `)` after the parameter name"));
                    }
                    name = Some(word.to_string());
                }
            }
            params.push(Param { name, ty });
            self.skip_ws();
            if self.eat(',') {
                continue;
            }
            if self.eat(')') {
                return Ok(params);
            }
            return Err(self.error("expected `,` or `)`"));
        }
    }

    fn ty(&mut self, depth: usize) -> Result<AbiType, Error> {
        let start = self.pos;
        let mut ty = if self.rest().starts_with('(') {
            AbiType::Tuple(self.param_list(depth + 1)?)
        } else {
            let Some(word) = self.ident() else {
                return Err(self.error("expected a type"));
            };
            if word == "tuple" && self.rest().starts_with('(') {
                AbiType::Tuple(self.param_list(depth + 1)?)
            } else {
                elementary(word).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidSignature,
                        start..self.pos,
                        format!("unknown type `{word}`"),
                    )
                })?
            }
        };
        let mut suffixes = 0;
        while self.eat('[') {
            suffixes += 1;
            if suffixes > MAX_TYPE_DEPTH {
                return Err(self.error("too many array dimensions"));
            }
            let rest = self.rest();
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let size = if len == 0 {
                None
            } else {
                Some(
                    rest[..len]
                        .parse::<usize>()
                        .map_err(|_| self.error("array size is too large"))?,
                )
            };
            self.pos += len;
            if !self.eat(']') {
                return Err(self.error("expected `]`"));
            }
            ty = AbiType::Array(Box::new(ty), size);
        }
        Ok(ty)
    }
}

fn elementary(word: &str) -> Option<AbiType> {
    let bits = |s: &str| -> Option<u16> {
        if s.is_empty() {
            return Some(256);
        }
        let b: u16 = s.parse().ok()?;
        (b > 0 && b <= 256 && b % 8 == 0 && !s.starts_with('0')).then_some(b)
    };
    Some(match word {
        "address" => AbiType::Address,
        "bool" => AbiType::Bool,
        "string" => AbiType::String,
        "bytes" => AbiType::Bytes(None),
        "function" => AbiType::Bytes(Some(24)),
        w => {
            if let Some(n) = w.strip_prefix("uint") {
                AbiType::Uint(bits(n)?)
            } else if let Some(n) = w.strip_prefix("int") {
                AbiType::Int(bits(n)?)
            } else if let Some(n) = w.strip_prefix("bytes") {
                let n: u8 = n.parse().ok()?;
                if n == 0 || n > 32 || w.starts_with("bytes0") {
                    return None;
                }
                AbiType::Bytes(Some(n))
            } else {
                return None;
            }
        }
    })
}
