//! The digits of a number as ECMA-402 formats them: the digit options (shared by
//! `NumberFormat` and `PluralRules`), checked, the rounding they ask for, and the values
//! formatted (a finite decimal or an IEEE special value).

use super::IntlError;
use fixed_decimal::{FloatPrecision, UnsignedDecimal, UnsignedRoundingMode};
use icu_decimal::input::Decimal;
use serde::Deserialize;

/// Longest numeric string formatted (a BigInt of about 4,000 digits).
pub(super) const MAX_NUMERIC_STRING: usize = 4096;

/// ECMA-402's rounding type, from the digit options and `roundingPriority`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) enum RoundingType {
    FractionDigits,
    SignificantDigits,
    MorePrecision,
    LessPrecision,
}

/// The digit options alone: what `PluralRules` needs too.
#[derive(Clone, Copy, Debug)]
pub(super) struct Digits {
    minimum_integer: u8,
    minimum_fraction: u8,
    maximum_fraction: u8,
    minimum_significant: u8,
    maximum_significant: u8,
    rounding: RoundingType,
    strip_if_integer: bool,
}

/// The digit options of `PluralRules` (a subset of NumberFormat's), as js/intl.js resolved them.
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct DigitOptions {
    minimum_integer_digits: u8,
    minimum_fraction_digits: u8,
    maximum_fraction_digits: u8,
    minimum_significant_digits: u8,
    maximum_significant_digits: u8,
    rounding_type: RoundingType,
}

impl DigitOptions {
    /// The checked digit options.
    pub(super) fn digits(&self) -> Result<Digits, IntlError> {
        Digits::checked(
            self.minimum_integer_digits,
            self.minimum_fraction_digits,
            self.maximum_fraction_digits,
            self.minimum_significant_digits,
            self.maximum_significant_digits,
            self.rounding_type,
            false,
        )
    }
}

impl Digits {
    pub(super) fn checked(
        minimum_integer: u8,
        minimum_fraction: u8,
        maximum_fraction: u8,
        minimum_significant: u8,
        maximum_significant: u8,
        rounding: RoundingType,
        strip_if_integer: bool,
    ) -> Result<Digits, IntlError> {
        if !(1..=21).contains(&minimum_integer) {
            return Err(IntlError::range(
                "minimumIntegerDigits value is out of range.",
            ));
        }
        if minimum_fraction > maximum_fraction || maximum_fraction > 100 {
            return Err(IntlError::range(
                "maximumFractionDigits value is out of range.",
            ));
        }
        if minimum_significant < 1
            || minimum_significant > maximum_significant
            || maximum_significant > 21
        {
            return Err(IntlError::range(
                "maximumSignificantDigits value is out of range.",
            ));
        }
        Ok(Digits {
            minimum_integer,
            minimum_fraction,
            maximum_fraction,
            minimum_significant,
            maximum_significant,
            rounding,
            strip_if_integer,
        })
    }

    /// `x` rounded as ECMA-402's FormatNumericToString rounds it (half away from zero), with
    /// its zeros padded or trimmed; the magnitude rounded at.
    pub(super) fn round(&self, x: &UnsignedDecimal) -> UnsignedDecimal {
        let by_fraction = || {
            let mut r = x.clone();
            r.round_with_mode(
                -i16::from(self.maximum_fraction),
                UnsignedRoundingMode::HalfExpand,
            );
            r.trim_end();
            r.pad_end(-i16::from(self.minimum_fraction));
            (r, -i16::from(self.maximum_fraction))
        };
        let by_significant = || {
            let top = if x.is_zero() {
                0
            } else {
                x.nonzero_magnitude_start()
            };
            let at = top - i16::from(self.maximum_significant) + 1;
            let mut r = x.clone();
            r.round_with_mode(at, UnsignedRoundingMode::HalfExpand);
            r.trim_end();
            let top = if r.is_zero() {
                0
            } else {
                r.nonzero_magnitude_start()
            };
            r.pad_end(top - i16::from(self.minimum_significant) + 1);
            (r, at)
        };
        let mut r = match self.rounding {
            RoundingType::FractionDigits => by_fraction().0,
            RoundingType::SignificantDigits => by_significant().0,
            RoundingType::MorePrecision | RoundingType::LessPrecision => {
                let (s, s_at) = by_significant();
                let (f, f_at) = by_fraction();
                let more = self.rounding == RoundingType::MorePrecision;
                if (s_at <= f_at) == more {
                    s
                } else {
                    f
                }
            }
        };
        if self.strip_if_integer && r.nonzero_magnitude_end() >= 0 {
            r.trim_end();
        }
        r.pad_start(i16::from(self.minimum_integer));
        r
    }
}

/// A value to format: a finite decimal, or one of the IEEE special values.
#[derive(Clone, Debug)]
pub(super) enum Numeric {
    Finite(Decimal),
    NaN,
    Infinity { negative: bool },
}

impl Numeric {
    /// The exact decimal of a JavaScript number (its shortest round-trip digits, as
    /// `Number.prototype.toString` writes them).
    pub(super) fn from_f64(n: f64) -> Numeric {
        if n.is_nan() {
            return Numeric::NaN;
        }
        if n.is_infinite() {
            return Numeric::Infinity { negative: n < 0.0 };
        }
        match Decimal::try_from_f64(n, FloatPrecision::RoundTrip) {
            Ok(mut d) => {
                if n == 0.0 && n.is_sign_negative() {
                    d.sign = fixed_decimal::Sign::Negative;
                }
                Numeric::Finite(d)
            }
            Err(_) => Numeric::NaN,
        }
    }

    /// A decimal string (a BigInt's digits, or a string js/intl.js found to be a decimal
    /// literal); `None` when it is not one.
    pub(super) fn from_decimal_str(s: &str) -> Option<Numeric> {
        if s.len() > MAX_NUMERIC_STRING {
            return None;
        }
        let t = s.trim();
        let (negative, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        if body == "Infinity" {
            return Some(Numeric::Infinity { negative });
        }
        Decimal::try_from_str(t).ok().map(Numeric::Finite)
    }
}
