//! Removal of secret values from logs, results and error messages.

use serde_json::Value;
use std::sync::Arc;

/// What replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Secret values shorter than this are not redacted: replacing `42` everywhere would corrupt
/// hashes, numbers and addresses in ordinary output while protecting nothing.
pub const MIN_REDACTED_LEN: usize = 6;

/// Replaces every occurrence of the run's secret values.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    /// Longest first, so that a secret containing another is replaced whole.
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// Redacts the given values (empty values are ignored).
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_REDACTED_LEN)
            .map(str::to_owned)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor {
            secrets: Arc::new(secrets),
        }
    }

    /// `text` with every secret value replaced by [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        self.redact_in_place(&mut out);
        out
    }

    pub(crate) fn redact_in_place(&self, text: &mut String) {
        for s in self.secrets.iter() {
            if text.contains(s.as_str()) {
                *text = text.replace(s.as_str(), REDACTED);
            }
        }
    }

    /// Redacts every string (keys included) in a JSON value.
    pub(crate) fn redact_json(&self, v: Value) -> Value {
        if self.secrets.is_empty() {
            return v;
        }
        match v {
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|x| self.redact_json(x)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, x)| (self.redact(&k), self.redact_json(x)))
                    .collect(),
            ),
            other => {
                // Numbers and booleans that equal a secret's text are redacted too.
                let text = other.to_string();
                if self.secrets.contains(&text) {
                    Value::String(REDACTED.to_owned())
                } else {
                    other
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_strings_keys_and_numbers() {
        let r = Redactor::new(["s3cr3t", "424242", "s3cr3t-long", "42"]);
        assert_eq!(
            r.redact("a s3cr3t-long b s3cr3t 0x42"),
            "a [REDACTED] b [REDACTED] 0x42"
        );
        assert_eq!(
            r.redact_json(json!({"s3cr3t": ["x s3cr3t", 424242, 7]})),
            json!({"[REDACTED]": ["x [REDACTED]", "[REDACTED]", 7]})
        );
    }
}
