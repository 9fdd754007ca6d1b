//! `Intl.NumberFormat`: ICU4X's decimal, compact, percent and currency formatters, driven by
//! the options js/intl.js resolved as ECMA-402 does (the digits and their rounding are
//! [`super::digits`], which `PluralRules` shares).
//!
//! The digits come from ICU4X's `DecimalFormatter`, rounded here as ECMA-402 says (half away
//! from zero, fraction or significant digits). Percent and currency patterns come from ICU4X's
//! experimental `PercentFormatter` and `CurrencyFormatter`: their output is used for what
//! surrounds the number (symbol, sign, spacing), and its digits are replaced by ours, because
//! the currency formatter applies the currency's own precision whatever the options say.

use super::digits::{Digits, Numeric, RoundingType};
use super::parts::{PartList, Recorded};
use super::IntlError;
use fixed_decimal::{SignDisplay, UnsignedDecimal};
use icu_decimal::input::Decimal;
use icu_decimal::options::{
    CompactDecimalFormatterOptions, DecimalFormatterOptions, GroupingStrategy,
};
use icu_decimal::{parts as dparts, CompactDecimalFormatter, DecimalFormatter};
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::currency::options::{CurrencyFormatterOptions, CurrencyUsage};
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::percent::formatter::PercentFormatter;
use icu_locale::Locale;
use serde::Deserialize;
use writeable::{Part, Writeable};

/// CLDR's symbols for NaN and infinity (the same in every locale ICU4X ships with Latin
/// digits; ICU4X's decimal data does not carry them).
const NAN: &str = "NaN";
const INFINITY: &str = "∞";

/// `style`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Style {
    Decimal,
    Percent,
    Currency,
}

/// `currencyDisplay`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum CurrencyDisplay {
    Symbol,
    NarrowSymbol,
    Code,
    Name,
}

/// `currencySign`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum CurrencySign {
    Standard,
    Accounting,
}

/// `notation` (scientific and engineering are refused by js/intl.js).
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Notation {
    Standard,
    Compact,
}

/// `compactDisplay`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum CompactDisplay {
    Short,
    Long,
}

/// `useGrouping`, resolved.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Grouping {
    Auto,
    Always,
    Min2,
    False,
}

/// `signDisplay`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum SignDisplayOption {
    Auto,
    Never,
    Always,
    ExceptZero,
    Negative,
}

/// `trailingZeroDisplay`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum TrailingZeroDisplay {
    Auto,
    StripIfInteger,
}

/// The resolved options of a `NumberFormat` (js/intl.js resolves them; they are checked
/// again here, as everything from JavaScript is).
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct NumberOptions {
    style: Style,
    currency: Option<String>,
    currency_display: CurrencyDisplay,
    currency_sign: CurrencySign,
    notation: Notation,
    compact_display: CompactDisplay,
    minimum_integer_digits: u8,
    minimum_fraction_digits: u8,
    maximum_fraction_digits: u8,
    minimum_significant_digits: u8,
    maximum_significant_digits: u8,
    rounding_type: RoundingType,
    use_grouping: Grouping,
    sign_display: SignDisplayOption,
    trailing_zero_display: TrailingZeroDisplay,
}

/// What surrounds the number.
#[derive(Debug)]
enum Pattern {
    Plain,
    Percent(PercentFormatter<DecimalFormatter>),
    Currency(CurrencyFormatter<DecimalFormatter>),
}

/// A `NumberFormat`'s ICU4X formatters, built once per locale and options.
#[derive(Debug)]
pub(super) struct NumberFormat {
    digits: Digits,
    sign_display: SignDisplay,
    percent: bool,
    decimal: DecimalFormatter,
    compact: Option<CompactDecimalFormatter>,
    pattern: Pattern,
}

fn data_error(e: impl std::fmt::Display) -> IntlError {
    IntlError::range(&format!("locale data is missing: {e}"))
}

