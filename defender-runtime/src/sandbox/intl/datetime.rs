//! `Intl.DateTimeFormat`: ICU4X's date-time formatter, given a field bag (ECMA-402's
//! component options) or a style (`dateStyle`/`timeStyle`), on an instant placed in an IANA
//! time zone by jiff's bundled time zone database (never the host's: runs are
//! deterministic, and the default zone is UTC as on Defender's Lambda).

use super::parts::{PartList, Recorded};
use super::IntlError;
use icu_datetime::fieldbag::{field, DateTimeFieldBag};
use icu_datetime::fieldsets::builder::{DateFields, FieldSetBuilder, ZoneStyle};
use icu_datetime::fieldsets::enums::CompositeFieldSet;
use icu_datetime::options::{Length, TimePrecision};
use icu_datetime::preferences::HourCycle;
use icu_datetime::{parts, DateTimeFormatter, DateTimeFormatterPreferences};
use icu_locale::Locale;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::Deserialize;
use std::sync::OnceLock;

/// Longest time zone name looked at.
pub(super) const MAX_ZONE_BYTES: usize = 64;

/// The names of UTC that ECMA-402 canonicalizes to "UTC".
const UTC_NAMES: &[&str] = &[
    "utc",
    "etc/utc",
    "etc/uct",
    "uct",
    "gmt",
    "etc/gmt",
    "etc/gmt0",
    "etc/gmt+0",
    "etc/gmt-0",
    "gmt0",
    "gmt+0",
    "gmt-0",
    "etc/greenwich",
    "greenwich",
    "etc/universal",
    "universal",
    "etc/zulu",
    "zulu",
];

/// jiff's bundled copy of the IANA database (the same in every run, whatever the host has).
fn database() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// The canonical name of IANA time zone `name` (case-insensitive), as `resolvedOptions()`
/// gives it; ECMA-402's RangeError for an unknown one.
pub(super) fn canonical_zone(name: &str) -> Result<String, IntlError> {
    let invalid = || IntlError::range(&format!("Invalid time zone specified: {name}"));
    if name.len() > MAX_ZONE_BYTES || name.is_empty() {
        return Err(invalid());
    }
    if UTC_NAMES.iter().any(|u| u.eq_ignore_ascii_case(name)) {
        return Ok("UTC".into());
    }
    let tz = database().get(name).map_err(|_| invalid())?;
    Ok(tz.iana_name().unwrap_or(name).to_owned())
}

/// A style of `dateStyle` or `timeStyle`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Style {
    Full,
    Long,
    Medium,
    Short,
}

/// The width of a text field.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Text {
    Narrow,
    Short,
    Long,
}

/// A numeric field's width, or (for `month`) a text one.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
enum Width {
    #[serde(rename = "numeric")]
    Numeric,
    #[serde(rename = "2-digit")]
    TwoDigit,
    #[serde(rename = "narrow")]
    Narrow,
    #[serde(rename = "short")]
    Short,
    #[serde(rename = "long")]
    Long,
}

/// `timeZoneName`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum ZoneName {
    Short,
    Long,
    ShortOffset,
    LongOffset,
    ShortGeneric,
    LongGeneric,
}

/// The resolved options of a `DateTimeFormat`, as js/intl.js resolved them.
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct DateOptions {
    time_zone: String,
    /// `true` for a 12-hour clock, `false` for 24 hours, `None` for the locale's.
    hour12: Option<bool>,
    date_style: Option<Style>,
    time_style: Option<Style>,
    weekday: Option<Text>,
    era: Option<Text>,
    year: Option<Width>,
    month: Option<Width>,
    day: Option<Width>,
    hour: Option<Width>,
    minute: Option<Width>,
    second: Option<Width>,
    fractional_second_digits: Option<u8>,
    time_zone_name: Option<ZoneName>,
}

/// A `DateTimeFormat`'s formatter and time zone.
#[derive(Debug)]
pub(super) struct DateFormat {
    formatter: DateTimeFormatter<CompositeFieldSet>,
    zone: TimeZone,
}

fn numeric(w: Width) -> Result<bool, IntlError> {
    match w {
        Width::Numeric => Ok(true),
        Width::TwoDigit => Ok(false),
        _ => Err(IntlError::range(
            "a numeric field cannot be narrow, short or long",
        )),
    }
}

