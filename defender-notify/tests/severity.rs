//! The monitor's severity and risk category where people see them: PagerDuty's event
//! severity and Opsgenie's priority, against a real HTTP server on 127.0.0.1, and the
//! message templates.

mod common;

use common::{example_alert, Recorder, Reply};
use defender_core::{AlertFormatter, Message, MonitorMatch, Severity};
use defender_notify::{build, ChannelConfig, TemplateFormatter};
use serde_json::{json, Value};
use std::sync::Arc;

/// The example alert of a monitor with `severity` (and the `FINANCIAL` risk category when it
/// has one), formatted with `subject` as monitors do.
fn alert_message(severity: Option<Severity>, subject: &str) -> Message {
    let mut alert: MonitorMatch = example_alert();
    for m in [&mut alert.monitor, &mut alert.sentinel] {
        let m = Arc::make_mut(m);
        m.severity_level = severity;
        m.risk_category = severity.map(|_| "FINANCIAL".to_owned());
    }
    TemplateFormatter::new()
        .format(&alert, Some(subject), None)
        .expect("format")
}

fn channel(config: Value) -> Arc<defender_core::DynNotifier> {
    let config: ChannelConfig = serde_json::from_value(config).expect("channel config");
    build(&config).expect("build channel")
}

const ALL: [Option<Severity>; 4] = [
    Some(Severity::High),
    Some(Severity::Medium),
    Some(Severity::Low),
    None,
];

#[tokio::test]
async fn pagerduty_event_severity_follows_the_monitor_severity() {
    let server = Recorder::start().await;
    server.set_default(Reply::Status(202, vec![], r#"{"status":"success"}"#.into()));
    // The channel's own severity only applies to alerts of monitors without one.
    let pd = channel(json!({ "type": "pager-duty", "config": {
        "routingKey": "R0UT1NGKEY", "severity": "info", "baseUrl": server.url("")
    } }));
    for severity in ALL {
        pd.send(&alert_message(
            severity,
            "[{{ severity }}] {{ monitor.name }}",
        ))
        .await
        .expect("send");
    }
    // A message an action sends has no monitor: the channel's severity.
    pd.send(&Message::new("from an action", "body"))
        .await
        .expect("send");
    let got: Vec<(Value, Value, Value)> = server
        .received()
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["payload"]["severity"].clone(),
                b["payload"]["summary"].clone(),
                b["payload"]["custom_details"]["riskCategory"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                json!("critical"),
                json!("[HIGH] Large transfer"),
                json!("FINANCIAL")
            ),
            (
                json!("error"),
                json!("[MEDIUM] Large transfer"),
                json!("FINANCIAL")
            ),
            (
                json!("warning"),
                json!("[LOW] Large transfer"),
                json!("FINANCIAL")
            ),
            (json!("info"), json!("[] Large transfer"), Value::Null),
            (json!("info"), json!("from an action"), Value::Null),
        ]
    );
}

#[tokio::test]
async fn opsgenie_priority_follows_the_monitor_severity() {
    let server = Recorder::start().await;
    server.set_default(Reply::Status(202, vec![], r#"{"result":"ok"}"#.into()));
    let configured = channel(json!({ "type": "opsgenie", "config": {
        "apiKey": "og-key", "priority": "P5", "baseUrl": server.url("/")
    } }));
    for severity in ALL {
        configured
            .send(&alert_message(
                severity,
                "{{ riskCategory }} {{ monitor.severityLevel }}",
            ))
            .await
            .expect("send");
    }
    // No configured priority and no severity: Opsgenie picks its default (none sent).
    let bare = channel(json!({ "type": "opsgenie", "config": {
        "apiKey": "og-key", "baseUrl": server.url("/")
    } }));
    bare.send(&alert_message(None, "plain"))
        .await
        .expect("send");
    let got: Vec<(Value, Value, Value)> = server
        .received()
        .iter()
        .map(|r| {
            assert_eq!(r.header("authorization"), Some("GenieKey og-key"));
            let b = r.json();
            (
                b["priority"].clone(),
                b["message"].clone(),
                b["details"]["riskCategory"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (json!("P1"), json!("FINANCIAL HIGH"), json!("FINANCIAL")),
            (json!("P3"), json!("FINANCIAL MEDIUM"), json!("FINANCIAL")),
            (json!("P4"), json!("FINANCIAL LOW"), json!("FINANCIAL")),
            // An empty subject is sent as Opsgenie needs one.
            (json!("P5"), json!("Defender notification"), Value::Null),
            (Value::Null, json!("plain"), Value::Null),
        ]
    );
}

#[test]
fn the_default_message_is_unchanged_and_body_templates_see_the_severity() {
    let with = alert_message(Some(Severity::High), "s");
    let without = alert_message(None, "s");
    // Defender's default body does not show the severity: the same text either way.
    assert_eq!(with.body, without.body);
    let mut alert = example_alert();
    Arc::make_mut(&mut alert.monitor).severity_level = Some(Severity::Low);
    Arc::make_mut(&mut alert.monitor).risk_category = Some("ACCESS-CONTROL".into());
    let m = TemplateFormatter::new()
        .format(
            &alert,
            None,
            Some(
                "{% if severity == 'LOW' %}low{% endif %} risk: {{ monitor.riskCategory | lower }}",
            ),
        )
        .expect("format");
    assert_eq!(m.body, "low risk: access-control");
    assert_eq!(m.subject, "Monitor Large transfer triggered");
}
