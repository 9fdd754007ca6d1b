//! `QuickJsRuntime` passes the `ActionRuntime` conformance suite of defender-core, directly and
//! through `Box<dyn ActionRuntime>` and `Arc<dyn ActionRuntime>` (`run_suite` does all three):
//! with its default warm context per action version (as Defender's Lambda kept), and with a
//! fresh context per run.

use defender_core::conformance::runtime;
use defender_runtime::{QuickJsRuntime, RuntimeConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickjs_passes_the_suite() {
    runtime::run_suite(|| async { QuickJsRuntime::default() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickjs_with_fresh_contexts_passes_the_suite() {
    runtime::run_suite(|| async {
        QuickJsRuntime::new(RuntimeConfig::default().with_fresh_contexts())
    })
    .await;
}

/// The fresh policy is stricter than the contract: not even two runs of the same action
/// version share state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickjs_keeps_no_state_between_runs_of_one_action() {
    runtime::no_state_survives_a_run(&QuickJsRuntime::new(
        RuntimeConfig::default().with_fresh_contexts(),
    ))
    .await;
}
