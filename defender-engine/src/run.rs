//! The one run path. Schedules, webhooks, monitors (custom filter and linked action) and manual
//! runs all call [`Runner::execute`]: build the event, record the run as pending, run the code,
//! redact, record the outcome, report a failure, count it.
//!
//! This module depends on nothing else of the engine but its metrics; every trigger module
//! depends on it.

use crate::limits::{ActionLimits, Limiter, Throttle};
use crate::metrics::Metrics;
use defender_core::redact::Redactor;
use defender_core::state::StateStore;
use defender_core::wire::{encode_logs, iso8601};
use defender_core::{
    ActionCode, ActionEvent, ActionRequest, ActionRuntime, Clock, DynManageApi, KvStore, Message,
    NotifierRegistry, Relayer, RelayerKeys, RunError, RunLimits, RunOutcome, RunRecord, RunRequest,
    RunServices, RunStatus, RunStore, SecretStore, Trigger,
};
use futures::FutureExt;
use serde_json::Value;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// An action as the engine keeps it: the one copy of its name, code, relayer link, paused flag
/// and webhook token, and the handles of its schedules.
#[derive(Debug)]
pub(crate) struct ActionEntry {
    pub(crate) id: String,
    pub(crate) name: RwLock<String>,
    pub(crate) code: RwLock<Arc<ActionCode>>,
    pub(crate) relayer_id: RwLock<Option<String>>,
    pub(crate) paused: AtomicBool,
    pub(crate) webhook_token: RwLock<Option<String>>,
    pub(crate) limits: ActionLimits,
    pub(crate) versions: AtomicU64,
    pub(crate) schedules: Mutex<Vec<JoinHandle<()>>>,
}

impl ActionEntry {
    pub(crate) fn stop_schedules(&self) {
        for h in self.take_schedules() {
            h.abort();
        }
    }

