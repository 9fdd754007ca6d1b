//! Text to [`Ast`]: pest grammar, Pratt precedence, literal decoding.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::LazyLock;

use alloy_primitives::U256;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;

use crate::ast::{Ast, BinaryOp, Expr, ExprKind, UnaryOp};
use crate::error::{Error, ErrorKind};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Deepest nesting of parentheses and brackets accepted in the source.
pub(crate) const MAX_NESTING: usize = 400;
/// Deepest syntax tree accepted (a fully parenthesised print of it nests at most one more).
pub(crate) const MAX_DEPTH: usize = 320;
/// Most operators accepted in one condition (bounds the depth of the tree).
pub(crate) const MAX_OPERATORS: usize = 256;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left)
            | Op::infix(Rule::contains_op, Assoc::Left)
            | Op::infix(Rule::starts_op, Assoc::Left)
            | Op::infix(Rule::ends_op, Assoc::Left)
            | Op::infix(Rule::in_op, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::rem, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::infix(Rule::pow, Assoc::Right))
        .op(Op::postfix(Rule::index) | Op::postfix(Rule::member))
});

/// Parses a condition into its syntax tree.
///
/// Returns every error found: a syntax error stops the parse (the grammar does not recover),
/// but all malformed literals (numbers, strings, positions) are reported together.
///
/// ```
/// let ast = defender_conditions::parse("value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000").unwrap();
/// assert_eq!(
///     ast.to_string(),
///     "((value > 1000000000000000000) and (value < 100000000000000000000))"
/// );
/// ```
pub fn parse(source: &str) -> Result<Ast, Vec<Error>> {
    check_nesting(source)?;
    let mut pairs = Grammar::parse(Rule::program, source).map_err(|e| syntax_errors(&e, source))?;
    let Some(program) = pairs.next() else {
        return Err(vec![Error::new(ErrorKind::Syntax, 0..0, "empty condition")]);
    };
    let Some(expr) = program.into_inner().next() else {
        return Err(vec![Error::new(ErrorKind::Syntax, 0..0, "empty condition")]);
    };
    let operators = expr
        .clone()
        .into_inner()
        .flatten()
        .filter(|p| is_operator(p.as_rule()))
        .count();
    if operators > MAX_OPERATORS {
        return Err(vec![Error::new(
            ErrorKind::Syntax,
            0..source.len(),
            format!("condition has {operators} operators, more than the limit of {MAX_OPERATORS}"),
        )]);
    }
    let builder = Builder {
        errors: RefCell::new(Vec::new()),
    };
    let expr = builder.expr(expr);
    let errors = builder.errors.into_inner();
    let d = depth(&expr);
    if d > MAX_DEPTH {
        return Err(vec![Error::new(
            ErrorKind::Syntax,
            0..source.len(),
            format!("condition nests {d} levels deep, more than the limit of {MAX_DEPTH}"),
        )]);
    }
    if errors.is_empty() {
        Ok(Ast { expr })
    } else {
        Err(errors)
    }
}

fn depth(e: &Expr) -> usize {
    1 + match &e.kind {
        ExprKind::List(items) => items.iter().map(depth).max().unwrap_or(0),
        ExprKind::Unary(_, x) | ExprKind::Member(x, _) => depth(x),
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => depth(a).max(depth(b)),
        _ => 0,
    }
}

fn is_operator(rule: Rule) -> bool {
    !matches!(
        rule,
        Rule::expr
            | Rule::paren
            | Rule::list
            | Rule::number
            | Rule::hex
            | Rule::dec
            | Rule::string
            | Rule::dq_inner
            | Rule::sq_inner
            | Rule::boolean
            | Rule::positional
            | Rule::ident
            | Rule::member_name
    )
}

