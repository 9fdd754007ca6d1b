//! How a run ended, as a [`RunError`]: the error type comes from what the host observed (the
//! interrupt, a refused allocation, an engine stack overflow, a relayer error it delivered),
//! never from text the script controls; the script's text only becomes messages.

use crate::host;
use defender_core::{RunError, RunLimits};
use rquickjs::{Ctx, Exception};
use serde_json::Value as Json;

/// The error a host function throws when the run's budget refused a charge (the host has
/// marked the run as out of memory: it ends so whatever the script does with the error).
pub(super) fn out_of_memory(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_internal(ctx, "out of memory")
}

/// The error a host function that works long throws when the run's deadline passed.
pub(super) fn interrupted(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_internal(ctx, "interrupted")
}

/// How the prelude reported the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The handler's value, as JSON text.
    Returned(String),
    /// The handler's value could not be serialized; the error, as JSON text.
    Unserializable(String),
    /// The code is not a valid action (no handler, a syntax error in the entry file).
    InvalidCode(String),
    /// The handler threw or rejected; the error payload, as JSON text.
    Threw(String),
}

/// What the host saw during a run, besides the script's own report.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Observed {
    /// The deadline passed or the run was cancelled.
    pub(crate) interrupted: bool,
    /// The memory limit refused an allocation or a host charge.
    pub(crate) out_of_memory: bool,
    /// The engine threw a stack overflow.
    pub(crate) stack_overflow: bool,
    /// A relayer operation failed for want of funds.
    pub(crate) insufficient_funds: bool,
    /// A relayer operation failed because of the relayer's configuration.
    pub(crate) relayer_configuration: bool,
}

/// The fields of a thrown-error payload (see `errorPayload` in js/prelude.js).
#[derive(Debug, Default)]
struct Payload {
    message: String,
    stack: Option<String>,
    name: String,
    code: String,
}

fn payload(text: &str) -> Payload {
    let v: Json = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            return Payload {
                message: "the thrown value could not be read".into(),
                ..Payload::default()
            }
        }
    };
    let s = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
    Payload {
        message: s("message").unwrap_or_else(|| "error".into()),
        stack: s("stack"),
        name: s("name").unwrap_or_default(),
        code: s("code").unwrap_or_default(),
    }
}

/// The engine's own message for a stack overflow.
const STACK_OVERFLOW_MESSAGE: &str = "Maximum call stack size exceeded";

/// The run error of a `Finish::Threw` payload.
pub(crate) fn thrown(text: &str, seen: Observed, limits: &RunLimits) -> RunError {
    let p = payload(text);
    if let Some(e) = limit_error(seen, limits) {
        return e;
    }
    if seen.stack_overflow && p.name == "RangeError" && p.message == STACK_OVERFLOW_MESSAGE {
        return RunError::StackOverflow;
    }
    match p.code.as_str() {
        host::INSUFFICIENT_FUNDS if seen.insufficient_funds => {
            RunError::InsufficientFunds(p.message)
        }
        host::RELAYER_CONFIGURATION if seen.relayer_configuration => {
            RunError::RelayerConfiguration(p.message)
        }
        _ => RunError::Thrown {
            message: p.message,
            stack: p.stack,
        },
    }
}

/// The limit that ended the run, if one did: whatever the script made of it (caught and
/// rethrown, or turned into another error), a broken limit is what ended it.
pub(crate) fn limit_error(seen: Observed, limits: &RunLimits) -> Option<RunError> {
    if seen.interrupted {
        Some(RunError::Timeout(limits.timeout))
    } else if seen.out_of_memory {
        Some(RunError::OutOfMemory(limits.memory_bytes))
    } else {
        None
    }
}

/// The run error when driving the context failed outside the script's own report: a
/// broken limit, or an exception from the script (a timer callback that threw, a setter it
/// installed that threw inside the sandbox's code) as a thrown error.
pub(crate) fn failure(
    ctx: &Ctx<'_>,
    e: rquickjs::Error,
    seen: Observed,
    limits: &RunLimits,
) -> RunError {
    if let Some(e) = limit_error(seen, limits) {
        return e;
    }
    match e {
        rquickjs::Error::Exception => {
            let (name, message, stack) = exception_parts(ctx);
            if seen.stack_overflow && name == "RangeError" && message == STACK_OVERFLOW_MESSAGE {
                RunError::StackOverflow
            } else {
                RunError::Thrown { message, stack }
            }
        }
        rquickjs::Error::Allocation => RunError::OutOfMemory(limits.memory_bytes),
        other => RunError::Internal(other.to_string()),
    }
}

