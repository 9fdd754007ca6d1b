#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, each module using only those before it: error, metrics -> run (the one run path)
// -> schedule -> actions -> webhook; monitor (the parts) -> network, outbox -> delivery ->
// dispatch -> pipeline (the monitor path) -> registry (networks and monitors) -> manage (what
// actions reach of the engine) -> engine (the handle), builder (its assembly) -> server.
mod actions;
mod builder;
mod delivery;
mod dispatch;
mod engine;
mod error;
pub mod forta;
mod lease;
mod limits;
mod manage;
mod metrics;
pub mod monitor;
mod network;
mod outbox;
mod pipeline;
pub mod proposals;
mod registry;
mod run;
mod schedule;
mod secrets;
#[cfg(feature = "webhook-server")]
mod server;
mod sync;
mod webhook;
pub mod workflows;

pub use actions::{ActionSpec, ActionTrigger};
pub use builder::{
    EngineBuilder, DEFAULT_DELIVERY_FIRST_RETRY, DEFAULT_DELIVERY_HORIZON,
    DEFAULT_DELIVERY_MAX_RETRY, DEFAULT_NOTIFICATION_TIMEOUT,
};
pub use engine::Engine;
pub use error::EngineError;
pub use lease::Cluster;
pub use limits::{ExecutionLimits, Quota, QuotaPeriod};
pub use monitor::{PlainAlertFormatter, StartAt, TestScope};
pub use network::NetworkSpec;
pub use outbox::{DeadDelivery, DeadLetter, DeliveryTarget};
pub use proposals::{Approval, Proposal, ProposalError, ProposalRequest, ProposalStatus, ViaType};
pub use schedule::{MissedRuns, Schedule};
#[cfg(feature = "webhook-server")]
pub use server::webhook_router;
pub use webhook::{
    WebhookAnswer, WebhookRequest, DEFAULT_WEBHOOK_BODY_LIMIT, MAX_WEBHOOK_TOKEN_BYTES,
    MIN_WEBHOOK_TOKEN_BYTES, WEBHOOK_PENDING_AFTER,
};
pub use workflows::{
    Workflow, WorkflowError, WorkflowItem, WorkflowRun, WorkflowStatus, WorkflowStep,
};
