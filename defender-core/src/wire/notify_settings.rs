//! The notification settings both monitor kinds carry (Defender's `alertThreshold`,
//! `alertTimeoutMs`, `notificationChannels`, message templates, `severityLevel`, `riskCategory`,
//! linked actions), declared once: same fields, same JSON names and order, same checks.
//!
//! They stay top-level fields of each definition, not a struct nested with `#[serde(flatten)]`:
//! callers across the workspace build and read the definitions field by field, and flatten
//! would put every read of a definition through serde's buffered map.

/// Declares a monitor definition: the struct's own fields, then the notification settings, then
/// the fields of the optional `then { .. }` (the JSON keeps that order). The struct also gets
/// `threshold_error` and `notifies_or_acts`, the settings' share of its validation.
macro_rules! with_notify_settings {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($fields:tt)*
        }
        $(then {
            $($then:tt)*
        })?
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($fields)*
            /// Alert only above this rate.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub alert_threshold: Option<$crate::AlertThreshold>,
            /// Minimum time between two alerts, in milliseconds.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub alert_timeout_ms: Option<u64>,
            /// Aliases of the channels to notify.
            #[serde(default)]
            pub notification_channels: Vec<String>,
            /// Custom subject template.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub alert_message_subject: Option<String>,
            /// Custom body template.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub alert_message_body: Option<String>,
            /// Severity.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub severity_level: Option<$crate::Severity>,
            /// Risk category.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub risk_category: Option<String>,
            /// Action run on each match.
            #[serde(
                default,
                alias = "autotaskTrigger",
                skip_serializing_if = "Option::is_none"
            )]
            pub action_trigger: Option<String>,
            /// Action used as a custom filter.
            #[serde(
                default,
                alias = "autotaskCondition",
                skip_serializing_if = "Option::is_none"
            )]
            pub action_condition: Option<String>,
            $($($then)*)?
        }

        impl $name {
            /// The threshold's problem: one that can never be met.
            fn threshold_error(&self) -> Option<$crate::DefinitionError> {
                self.alert_threshold
                    .filter(|t| t.amount == 0 || t.window_seconds == 0)
                    .map(|_| $crate::DefinitionError::InvalidThreshold)
            }

            /// Whether a match notifies a channel or runs an action.
            fn notifies_or_acts(&self) -> bool {
                !self.notification_channels.is_empty()
                    || self.action_trigger.is_some()
                    || self.action_condition.is_some()
            }
        }
    };
}

pub(crate) use with_notify_settings;

#[cfg(test)]
mod tests {
    use crate::{FortaMonitorDefinition, MonitorDefinition};
    use serde_json::json;

    /// `settings()` with both actions, as written: byte for byte what the definitions wrote
    /// before the settings were shared.
    const SETTINGS: &str = r#""alertThreshold":{"amount":2,"windowSeconds":60},"alertTimeoutMs":1000,"notificationChannels":["ops"],"alertMessageSubject":"s","alertMessageBody":"b","severityLevel":"HIGH","riskCategory":"TECHNICAL","actionTrigger":"t","actionCondition":"c""#;

    fn settings() -> serde_json::Value {
        json!({
            "alertThreshold": { "amount": 2, "windowSeconds": 60 }, "alertTimeoutMs": 1000,
            "notificationChannels": ["ops"], "alertMessageSubject": "s", "alertMessageBody": "b",
            "severityLevel": "HIGH", "riskCategory": "TECHNICAL",
        })
    }

    fn with(mut v: serde_json::Value, more: serde_json::Value) -> serde_json::Value {
        for (k, x) in more.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v
    }

    // Both definitions write the settings under the same names, in the same place, and read
    // the legacy `autotask*` names.
    #[test]
    fn both_definitions_write_the_settings_alike() {
        let block = with(
            settings(),
            json!({ "name": "n", "network": "mainnet", "addresses": [],
                    "autotaskTrigger": "t", "autotaskCondition": "c", "workflowTrigger": "w" }),
        );
        let def: MonitorDefinition = serde_json::from_value(block).unwrap();
        assert_eq!(
            serde_json::to_string(&def).unwrap(),
            format!(
                r#"{{"type":"BLOCK","name":"n","network":"mainnet","addresses":[],"paused":false,{SETTINGS},"workflowTrigger":"w"}}"#
            )
        );
        let forta = with(
            settings(),
            json!({ "type": "FORTA", "name": "n", "agentIDs": ["0xbot"],
                    "autotaskTrigger": "t", "autotaskCondition": "c" }),
        );
        let def: FortaMonitorDefinition = serde_json::from_value(forta).unwrap();
        assert_eq!(
            serde_json::to_string(&def).unwrap(),
            format!(
                r#"{{"type":"FORTA","name":"n","paused":false,"agentIDs":["0xbot"],"fortaConditions":{{"alertIDs":[],"minimumScannerCount":0}},{SETTINGS}}}"#
            )
        );
    }

    #[test]
    fn absent_settings_are_not_written_but_channels_are() {
        let def: MonitorDefinition =
            serde_json::from_value(json!({ "name": "n", "network": "mainnet", "addresses": [] }))
                .unwrap();
        assert_eq!(
            serde_json::to_string(&def).unwrap(),
            r#"{"type":"BLOCK","name":"n","network":"mainnet","addresses":[],"paused":false,"notificationChannels":[]}"#
        );
        let def: FortaMonitorDefinition = serde_json::from_value(json!({ "name": "n" })).unwrap();
        assert_eq!(
            serde_json::to_string(&def).unwrap(),
            r#"{"type":"FORTA","name":"n","paused":false,"agentIDs":[],"fortaConditions":{"alertIDs":[],"minimumScannerCount":0},"notificationChannels":[]}"#
        );
    }

    #[test]
    fn both_definitions_reject_the_same_settings() {
        let nothing = json!({ "alertThreshold": { "amount": 0, "windowSeconds": 60 } });
        let block = with(
            nothing.clone(),
            json!({ "name": "n", "network": "mainnet",
                    "addresses": ["0x0000000000000000000000000000000000000001"] }),
        );
        let block: MonitorDefinition = serde_json::from_value(block).unwrap();
        let block_errors: Vec<String> = block
            .validate()
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        let forta = with(nothing, json!({ "name": "n", "agentIDs": ["0xbot"] }));
        let forta: FortaMonitorDefinition = serde_json::from_value(forta).unwrap();
        assert_eq!(forta.validate().unwrap_err(), block_errors);
        assert_eq!(block_errors.len(), 2, "{block_errors:?}");
    }
}
