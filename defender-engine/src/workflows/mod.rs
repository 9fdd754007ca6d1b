//! Workflows: named sequences of steps, each one action (or proposal) or several run in
//! parallel, started by hand or by a monitor's match, each run recorded in the engine state
//! (space `workflow-runs`) with its steps, each action's run (result, error, logs) and its
//! outcome. How a run moves on is the pure `advance`; this module runs the items.
//!
//! A monitor whose definition names a workflow (`workflowTrigger`) owes a run of it for each
//! alert, in the outbox beside its notifications and linked action (module `delivery`): the
//! run happens at least once, even across a crash. A run cut short by a crash is run again
//! from its first step under the same run id and record, so the history keeps one record per
//! alert.

mod advance;
mod model;

pub use model::{
    ItemRun, StepRun, Workflow, WorkflowItem, WorkflowRun, WorkflowStatus, WorkflowStep,
    WorkflowTrigger,
};

use crate::actions::Actions;
use crate::engine::Engine;
use crate::proposals::{ProposalError, Proposals};
use crate::run::{new_run_id, Runner};
use advance::Next;
use defender_core::state::{Space, StateError, StateStoreExt};
use defender_core::wire::iso8601;
use defender_core::{ActionRequest, MonitorMatch, RunStatus, Trigger};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Where runs are kept: `<workflow id>/<newest-first order>-<run id>`.
const WORKFLOW_RUNS: Space = Space::new("workflow-runs");
/// Most steps in a workflow.
pub const MAX_WORKFLOW_STEPS: usize = 64;
/// Most items in one step.
pub const MAX_STEP_ITEMS: usize = 32;

/// Why a workflow operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// No workflow with this id.
    #[error("no workflow `{0}`")]
    Unknown(String),
    /// The workflow is not a valid one.
    #[error("invalid workflow `{id}`: {message}")]
    Invalid {
        /// The workflow.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The engine state could not be read or written.
    #[error("engine state: {0}")]
    State(#[from] StateError),
}

/// The workflows of an engine.
#[derive(Debug)]
pub(crate) struct Workflows {
    runner: Arc<Runner>,
    actions: Arc<Actions>,
    proposals: Arc<Proposals>,
    defs: RwLock<HashMap<String, Arc<Workflow>>>,
}

impl Workflow {
    /// Checks what [`Engine::add_workflow`] refuses: the id's characters, 1 to
    /// [`MAX_WORKFLOW_STEPS`] steps, 1 to [`MAX_STEP_ITEMS`] items in each. The error says
    /// what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        check(self)
    }
}

fn check(w: &Workflow) -> Result<(), String> {
    let id_ok = !w.id.is_empty()
        && w.id.len() <= 128
        && w.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        return Err("the id is 1 to 128 characters of A-Z, a-z, 0-9, -, _ and .".into());
    }
    if w.steps.is_empty() || w.steps.len() > MAX_WORKFLOW_STEPS {
        return Err(format!("a workflow has 1 to {MAX_WORKFLOW_STEPS} steps"));
    }
    for (n, s) in w.steps.iter().enumerate() {
        if s.items.is_empty() || s.items.len() > MAX_STEP_ITEMS {
            return Err(format!(
                "step {n} has {} items: 1 to {MAX_STEP_ITEMS}",
                s.items.len()
            ));
        }
    }
    Ok(())
}

impl Workflows {
    pub(crate) fn new(
        runner: Arc<Runner>,
        actions: Arc<Actions>,
        proposals: Arc<Proposals>,
    ) -> Self {
        Workflows {
            runner,
            actions,
            proposals,
            defs: RwLock::default(),
        }
    }