/// Rejects nesting deeper than [`MAX_NESTING`] before the recursive-descent parser sees it.
fn check_nesting(source: &str) -> Result<(), Vec<Error>> {
    let mut depth = 0usize;
    for (i, b) in outside_strings(source) {
        match b {
            b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(vec![Error::new(
                        ErrorKind::Syntax,
                        i..i + 1,
                        format!("parentheses and brackets nest deeper than {MAX_NESTING} levels"),
                    )]);
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The bytes of `source` that are not inside a string literal (quotes excluded), with their
/// positions: what the bracket and operator scans look at.
fn outside_strings(source: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    source.bytes().enumerate().filter(move |&(_, b)| {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            return false;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            return false;
        }
        true
    })
}

fn rule_words(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of input",
        Rule::expr | Rule::program => "an expression",
        Rule::or_op
        | Rule::and_op
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::contains_op
        | Rule::starts_op
        | Rule::ends_op
        | Rule::in_op
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::rem
        | Rule::pow => "an operator",
        Rule::not_op | Rule::neg => "a value",
        Rule::index | Rule::member => "an operator",
        Rule::member_name => "a member name",
        Rule::list
        | Rule::paren
        | Rule::number
        | Rule::hex
        | Rule::dec
        | Rule::string
        | Rule::dq_inner
        | Rule::sq_inner
        | Rule::boolean
        | Rule::positional
        | Rule::ident => "a value",
        Rule::keyword => "a keyword",
        _ => "something else",
    }
}

/// Every syntax error of `source`, of which pest reported the first: pest does not recover, so
/// the condition is cut at its top-level `and`/`or` operators and each operand is parsed on its
/// own. If the operands parse, the error is in how they are joined and only pest's is returned.
fn syntax_errors(first: &pest::error::Error<Rule>, source: &str) -> Vec<Error> {
    let first = convert(first, source);
    let mut errors = Vec::new();
    let mut operands = top_level_operands(source).into_iter().peekable();
    if operands.peek().is_none() {
        return vec![first];
    }
    for (range, text) in operands {
        if text.trim().is_empty() {
            let at = range.start + (text.len() - text.trim_start().len());
            errors.push(Error::new(
                ErrorKind::Syntax,
                at..at,
                "expected an operand of `and`/`or`",
            ));
            continue;
        }
        if let Err(e) = Grammar::parse(Rule::program, text) {
            let mut e = convert(&e, text);
            e.span = e.span.start + range.start..e.span.end + range.start;
            errors.push(e);
        }
    }
    if errors.is_empty() {
        return vec![first];
    }
    if !errors.iter().any(|e| e.span.start == first.span.start) {
        errors.push(first);
    }
    errors.sort_by_key(|e| e.span.start);
    errors
}

/// The operands of the top-level `and`/`or` chain with their byte ranges, or nothing when
/// there is no such chain. Quotes and brackets are skipped.
fn top_level_operands(source: &str) -> Vec<(Range<usize>, &str)> {
    let bytes = source.as_bytes();
    let word_at = |i: usize, w: &str| {
        let end = i + w.len();
        end <= bytes.len()
            && bytes[i..end].eq_ignore_ascii_case(w.as_bytes())
            && (i == 0 || !is_ident_byte(bytes[i - 1]))
            && (end == bytes.len() || !is_ident_byte(bytes[end]))
    };
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut depth = 0i32;
    let mut skip_to = 0;
    for (i, b) in outside_strings(source) {
        if i < skip_to {
            continue;
        }
        match b {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ if depth == 0 => {
                let rest = &bytes[i..];
                let len = if rest.starts_with(b"&&") || rest.starts_with(b"||") {
                    2
                } else if word_at(i, "and") {
                    3
                } else if word_at(i, "or") {
                    2
                } else {
                    0
                };
                if len > 0 {
                    cuts.push((i, i + len));
                    skip_to = i + len;
                }
            }
            _ => {}
        }
    }
    if cuts.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (a, b) in cuts {
        out.push((start..a, &source[start..a]));
        start = b;
    }
    out.push((start..source.len(), &source[start..]));
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn convert(e: &pest::error::Error<Rule>, source: &str) -> Error {
    use pest::error::{ErrorVariant, InputLocation};
    let span = match e.location {
        InputLocation::Pos(p) => {
            let end = source[p..].chars().next().map_or(p, |c| p + c.len_utf8());
            p..end
        }
        InputLocation::Span((s, e)) => s..e,
    };
    let found = if span.start >= source.len() {
        if let Some(open) = unclosed_bracket(source) {
            let c = char::from(source.as_bytes()[open]);
            return Error::new(
                ErrorKind::Syntax,
                open..open + 1,
                format!("`{c}` is never closed"),
            );
        }
        "end of input".to_string()
    } else {
        let rest = &source[span.start..];
        let c = rest.chars().next().unwrap_or(' ');
        if c == '"' || c == '\'' {
            if let Some(unterminated) = unterminated_string(source, span.start) {
                return unterminated;
            }
        }
        if c == '=' && !rest.starts_with("==") {
            return Error::new(
                ErrorKind::Syntax,
                span,
                "unexpected `=`: use `==` to compare",
            );
        }
        format!("`{c}`")
    };
    let message = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = positives.iter().map(|r| rule_words(*r)).collect();
            words.sort_unstable();
            words.dedup();
            match words.len() {
                0 => format!("unexpected {found}"),
                1 => format!("expected {}, found {found}", words[0]),
                n => format!(
                    "expected {} or {}, found {found}",
                    words[..n - 1].join(", "),
                    words[n - 1]
                ),
            }
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    Error::new(ErrorKind::Syntax, span, message)
}

/// Position of the innermost bracket left open at the end of the source, if any.
fn unclosed_bracket(source: &str) -> Option<usize> {
    let mut stack = Vec::new();
    for (i, b) in outside_strings(source) {
        match b {
            b'(' | b'[' => stack.push(i),
            b')' | b']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop()
}

fn unterminated_string(source: &str, start: usize) -> Option<Error> {
    let bytes = source.as_bytes();
    let quote = *bytes.get(start)?;
    let mut escaped = false;
    for &b in &bytes[start + 1..] {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == quote {
            return None;
        }
    }
    Some(Error::new(
        ErrorKind::Syntax,
        start..source.len(),
        "string is not terminated",
    ))
}

struct Builder {
    errors: RefCell<Vec<Error>>,
}

fn span_of(pair: &Pair<'_, Rule>) -> Range<usize> {
    let s = pair.as_span();
    s.start()..s.end()
}

impl Builder {
    fn error(&self, kind: ErrorKind, span: Range<usize>, message: impl Into<String>) {
        self.errors
            .borrow_mut()
            .push(Error::new(kind, span, message));
    }

    fn expr(&self, pair: Pair<'_, Rule>) -> Expr {
        self.pratt(pair.into_inner())
    }

    fn pratt(&self, pairs: Pairs<'_, Rule>) -> Expr {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let span = span_of(&op).start..rhs.span.end;
                let op = if op.as_rule() == Rule::not_op {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                }
            })
            .map_postfix(|lhs, op| {
                let end = op.as_span().end();
                let span = lhs.span.start..end;
                let kind = if op.as_rule() == Rule::index {
                    let index = match op.into_inner().next() {
                        Some(inner) => self.expr(inner),
                        None => Expr {
                            kind: ExprKind::Number(U256::ZERO),
                            span: span.clone(),
                        },
                    };
                    ExprKind::Index(Box::new(lhs), Box::new(index))
                } else {
                    let name = op
                        .into_inner()
                        .next()
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default();
                    ExprKind::Member(Box::new(lhs), name)
                };
                Expr { kind, span }
            })
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::or_op => BinaryOp::Or,
                    Rule::and_op => BinaryOp::And,
                    Rule::eq => BinaryOp::Eq,
                    Rule::ne => BinaryOp::Ne,
                    Rule::lt => BinaryOp::Lt,
                    Rule::le => BinaryOp::Le,
                    Rule::gt => BinaryOp::Gt,
                    Rule::ge => BinaryOp::Ge,
                    Rule::contains_op => BinaryOp::Contains,
                    Rule::starts_op => BinaryOp::StartsWith,
                    Rule::ends_op => BinaryOp::EndsWith,
                    Rule::in_op => BinaryOp::In,
                    Rule::add => BinaryOp::Add,
                    Rule::sub => BinaryOp::Sub,
                    Rule::mul => BinaryOp::Mul,
                    Rule::div => BinaryOp::Div,
                    Rule::rem => BinaryOp::Rem,
                    _ => BinaryOp::Pow,
                };
                let span = lhs.span.start..rhs.span.end;
                Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(pairs)
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::paren => {
                let inner = pair.into_inner().next();
                let mut e = match inner {
                    Some(inner) => self.expr(inner),
                    None => Expr {
                        kind: ExprKind::Bool(false),
                        span: span.clone(),
                    },
                };
                e.span = span;
                return e;
            }
            Rule::list => ExprKind::List(pair.into_inner().map(|p| self.expr(p)).collect()),
            Rule::number => {
                let text = pair.as_str();
                match parse_number(text) {
                    Ok(n) => ExprKind::Number(n),
                    Err(message) => {
                        self.error(ErrorKind::InvalidNumber, span.clone(), message);
                        ExprKind::Number(U256::ZERO)
                    }
                }
            }
            Rule::string => {
                let inner_start = span.start + 1;
                let inner = pair.as_str();
                let inner = &inner[1..inner.len().saturating_sub(1).max(1)];
                match unescape(inner, inner_start) {
                    Ok(s) => ExprKind::Str(s),
                    Err(errs) => {
                        self.errors.borrow_mut().extend(errs);
                        ExprKind::Str(String::new())
                    }
                }
            }
            Rule::boolean => ExprKind::Bool(pair.as_str().eq_ignore_ascii_case("true")),
            Rule::positional => match pair.as_str()[1..].parse::<usize>() {
                Ok(i) => ExprKind::Position(i),
                Err(_) => {
                    self.error(
                        ErrorKind::InvalidNumber,
                        span.clone(),
                        "position is too large",
                    );
                    ExprKind::Position(0)
                }
            },
            _ => ExprKind::Var(pair.as_str().to_string()),
        };
        Expr { kind, span }
    }
}

