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
//! - [`code_too_large`]: code (a script or a bundle) of [`MAX_CODE_BYTES`] runs; one byte more
//!   is [`RunError::CodeTooLarge`] with its size and the limit, and does not run at all.
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

use super::Via;
use crate::notify::{NotifierRegistry, RecordingNotifier};
use crate::redact::{MIN_REDACTED_LEN, REDACTED};
use crate::runtime::{
    ActionCode, ActionRuntime, CodeSource, RunError, RunLimits, RunOutcome, RunRequest,
    RunServices, MAX_CODE_BYTES,
};
use crate::wire::{ActionEvent, ActionRequest, ErrorType, LogLevel};
use crate::{InMemoryKvStore, KvStore};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
            notifiers: Arc::new(notifiers),
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

/// The handler's value comes back as JSON, exactly, whichever CommonJS form exports it.
pub async fn returns_json(rt: &dyn ActionRuntime) {
    let cases = [
        (
            "exports.handler = async (event) => ({ text: 'héllo 東京 🦀', int: 42, \
             float: 1.5, negative: -7, yes: true, no: false, nothing: null, \
             list: [1, 'two', [3]], nested: { deep: { key: 'value' } } });",
            json!({
                "text": "héllo 東京 🦀", "int": 42, "float": 1.5, "negative": -7, "yes": true,
                "no": false, "nothing": null, "list": [1, "two", [3]],
                "nested": { "deep": { "key": "value" } }
            }),
        ),
        (
            "exports.handler = async () => 'a string';",
            json!("a string"),
        ),
        ("exports.handler = async () => 7;", json!(7)),
        ("exports.handler = async () => false;", json!(false)),
        ("exports.handler = async () => [1, 'x'];", json!([1, "x"])),
        ("exports.handler = async () => null;", Value::Null),
        (
            "module.exports.handler = async function (event) { \
             return { form: 'module.exports' }; };",
            json!({ "form": "module.exports" }),
        ),
        (
            "exports.handler = async function (event) { \
             await new Promise((resolve) => setTimeout(resolve, 5)); return { awaited: true }; };",
            json!({ "awaited": true }),
        ),
    ];
    for (source, expected) in cases {
        let code = script("returns-json", source);
        let got = ok(
            run(rt, &code, event("returns-json")).await,
            &format!("returns_json: {source}"),
        );
        assert_eq!(got, expected, "the handler's value as JSON, for {source}");
    }
}

/// A handler that returns nothing, or `undefined`, gives `Value::Null`.
pub async fn undefined_is_null(rt: &dyn ActionRuntime) {
    for source in [
        "exports.handler = async () => {};",
        "exports.handler = async () => undefined;",
        "exports.handler = async (event) => { console.log('nothing to return'); return; };",
    ] {
        let code = script("undefined", source);
        let got = ok(
            run(rt, &code, event("undefined")).await,
            &format!("undefined_is_null: {source}"),
        );
        assert_eq!(got, Value::Null, "undefined is null, for {source}");
    }
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

/// A thrown `Error`, a rejected promise and a thrown string give [`RunError::Thrown`] with the
/// message, keeping the lines logged before; the next run works.
pub async fn thrown_errors(rt: &dyn ActionRuntime) {
    let cases = [
        (
            "exports.handler = async () => { console.log('before the throw'); \
             throw new Error('boom 42'); };",
            "boom 42",
        ),
        (
            "exports.handler = () => { console.log('before the throw'); \
             return Promise.reject(new Error('rejected 7')); };",
            "rejected 7",
        ),
        (
            "exports.handler = async () => { console.log('before the throw'); await null; \
             throw new TypeError('late type error'); };",
            "late type error",
        ),
        (
            "exports.handler = async () => { console.log('before the throw'); \
             throw 'plain text thrown'; };",
            "plain text thrown",
        ),
    ];
    for (source, expected) in cases {
        let code = script("throws", source);
        let outcome = run(rt, &code, event("throws")).await;
        let (message, _stack) = thrown(&outcome, source);
        assert_eq!(
            message, expected,
            "the thrown error's message, for {source}"
        );
        assert_eq!(
            messages(&outcome),
            ["before the throw"],
            "a failed run keeps what it logged, for {source}"
        );
    }
    let code = script("after-throw", "exports.handler = async () => 'still fine';");
    let got = ok(
        run(rt, &code, event("after-throw")).await,
        "a run after throws",
    );
    assert_eq!(got, json!("still fine"));
}

/// Console lines are captured in order, with their levels; arguments are joined by spaces;
/// lines after an `await` are kept; timestamps are in order and within the run.
pub async fn logs_with_levels(rt: &dyn ActionRuntime) {
    let code = script(
        "logs",
        "exports.handler = async () => {
            console.log('log line');
            console.info('info line');
            console.warn('warn line');
            console.error('error line');
            console.debug('debug line');
            console.log('joined', 1, true, 'ü');
            await new Promise((resolve) => setTimeout(resolve, 5));
            console.warn('after await');
            return 'logged';
        };",
    );
    let start = Utc::now();
    let outcome = run(rt, &code, event("logs")).await;
    let end = Utc::now();
    let logs = outcome.logs.clone();
    assert_eq!(ok(outcome, "logs_with_levels"), json!("logged"));
    let got: Vec<(LogLevel, &str)> = logs.iter().map(|l| (l.level, l.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (LogLevel::Info, "log line"),
            (LogLevel::Info, "info line"),
            (LogLevel::Warn, "warn line"),
            (LogLevel::Error, "error line"),
            (LogLevel::Debug, "debug line"),
            (LogLevel::Info, "joined 1 true ü"),
            (LogLevel::Warn, "after await"),
        ],
        "console lines with their levels, in order"
    );
    let slack = chrono::Duration::seconds(1);
    for pair in logs.windows(2) {
        assert!(
            pair[0].timestamp <= pair[1].timestamp,
            "log timestamps go back in time: {pair:?}"
        );
    }
    for l in &logs {
        assert!(
            l.timestamp >= start - slack && l.timestamp <= end + slack,
            "log timestamp {} is outside the run ({start} to {end})",
            l.timestamp
        );
    }
}

