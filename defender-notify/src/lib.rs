#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod channels;
pub mod config;
mod http;
pub mod markdown;
pub mod retry;
pub mod signature;
pub mod template;

pub use channels::datadog::{DatadogChannel, DatadogConfig};
pub use channels::discord::{DiscordChannel, DiscordConfig};
#[cfg(feature = "email")]
pub use channels::email::{EmailChannel, EmailConfig, SmtpSecurity};
pub use channels::opsgenie::{OpsgenieChannel, OpsgenieConfig};
pub use channels::pagerduty::{PagerDutyChannel, PagerDutyConfig};
pub use channels::slack::{SlackChannel, SlackConfig};
pub use channels::telegram::{TelegramChannel, TelegramConfig};
pub use channels::webhook::{WebhookChannel, WebhookConfig, IDEMPOTENCY_KEY_HEADER};
pub use config::{build, register, ChannelConfig, ChannelDefinition};
pub use http::default_client;
pub use retry::{AttemptError, RetryPolicy};
pub use signature::{verify_signature, SignatureError};
pub use template::TemplateFormatter;