/// Parses a number literal (hex, or decimal with optional fraction and exponent) exactly.
pub(crate) fn parse_number(text: &str) -> Result<U256, String> {
    let too_large = || format!("number `{text}` does not fit in 256 bits");
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        let digits: String = hex.chars().filter(|c| *c != '_').collect();
        return U256::from_str_radix(&digits, 16).map_err(|_| too_large());
    }
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let mut digits: String = int_part.chars().filter(|c| *c != '_').collect();
    let frac: String = frac_part.chars().filter(|c| *c != '_').collect();
    digits.push_str(&frac);
    let exp: i64 = match exponent {
        Some(e) => e
            .trim_start_matches('+')
            .parse::<i64>()
            .map_err(|_| too_large())?,
        None => 0,
    };
    let Ok(frac_len) = i64::try_from(frac.len()) else {
        return Err(too_large());
    };
    let mut exp = exp - frac_len;
    while exp < 0 {
        if digits.ends_with('0') {
            digits.pop();
            exp += 1;
        } else {
            return Err(format!("number `{text}` is not an integer"));
        }
    }
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    let base = U256::from_str_radix(&digits, 10).map_err(|_| too_large())?;
    if base.is_zero() {
        return Ok(U256::ZERO);
    }
    let Ok(exp) = u32::try_from(exp) else {
        return Err(too_large());
    };
    let ten = U256::from(10u8);
    let scale = ten.checked_pow(U256::from(exp)).ok_or_else(too_large)?;
    base.checked_mul(scale).ok_or_else(too_large)
}