impl NumberFormat {
    /// The formatters for `options` in `locale`.
    pub(super) fn new(locale: &Locale, o: &NumberOptions) -> Result<NumberFormat, IntlError> {
        let digits = Digits::checked(
            o.minimum_integer_digits,
            o.minimum_fraction_digits,
            o.maximum_fraction_digits,
            o.minimum_significant_digits,
            o.maximum_significant_digits,
            o.rounding_type,
            o.trailing_zero_display == TrailingZeroDisplay::StripIfInteger,
        )?;
        let grouping = match o.use_grouping {
            Grouping::Auto => GroupingStrategy::Auto,
            Grouping::Always => GroupingStrategy::Always,
            Grouping::Min2 => GroupingStrategy::Min2,
            Grouping::False => GroupingStrategy::Never,
        };
        let mut options = DecimalFormatterOptions::default();
        options.grouping_strategy = Some(grouping);
        let decimal = DecimalFormatter::try_new(locale.into(), options).map_err(data_error)?;
        let compact = match o.notation {
            Notation::Standard => None,
            Notation::Compact => {
                if o.style != Style::Decimal {
                    return Err(IntlError::range(
                        "notation 'compact' is supported only with style 'decimal' in the sandbox",
                    ));
                }
                let mut options = CompactDecimalFormatterOptions::default();
                options.grouping_strategy = Some(grouping);
                Some(
                    match o.compact_display {
                        CompactDisplay::Short => {
                            CompactDecimalFormatter::try_new_short(locale.into(), options)
                        }
                        CompactDisplay::Long => {
                            CompactDecimalFormatter::try_new_long(locale.into(), options)
                        }
                    }
                    .map_err(data_error)?,
                )
            }
        };
        let pattern = match o.style {
            Style::Decimal => Pattern::Plain,
            Style::Percent => Pattern::Percent(
                PercentFormatter::try_new(locale.into(), Default::default()).map_err(data_error)?,
            ),
            Style::Currency => {
                let code = o.currency.as_deref().unwrap_or_default();
                let currency = currency_type(code)
                    .ok_or_else(|| IntlError::range(&format!("Invalid currency code : {code}")))?;
                let usage = match o.currency_sign {
                    CurrencySign::Standard => CurrencyUsage::Standard,
                    CurrencySign::Accounting => CurrencyUsage::Accounting,
                };
                let options = CurrencyFormatterOptions::from(usage);
                let prefs = locale.into();
                Pattern::Currency(
                    match o.currency_display {
                        CurrencyDisplay::Symbol => {
                            CurrencyFormatter::try_new_symbol(prefs, currency, options)
                        }
                        CurrencyDisplay::NarrowSymbol => {
                            CurrencyFormatter::try_new_symbol_narrow(prefs, currency, options)
                        }
                        CurrencyDisplay::Code => {
                            CurrencyFormatter::try_new_code(prefs, currency, options)
                        }
                        CurrencyDisplay::Name => CurrencyFormatter::try_new_name(prefs, currency),
                    }
                    .map_err(data_error)?,
                )
            }
        };
        Ok(NumberFormat {
            digits,
            sign_display: match o.sign_display {
                SignDisplayOption::Auto => SignDisplay::Auto,
                SignDisplayOption::Never => SignDisplay::Never,
                SignDisplayOption::Always => SignDisplay::Always,
                SignDisplayOption::ExceptZero => SignDisplay::ExceptZero,
                SignDisplayOption::Negative => SignDisplay::Negative,
            },
            percent: o.style == Style::Percent,
            decimal,
            compact,
            pattern,
        })
    }

