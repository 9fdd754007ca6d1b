//! Actions: registration, code updates, pausing, and the run path every trigger goes through.

use super::schedule::{self, Schedule};
use super::{Engine, EngineError, Inner};
use crate::redact::Redactor;
use crate::wire::{
    encode_logs, iso8601, ActionEvent, ActionRequest, RunRecord, RunStatus, Trigger,
};
use crate::{
    ActionCode, CodeSource, Message, RunError, RunOutcome, RunRequest, RunServices, MAX_CODE_BYTES,
};
use futures::FutureExt;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// What starts an action, besides manual runs (always possible) and monitors (which name the
/// action in their definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionTrigger {
    /// A schedule: an interval or a cron expression.
    Schedule(Schedule),
    /// A webhook URL with a secret token.
    Webhook,
}

/// An action's configuration.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Unique id (`actionId`).
    pub id: String,
    /// Name (`actionName`).
    pub name: String,
    /// The code.
    pub code: CodeSource,
    /// Triggers.
    pub triggers: Vec<ActionTrigger>,
    /// Id of the linked relayer, if any.
    pub relayer_id: Option<String>,
    /// Paused actions do not run.
    pub paused: bool,
}

impl ActionSpec {
    /// An action with a single script, no trigger and no relayer.
    pub fn new(id: impl Into<String>, name: impl Into<String>, script: impl Into<String>) -> Self {
        ActionSpec {
            id: id.into(),
            name: name.into(),
            code: CodeSource::Script(script.into()),
            triggers: Vec::new(),
            relayer_id: None,
            paused: false,
        }
    }

    /// Adds a trigger.
    pub fn trigger(mut self, trigger: ActionTrigger) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// Links a relayer.
    pub fn relayer(mut self, relayer_id: impl Into<String>) -> Self {
        self.relayer_id = Some(relayer_id.into());
        self
    }
}

#[derive(Debug)]
pub(crate) struct ActionEntry {
    pub(crate) id: String,
    pub(crate) name: RwLock<String>,
    pub(crate) code: RwLock<Arc<ActionCode>>,
    pub(crate) relayer_id: RwLock<Option<String>>,
    pub(crate) paused: AtomicBool,
    pub(crate) webhook_token: RwLock<Option<String>>,
    versions: AtomicU64,
    schedules: Mutex<Vec<JoinHandle<()>>>,
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