/// Decodes the escapes of a string literal's inner text, reporting every bad escape.
fn unescape(inner: &str, offset: usize) -> Result<String, Vec<Error>> {
    let mut out = String::with_capacity(inner.len());
    let mut errors = Vec::new();
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((j, e)) = chars.next() else {
            errors.push(Error::new(
                ErrorKind::InvalidString,
                offset + i..offset + i + 1,
                "string ends with a lone backslash",
            ));
            break;
        };
        let esc_end = j + e.len_utf8();
        match e {
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'x' => {
                let hex: String = (0..2)
                    .filter_map(|_| {
                        chars
                            .next_if(|(_, c)| c.is_ascii_hexdigit())
                            .map(|(_, c)| c)
                    })
                    .collect();
                let end = esc_end + hex.len();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 && b < 0x80 => out.push(char::from(b)),
                    _ => errors.push(Error::new(
                        ErrorKind::InvalidString,
                        offset + i..offset + end,
                        "`\\x` needs two hex digits for a value below 0x80",
                    )),
                }
            }
            'u' => {
                let mut end = esc_end;
                let mut ok = false;
                if chars.next_if(|(_, c)| *c == '{').is_some() {
                    end += 1;
                    let mut hex = String::new();
                    while let Some((_, c)) = chars.next_if(|(_, c)| c.is_ascii_hexdigit()) {
                        hex.push(c);
                        end += 1;
                    }
                    if chars.next_if(|(_, c)| *c == '}').is_some() {
                        end += 1;
                        if let Some(c) = (hex.len() <= 6)
                            .then(|| u32::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32)
                        {
                            out.push(c);
                            ok = true;
                        }
                    }
                }
                if !ok {
                    errors.push(Error::new(
                        ErrorKind::InvalidString,
                        offset + i..offset + end,
                        "`\\u` needs the form `\\u{hex}` with a valid code point",
                    ));
                }
            }
            other => errors.push(Error::new(
                ErrorKind::InvalidString,
                offset + i..offset + esc_end,
                format!("unknown escape `\\{other}`"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