    /// `value` formatted, as parts.
    pub(super) fn format(&self, value: &Numeric) -> PartList {
        let special = |symbol: &'static str, kind: &'static str, negative: bool| {
            // The sign and the pattern of a one, with the symbol for its digits.
            let mut one = Decimal::from(1);
            if negative {
                one.sign = fixed_decimal::Sign::Negative;
            }
            one.apply_sign_display(self.sign_display);
            (one, Some((kind, symbol)))
        };
        let (value, symbol) = match value {
            Numeric::Finite(d) => {
                let mut d = d.clone();
                if self.percent {
                    d.absolute.multiply_pow10(2);
                }
                (d, None)
            }
            Numeric::NaN => {
                let (mut one, s) = special(NAN, "nan", false);
                one.sign = fixed_decimal::Sign::None;
                (one, s)
            }
            Numeric::Infinity { negative } => special(INFINITY, "infinity", *negative),
        };
        if let (Some(compact), None) = (&self.compact, symbol) {
            return self.format_compact(compact, value);
        }
        let mut rounded = value.clone();
        if symbol.is_none() {
            rounded.absolute = self.digits.round(&value.absolute);
            rounded.apply_sign_display(self.sign_display);
        }
        let number = number_parts(&Recorded::of(&self.decimal.format(&rounded)), symbol);
        match &self.pattern {
            Pattern::Plain => number,
            Pattern::Percent(p) => {
                // ICU4X's percent formatter annotates no parts: its digits are found in the
                // text of a one-digit value of the same sign.
                let mut seven = Decimal::from(7);
                seven.sign = rounded.sign;
                let digit = self
                    .decimal
                    .format(&Decimal::from(7))
                    .write_to_string()
                    .into_owned();
                let text = p.format(&seven).write_to_string().into_owned();
                splice_text(&text, &digit, &number, "percentSign")
            }
            Pattern::Currency(c) => splice(
                &Recorded::of(&c.format_fixed_decimal(&rounded)),
                &number,
                "currency",
            ),
        }
    }

    /// ECMA-402's compact notation: the exponent of the value's magnitude (again for the
    /// next magnitude when rounding carries into it), the significand rounded, and ICU4X's
    /// pattern for that exponent.
    fn format_compact(&self, compact: &CompactDecimalFormatter, value: Decimal) -> PartList {
        let magnitude = |d: &UnsignedDecimal| {
            if d.is_zero() {
                0
            } else {
                d.nonzero_magnitude_start()
            }
        };
        let top = magnitude(&value.absolute);
        let mut exponent = compact.compact_exponent_for_magnitude(top);
        let mut significand = self.digits.round(
            &value
                .absolute
                .clone()
                .multiplied_pow10(-i16::from(exponent)),
        );
        let carried = magnitude(&significand) + i16::from(exponent);
        if carried > top {
            let next = compact.compact_exponent_for_magnitude(carried);
            if next != exponent {
                exponent = next;
                significand = self.digits.round(
                    &value
                        .absolute
                        .clone()
                        .multiplied_pow10(-i16::from(exponent)),
                );
            }
        }
        let mut signed = Decimal::new(value.sign, significand);
        signed.apply_sign_display(self.sign_display);
        let formatted = compact
            .format_with_exponent(&signed, exponent)
            .map(|f| Recorded::of(&f));
        match formatted {
            Ok(rec) => affixed(&rec, "compact"),
            // The exponent comes from the same formatter: this does not happen; the
            // plain number is an honest answer if it did.
            Err(_) => number_parts(&Recorded::of(&self.decimal.format(&signed)), None),
        }
    }
}

/// A formatter's output as parts: its number parts as they are, the rest as affixes.
fn affixed(rec: &Recorded, affix: &'static str) -> PartList {
    let mut out = PartList::new();
    for (kind, text) in rec.runs(number_kind) {
        match kind {
            Some(kind) => out.push((kind, text.to_owned())),
            None => push_affix(&mut out, text, affix),
        }
    }
    out
}

/// The `formatToParts` type of one of ICU4X's decimal parts.
fn number_kind(p: Part) -> Option<&'static str> {
    Some(match p {
        p if p == dparts::INTEGER => "integer",
        p if p == dparts::FRACTION => "fraction",
        p if p == dparts::GROUP => "group",
        p if p == dparts::DECIMAL => "decimal",
        p if p == dparts::MINUS_SIGN => "minusSign",
        p if p == dparts::PLUS_SIGN => "plusSign",
        _ => return None,
    })
}

fn is_sign(kind: &str) -> bool {
    kind == "minusSign" || kind == "plusSign"
}

/// The parts of a formatted decimal; with `symbol`, its digits replaced by that symbol
/// (NaN, infinity).
fn number_parts(rec: &Recorded, symbol: Option<(&'static str, &'static str)>) -> PartList {
    let mut out = PartList::new();
    let mut symbol_done = false;
    for (kind, text) in rec.runs(number_kind) {
        let kind = kind.unwrap_or("literal");
        match symbol {
            Some((sym_kind, sym)) if !is_sign(kind) && kind != "literal" => {
                if !symbol_done {
                    out.push((sym_kind, sym.to_owned()));
                    symbol_done = true;
                }
            }
            _ => out.push((kind, text.to_owned())),
        }
    }
    out
}

