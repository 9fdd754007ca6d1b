//! Channel configuration as JSON, in Defender's notification-channel shape, and [`build`].
//!
//! ```
//! use defender_notify::{ChannelDefinition, register};
//! use defender_core::NotifierRegistry;
//! let defs: Vec<ChannelDefinition> = serde_json::from_str(r#"[
//!   { "type": "slack", "name": "ops", "config": { "url": "http://127.0.0.1:9/hook" } },
//!   { "type": "webhook", "name": "ops", "config": { "url": "http://127.0.0.1:9/", "secret": "s" } },
//!   { "type": "datadog", "name": "metrics", "paused": true,
//!     "config": { "apiKey": "k", "metricPrefix": "defender." } }
//! ]"#).unwrap();
//! let registry = NotifierRegistry::default();
//! register(&registry, &defs).unwrap();
//! assert_eq!(registry.aliases(), ["metrics", "ops"]);
//! ```

#[cfg(feature = "email")]
use crate::channels::email::{EmailChannel, EmailConfig};
use crate::channels::{
    datadog::{DatadogChannel, DatadogConfig},
    discord::{DiscordChannel, DiscordConfig},
    opsgenie::{OpsgenieChannel, OpsgenieConfig},
    pagerduty::{PagerDutyChannel, PagerDutyConfig},
    slack::{SlackChannel, SlackConfig},
    telegram::{TelegramChannel, TelegramConfig},
    webhook::{WebhookChannel, WebhookConfig},
};
use defender_core::{DynNotifier, NotifierRegistry, NotifyError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One channel's type and settings: `{"type": "slack", "config": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ChannelConfig {
    /// Slack incoming webhook.
    Slack(SlackConfig),
    /// Discord webhook.
    Discord(DiscordConfig),
    /// Telegram bot.
    Telegram(TelegramConfig),
    /// Email over SMTP.
    #[cfg(feature = "email")]
    Email(EmailConfig),
    /// Datadog metrics.
    Datadog(DatadogConfig),
    /// Signed generic webhook.
    Webhook(WebhookConfig),
    /// PagerDuty Events v2 (`pager-duty`, Defender's spelling; `pagerduty` is accepted).
    #[serde(alias = "pagerduty")]
    PagerDuty(PagerDutyConfig),
    /// Opsgenie.
    Opsgenie(OpsgenieConfig),
}

/// A named channel: `{"type", "name", "paused"?, "config"}`, Defender's notification channel.
/// `name` is the alias that monitors and `notificationClient` use (`alias` is accepted too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelDefinition {
    /// The alias.
    #[serde(alias = "alias")]
    pub name: String,
    /// A paused channel is registered but not notified.
    #[serde(default)]
    pub paused: bool,
    /// Type and settings.
    #[serde(flatten)]
    pub channel: ChannelConfig,
}

/// Builds the channel `config` describes.
pub fn build(config: &ChannelConfig) -> Result<Arc<DynNotifier>, NotifyError> {
    Ok(match config {
        ChannelConfig::Slack(c) => Arc::new(SlackChannel::new(c)?),
        ChannelConfig::Discord(c) => Arc::new(DiscordChannel::new(c)?),
        ChannelConfig::Telegram(c) => Arc::new(TelegramChannel::new(c)?),
        #[cfg(feature = "email")]
        ChannelConfig::Email(c) => Arc::new(EmailChannel::new(c)?),
        ChannelConfig::Datadog(c) => Arc::new(DatadogChannel::new(c)?),
        ChannelConfig::Webhook(c) => Arc::new(WebhookChannel::new(c)?),
        ChannelConfig::PagerDuty(c) => Arc::new(PagerDutyChannel::new(c)?),
        ChannelConfig::Opsgenie(c) => Arc::new(OpsgenieChannel::new(c)?),
    })
}

/// Builds every definition and adds it to `registry` under its name, pausing the paused ones.
/// Nothing is added when one definition is invalid.
pub fn register(
    registry: &NotifierRegistry,
    defs: &[ChannelDefinition],
) -> Result<(), NotifyError> {
    let built = defs
        .iter()
        .map(|d| {
            build(&d.channel)
                .map(|n| (d, n))
                .map_err(|e| NotifyError::Config(format!("channel `{}`: {e}", d.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The registry pauses per alias: a paused channel next to active ones of the same alias is
    // left out; an alias whose channels are all paused is registered paused.
    for (def, notifier) in built {
        let all_paused = defs.iter().filter(|d| d.name == def.name).all(|d| d.paused);
        if !def.paused || all_paused {
            registry.add(def.name.clone(), notifier);
        }
        if all_paused {
            registry.set_paused(&def.name, true);
        }
    }
    Ok(())
}