/// Name, message and stack of the pending exception (empty strings where they cannot be
/// read: the script may have made them throw).
fn exception_parts(ctx: &Ctx<'_>) -> (String, String, Option<String>) {
    let v = ctx.catch();
    if let Some(ex) = v.as_exception() {
        let name = ex
            .get::<_, rquickjs::Coerced<String>>("name")
            .map(|c| c.0)
            .unwrap_or_default();
        let _ = ctx.catch();
        let message = ex.message().unwrap_or_default();
        let _ = ctx.catch();
        let stack = ex.stack();
        let _ = ctx.catch();
        return (name, message, stack);
    }
    let text = v
        .as_string()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| "a value that is not an Error was thrown".to_owned());
    (String::new(), text, None)
}

/// Text of the pending exception, for the host's own failures (setting up a context).
pub(crate) fn exception_text(ctx: &Ctx<'_>) -> String {
    let (_, message, stack) = exception_parts(ctx);
    match stack {
        Some(s) => format!("{message}\n{s}"),
        None => message,
    }
}

/// The run error of a `Finish::Unserializable` or unreadable `Finish::Returned`.
pub(crate) fn invalid_result(message: String) -> RunError {
    RunError::InvalidResult(message)
}

/// Parses the handler's value; a value that JSON cannot carry here is an error of its own.
pub(crate) fn returned(text: &str) -> Result<Json, RunError> {
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        invalid_result(if msg.contains("recursion limit") {
            "the value is nested deeper than 128 levels".to_owned()
        } else if msg.contains("surrogate") || msg.contains("hex escape") {
            // JSON.stringify writes lone surrogates as `\uD800` escapes, which Rust strings
            // cannot hold.
            "the value holds a string with a lone UTF-16 surrogate".to_owned()
        } else {
            msg
        })
    })
}

/// The message of a `Finish::InvalidCode` or `Finish::Unserializable` payload.
pub(crate) fn payload_message(text: &str) -> String {
    payload(text).message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RunLimits {
        RunLimits::default()
    }

    #[test]
    fn error_types_follow_observations_not_text() {
        let oom = r#"{"message":"out of memory","name":"InternalError"}"#;
        let so = r#"{"message":"Maximum call stack size exceeded","name":"RangeError"}"#;
        let funds = r#"{"message":"no money","code":"INSUFFICIENT_FUNDS"}"#;
        let none = Observed::default();
        type Check = fn(&RunError) -> bool;
        let table: [(&str, Observed, Check); 7] = [
            (oom, none, |e| matches!(e, RunError::Thrown { .. })),
            (
                oom,
                Observed {
                    out_of_memory: true,
                    ..none
                },
                |e| matches!(e, RunError::OutOfMemory(_)),
            ),
            (so, none, |e| matches!(e, RunError::Thrown { .. })),
            (
                so,
                Observed {
                    stack_overflow: true,
                    ..none
                },
                |e| matches!(e, RunError::StackOverflow),
            ),
            (funds, none, |e| matches!(e, RunError::Thrown { .. })),
            (
                funds,
                Observed {
                    insufficient_funds: true,
                    ..none
                },
                |e| matches!(e, RunError::InsufficientFunds(_)),
            ),
            (
                "not json",
                Observed {
                    interrupted: true,
                    ..none
                },
                |e| matches!(e, RunError::Timeout(_)),
            ),
        ];
        for (text, seen, ok) in table {
            let e = thrown(text, seen, &limits());
            assert!(ok(&e), "{text} {seen:?} -> {e:?}");
        }
    }

    #[test]
    fn unreadable_results_are_errors_of_their_own() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(returned(&deep), Err(RunError::InvalidResult(m)) if m.contains("128")));
        assert!(
            matches!(returned(r#""\ud800""#), Err(RunError::InvalidResult(m)) if m.contains("surrogate"))
        );
        assert_eq!(returned("[1]").unwrap(), serde_json::json!([1]));
    }
}
