//! Workflows and their runs as the engine keeps them.

use crate::proposals::{ProposalRequest, ProposalStatus};
use defender_core::RunRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A named sequence of steps. Each step runs its items in parallel; a step starts only when
/// every item of the step before succeeded; the run stops at the first step that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// Its id: 1 to 128 characters of `A`-`Z`, `a`-`z`, `0`-`9`, `-`, `_` and `.`.
    pub id: String,
    /// A name for people.
    #[serde(default)]
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<WorkflowStep>,
}

/// One step: one item, or several run in parallel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStep {
    /// A name for people.
    #[serde(default)]
    pub name: String,
    /// What the step runs, all at once.
    pub items: Vec<WorkflowItem>,
}

/// What a step runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WorkflowItem {
    /// An action of the engine, with the workflow's input as `event.request.body` (for a
    /// monitor-triggered run, the match, as a linked action gets it). It succeeds when its
    /// run does.
    #[serde(rename_all = "camelCase")]
    Action {
        /// The action's id.
        action_id: String,
    },
    /// Creates a proposal and, with `execute`, executes it at once. It succeeds when the
    /// proposal is created (and, with `execute`, its execution did not fail).
    #[serde(rename_all = "camelCase")]
    Proposal {
        /// The proposal.
        proposal: Box<ProposalRequest>,
        /// Executes it after creating it.
        #[serde(default)]
        execute: bool,
    },
    /// Executes an existing proposal (`Engine::execute_proposal`).
    #[serde(rename_all = "camelCase")]
    ExecuteProposal {
        /// The proposal's id.
        proposal_id: String,
    },
}

/// The state of a workflow run or step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    /// Started, not over.
    Running,
    /// Every step succeeded.
    Success,
    /// A step failed; the steps after it did not run.
    Error,
}

/// What started a workflow run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WorkflowTrigger {
    /// [`Engine::run_workflow`](crate::Engine::run_workflow).
    Manual,
    /// A monitor's match ([`Engine::run_workflow_for_match`](crate::Engine::run_workflow_for_match)).
    #[serde(rename_all = "camelCase")]
    Monitor {
        /// The monitor.
        monitor_id: String,
    },
}

/// One item of a step, as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRun {
    /// The item.
    pub item: WorkflowItem,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// The action's run: status, result, error and logs (action items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
    /// The proposal (proposal items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    /// Where the proposal is after the item (proposal items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_status: Option<ProposalStatus>,
    /// Why it failed, when it did not run or its proposal failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One step, as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRun {
    /// The step's name.
    pub name: String,
    /// `success` or `error`.
    pub status: WorkflowStatus,
    /// Its items, in the step's order.
    pub items: Vec<ItemRun>,
}

/// A workflow run, as recorded in the engine state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
    /// The run's id.
    pub workflow_run_id: String,
    /// The workflow.
    pub workflow_id: String,
    /// What started it.
    pub trigger: WorkflowTrigger,
    /// Its input.
    pub input: Value,
    /// Its state.
    pub status: WorkflowStatus,
    /// When it started (ISO 8601).
    pub created_at: String,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The steps that ran, in order (those after a failed one did not).
    pub steps: Vec<StepRun>,
}