    fn code(&self) -> Arc<ActionCode> {
        self.code.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ActionEntry {
    fn drop(&mut self) {
        self.stop_schedules();
    }
}

fn check_code(id: &str, code: &CodeSource) -> Result<(), EngineError> {
    let size = code.size();
    if size > MAX_CODE_BYTES {
        return Err(EngineError::InvalidAction {
            id: id.to_owned(),
            message: format!("code is {size} bytes, over the {MAX_CODE_BYTES}-byte limit"),
        });
    }
    Ok(())
}

/// A new random webhook token: 256 bits, hex.
pub(crate) fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Engine {
    /// Registers an action and starts its schedules. Returns the webhook token if it has a
    /// webhook trigger.
    ///
    /// Must be called within a tokio runtime when the action has a schedule.
    pub async fn add_action(&self, spec: ActionSpec) -> Result<Option<String>, EngineError> {
        check_code(&spec.id, &spec.code)?;
        let mut schedules = Vec::new();
        let mut webhook = false;
        for t in &spec.triggers {
            match t {
                ActionTrigger::Schedule(s) => {
                    s.validate().map_err(|message| EngineError::InvalidAction {
                        id: spec.id.clone(),
                        message,
                    })?;
                    schedules.push(s.clone());
                }
                ActionTrigger::Webhook => webhook = true,
            }
        }
        let token = webhook.then(new_token);
        let entry = Arc::new(ActionEntry {
            id: spec.id.clone(),
            name: RwLock::new(spec.name),
            code: RwLock::new(Arc::new(ActionCode {
                action_id: spec.id.clone(),
                version: 1,
                source: spec.code,
            })),
            relayer_id: RwLock::new(spec.relayer_id),
            paused: AtomicBool::new(spec.paused),
            webhook_token: RwLock::new(token.clone()),
            versions: AtomicU64::new(1),
            schedules: Mutex::new(Vec::new()),
        });
        {
            let mut actions = self
                .inner
                .actions
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if actions.contains_key(&spec.id) {
                return Err(EngineError::DuplicateAction(spec.id));
            }
            actions.insert(spec.id.clone(), entry.clone());
        }
        let handles = schedules
            .into_iter()
            .map(|s| schedule::spawn(Arc::downgrade(&self.inner), Arc::downgrade(&entry), s))
            .collect();
        *entry.schedules.lock().unwrap_or_else(|e| e.into_inner()) = handles;
        Ok(token)
    }

    /// Removes an action and stops its schedules. Runs in progress finish.
    pub fn remove_action(&self, id: &str) -> Result<(), EngineError> {
        let entry = self
            .inner
            .actions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .ok_or_else(|| EngineError::UnknownAction(id.to_owned()))?;
        entry.stop_schedules();
        Ok(())
    }

    /// Pauses or resumes an action. A paused action's schedules, webhook and monitor triggers
    /// do nothing; manual runs are refused.
    pub fn set_action_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.entry(id)?.paused.store(paused, Ordering::SeqCst);
        Ok(())
    }

    /// Replaces an action's code (Defender's update-code). Runs that start after this call use
    /// the new code; runs in progress finish with the old one. Returns the new version.
    pub fn update_code(&self, id: &str, code: CodeSource) -> Result<u64, EngineError> {
        check_code(id, &code)?;
        let entry = self.entry(id)?;
        let version = entry.versions.fetch_add(1, Ordering::SeqCst) + 1;
        *entry.code.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ActionCode {
            action_id: id.to_owned(),
            version,
            source: code,
        });
        Ok(version)
    }

    /// Links (or unlinks) a relayer.
    pub fn set_action_relayer(
        &self,
        id: &str,
        relayer_id: Option<String>,
    ) -> Result<(), EngineError> {
        *self
            .entry(id)?
            .relayer_id
            .write()
            .unwrap_or_else(|e| e.into_inner()) = relayer_id;
        Ok(())
    }

    /// The ids of the registered actions, sorted.
    pub fn action_ids(&self) -> Vec<String> {
        super::sorted_keys(&self.inner.actions)
    }

    /// An action's run history, newest first (at most `limit`). Stored runs have the run's
    /// secret values redacted from their result, message and logs.
    pub async fn runs(&self, id: &str, limit: usize) -> Result<Vec<RunRecord>, EngineError> {
        self.entry(id)?;
        Ok(self.inner.runs.list(id, limit).await.unwrap_or_else(|e| {
            tracing::warn!(action_id = id, error = %e, "run store failed");
            Vec::new()
        }))
    }

    /// Runs an action now and waits for the result. `body` becomes `event.request.body`.
    ///
    /// The returned record carries the handler's result as it was produced; its message and
    /// logs, like everything stored or notified, have the run's secret values redacted.
    pub async fn run_action(
        &self,
        id: &str,
        trigger: Trigger,
        body: Option<Value>,
    ) -> Result<RunRecord, EngineError> {
        let entry = self.entry(id)?;
        if entry.paused.load(Ordering::SeqCst) {
            return Err(EngineError::Paused(id.to_owned()));
        }
        let request = body.map(|b| ActionRequest {
            body: Some(b),
            ..Default::default()
        });
        Ok(execute(&self.inner, &entry, trigger, request, new_run_id()).await)
    }

    pub(crate) fn entry(&self, id: &str) -> Result<Arc<ActionEntry>, EngineError> {
        self.inner
            .actions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::UnknownAction(id.to_owned()))
    }
}