/// The event reaches the handler as its first argument: ids and names (current and legacy),
/// the request's body, headers and query parameters, and the secrets.
pub async fn event_reaches_the_handler(rt: &dyn ActionRuntime) {
    let mut ev = event("event");
    let body = json!({
        "name": "world", "n": 5, "list": [1, 2], "unicode": "ü 🦀", "nested": { "ok": true }
    });
    ev.request = Some(ActionRequest {
        body: Some(body.clone()),
        headers: Some(BTreeMap::from([("X-Suite".to_owned(), "yes".to_owned())])),
        query_parameters: Some(BTreeMap::from([("q".to_owned(), "1".to_owned())])),
    });
    ev.secrets = Some(BTreeMap::from([
        ("apiKey".to_owned(), "k-1".to_owned()),
        ("other".to_owned(), "o-2".to_owned()),
    ]));
    let code = script(
        "event",
        "exports.handler = async (event) => ({
            actionId: event.actionId, actionName: event.actionName,
            actionRunId: event.actionRunId, autotaskId: event.autotaskId,
            autotaskName: event.autotaskName, autotaskRunId: event.autotaskRunId,
            body: event.request.body, headers: event.request.headers,
            query: event.request.queryParameters, secrets: event.secrets,
        });",
    );
    let got = ok(
        run(rt, &code, ev.clone()).await,
        "event_reaches_the_handler",
    );
    assert_eq!(
        got,
        json!({
            "actionId": ev.action_id, "actionName": ev.action_name,
            "actionRunId": ev.action_run_id, "autotaskId": ev.action_id,
            "autotaskName": ev.action_name, "autotaskRunId": ev.action_run_id,
            "body": body, "headers": { "X-Suite": "yes" }, "query": { "q": "1" },
            "secrets": { "apiKey": "k-1", "other": "o-2" },
        }),
        "the event as the handler saw it"
    );
}

