//! `Intl` for the sandbox, computed by the host with ICU4X: js/intl.js reads the script's
//! options as ECMA-402 says and gives the host a small record of resolved options; the host
//! checks it again, builds the ICU4X formatters (cached per thread, by locale and options)
//! and returns formatted strings or parts.
//!
//! - [`locale`]: canonical tags and the locale a service resolves to;
//! - [`number`]: `NumberFormat` and its ICU4X formatters;
//! - [`digits`]: the digit options and rounding of `NumberFormat` and `PluralRules`;
//! - [`datetime`]: `DateTimeFormat`, with jiff's bundled time zone database;
//! - [`parts`]: formatted text with ICU4X's part annotations, and `formatToParts`' lists.
//!
//! The prelude receives `host.intl(kind, locale, options, a, b)`, `host.intlCanonical(tag)`,
//! `host.intlLocale(tag)`, `host.intlCurrencyDigits(code)` and `host.intlTimeZone(name)`.

mod datetime;
mod digits;
mod locale;
mod number;
mod parts;

use super::bindings::text;
use digits::{DigitOptions, Numeric};
use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, Strength};
use icu_collator::preferences::CollationNumericOrdering;
use icu_collator::{CollatorBorrowed, CollatorPreferences};
use icu_locale::Locale;
use icu_plurals::{PluralCategory, PluralRules};
use parts::PartList;
use rquickjs::function::Opt;
use rquickjs::{Array, Ctx, Exception, Function, Object, Value};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Longest options record read (js/intl.js writes a few hundred bytes).
const MAX_OPTIONS_BYTES: usize = 2048;

/// Most services kept per script thread (each is a few ICU4X formatters over static data).
const MAX_CACHED: usize = 64;

/// Longest string compared by `localeCompare` / `Collator.compare`, in bytes (the engine's
/// own strings are bounded by the run's memory; this bounds the host's copy).
const MAX_COMPARED_BYTES: usize = 1 << 20;

/// An error for the script: ECMA-402's RangeError or TypeError, with its message.
#[derive(Debug)]
pub(super) enum IntlError {
    Range(String),
    Type(String),
}

impl IntlError {
    fn range(m: &str) -> IntlError {
        IntlError::Range(m.to_owned())
    }

    fn throw<T>(self, ctx: &Ctx<'_>) -> rquickjs::Result<T> {
        Err(match self {
            IntlError::Range(m) => Exception::throw_range(ctx, &m),
            IntlError::Type(m) => Exception::throw_type(ctx, &m),
        })
    }
}

/// The kinds of service `host.intl` serves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Number,
    Date,
    Plural,
    Collator,
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "number" => Kind::Number,
            "date" => Kind::Date,
            "plural" => Kind::Plural,
            "collator" => Kind::Collator,
            _ => return None,
        })
    }
}

/// `PluralRules` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PluralOptions {
    #[serde(rename = "type")]
    kind: PluralType,
    #[serde(flatten)]
    digits: DigitOptions,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum PluralType {
    Cardinal,
    Ordinal,
}

/// `Collator` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CollatorRecord {
    sensitivity: Sensitivity,
    numeric: bool,
    ignore_punctuation: bool,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Sensitivity {
    Base,
    Accent,
    Case,
    Variant,
}

