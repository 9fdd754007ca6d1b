//! Locales: canonical tags (`Intl.getCanonicalLocales`) and the locale a service resolves
//! to, with ICU4X's data deciding what is available.

use super::IntlError;
use icu_locale::{LocaleCanonicalizer, LocaleExpander};
use icu_locale_core::extensions::unicode::{key, Value};
use icu_locale_core::subtags::{Language, Script};
use icu_locale_core::{LanguageIdentifier, Locale};
use icu_provider::prelude::*;

/// Longest language tag looked at (a longer one is invalid).
pub(super) const MAX_TAG_BYTES: usize = 256;

fn invalid() -> IntlError {
    IntlError::range("Incorrect locale information provided")
}

/// The canonical form of a BCP 47 tag (case, aliases, order of extensions), or the
/// RangeError of ECMA-402.
pub(super) fn canonicalize(tag: &str) -> Result<String, IntlError> {
    if tag.len() > MAX_TAG_BYTES {
        return Err(invalid());
    }
    let mut locale = Locale::try_from_str(tag).map_err(|_| invalid())?;
    LocaleCanonicalizer::new_extended().canonicalize(&mut locale);
    Ok(locale.to_string())
}

/// Whether ICU4X has data for `id`: a language CLDR has a locale for (it has names of
/// languages in it), with a region only when it is a real one, and a script only when the
/// language is written in it.
fn available(id: &LanguageIdentifier) -> bool {
    if id.language.is_unknown() || !id.variants.is_empty() || !has_locale(id.language, None) {
        return false;
    }
    let expander = LocaleExpander::new_extended();
    if id.region.is_some_and(|r| private_use_region(r.as_str())) {
        return false;
    }
    if let Some(script) = id.script {
        let mut likely = LanguageIdentifier::from((id.language, None, None));
        expander.maximize(&mut likely);
        if likely.script != Some(script) && !has_locale(id.language, Some(script)) {
            return false;
        }
    }
    true
}

/// Whether `region` is one of ISO 3166's user-assigned codes (AA, QM to QZ, XA to XZ, ZZ:
/// "unknown"), which no locale has.
fn private_use_region(region: &str) -> bool {
    match region.as_bytes() {
        [b'A', b'A'] | [b'Z', b'Z'] => true,
        [b'Q', c] => (b'M'..=b'Z').contains(c),
        [b'X', _] => true,
        _ => false,
    }
}

/// Whether CLDR (as ICU4X ships it) has a locale for `language` (and `script`): it names
/// languages in that locale.
fn has_locale(language: Language, script: Option<Script>) -> bool {
    use icu_experimental::displaynames::provider::LocaleNamesLanguageV0;
    let locale = DataLocale::from(&LanguageIdentifier::from((language, script, None)));
    let req = DataRequest {
        id: DataIdentifierBorrowed::for_locale(&locale),
        ..Default::default()
    };
    DataProvider::<LocaleNamesLanguageV0>::load(&icu_experimental::provider::Baked, req).is_ok()
}

/// The locale a service resolves to from the canonical tags requested (ECMA-402's lookup
/// matcher): the first whose tag, or a prefix of it, is available, with the numbering system
/// it asks for; the default locale when none is.
pub(super) fn resolve(requested: &[String]) -> Locale {
    for tag in requested {
        let Ok(locale) = Locale::try_from_str(tag) else {
            continue;
        };
        if let Some(id) = best_available(&locale.id) {
            let mut out = Locale::from(id);
            let nu = key!("nu");
            if let Some(v) = locale.extensions.unicode.keywords.get(&nu) {
                if numbering_system_known(v) {
                    out.extensions.unicode.keywords.set(nu, v.clone());
                }
            }
            return out;
        }
    }
    default_locale()
}

/// The default locale, en-US, as on Defender's Lambda (and Node with `LANG` unset or `C`).
pub(super) fn default_locale() -> Locale {
    icu_locale_core::locale!("en-US")
}

/// The longest available prefix of `id` (dropping its last subtag each time).
pub(super) fn best_available(id: &LanguageIdentifier) -> Option<LanguageIdentifier> {
    let mut candidate = id.clone();
    loop {
        if available(&candidate) {
            return Some(candidate);
        }
        if !candidate.variants.is_empty() {
            candidate.variants.clear();
        } else if candidate.region.is_some() {
            candidate.region = None;
        } else if candidate.script.is_some() {
            candidate.script = None;
        } else {
            return None;
        }
    }
}

/// The numbering systems with decimal digits that ICU4X has data for, as ECMA-402 lists
/// them for `-u-nu-` (the common ones).
fn numbering_system_known(v: &Value) -> bool {
    const KNOWN: &[&str] = &[
        "arab", "arabext", "beng", "deva", "fullwide", "hanidec", "latn", "thai", "tibt",
    ];
    KNOWN.contains(&v.to_string().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_as_node_does() {
        let r = |tags: &[&str]| {
            resolve(&tags.iter().map(|t| t.to_string()).collect::<Vec<_>>()).to_string()
        };
        let id = |s: &str| LanguageIdentifier::try_from_str(s).unwrap();
        assert!(has_locale(id("ja").language, None));
        assert_eq!(r(&["en"]), "en");
        assert_eq!(r(&["en-GB"]), "en-GB");
        assert_eq!(r(&["de-DE"]), "de-DE");
        assert_eq!(r(&["en-XX"]), "en");
        assert_eq!(r(&["xx", "de-DE"]), "de-DE");
        assert_eq!(r(&["xx"]), "en-US");
        assert_eq!(r(&["en-u-nu-arab"]), "en-u-nu-arab");
    }
}