    fn get(&self, id: &str) -> Result<Arc<Workflow>, WorkflowError> {
        self.defs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| WorkflowError::Unknown(id.to_owned()))
    }

    async fn save(&self, key: &str, run: &WorkflowRun) -> Result<(), WorkflowError> {
        self.runner
            .state
            .put_json(WORKFLOW_RUNS, key, run)
            .await
            .map_err(Into::into)
    }

    async fn run(
        &self,
        id: &str,
        trigger: WorkflowTrigger,
        input: Value,
    ) -> Result<WorkflowRun, WorkflowError> {
        let started_ms = self.runner.clock.now().timestamp_millis();
        self.run_as(id, trigger, input, new_run_id(), started_ms)
            .await
    }

    /// Runs workflow `id` as run `run_id`, recorded in the history as started at `started_ms`
    /// (milliseconds since the epoch): the same two give the same record, which a run done
    /// again replaces.
    pub(crate) async fn run_as(
        &self,
        id: &str,
        trigger: WorkflowTrigger,
        input: Value,
        run_id: String,
        started_ms: i64,
    ) -> Result<WorkflowRun, WorkflowError> {
        let workflow = self.get(id)?;
        let now = self.runner.clock.now();
        // Newest first in key order.
        let order = u64::MAX - u64::try_from(started_ms).unwrap_or(0);
        let key = format!("{id}/{order:020}-{run_id}");
        let mut run = WorkflowRun {
            workflow_run_id: run_id,
            workflow_id: id.to_owned(),
            trigger,
            input,
            status: WorkflowStatus::Running,
            created_at: iso8601::format(&now),
            finished_at: None,
            steps: Vec::new(),
        };
        self.save(&key, &run).await?;
        loop {
            let finished: Vec<bool> = run
                .steps
                .iter()
                .map(|s| s.status == WorkflowStatus::Success)
                .collect();
            match advance::next(workflow.steps.len(), &finished) {
                Next::Done(status) => {
                    run.status = status;
                    break;
                }
                Next::Run(n) => {
                    let step = &workflow.steps[n];
                    let items = futures::future::join_all(
                        step.items.iter().map(|item| self.run_item(item, &run)),
                    )
                    .await;
                    let oks: Vec<bool> = items.iter().map(|i| i.succeeded).collect();
                    run.steps.push(StepRun {
                        name: step.name.clone(),
                        status: if advance::step_succeeded(&oks) {
                            WorkflowStatus::Success
                        } else {
                            WorkflowStatus::Error
                        },
                        items,
                    });
                    self.save(&key, &run).await?;
                }
            }
        }
        run.finished_at = Some(iso8601::format(&self.runner.clock.now()));
        self.save(&key, &run).await?;
        Ok(run)
    }

    async fn run_item(&self, item: &WorkflowItem, run: &WorkflowRun) -> ItemRun {
        let mut out = ItemRun {
            item: item.clone(),
            succeeded: false,
            run: None,
            proposal_id: None,
            proposal_status: None,
            error: None,
        };
        match item {
            WorkflowItem::Action { action_id } => {
                let Some(entry) = self.actions.get(action_id) else {
                    out.error = Some(format!("no action `{action_id}`"));
                    return out;
                };
                if entry.is_paused() {
                    out.error = Some(format!("action `{action_id}` is paused"));
                    return out;
                }
                let trigger = match run.trigger {
                    WorkflowTrigger::Manual => Trigger::Manual,
                    WorkflowTrigger::Monitor { .. } => Trigger::Monitor,
                };
                let request = ActionRequest {
                    body: Some(run.input.clone()),
                    ..Default::default()
                };
                let record = self
                    .runner
                    .execute(&entry, trigger, Some(request), new_run_id())
                    .await;
                out.succeeded = record.status == RunStatus::Success;
                out.run = Some(record);
            }
            WorkflowItem::Proposal { proposal, execute } => {
                let result = match self.proposals.create((**proposal).clone()).await {
                    Ok(p) if *execute => {
                        out.proposal_id = Some(p.proposal_id.clone());
                        self.proposals.execute(&p.proposal_id).await
                    }
                    other => other,
                };
                self.proposal_outcome(&mut out, result);
            }
            WorkflowItem::ExecuteProposal { proposal_id } => {
                out.proposal_id = Some(proposal_id.clone());
                let result = self.proposals.execute(proposal_id).await;
                self.proposal_outcome(&mut out, result);
            }
        }
        out
    }

    fn proposal_outcome(
        &self,
        out: &mut ItemRun,
        result: Result<crate::proposals::Proposal, ProposalError>,
    ) {
        match result {
            Ok(p) => {
                out.succeeded = p.status != crate::proposals::ProposalStatus::Failed;
                out.error = p.error.clone();
                out.proposal_id = Some(p.proposal_id);
                out.proposal_status = Some(p.status);
            }
            Err(e) => out.error = Some(e.to_string()),
        }
    }

    async fn runs(&self, id: &str, limit: usize) -> Result<Vec<WorkflowRun>, WorkflowError> {
        self.get(id)?;
        let page = self
            .runner
            .state
            .scan_prefix(WORKFLOW_RUNS, &format!("{id}/"), None, limit)
            .await?;
        let mut runs = Vec::with_capacity(page.len());
        for (key, bytes) in page {
            match serde_json::from_slice(&bytes) {
                Ok(run) => runs.push(run),
                Err(e) => tracing::warn!(key, error = %e, "stored workflow run unreadable"),
            }
        }
        Ok(runs)
    }
}

impl Engine {
    /// Adds a workflow, or replaces the one with its id. Its actions and proposals are looked
    /// up when it runs.
    pub fn add_workflow(&self, workflow: Workflow) -> Result<(), WorkflowError> {
        check(&workflow).map_err(|message| WorkflowError::Invalid {
            id: workflow.id.clone(),
            message,
        })?;
        self.workflows_service()
            .defs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(workflow.id.clone(), Arc::new(workflow));
        Ok(())
    }

    /// Removes a workflow. Its recorded runs stay.
    pub fn remove_workflow(&self, id: &str) -> Result<(), WorkflowError> {
        self.workflows_service()
            .defs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .map(drop)
            .ok_or_else(|| WorkflowError::Unknown(id.to_owned()))
    }

    /// The ids of the workflows, sorted.
    pub fn workflow_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .workflows_service()
            .defs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Runs a workflow now with `input` (every action's `event.request.body`) and waits for
    /// the end. The run is recorded as it goes, each step when it ends.
    pub async fn run_workflow(&self, id: &str, input: Value) -> Result<WorkflowRun, WorkflowError> {
        self.workflows_service()
            .run(id, WorkflowTrigger::Manual, input)
            .await
    }

    /// Runs a workflow for a monitor's match, which becomes its input (the `request.body` of
    /// its actions, as a linked action gets it).
    pub async fn run_workflow_for_match(
        &self,
        id: &str,
        monitor_id: &str,
        alert: &MonitorMatch,
    ) -> Result<WorkflowRun, WorkflowError> {
        let input = serde_json::to_value(alert).map_err(|e| WorkflowError::Invalid {
            id: id.to_owned(),
            message: format!("match not serializable: {e}"),
        })?;
        self.workflows_service()
            .run(
                id,
                WorkflowTrigger::Monitor {
                    monitor_id: monitor_id.to_owned(),
                },
                input,
            )
            .await
    }

    /// A workflow's runs, newest first (at most `limit`).
    pub async fn workflow_runs(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Vec<WorkflowRun>, WorkflowError> {
        self.workflows_service().runs(id, limit).await
    }
}
