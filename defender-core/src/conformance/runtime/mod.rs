//! The [`ActionRuntime`] contract, with JavaScript handlers written as Defender actions are
//! (`exports.handler = async (event, context) => ...`).
//!
//! # What the suite checks
//! - [`returns_json`]: the handler's value comes back as JSON, exactly (strings with non-ASCII
//!   text, integers, fractions, booleans, `null`, arrays, nested objects), whichever CommonJS
//!   form exports the handler.
//! - [`undefined_is_null`]: a handler that returns nothing, or `undefined`, gives
//!   `Value::Null`.
//! - [`thrown_errors`]: a thrown `Error`, a rejected promise or a thrown string gives
//!   [`RunError::Thrown`] with the error's message (the string itself), an error of type
//!   [`ErrorType::Program`], and the lines logged before the throw.
//! - [`logs_with_levels`]: `console.log`/`info`/`warn`/`error`/`debug` are captured in order
//!   with levels `Info`, `Info`, `Warn`, `Error`, `Debug`; arguments are joined by spaces;
//!   lines logged after an `await` are kept; timestamps are in order and within the run.
//! - [`event_reaches_the_handler`]: the event (ids and names, legacy `autotask*` names, the
//!   request body, headers and query parameters, secrets) reaches the handler as its first
//!   argument.
//! - [`services_reach_the_handler`]: `defender-kvstore-client` reads and writes the run's
//!   [`KvStore`], and `context.notificationClient.send` reaches the run's
//!   [`NotifierRegistry`].
//! - [`timeouts`]: a run that waits on a timer, or spins, past its `RunLimits::timeout` ends
//!   with [`RunError::Timeout`] (carrying at least the limit), soon after the limit, with what
//!   it logged; the next run works.
//! - [`code_too_large`]: code over [`MAX_CODE_BYTES`] raw that Defender accepted (it
//!   compresses under the limit) runs; code over [`MAX_UNCOMPRESSED_CODE_BYTES`] (a script or
//!   a bundle) is [`RunError::CodeTooLarge`] with its size and that limit, and does not run.
//! - [`secrets_are_redacted`]: every secret value of at least [`MIN_REDACTED_LEN`] characters
//!   is replaced by [`REDACTED`] in the logs, in the error (message and stack) and in the
//!   notifications the action sends, while shorter values are left alone and the **returned
//!   value is not redacted** (it goes to the run's caller as produced; see [`crate::redact`]).
//! - [`runs_are_independent`]: a global or a patched prototype set by one action's run is not
//!   seen by another action's run, and a failed run does not affect the next.
//! - [`invalid_code`]: a syntax error, a missing handler, a handler that is not a function and
//!   a bundle without `index.js` are [`RunError::InvalidCode`].
//! - [`concurrent_runs`]: runs in flight together each get their own event, result and logs.
//!
//! [`no_state_survives_a_run`] is stricter than the contract (which lets a runtime keep a warm
//! context per action, as Defender's Lambda did): it checks that not even two runs of the
//! same action version share globals. [`run_suite`] does not run it; call it for a runtime
//! configured with a fresh context per run.
//!
//! Every run is bounded: one that has not returned [`GRACE`] after its own timeout fails the
//! suite. The runs use an [`InMemoryKvStore`], no relayer, and a [`NotifierRegistry`] holding
//! a [`RecordingNotifier`] under the alias `suite`.
//!
//! ```no_run
//! use defender_core::conformance::runtime;
//! use defender_core::ActionRuntime;
//! # async fn example<R: ActionRuntime>(my_runtime: fn() -> R) {
//! // In a `#[tokio::test(flavor = "multi_thread")]`:
//! runtime::run_suite(|| async move { my_runtime() }).await;
//! # }
//! ```
//!
//! [`KvStore`]: crate::KvStore
//! [`MAX_CODE_BYTES`]: crate::runtime::MAX_CODE_BYTES
//! [`MAX_UNCOMPRESSED_CODE_BYTES`]: crate::MAX_UNCOMPRESSED_CODE_BYTES
//! [`MIN_REDACTED_LEN`]: crate::redact::MIN_REDACTED_LEN
//! [`REDACTED`]: crate::redact::REDACTED

use super::Via;
use crate::notify::{NotifierRegistry, RecordingNotifier};
use crate::runtime::{
    ActionCode, ActionRuntime, CodeSource, RunError, RunLimits, RunOutcome, RunRequest, RunServices,
};
use crate::wire::{ActionEvent, ActionRequest, ErrorType};
use crate::InMemoryKvStore;
use serde_json::Value;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

// The checks, by theme. Each is public here, at `conformance::runtime::<check>`.
mod inputs;
mod isolation;
mod limits;
mod logs;
mod results;

