#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, each module using only those before it: error, metrics -> run (the one run path)
// -> schedule -> actions -> webhook; monitor (the parts) -> network, dispatch -> pipeline
// (the monitor path) -> registry (networks and monitors) -> engine (the handle) -> server.
mod actions;
mod dispatch;
mod engine;
mod error;
mod metrics;
pub mod monitor;
mod network;
mod pipeline;
mod registry;
mod run;
mod schedule;
#[cfg(feature = "webhook-server")]
mod server;
mod webhook;

pub use actions::{ActionSpec, ActionTrigger};
pub use engine::{Engine, EngineBuilder, DEFAULT_ALERT_QUEUE, DEFAULT_NOTIFICATION_TIMEOUT};
pub use error::EngineError;
pub use monitor::{PlainAlertFormatter, StartAt, TestScope};
pub use network::NetworkSpec;
pub use schedule::Schedule;
#[cfg(feature = "webhook-server")]
pub use server::webhook_router;
pub use webhook::{
    WebhookAnswer, WebhookRequest, DEFAULT_WEBHOOK_BODY_LIMIT, WEBHOOK_PENDING_AFTER,
};