/// The text of a pattern's affix, split into its spaces (`literal`) and the rest (`kind`,
/// or the sign it is).
fn push_affix(out: &mut PartList, text: &str, kind: &'static str) {
    let core = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{200e}' || c == '\u{200f}');
    if core.is_empty() {
        out.push(("literal", text.to_owned()));
        return;
    }
    let start = text.find(core).unwrap_or(0);
    let (lead, rest) = text.split_at(start);
    let (core, trail) = rest.split_at(core.len());
    if !lead.is_empty() {
        out.push(("literal", lead.to_owned()));
    }
    let kind = match core {
        "-" | "\u{2212}" => "minusSign",
        "+" => "plusSign",
        _ => kind,
    };
    out.push((kind, core.to_owned()));
    if !trail.is_empty() {
        out.push(("literal", trail.to_owned()));
    }
}

/// A pattern formatter's output with its number replaced by `number` (its sign where the
/// pattern puts the sign, its digits where the pattern puts the digits).
fn splice(pattern: &Recorded, number: &PartList, affix: &'static str) -> PartList {
    let mut out = PartList::new();
    let mut digits_done = false;
    for (kind, text) in pattern.runs(number_kind) {
        match kind {
            Some(kind) if is_sign(kind) => {
                out.extend(number.iter().filter(|(k, _)| is_sign(k)).cloned());
            }
            Some(_) => {
                if !digits_done {
                    out.extend(number.iter().filter(|(k, _)| !is_sign(k)).cloned());
                    digits_done = true;
                }
            }
            None => push_affix(&mut out, text, affix),
        }
    }
    if !digits_done {
        out.extend(number.iter().filter(|(k, _)| !is_sign(k)).cloned());
    }
    out
}

/// A pattern's text around the digit `digit` with `number` in its place: the sign of
/// `number` where the pattern writes a sign, its digits where the pattern has the digit.
fn splice_text(pattern: &str, digit: &str, number: &PartList, affix: &'static str) -> PartList {
    let Some(at) = pattern.find(digit) else {
        return number.clone();
    };
    let sign: String = number
        .iter()
        .filter(|(k, _)| is_sign(k))
        .map(|(_, t)| t.as_str())
        .collect();
    let mut out = PartList::new();
    let affix_parts = |text: &str, out: &mut PartList| match (!sign.is_empty())
        .then(|| text.find(sign.as_str()))
        .flatten()
    {
        Some(i) => {
            let (before, rest) = text.split_at(i);
            let after = &rest[sign.len()..];
            if !before.is_empty() {
                push_affix(out, before, affix);
            }
            out.extend(number.iter().filter(|(k, _)| is_sign(k)).cloned());
            if !after.is_empty() {
                push_affix(out, after, affix);
            }
        }
        None if !text.is_empty() => push_affix(out, text, affix),
        None => {}
    };
    affix_parts(&pattern[..at], &mut out);
    out.extend(number.iter().filter(|(k, _)| !is_sign(k)).cloned());
    affix_parts(&pattern[at + digit.len()..], &mut out);
    out
}

/// An ISO 4217 code as ECMA-402 accepts it (three ASCII letters, any case), upper-cased.
fn currency_type(code: &str) -> Option<CurrencyType> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    CurrencyType::try_from_str(&code.to_ascii_uppercase()).ok()
}

/// The number of minor-unit digits of currency `code` (ISO 4217, from ICU4X's data); `None`
/// for a code that is not well-formed.
pub(super) fn currency_digits(code: &str) -> Option<u8> {
    use icu_experimental::dimension::provider::currency::fractions::CurrencyFractionsV1;
    use icu_provider::prelude::*;
    let currency = currency_type(code)?;
    let fractions: DataPayload<CurrencyFractionsV1> = icu_experimental::provider::Baked
        .load(Default::default())
        .ok()?
        .payload;
    Some(fractions.get().resolve(currency).digits)
}
