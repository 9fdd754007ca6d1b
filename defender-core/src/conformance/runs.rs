//! The [`RunStore`] contract: runs are listed per action, newest first, with a limit; a run
//! recorded again under its id replaces the old record in place; at least the newest
//! [`DEFAULT_RUN_HISTORY`] runs of an action are kept.
//!
//! ```
//! use defender_core::conformance::runs;
//! use defender_core::InMemoryRunStore;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! runs::run_suite(|| async { InMemoryRunStore::default() }).await;
//! # });
//! ```

use super::Via;
use crate::wire::{RunRecord, RunStatus, Trigger};
use crate::{RunStore, DEFAULT_RUN_HISTORY};
use chrono::{TimeZone, Utc};
use std::future::Future;

fn record(action: &str, run: usize, status: RunStatus) -> RunRecord {
    RunRecord {
        action_run_id: format!("{action}-run-{run}"),
        action_id: action.to_owned(),
        trigger: Trigger::Manual,
        status,
        created_at: Utc
            .timestamp_opt(1_700_000_000 + i64::try_from(run).unwrap_or(0), 0)
            .single()
            .unwrap_or_default(),
        finished_at: None,
        result: None,
        message: None,
        error_type: None,
        encoded_logs: String::new(),
        request_id: None,
    }
}

/// Runs every check, each on a fresh store built by `make`, directly, through
/// `Box<dyn RunStore>` and through `Arc<dyn RunStore>`.
///
/// `make` must return an empty store that keeps at least [`DEFAULT_RUN_HISTORY`] runs per
/// action.
pub async fn run_suite<F, Fut, S>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: RunStore,
{
    for via in Via::ALL {
        reach!(deref RunStore, via, make().await, |s| newest_first_per_action(s).await);
        reach!(deref RunStore, via, make().await, |s| replace_by_run_id(s).await);
        reach!(deref RunStore, via, make().await, |s| keeps_the_history_size(s).await);
    }
}

/// Runs every check once, in turn, on one empty store.
pub async fn run_all(store: &dyn RunStore) {
    newest_first_per_action(store).await;
    replace_by_run_id(store).await;
    keeps_the_history_size(store).await;
}

/// Runs are listed per action, newest first; `get` finds any run by id.
pub async fn newest_first_per_action(store: &dyn RunStore) {
    for i in 0..3 {
        store
            .record(record("a", i, RunStatus::Success))
            .await
            .expect("record");
        store
            .record(record("b", i, RunStatus::Error))
            .await
            .expect("record");
    }
    let a = store.list("a", 10).await.expect("list");
    let ids: Vec<_> = a.iter().map(|r| r.action_run_id.as_str()).collect();
    assert_eq!(
        ids,
        ["a-run-2", "a-run-1", "a-run-0"],
        "newest first, one action only"
    );
    assert_eq!(
        store.list("a", 1).await.expect("list").len(),
        1,
        "limit honoured"
    );
    assert!(store.list("nobody", 10).await.expect("list").is_empty());
    let b1 = store
        .get("b-run-1")
        .await
        .expect("get")
        .expect("b-run-1 exists");
    assert_eq!(b1.status, RunStatus::Error);
    assert!(store.get("missing").await.expect("get").is_none());
}

/// Recording a run id again replaces it (a pending run that finished) without reordering.
pub async fn replace_by_run_id(store: &dyn RunStore) {
    store
        .record(record("c", 0, RunStatus::Pending))
        .await
        .expect("record");
    store
        .record(record("c", 1, RunStatus::Success))
        .await
        .expect("record");
    store
        .record(record("c", 0, RunStatus::Success))
        .await
        .expect("record");
    let c = store.list("c", 10).await.expect("list");
    assert_eq!(c.len(), 2, "a replaced run is not duplicated");
    assert_eq!(c[1].action_run_id, "c-run-0");
    assert_eq!(c[1].status, RunStatus::Success);
}

/// At least the newest [`DEFAULT_RUN_HISTORY`] runs of an action are kept.
pub async fn keeps_the_history_size(store: &dyn RunStore) {
    let n = DEFAULT_RUN_HISTORY + 5;
    for i in 0..n {
        store
            .record(record("d", i, RunStatus::Success))
            .await
            .expect("record");
    }
    let d = store.list("d", n).await.expect("list");
    assert!(d.len() >= DEFAULT_RUN_HISTORY, "only {} runs kept", d.len());
    assert_eq!(d[0].action_run_id, format!("d-run-{}", n - 1));
    assert_eq!(
        d[DEFAULT_RUN_HISTORY - 1].action_run_id,
        format!("d-run-{}", n - DEFAULT_RUN_HISTORY)
    );
}
