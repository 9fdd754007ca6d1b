//! What actions pass to `context.notificationClient`.

use serde::{Deserialize, Serialize};

/// `notificationClient.send({ channelAlias, subject, message })`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRequest {
    /// The alias of the channel(s) to notify.
    pub channel_alias: String,
    /// The subject (email subject, message title).
    #[serde(default)]
    pub subject: String,
    /// The body; Markdown, or basic HTML for email.
    pub message: String,
}

/// `notificationClient.sendMetric({ channelAlias, name, value })`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricRequest {
    /// The alias of the channel(s) to notify.
    pub channel_alias: String,
    /// The metric's name.
    pub name: String,
    /// Its value.
    pub value: f64,
}
