//! Removal of secret values from what leaves a run: logs, error messages, stored results,
//! notifications and tracing.
//!
//! Everything a run produces passes through [`Redactor::redact_outcome`] before the host
//! keeps or forwards it, with one exception: the value the handler returns reaches its
//! caller (webhook response, linked action, manual run) exactly as the action produced it,
//! as on Defender, where actions returned values kept in secrets on purpose. Stored copies
//! of that value (run history) go through [`Redactor::redact_json`].

use crate::runtime::{RunError, RunOutcome};
use crate::wire::LogEntry;
use serde_json::Value;
use std::sync::Arc;

/// What replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Secret values shorter than this are not redacted: replacing `42` everywhere would corrupt
/// hashes, numbers and addresses in ordinary output while protecting nothing.
pub const MIN_REDACTED_LEN: usize = 6;

/// Replaces every occurrence of a run's secret values by [`REDACTED`].
///
/// ```
/// use defender_core::redact::Redactor;
/// let r = Redactor::new(["hunter2-password"]);
/// assert_eq!(r.redact("key=hunter2-password"), "key=[REDACTED]");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is replaced whole.
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// Redacts the given values (values shorter than [`MIN_REDACTED_LEN`] characters are
    /// ignored).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
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

    /// A redactor for the values of both (a warm context keeps redacting the secrets of
    /// earlier runs after they were rotated: its globals may still hold them).
    pub fn union(&self, other: &Redactor) -> Redactor {
        if other.secrets.is_empty() {
            return self.clone();
        }
        if self.secrets.is_empty() {
            return other.clone();
        }
        Redactor::new(
            self.secrets
                .iter()
                .chain(other.secrets.iter())
                .map(String::as_str),
        )
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret value replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        self.redact_in_place(&mut out);
        out
    }

    /// Replaces every secret value in `text`.
    pub fn redact_in_place(&self, text: &mut String) {
        for s in self.secrets.iter() {
            if text.contains(s.as_str()) {
                *text = text.replace(s.as_str(), REDACTED);
            }
        }
    }

    /// Redacts every string (keys included) in a JSON value; numbers and booleans whose text
    /// equals a secret become [`REDACTED`].
    pub fn redact_json(&self, v: Value) -> Value {
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
                let text = other.to_string();
                if self.secrets.contains(&text) {
                    Value::String(REDACTED.to_owned())
                } else {
                    other
                }
            }
        }
    }

    /// The error with every text it carries redacted, whatever its variant (the host's own
    /// errors included: their text may come from the script).
    pub fn redact_error(&self, e: RunError) -> RunError {
        if self.secrets.is_empty() {
            return e;
        }
        let r = |s: String| self.redact(&s);
        match e {
            RunError::InvalidCode(m) => RunError::InvalidCode(r(m)),
            RunError::Thrown { message, stack } => RunError::Thrown {
                message: r(message),
                stack: stack.map(r),
            },
            RunError::InsufficientFunds(m) => RunError::InsufficientFunds(r(m)),
            RunError::RelayerConfiguration(m) => RunError::RelayerConfiguration(r(m)),
            RunError::Internal(m) => RunError::Internal(r(m)),
            RunError::InvalidResult(m) => RunError::InvalidResult(r(m)),
            other @ (RunError::CodeTooLarge { .. }
            | RunError::Timeout(_)
            | RunError::OutOfMemory(_)
            | RunError::StackOverflow
            | RunError::Throttled { .. }) => other,
        }
    }

    /// Redacts log lines in place.
    pub fn redact_logs(&self, logs: &mut [LogEntry]) {
        if self.secrets.is_empty() {
            return;
        }
        for l in logs {
            self.redact_in_place(&mut l.message);
        }
    }

    /// A run's outcome with its logs and error redacted. The returned value is left as the
    /// handler produced it: it goes to the run's caller (see the module docs); redact stored
    /// copies with [`Redactor::redact_json`].
    pub fn redact_outcome(&self, mut outcome: RunOutcome) -> RunOutcome {
        self.redact_logs(&mut outcome.logs);
        outcome.result = outcome.result.map_err(|e| self.redact_error(e));
        outcome
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

    #[test]
    fn every_error_variant_is_redacted_and_the_result_is_not() {
        let r = Redactor::new(["topsecret"]);
        let cases = [
            RunError::InvalidCode("topsecret".into()),
            RunError::Thrown {
                message: "x topsecret".into(),
                stack: Some("at topsecret".into()),
            },
            RunError::InsufficientFunds("topsecret".into()),
            RunError::RelayerConfiguration("topsecret".into()),
            RunError::Internal("host failed: topsecret".into()),
            RunError::InvalidResult("topsecret".into()),
        ];
        for e in cases {
            let out = format!("{:?}", r.redact_error(e.clone()));
            assert!(!out.contains("topsecret"), "{e:?} -> {out}");
            assert!(out.contains(REDACTED), "{e:?} -> {out}");
        }
        let outcome = r.redact_outcome(RunOutcome {
            result: Ok(json!({"to": "topsecret"})),
            logs: vec![],
        });
        assert_eq!(outcome.result.unwrap(), json!({"to": "topsecret"}));
    }

    #[test]
    fn union_keeps_both_sets() {
        let old = Redactor::new(["old-secret"]);
        let new = Redactor::new(["new-secret"]);
        let both = new.union(&old);
        assert_eq!(
            both.redact("old-secret new-secret"),
            "[REDACTED] [REDACTED]"
        );
    }
}