/// A service built for one locale and options record (each lives in an `Rc` of the cache:
/// the size of its largest variant is paid once per cached service).
#[allow(clippy::large_enum_variant)]
enum Service {
    Number(number::NumberFormat),
    Date(datetime::DateFormat),
    Plural(PluralRules, digits::Digits),
    Collator(CollatorBorrowed<'static>),
}

thread_local! {
    /// The services built on this thread, by kind, locale and options.
    static SERVICES: RefCell<HashMap<(Kind, String, String), Rc<Service>>> = RefCell::new(HashMap::new());
}

fn build(kind: Kind, locale: &Locale, options: &str) -> Result<Service, IntlError> {
    let bad = |e: serde_json::Error| IntlError::Type(format!("invalid Intl options: {e}"));
    Ok(match kind {
        Kind::Number => {
            let o: number::NumberOptions = serde_json::from_str(options).map_err(bad)?;
            Service::Number(number::NumberFormat::new(locale, &o)?)
        }
        Kind::Date => {
            let o: datetime::DateOptions = serde_json::from_str(options).map_err(bad)?;
            Service::Date(datetime::DateFormat::new(locale, &o)?)
        }
        Kind::Plural => {
            let o: PluralOptions = serde_json::from_str(options).map_err(bad)?;
            let rules = match o.kind {
                PluralType::Cardinal => PluralRules::try_new_cardinal(locale.into()),
                PluralType::Ordinal => PluralRules::try_new_ordinal(locale.into()),
            }
            .map_err(|e| IntlError::Range(format!("plural data is missing: {e}")))?;
            Service::Plural(rules, o.digits.digits()?)
        }
        Kind::Collator => {
            let o: CollatorRecord = serde_json::from_str(options).map_err(bad)?;
            let mut opts = CollatorOptions::default();
            opts.strength = Some(match o.sensitivity {
                Sensitivity::Base | Sensitivity::Case => Strength::Primary,
                Sensitivity::Accent => Strength::Secondary,
                Sensitivity::Variant => Strength::Tertiary,
            });
            if o.sensitivity == Sensitivity::Case {
                opts.case_level = Some(CaseLevel::On);
            }
            if o.ignore_punctuation {
                opts.alternate_handling = Some(AlternateHandling::Shifted);
            }
            let mut prefs = CollatorPreferences::from(locale);
            prefs.numeric_ordering = Some(if o.numeric {
                CollationNumericOrdering::True
            } else {
                CollationNumericOrdering::False
            });
            Service::Collator(
                CollatorBorrowed::try_new(prefs, opts)
                    .map_err(|e| IntlError::Range(format!("collation data is missing: {e}")))?,
            )
        }
    })
}

/// The service for `kind`, `locale` and `options`, from this thread's cache or built now.
fn service(kind: Kind, locale: &str, options: &str) -> Result<Rc<Service>, IntlError> {
    let key = (kind, locale.to_owned(), options.to_owned());
    if let Some(s) = SERVICES.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(s);
    }
    let parsed = Locale::try_from_str(locale)
        .map_err(|_| IntlError::range("Incorrect locale information provided"))?;
    let built = Rc::new(build(kind, &parsed, options)?);
    SERVICES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, built.clone());
    });
    Ok(built)
}

/// The number a script passed: a plain number, or a decimal string (BigInt digits, or a
/// string js/intl.js found to be a decimal literal).
fn numeric(ctx: &Ctx<'_>, v: &Value<'_>) -> rquickjs::Result<Option<Numeric>> {
    if let Some(n) = v.as_number() {
        return Ok(Some(Numeric::from_f64(n)));
    }
    if let Some(s) = v.as_string() {
        let s = text(s, digits::MAX_NUMERIC_STRING + 1)?;
        return match Numeric::from_decimal_str(&s) {
            Some(n) => Ok(Some(n)),
            None if s.len() > digits::MAX_NUMERIC_STRING => Err(Exception::throw_range(
                ctx,
                "the sandbox formats numbers of at most 4096 characters",
            )),
            None => Ok(Some(Numeric::NaN)),
        };
    }
    Ok(None)
}

/// Parts as an array of `[type, value]` pairs, or their text.
fn deliver<'js>(ctx: &Ctx<'js>, parts: PartList, as_parts: bool) -> rquickjs::Result<Value<'js>> {
    if !as_parts {
        let s = parts::joined(&parts);
        return Ok(rquickjs::String::from_str(ctx.clone(), &s)?.into_value());
    }
    let out = Array::new(ctx.clone())?;
    for (i, (kind, value)) in parts.into_iter().enumerate() {
        let pair = Array::new(ctx.clone())?;
        pair.set(0, kind)?;
        pair.set(1, value)?;
        out.set(i, pair)?;
    }
    Ok(out.into_value())
}

fn category_name(c: PluralCategory) -> &'static str {
    match c {
        PluralCategory::Zero => "zero",
        PluralCategory::One => "one",
        PluralCategory::Two => "two",
        PluralCategory::Few => "few",
        PluralCategory::Many => "many",
        PluralCategory::Other => "other",
    }
}