    pub(crate) fn take_schedules(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.schedules.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn code(&self) -> Arc<ActionCode> {
        self.code.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ActionEntry {
    fn drop(&mut self) {
        self.stop_schedules();
    }
}

/// What every run needs: the runtime and the services handed to it, the stores that record
/// runs, and the engine's metrics.
#[derive(Debug)]
pub(crate) struct Runner {
    pub(crate) runtime: Arc<dyn ActionRuntime>,
    pub(crate) kv: Arc<dyn KvStore>,
    pub(crate) relayers: RwLock<HashMap<String, Arc<dyn Relayer>>>,
    /// API keys and secrets by relayer id: `(relayer_id, api_key, api_secret)`.
    pub(crate) relayer_keys: Vec<(String, String, String)>,
    pub(crate) notifiers: Arc<NotifierRegistry>,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) runs: Arc<dyn RunStore>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The engine state (checkpoints, schedule phases, webhook tokens...), which no action
    /// reaches.
    pub(crate) state: Arc<dyn StateStore>,
    /// What schedules do with ticks missed while no engine ran (a plain setting of
    /// [`schedule`](crate::schedule), kept here with the rest of the engine's settings).
    pub(crate) missed_runs: crate::schedule::MissedRuns,
    pub(crate) limits: RunLimits,
    /// The engine's execution limits and the runs in progress ([`crate::limits`]).
    pub(crate) limiter: Limiter,
    pub(crate) failure_channel: Option<String>,
    pub(crate) metrics: Metrics,
    /// This engine's name and lease time among the processes sharing its state.
    pub(crate) cluster: crate::lease::Cluster,
    /// Makes each run's management API (module `manage`), set once the engine is assembled.
    pub(crate) manage: OnceLock<Arc<dyn ManageFactory>>,
    /// The workflows, which monitors' deliveries run (module `delivery`), set once the engine
    /// is assembled; weak, since they hold this runner.
    pub(crate) workflows: OnceLock<std::sync::Weak<crate::workflows::Workflows>>,
}

/// Makes the management API of a run started by `depth` nested `runAction` calls (0: any
/// other run). Implemented by module `manage`, which this module does not depend on.
pub(crate) trait ManageFactory: std::fmt::Debug + Send + Sync {
    fn for_run(&self, depth: u32) -> Arc<DynManageApi>;
}

/// A new run id.
pub(crate) fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Defender's name of a wire enum (`monitor`, `INSUFFICIENT_FUNDS`...), for labels and messages.
pub(crate) fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

impl Runner {
    /// The relayers an action may reach by API key, as they are registered now.
    fn relayer_keys(&self) -> RelayerKeys {
        let relayers = self.relayers.read().unwrap_or_else(|e| e.into_inner());
        let mut keys = RelayerKeys::default();
        for (relayer_id, api_key, api_secret) in &self.relayer_keys {
            if let Some(r) = relayers.get(relayer_id) {
                keys.insert(api_key.clone(), api_secret.clone(), r.clone());
            }
        }
        keys
    }

    /// The run path every trigger shares: build the event, record the run as pending, run the
    /// code, record the outcome, and report a failure.
    ///
    /// Redaction: the outcome's logs and error are redacted (the run's secret values replaced
    /// by `[REDACTED]`) before anything records, notifies, traces or counts them, whatever the
    /// runtime did. The returned record carries the handler's result as it was produced (the
    /// caller asked for it, as on Defender); the copy in the run store has it redacted too.
    ///
    /// A [`RunError::Throttled`] outcome is recorded with status `throttled`, its message and
    /// error type, and sends no failure notification. So is a run beyond the action's or the
    /// engine's execution limits ([`crate::limits`]), which is not started.
    pub(crate) async fn execute(
        &self,
        entry: &ActionEntry,
        trigger: Trigger,
        request: Option<ActionRequest>,
        run_id: String,
    ) -> RunRecord {
        self.execute_nested(entry, trigger, request, run_id, 0)
            .await
    }

    /// [`Runner::execute`] for a run started by `depth` nested `runAction` calls.
    pub(crate) async fn execute_nested(
        &self,
        entry: &ActionEntry,
        trigger: Trigger,
        request: Option<ActionRequest>,
        run_id: String,
        depth: u32,
    ) -> RunRecord {
        let span = tracing::info_span!("action_run", action_id = %entry.id, run_id = %run_id, trigger = ?trigger, depth);
        self.execute_limited(entry, trigger, request, run_id, depth)
            .instrument(span)
            .await
            .0
    }

    /// [`Runner::execute`], also saying which execution limit throttled the run, if one did
    /// (for the webhook's answer).
    pub(crate) async fn execute_with_throttle(
        &self,
        entry: &ActionEntry,
        trigger: Trigger,
        request: Option<ActionRequest>,
        run_id: String,
    ) -> (RunRecord, Option<Throttle>) {
        let span = tracing::info_span!("action_run", action_id = %entry.id, run_id = %run_id, trigger = ?trigger);
        self.execute_limited(entry, trigger, request, run_id, 0)
            .instrument(span)
            .await
    }

    /// Admits the run under the execution limits ([`crate::limits`]) and runs it, or records
    /// it as `throttled` without starting it.
    async fn execute_limited(
        &self,
        entry: &ActionEntry,
        trigger: Trigger,
        request: Option<ActionRequest>,
        run_id: String,
        depth: u32,
    ) -> (RunRecord, Option<Throttle>) {
        let now = self.clock.now();
        match self
            .limiter
            .admit(self.state.as_ref(), &entry.id, &entry.limits, now)
            .await
        {
            Ok(_admitted) => (
                self.execute_inner(entry, trigger, request, run_id, depth)
                    .await,
                None,
            ),
            Err(throttle) => {
                let record = RunRecord {
                    action_run_id: run_id.clone(),
                    action_id: entry.id.clone(),
                    trigger,
                    status: RunStatus::Throttled,
                    created_at: now,
                    finished_at: Some(now),
                    result: None,
                    message: Some(throttle.to_string()),
                    error_type: None,
                    encoded_logs: String::new(),
                    request_id: Some(run_id),
                };
                tracing::warn!(reason = %throttle, "run throttled");
                self.save(&record).await;
                self.metrics
                    .run(&record.action_id, &wire_name(&trigger), "throttled", None);
                (record, Some(throttle))
            }
        }
    }

    async fn execute_inner(
        &self,
        entry: &ActionEntry,
        trigger: Trigger,
        request: Option<ActionRequest>,
        run_id: String,
        depth: u32,
    ) -> RunRecord {
        let code = entry.code();
        let name = entry.name.read().unwrap_or_else(|e| e.into_inner()).clone();
        let created_at = self.clock.now();
        let previous_run = match self.runs.list(&entry.id, 1).await {
            Ok(runs) => runs.first().map(RunRecord::to_previous_run),
            Err(e) => {
                tracing::warn!(error = %e, "run store failed; previousRun omitted");
                None
            }
        };
        let mut record = RunRecord {
            action_run_id: run_id.clone(),
            action_id: entry.id.clone(),
            trigger,
            status: RunStatus::Pending,
            created_at,
            finished_at: None,
            result: None,
            message: None,
            error_type: None,
            encoded_logs: String::new(),
            request_id: Some(run_id.clone()),
        };
        self.save(&record).await;

        let relayer_id = entry
            .relayer_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let relayer = match &relayer_id {
            Some(rid) => match self
                .relayers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(rid)
                .cloned()
            {
                Some(r) => Ok(Some(r)),
                None => Err(RunError::RelayerConfiguration(format!(
                    "the action is linked to relayer `{rid}`, which does not exist"
                ))),
            },
            None => Ok(None),
        };
        let secrets = self
            .secrets
            .load_for_run()
            .await
            .map_err(|e| RunError::Internal(format!("secrets unavailable: {e}")));
        // The one redaction point: whatever the runtime did, everything below (record, history,
        // notification, tracing, metrics) sees the outcome with the run's secret values
        // removed. Errors built before the run go through it too.
        let redactor = match &secrets {
            Ok(s) => Redactor::new(s.values()),
            Err(_) => Redactor::default(),
        };

        let outcome = match (relayer, secrets) {
            (Ok(relayer), Ok(secrets)) => {
                let mut event = ActionEvent::new(&entry.id, name, &run_id);
                event.secrets = Some(secrets.into_inner());
                event.request = request;
                event.previous_run = previous_run;
                event.relayer_arn = relayer_id.map(|r| format!("relayer:{r}"));
                event.kvstore_arn = Some("kvstore:default".into());
                let run = RunRequest {
                    event,
                    services: RunServices {
                        kv: self.kv.clone(),
                        relayer,
                        relayer_keys: self.relayer_keys(),
                        notifiers: self.notifiers.clone(),
                        manage: self.manage.get().map(|f| f.for_run(depth)),
                    },
                    limits: self.limits,
                };
                self.run_guarded(&code, run).await
            }
            (Err(e), _) | (_, Err(e)) => RunOutcome {
                result: Err(e),
                logs: Vec::new(),
            },
        };
        let outcome = redactor.redact_outcome(outcome);

        record.finished_at = Some(self.clock.now());
        record.encoded_logs = encode_logs(&outcome.logs);
        // What the run store keeps: the record with its result redacted. The caller gets the
        // result as the handler produced it (see `defender_core::redact`).
        let mut stored_result = None;
        match outcome.result {
            Ok(value) => {
                record.status = RunStatus::Success;
                if !redactor.is_empty() {
                    stored_result = Some(redactor.redact_json(value.clone()).to_string());
                }
                record.result = Some(value.to_string());
                tracing::info!("run succeeded");
            }
            Err(e @ RunError::Throttled { .. }) => {
                // Not a failure of the action's code: the host refused to start it. No failure
                // notification, which would flood the channel exactly when the host is
                // overloaded.
                record.status = RunStatus::Throttled;
                record.message = Some(e.to_string());
                record.error_type = Some(e.error_type());
                tracing::warn!(error = %e, "run throttled");
            }
            Err(e) => {
                record.status = RunStatus::Error;
                record.message = Some(e.to_string());
                record.error_type = Some(e.error_type());
                tracing::warn!(error = %e, "run failed");
                self.notify_failure(&entry.id, &record).await;
            }
        }
        match stored_result {
            Some(result) => {
                self.save(&RunRecord {
                    result: Some(result),
                    ..record.clone()
                })
                .await
            }
            None => self.save(&record).await,
        }
        self.metrics.run(
            &record.action_id,
            &wire_name(&record.trigger),
            &wire_name(&record.status),
            record.error_type.map(|t| wire_name(&t)).as_deref(),
        );
        record
    }

    /// Runs the code, turning a panic of the runtime (which its contract forbids) into an
    /// internal error, so that the run is still recorded, notified and redacted.
    async fn run_guarded(&self, code: &ActionCode, run: RunRequest) -> RunOutcome {
        match AssertUnwindSafe(self.runtime.run(code, run))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_owned());
                RunOutcome {
                    result: Err(RunError::Internal(format!("the runtime panicked: {what}"))),
                    logs: Vec::new(),
                }
            }
        }
    }

    async fn save(&self, record: &RunRecord) {
        if let Err(e) = self.runs.record(record.clone()).await {
            tracing::warn!(error = %e, "run store failed; run not recorded");
        }
    }

    async fn notify_failure(&self, action_id: &str, record: &RunRecord) {
        let Some(alias) = &self.failure_channel else {
            return;
        };
        let message = Message::new(
            format!("Action {action_id} failed"),
            format!(
                "Run `{}` of action `{}` failed at {}.\n\n**{}**: {}",
                record.action_run_id,
                action_id,
                iso8601::format(&record.created_at),
                record.error_type.map(|t| wire_name(&t)).unwrap_or_default(),
                record.message.as_deref().unwrap_or("")
            ),
        );
        match self.notifiers.send(alias, &message).await {
            Ok(report) => {
                for (channel, e) in report.failures() {
                    tracing::warn!(channel, error = %e, "failure notification not delivered");
                }
            }
            Err(e) => tracing::warn!(error = %e, "failure notification not sent"),
        }
    }
}
