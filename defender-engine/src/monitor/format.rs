//! The alert text used when no [`AlertFormatter`] is configured.

use defender_core::{AlertFormatter, NotifyError, RenderedAlert};
use defender_core::{MatchReasonType, MonitorMatch};
use std::fmt::Write as _;

/// Defender's default alert, without templates: the monitor, the network, the transaction and
/// the match reasons, in Markdown. Custom subject and body templates need a template engine:
/// configure `defender-notify`'s formatter for them; this one reports them as unsupported
/// rather than sending raw template text.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainAlertFormatter;

impl AlertFormatter for PlainAlertFormatter {
    fn render_alert(
        &self,
        alert: &MonitorMatch,
        subject_template: Option<&str>,
        body_template: Option<&str>,
    ) -> Result<RenderedAlert, NotifyError> {
        if subject_template.is_some() || body_template.is_some() {
            return Err(NotifyError::Template(
                "custom alert templates need a template formatter (defender-notify)".into(),
            ));
        }
        let m = &alert.monitor;
        let subject = format!("Defender Monitor {} triggered", m.name);
        // About what a match of a few reasons takes, written without growing.
        let mut body = String::with_capacity(512);
        let _ = writeln!(body, "**Monitor:** {}", m.name);
        let _ = writeln!(body, "**Network:** {}", m.network);
        let block = u64::from_str_radix(alert.block_number.trim_start_matches("0x"), 16)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| alert.block_number.clone());
        let _ = writeln!(body, "**Block:** {block}");
        match &alert.alert {
            Some(forta) => {
                let _ = writeln!(body, "**Forta alert:** {} ({})", forta.name, forta.alert_id);
                let _ = writeln!(body, "**Description:** {}", forta.description);
                let _ = writeln!(body, "**Hash:** `{}`", alert.hash);
            }
            None => {
                let _ = writeln!(body, "**Transaction:** `{}`", alert.hash);
            }
        }
        for reason in &alert.match_reasons {
            let kind = match reason.kind {
                MatchReasonType::Event => "Event",
                MatchReasonType::Function => "Function",
                MatchReasonType::Transaction => "Transaction",
                MatchReasonType::InternalFunction => "Internal function",
                MatchReasonType::AlertId => "Alert id",
                MatchReasonType::Severity => "Severity",
            };
            let what = if let Some(value) = &reason.value {
                value.as_str()
            } else if reason.signature.is_empty() {
                reason.condition.as_deref().unwrap_or_default()
            } else {
                reason.signature.as_str()
            };
            let _ = write!(body, "- {kind}: `{what}`");
            for (name, value) in &reason.params {
                let _ = match value.as_str() {
                    Some(text) => write!(body, " {name}={text}"),
                    None => write!(body, " {name}={value}"),
                };
            }
            body.push('\n');
        }
        Ok(RenderedAlert { subject, body })
    }
}