/// `defender-kvstore-client` reads and writes the run's store, and
/// `context.notificationClient.send` reaches the run's registry.
pub async fn services_reach_the_handler(rt: &dyn ActionRuntime) {
    let code = script(
        "services",
        "const { KeyValueStoreClient } = require('defender-kvstore-client');
        exports.handler = async (event, context) => {
            const store = new KeyValueStoreClient(event);
            await store.put('suite-key', 'from the action');
            const back = await store.get('suite-key');
            const preset = await store.get('preset-key');
            await context.notificationClient.send({
                channelAlias: 'suite', subject: 'From the action', message: 'Hello 🦀',
            });
            return { back, preset };
        };",
    );
    let witness = Arc::new(RecordingNotifier::default());
    let req = request(event("services"), witness.clone());
    let kv = req.services.kv.clone();
    kv.put("preset-key", "from the host").await.expect("put");
    let outcome = run_request(rt, &code, req).await;
    let got = ok(outcome, "services_reach_the_handler");
    assert_eq!(
        got,
        json!({ "back": "from the action", "preset": "from the host" }),
        "the key-value store as the action saw it"
    );
    assert_eq!(
        kv.get("suite-key").await.expect("get").as_deref(),
        Some("from the action"),
        "the action's put reached the run's store"
    );
    let sent = witness.messages();
    assert_eq!(sent.len(), 1, "one notification sent: {sent:?}");
    assert_eq!(sent[0].subject, "From the action");
    assert_eq!(sent[0].body, "Hello 🦀");
}

/// Runs that wait on a timer, or spin, past [`SHORT_TIMEOUT`] end with [`RunError::Timeout`]
/// soon after it, keeping what they logged; the next run works.
pub async fn timeouts(rt: &dyn ActionRuntime) {
    let cases = [
        (
            "exports.handler = async () => { console.log('waiting'); \
             await new Promise((resolve) => setTimeout(resolve, 600000)); return 'too late'; };",
            "waiting",
        ),
        (
            "exports.handler = async () => { console.log('spinning'); for (;;) {} };",
            "spinning",
        ),
    ];
    for (source, logged) in cases {
        let code = script("timeout", source);
        let mut req = request(event("timeout"), Arc::default());
        req.limits.timeout = SHORT_TIMEOUT;
        let started = Instant::now();
        let outcome = run_request(rt, &code, req).await;
        let took = started.elapsed();
        match &outcome.result {
            Err(e @ RunError::Timeout(after)) => {
                assert!(
                    *after >= SHORT_TIMEOUT,
                    "Timeout({after:?}) is shorter than the limit {SHORT_TIMEOUT:?}"
                );
                assert_eq!(e.error_type(), ErrorType::Timeout);
            }
            other => panic!("{source}: expected RunError::Timeout, got {other:?}"),
        }
        assert!(
            took >= SHORT_TIMEOUT,
            "{source}: timed out after {took:?}, before its limit {SHORT_TIMEOUT:?}"
        );
        assert_eq!(
            messages(&outcome),
            [logged],
            "a timed-out run keeps what it logged"
        );
    }
    let code = script("after-timeout", "exports.handler = async () => 'on time';");
    let got = ok(
        run(rt, &code, event("after-timeout")).await,
        "a run after timeouts",
    );
    assert_eq!(got, json!("on time"));
}

/// Code of [`MAX_CODE_BYTES`] runs; one byte more, as a script or a bundle, is
/// [`RunError::CodeTooLarge`] with its size and the limit, and does not run.
pub async fn code_too_large(rt: &dyn ActionRuntime) {
    let head = "exports.handler = async () => 'fits';\n//";
    let at_limit = format!("{head}{}", "x".repeat(MAX_CODE_BYTES - head.len()));
    assert_eq!(at_limit.len(), MAX_CODE_BYTES);
    let code = script("size", at_limit);
    let got = ok(
        run(rt, &code, event("size")).await,
        "code of MAX_CODE_BYTES",
    );
    assert_eq!(got, json!("fits"), "code of exactly MAX_CODE_BYTES runs");

    let head = "console.log('ran'); exports.handler = async () => 'ran anyway';\n//";
    let over = format!("{head}{}", "x".repeat(MAX_CODE_BYTES + 1 - head.len()));
    let index = "console.log('ran'); exports.handler = async () => 'ran anyway';";
    let padding = MAX_CODE_BYTES + 1 - "index.js".len() - index.len() - "padding.txt".len();
    let bundle = CodeSource::Bundle(BTreeMap::from([
        ("index.js".to_owned(), Bytes::from(index)),
        ("padding.txt".to_owned(), Bytes::from("x".repeat(padding))),
    ]));
    assert_eq!(bundle.size(), MAX_CODE_BYTES + 1);
    for source in [CodeSource::Script(over), bundle] {
        let what = match source {
            CodeSource::Script(_) => "a script",
            CodeSource::Bundle(_) => "a bundle",
        };
        let code = ActionCode {
            action_id: action_id("size"),
            version: VERSION.fetch_add(1, Ordering::Relaxed),
            source,
        };
        let outcome = run(rt, &code, event("size")).await;
        match &outcome.result {
            Err(e @ RunError::CodeTooLarge { size, limit }) => {
                assert_eq!(*size, MAX_CODE_BYTES + 1, "{what}: the code's size");
                assert_eq!(*limit, MAX_CODE_BYTES, "{what}: the limit");
                assert_eq!(e.error_type(), ErrorType::Program);
            }
            other => panic!("{what} of MAX_CODE_BYTES + 1: expected CodeTooLarge, got {other:?}"),
        }
        assert!(
            outcome.logs.is_empty(),
            "{what} over the limit ran: {:?}",
            outcome.logs
        );
    }
}