/// `host.intl(kind, locale, options, a, b)`: builds (or finds) the service and, with `a`,
/// uses it; without, only checks that it can be built (the constructor's errors).
fn call<'js>(
    ctx: &Ctx<'js>,
    kind: &rquickjs::String<'js>,
    locale: &rquickjs::String<'js>,
    options: &rquickjs::String<'js>,
    a: &Value<'js>,
    b: &Value<'js>,
) -> rquickjs::Result<Value<'js>> {
    let Some(kind) = Kind::from_name(&text(kind, 16)?) else {
        return Err(Exception::throw_type(ctx, "unknown Intl service"));
    };
    let locale = text(locale, locale::MAX_TAG_BYTES + 1)?;
    let options = text(options, MAX_OPTIONS_BYTES + 1)?;
    if locale.len() > locale::MAX_TAG_BYTES || options.len() > MAX_OPTIONS_BYTES {
        return IntlError::range("Intl options are too long").throw(ctx);
    }
    let service = match service(kind, &locale, &options) {
        Ok(s) => s,
        Err(e) => return e.throw(ctx),
    };
    if a.is_undefined() {
        return Ok(Value::new_undefined(ctx.clone()));
    }
    let as_parts = b.as_bool().unwrap_or(false);
    match &*service {
        Service::Number(f) => match numeric(ctx, a)? {
            Some(n) => deliver(ctx, f.format(&n), as_parts),
            None => Err(Exception::throw_type(ctx, "a number is expected")),
        },
        Service::Date(f) => match a.as_number() {
            Some(ms) => match f.format(ms) {
                Ok(parts) => deliver(ctx, parts, as_parts),
                Err(e) => e.throw(ctx),
            },
            None => Err(Exception::throw_type(ctx, "a time value is expected")),
        },
        Service::Plural(rules, digits) => {
            if a.as_bool() == Some(true) {
                // The categories of the rules, in CLDR's order.
                let names = Array::new(ctx.clone())?;
                for (i, c) in rules.categories().enumerate() {
                    names.set(i, category_name(c))?;
                }
                return Ok(names.into_value());
            }
            let category = match numeric(ctx, a)? {
                Some(Numeric::Finite(d)) => {
                    let rounded = digits.round(&d.absolute);
                    rules.category_for(&rounded)
                }
                _ => PluralCategory::Other,
            };
            Ok(rquickjs::String::from_str(ctx.clone(), category_name(category))?.into_value())
        }
        Service::Collator(c) => {
            let (Some(x), Some(y)) = (a.as_string(), b.as_string()) else {
                return Err(Exception::throw_type(ctx, "strings are expected"));
            };
            let x = text(x, MAX_COMPARED_BYTES)?;
            let y = text(y, MAX_COMPARED_BYTES)?;
            let order = c.compare(&x, &y) as i32;
            Ok(Value::new_int(ctx.clone(), order))
        }
    }
}

/// Adds the `Intl` host functions to `host`.
pub(super) fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    host.set(
        "intl",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             kind: rquickjs::String<'js>,
             locale: rquickjs::String<'js>,
             options: rquickjs::String<'js>,
             a: Opt<Value<'js>>,
             b: Opt<Value<'js>>| {
                let undefined = || Value::new_undefined(ctx.clone());
                let a = a.0.unwrap_or_else(undefined);
                let b = b.0.unwrap_or_else(undefined);
                call(&ctx, &kind, &locale, &options, &a, &b)
            },
        )?,
    )?;
    host.set(
        "intlCanonical",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: rquickjs::String<'js>| -> rquickjs::Result<String> {
                let tag = text(&tag, locale::MAX_TAG_BYTES + 1)?;
                locale::canonicalize(&tag).or_else(|e| e.throw(&ctx))
            },
        )?,
    )?;
    host.set(
        "intlLocale",
        Function::new(
            ctx.clone(),
            |tags: rquickjs::String<'js>| -> rquickjs::Result<String> {
                // Canonical tags, joined with spaces (which no tag holds); at most 64 looked at.
                let tags = text(&tags, 64 * (locale::MAX_TAG_BYTES + 1))?;
                let list: Vec<String> = tags
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .take(64)
                    .map(str::to_owned)
                    .collect();
                Ok(locale::resolve(&list).to_string())
            },
        )?,
    )?;
    host.set(
        "intlSupported",
        Function::new(
            ctx.clone(),
            |tag: rquickjs::String<'js>| -> rquickjs::Result<bool> {
                let tag = text(&tag, locale::MAX_TAG_BYTES + 1)?;
                Ok(Locale::try_from_str(&tag)
                    .ok()
                    .and_then(|l| locale::best_available(&l.id))
                    .is_some())
            },
        )?,
    )?;
    host.set(
        "intlCurrencyDigits",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, code: rquickjs::String<'js>| -> rquickjs::Result<u8> {
                let code = text(&code, 8)?;
                number::currency_digits(&code).ok_or_else(|| {
                    Exception::throw_range(&ctx, &format!("Invalid currency code : {code}"))
                })
            },
        )?,
    )?;
    host.set(
        "intlTimeZone",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, name: rquickjs::String<'js>| -> rquickjs::Result<String> {
                let name = text(&name, datetime::MAX_ZONE_BYTES + 1)?;
                datetime::canonical_zone(&name).or_else(|e| e.throw(&ctx))
            },
        )?,
    )?;
    Ok(())
}