fn field_set(o: &DateOptions) -> Result<CompositeFieldSet, IntlError> {
    let unsupported = |e: &dyn std::fmt::Debug| {
        IntlError::range(&format!("these date-time options are not supported: {e:?}"))
    };
    if o.date_style.is_some() || o.time_style.is_some() {
        let mut b = FieldSetBuilder::default();
        if let Some(s) = o.date_style {
            b.length = Some(match s {
                Style::Full | Style::Long => Length::Long,
                Style::Medium => Length::Medium,
                Style::Short => Length::Short,
            });
            b.date_fields = Some(if s == Style::Full {
                DateFields::YMDE
            } else {
                DateFields::YMD
            });
        }
        if let Some(s) = o.time_style {
            if b.length.is_none() {
                b.length = Some(match s {
                    Style::Full | Style::Long => Length::Long,
                    Style::Medium => Length::Medium,
                    Style::Short => Length::Short,
                });
            }
            b.time_precision = Some(if s == Style::Short {
                TimePrecision::Minute
            } else {
                TimePrecision::Second
            });
            b.zone_style = match s {
                Style::Full => Some(ZoneStyle::SpecificLong),
                Style::Long => Some(ZoneStyle::SpecificShort),
                _ => None,
            };
        }
        return b.build_composite().map_err(|e| unsupported(&e));
    }
    let mut bag = DateTimeFieldBag::default();
    bag.weekday = o.weekday.map(|t| match t {
        Text::Narrow => field::Weekday::Narrow,
        Text::Short => field::Weekday::Short,
        Text::Long => field::Weekday::Long,
    });
    bag.era = o.era.map(|t| match t {
        Text::Narrow => field::Era::Narrow,
        Text::Short => field::Era::Short,
        Text::Long => field::Era::Long,
    });
    bag.year = match o.year {
        Some(w) => Some(if numeric(w)? {
            field::Year::Numeric
        } else {
            field::Year::TwoDigit
        }),
        None => None,
    };
    bag.month = o.month.map(|w| match w {
        Width::Numeric => field::Month::Numeric,
        Width::TwoDigit => field::Month::TwoDigit,
        Width::Narrow => field::Month::Narrow,
        Width::Short => field::Month::Short,
        Width::Long => field::Month::Long,
    });
    bag.day = match o.day {
        Some(w) => Some(if numeric(w)? {
            field::Day::Numeric
        } else {
            field::Day::TwoDigit
        }),
        None => None,
    };
    bag.hour = match o.hour {
        Some(w) => Some(if numeric(w)? {
            field::Hour::Numeric
        } else {
            field::Hour::TwoDigit
        }),
        None => None,
    };
    bag.minute = match o.minute {
        Some(w) => Some(if numeric(w)? {
            field::Minute::Numeric
        } else {
            field::Minute::TwoDigit
        }),
        None => None,
    };
    bag.second = match o.second {
        Some(w) => Some(if numeric(w)? {
            field::Second::Numeric
        } else {
            field::Second::TwoDigit
        }),
        None => None,
    };
    bag.fractional_second_digits = match o.fractional_second_digits {
        None => None,
        Some(1) => Some(field::FractionalSecondDigits::F1),
        Some(2) => Some(field::FractionalSecondDigits::F2),
        Some(3) => Some(field::FractionalSecondDigits::F3),
        Some(_) => {
            return Err(IntlError::range(
                "fractionalSecondDigits value is out of range.",
            ))
        }
    };
    bag.hour_kind = o.hour12.map(|h12| {
        if h12 {
            field::HourKind::Clock12
        } else {
            field::HourKind::Clock24
        }
    });
    bag.time_zone_name = o.time_zone_name.map(|z| match z {
        ZoneName::Short => field::TimeZoneName::ShortSpecific,
        ZoneName::Long => field::TimeZoneName::LongSpecific,
        ZoneName::ShortOffset => field::TimeZoneName::ShortOffset,
        ZoneName::LongOffset => field::TimeZoneName::LongOffset,
        ZoneName::ShortGeneric => field::TimeZoneName::ShortGeneric,
        ZoneName::LongGeneric => field::TimeZoneName::LongGeneric,
    });
    Ok(bag.to_composite_field_set())
}

impl DateFormat {
    /// The formatter for `options` in `locale`.
    pub(super) fn new(locale: &Locale, o: &DateOptions) -> Result<DateFormat, IntlError> {
        let name = canonical_zone(&o.time_zone)?;
        let zone = if name == "UTC" {
            TimeZone::UTC
        } else {
            database()
                .get(&name)
                .map_err(|_| IntlError::range(&format!("Invalid time zone specified: {name}")))?
        };
        let mut prefs = DateTimeFormatterPreferences::from(locale);
        if let Some(h12) = o.hour12 {
            prefs.hour_cycle = Some(if h12 { HourCycle::H12 } else { HourCycle::H23 });
        }
        let formatter = DateTimeFormatter::try_new(prefs, field_set(o)?)
            .map_err(|e| IntlError::range(&format!("date-time data is missing: {e}")))?;
        Ok(DateFormat { formatter, zone })
    }

    /// The instant `ms` milliseconds after the epoch, formatted, as parts.
    pub(super) fn format(&self, ms: f64) -> Result<PartList, IntlError> {
        if !ms.is_finite() || ms.abs() > 8.64e15 {
            return Err(IntlError::range("Invalid time value"));
        }
        let ts = jiff::Timestamp::from_millisecond(ms.trunc() as i64).map_err(|_| {
            IntlError::range("Invalid time value: the sandbox formats the years -9999 to 9999")
        })?;
        let zoned = ts.to_zoned(self.zone.clone());
        let rec = Recorded::of(&self.formatter.format(&zoned));
        Ok(rec
            .runs(kind)
            .into_iter()
            // V8 writes a plain space where CLDR 42 and later have U+202F (before AM/PM):
            // Node's answers are the reference.
            .map(|(k, text)| (k.unwrap_or("literal"), text.replace('\u{202f}', " ")))
            .collect())
    }
}

/// The `formatToParts` type of one of ICU4X's date-time parts.
fn kind(p: writeable::Part) -> Option<&'static str> {
    Some(match p {
        p if p == parts::ERA => "era",
        p if p == parts::YEAR => "year",
        p if p == parts::RELATED_YEAR => "relatedYear",
        p if p == parts::YEAR_NAME => "yearName",
        p if p == parts::MONTH => "month",
        p if p == parts::DAY => "day",
        p if p == parts::WEEKDAY => "weekday",
        p if p == parts::DAY_PERIOD => "dayPeriod",
        p if p == parts::HOUR => "hour",
        p if p == parts::MINUTE => "minute",
        p if p == parts::SECOND => "second",
        p if p == parts::TIME_ZONE_NAME => "timeZoneName",
        _ => return None,
    })
}