/// Secrets of at least [`MIN_REDACTED_LEN`] characters are [`REDACTED`] in logs, errors
/// and notifications; shorter values are kept; the returned value is not redacted.
pub async fn secrets_are_redacted(rt: &dyn ActionRuntime) {
    let secret = "sk-suite-0123456789abcdef";
    let short = "4".repeat(MIN_REDACTED_LEN - 1);
    let code = script(
        "secrets",
        "exports.handler = async (event, context) => {
            const { apiKey, pin } = event.secrets;
            const mode = event.request.body.mode;
            console.log('key=' + apiKey);
            console.warn('pin=' + pin);
            console.error('both', apiKey, pin);
            if (mode === 'notify') {
                await context.notificationClient.send({
                    channelAlias: 'suite', subject: 'key ' + apiKey, message: 'body ' + apiKey,
                });
            }
            if (mode === 'throw') throw new Error('failed with ' + apiKey);
            if (mode === 'throw-string') throw 'raw ' + apiKey;
            return { key: apiKey, nested: ['x-' + apiKey], pin };
        };",
    );
    let ev = |mode: &str| {
        let mut ev = with_body(event("secrets"), json!({ "mode": mode }));
        ev.secrets = Some(BTreeMap::from([
            ("apiKey".to_owned(), secret.to_owned()),
            ("pin".to_owned(), short.clone()),
        ]));
        ev
    };
    let redacted_logs = [
        format!("key={REDACTED}"),
        format!("pin={short}"),
        format!("both {REDACTED} {short}"),
    ];

    let outcome = run(rt, &code, ev("return")).await;
    assert_eq!(
        messages(&outcome),
        redacted_logs,
        "secrets are redacted in logs, short values are not"
    );
    assert_eq!(
        ok(outcome, "secrets_are_redacted"),
        json!({ "key": secret, "nested": [format!("x-{secret}")], "pin": short }),
        "the returned value is not redacted"
    );

    for (mode, message) in [
        ("throw", format!("failed with {REDACTED}")),
        ("throw-string", format!("raw {REDACTED}")),
    ] {
        let outcome = run(rt, &code, ev(mode)).await;
        let (got, stack) = thrown(&outcome, mode);
        assert_eq!(got, message, "{mode}: the error message is redacted");
        assert!(
            !stack.unwrap_or_default().contains(secret),
            "{mode}: the stack shows a secret"
        );
        assert_eq!(
            messages(&outcome),
            redacted_logs,
            "{mode}: logs are redacted"
        );
        assert!(
            !format!("{outcome:?}").contains(secret),
            "{mode}: the outcome shows a secret: {outcome:?}"
        );
    }

    let witness = Arc::new(RecordingNotifier::default());
    let outcome = run_request(rt, &code, request(ev("notify"), witness.clone())).await;
    ok(outcome, "secrets_are_redacted, notify");
    let sent = witness.messages();
    assert_eq!(sent.len(), 1, "one notification sent: {sent:?}");
    assert_eq!(
        (sent[0].subject.as_str(), sent[0].body.as_str()),
        (
            format!("key {REDACTED}").as_str(),
            format!("body {REDACTED}").as_str()
        ),
        "secrets are redacted in notifications"
    );
}

