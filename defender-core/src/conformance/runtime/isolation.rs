//! Isolation: runs of different actions share no state, a failed run does not affect the
//! next, and runs in flight together do not mix; and the stricter check that no state
//! survives a run at all.

use super::{event, messages, ok, run, script, thrown, with_body};
use crate::runtime::ActionRuntime;
use crate::wire::ActionEvent;
use serde_json::json;

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
///
/// [`run_suite`]: super::run_suite
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
