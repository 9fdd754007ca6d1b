//! The channels: one [`Notifier`](defender_core::Notifier) per service.

pub mod datadog;
pub mod discord;
#[cfg(feature = "email")]
pub mod email;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
pub mod telegram;
pub mod webhook;

use defender_core::{Message, NotifyError};

/// `Unsupported` for a metric sent to a message-only channel.
pub(crate) fn no_metrics(channel: &str) -> NotifyError {
    NotifyError::Unsupported {
        channel: channel.to_owned(),
        what: "metrics",
    }
}

/// Subject and body as one Markdown text: the subject in bold on its own line.
pub(crate) fn titled_markdown(message: &Message) -> String {
    let subject = message.subject.trim();
    if subject.is_empty() {
        message.body.clone()
    } else {
        format!("**{}**\n\n{}", escape_markdown(subject), message.body)
    }
}

/// Backslash-escapes the Markdown markers of a plain string.
pub(crate) fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '`' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