/// One action's globals and patched prototypes are not seen by another action's run, even
/// after that run failed.
pub async fn runs_are_independent(rt: &dyn ActionRuntime) {
    let writer = script(
        "writer",
        "exports.handler = async (event) => {
            globalThis.leaked = 'from the writer';
            Object.prototype.polluted = 'yes';
            Array.prototype.push = function () { return -1; };
            if (event.request && event.request.body && event.request.body.fail) {
                throw new Error('the writer failed');
            }
            return 'written';
        };",
    );
    let reader = "exports.handler = async () => ({
        leaked: typeof globalThis.leaked, polluted: typeof ({}).polluted, push: [].push('x'),
    });";
    let clean = json!({ "leaked": "undefined", "polluted": "undefined", "push": 1 });
    let got = ok(run(rt, &writer, event("writer")).await, "the writer");
    assert_eq!(got, json!("written"));
    let got = ok(
        run(rt, &script("reader", reader), event("reader")).await,
        "the reader",
    );
    assert_eq!(got, clean, "a run saw another action's globals");
    let failed = run(
        rt,
        &writer,
        with_body(event("writer"), json!({ "fail": true })),
    )
    .await;
    thrown(&failed, "the failing writer");
    let got = ok(
        run(rt, &script("reader", reader), event("reader")).await,
        "the reader after a failed run",
    );
    assert_eq!(
        got, clean,
        "a run saw the state of another action's failed run"
    );
}

/// A syntax error, a missing handler, a handler that is not a function and a bundle without
/// `index.js` are [`RunError::InvalidCode`], a program error.
pub async fn invalid_code(rt: &dyn ActionRuntime) {
    let scripts = [
        "exports.handler = async (event) => { return 1;",
        "exports.somethingElse = async () => 1;",
        "exports.handler = 42;",
    ];
    let mut codes: Vec<(String, ActionCode)> = scripts
        .iter()
        .map(|s| ((*s).to_owned(), script("invalid", *s)))
        .collect();
    codes.push((
        "a bundle without index.js".to_owned(),
        ActionCode {
            action_id: action_id("invalid"),
            version: VERSION.fetch_add(1, Ordering::Relaxed),
            source: CodeSource::Bundle(BTreeMap::from([(
                "main.js".to_owned(),
                Bytes::from_static(b"exports.handler = async () => 1;"),
            )])),
        },
    ));
    for (what, code) in codes {
        let outcome = run(rt, &code, event("invalid")).await;
        match &outcome.result {
            Err(e @ RunError::InvalidCode(_)) => {
                assert_eq!(e.error_type(), ErrorType::Program, "{what}");
            }
            other => panic!("{what}: expected RunError::InvalidCode, got {other:?}"),
        }
    }
}

/// Runs in flight together each get their own event, result and logs.
pub async fn concurrent_runs(rt: &dyn ActionRuntime) {
    let code = script(
        "concurrent",
        "exports.handler = async (event) => {
            const i = event.request.body.i;
            console.log('run ' + i);
            await new Promise((resolve) => setTimeout(resolve, 20));
            return { i, run: event.actionRunId };
        };",
    );
    let events: Vec<ActionEvent> = (0..4)
        .map(|i| with_body(event("concurrent"), json!({ "i": i })))
        .collect();
    let outcomes =
        futures::future::join_all(events.iter().map(|ev| run(rt, &code, ev.clone()))).await;
    for (i, (outcome, ev)) in outcomes.into_iter().zip(&events).enumerate() {
        assert_eq!(
            messages(&outcome),
            [format!("run {i}")],
            "run {i} has its own logs"
        );
        let got = ok(outcome, "concurrent_runs");
        assert_eq!(
            got,
            json!({ "i": i, "run": ev.action_run_id }),
            "run {i} has its own event and result"
        );
    }
}

/// Stricter than the contract: two runs of the same action version share no globals and no
/// module state (a runtime with a fresh context per run). Not part of [`run_suite`].
pub async fn no_state_survives_a_run(rt: &dyn ActionRuntime) {
    let code = script(
        "fresh",
        "let count = 0;
        exports.handler = async () => {
            count += 1;
            globalThis.runs = (globalThis.runs || 0) + 1;
            return { count, runs: globalThis.runs };
        };",
    );
    for i in 0..3 {
        let got = ok(
            run(rt, &code, event("fresh")).await,
            "no_state_survives_a_run",
        );
        assert_eq!(
            got,
            json!({ "count": 1, "runs": 1 }),
            "run {i} of the same code saw an earlier run's state"
        );
    }
}