pub(crate) fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The run path every trigger shares: build the event, record the run as pending, run the
/// code, record the outcome, and report a failure.
///
/// Redaction: the outcome's logs and error are redacted (the run's secret values replaced by
/// `[REDACTED]`) before anything records, notifies, traces or counts them, whatever the
/// runtime did. The returned record carries the handler's result as it was produced (the
/// caller asked for it, as on Defender); the copy in the run store has it redacted too.
///
/// A [`RunError::Throttled`] outcome is recorded with status `throttled`, its message and
/// error type, and sends no failure notification.
pub(crate) async fn execute(
    inner: &Inner,
    entry: &ActionEntry,
    trigger: Trigger,
    request: Option<ActionRequest>,
    run_id: String,
) -> RunRecord {
    let span = tracing::info_span!("action_run", action_id = %entry.id, run_id = %run_id, trigger = ?trigger);
    execute_inner(inner, entry, trigger, request, run_id)
        .instrument(span)
        .await
}

async fn execute_inner(
    inner: &Inner,
    entry: &ActionEntry,
    trigger: Trigger,
    request: Option<ActionRequest>,
    run_id: String,
) -> RunRecord {
    let code = entry.code();
    let name = entry.name.read().unwrap_or_else(|e| e.into_inner()).clone();
    let created_at = inner.clock.now();
    let previous_run = match inner.runs.list(&entry.id, 1).await {
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
    save(inner, &record).await;

    let relayer_id = entry
        .relayer_id
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let relayer = match &relayer_id {
        Some(rid) => match inner
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
    let secrets = inner
        .secrets
        .load_for_run()
        .await
        .map_err(|e| RunError::Internal(format!("secrets unavailable: {e}")));
    // The one redaction point: whatever the runtime did, everything below (record, history,
    // notification, tracing, metrics) sees the outcome with the run's secret values removed.
    // Errors built before the run go through it too.
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
                    kv: inner.kv.clone(),
                    relayer,
                    notifiers: inner.notifiers.clone(),
                },
                limits: inner.limits,
            };
            run_guarded(inner, &code, run).await
        }
        (Err(e), _) | (_, Err(e)) => RunOutcome {
            result: Err(e),
            logs: Vec::new(),
        },
    };
    let outcome = redactor.redact_outcome(outcome);

    record.finished_at = Some(inner.clock.now());
    record.encoded_logs = encode_logs(&outcome.logs);
    // What the run store keeps: the record with its result redacted. The caller gets the
    // result as the handler produced it (see `crate::redact`).
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
            // notification, which would flood the channel exactly when the host is overloaded.
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
            notify_failure(inner, &entry.id, &record).await;
        }
    }
    match stored_result {
        Some(result) => {
            save(
                inner,
                &RunRecord {
                    result: Some(result),
                    ..record.clone()
                },
            )
            .await
        }
        None => save(inner, &record).await,
    }
    inner.metrics.run(
        &record.action_id,
        &wire_name(&record.trigger),
        &wire_name(&record.status),
        record.error_type.map(|t| wire_name(&t)).as_deref(),
    );
    record
}

/// Runs the code, turning a panic of the runtime (which its contract forbids) into an
/// internal error, so that the run is still recorded, notified and redacted.
async fn run_guarded(inner: &Inner, code: &ActionCode, run: RunRequest) -> RunOutcome {
    match AssertUnwindSafe(inner.runtime.run(code, run))
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

/// Defender's name of a wire enum (`monitor`, `INSUFFICIENT_FUNDS`...), for labels and messages.
pub(crate) fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

async fn save(inner: &Inner, record: &RunRecord) {
    if let Err(e) = inner.runs.record(record.clone()).await {
        tracing::warn!(error = %e, "run store failed; run not recorded");
    }
}

async fn notify_failure(inner: &Inner, action_id: &str, record: &RunRecord) {
    let Some(alias) = &inner.failure_channel else {
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
    match inner.notifiers.send(alias, &message).await {
        Ok(report) => {
            for (channel, e) in report.failures() {
                tracing::warn!(channel, error = %e, "failure notification not delivered");
            }
        }
        Err(e) => tracing::warn!(error = %e, "failure notification not sent"),
    }
}