pub use inputs::{event_reaches_the_handler, services_reach_the_handler};
pub use isolation::{concurrent_runs, no_state_survives_a_run, runs_are_independent};
pub use limits::{code_too_large, timeouts};
pub use logs::{logs_with_levels, secrets_are_redacted};
pub use results::{invalid_code, returns_json, thrown_errors, undefined_is_null};

/// The wall-clock limit of the suite's ordinary runs.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// The wall-clock limit of the runs [`timeouts`] expects to time out.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long past its timeout a run may take to return before the suite fails it.
pub const GRACE: Duration = Duration::from_secs(20);

/// Code versions: new code gets a new version, since a runtime may cache compiled code by
/// `(action_id, version)`.
static VERSION: AtomicU64 = AtomicU64::new(1);

/// Runs every check, each on a fresh runtime built by `make`, directly, through
/// `Box<dyn ActionRuntime>` and through `Arc<dyn ActionRuntime>`.
///
/// Run it from a multi-threaded tokio runtime.
pub async fn run_suite<F, Fut, R>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = R>,
    R: ActionRuntime,
{
    for via in Via::ALL {
        reach!(deref ActionRuntime, via, make().await, |rt| returns_json(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| undefined_is_null(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| thrown_errors(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| logs_with_levels(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| {
            event_reaches_the_handler(rt).await
        });
        reach!(deref ActionRuntime, via, make().await, |rt| {
            services_reach_the_handler(rt).await
        });
        reach!(deref ActionRuntime, via, make().await, |rt| timeouts(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| code_too_large(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| {
            secrets_are_redacted(rt).await
        });
        reach!(deref ActionRuntime, via, make().await, |rt| {
            runs_are_independent(rt).await
        });
        reach!(deref ActionRuntime, via, make().await, |rt| invalid_code(rt).await);
        reach!(deref ActionRuntime, via, make().await, |rt| concurrent_runs(rt).await);
    }
}

fn action_id(action: &str) -> String {
    format!("conformance-{action}")
}

/// `source` as new code of `action`.
fn script(action: &str, source: impl Into<String>) -> ActionCode {
    ActionCode {
        action_id: action_id(action),
        version: VERSION.fetch_add(1, Ordering::Relaxed),
        source: CodeSource::Script(source.into()),
    }
}

fn event(action: &str) -> ActionEvent {
    let run = VERSION.fetch_add(1, Ordering::Relaxed);
    ActionEvent::new(
        action_id(action),
        format!("Conformance {action}"),
        format!("conformance-run-{run}"),
    )
}

fn with_body(mut event: ActionEvent, body: Value) -> ActionEvent {
    event.request = Some(ActionRequest {
        body: Some(body),
        ..ActionRequest::default()
    });
    event
}

/// A request with fresh services: an empty in-memory store, no relayer, and `witness` under
/// the alias `suite`.
fn request(event: ActionEvent, witness: Arc<RecordingNotifier>) -> RunRequest {
    let notifiers = NotifierRegistry::default();
    notifiers.add("suite", witness);
    RunRequest {
        event,
        services: RunServices {
            kv: Arc::new(InMemoryKvStore::default()),
            relayer: None,
            relayer_keys: Default::default(),
            notifiers: Arc::new(notifiers),
            manage: None,
        },
        limits: RunLimits {
            timeout: RUN_TIMEOUT,
            ..RunLimits::default()
        },
    }
}

/// Runs `code`, failing the suite if the run outlives its timeout by more than [`GRACE`].
async fn run_request(rt: &dyn ActionRuntime, code: &ActionCode, req: RunRequest) -> RunOutcome {
    let bound = req.limits.timeout + GRACE;
    match tokio::time::timeout(bound, rt.run(code, req)).await {
        Ok(outcome) => outcome,
        Err(_) => panic!(
            "a run of {} did not return within {bound:?} (its timeout plus {GRACE:?})",
            code.action_id
        ),
    }
}

async fn run(rt: &dyn ActionRuntime, code: &ActionCode, event: ActionEvent) -> RunOutcome {
    let witness = Arc::new(RecordingNotifier::default());
    run_request(rt, code, request(event, witness)).await
}

fn ok(outcome: RunOutcome, context: &str) -> Value {
    match outcome.result {
        Ok(v) => v,
        Err(e) => panic!("{context}: the run failed: {e:?}; logs: {:?}", outcome.logs),
    }
}

fn messages(outcome: &RunOutcome) -> Vec<&str> {
    outcome.logs.iter().map(|l| l.message.as_str()).collect()
}

fn thrown(outcome: &RunOutcome, context: &str) -> (String, Option<String>) {
    match &outcome.result {
        Err(e @ RunError::Thrown { message, stack }) => {
            assert_eq!(
                e.error_type(),
                ErrorType::Program,
                "{context}: a throw is a program error"
            );
            (message.clone(), stack.clone())
        }
        other => panic!("{context}: expected RunError::Thrown, got {other:?}"),
    }
}
