//! Logs and secrets: console lines with their levels, and secret values redacted from logs,
//! errors and notifications.

use super::{event, messages, ok, request, run, run_request, script, thrown, with_body};
use crate::notify::RecordingNotifier;
use crate::redact::{MIN_REDACTED_LEN, REDACTED};
use crate::runtime::ActionRuntime;
use crate::wire::LogLevel;
use chrono::Utc;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Console lines are captured in order, with their levels; arguments are joined by spaces;
/// lines after an `await` are kept; timestamps are in order and within the run.
pub async fn logs_with_levels(rt: &dyn ActionRuntime) {
    let code = script(
        "logs",
        "exports.handler = async () => {
            console.log('log line');
            console.info('info line');
            console.warn('warn line');
            console.error('error line');
            console.debug('debug line');
            console.log('joined', 1, true, 'ü');
            await new Promise((resolve) => setTimeout(resolve, 5));
            console.warn('after await');
            return 'logged';
        };",
    );
    let start = Utc::now();
    let outcome = run(rt, &code, event("logs")).await;
    let end = Utc::now();
    let logs = outcome.logs.clone();
    assert_eq!(ok(outcome, "logs_with_levels"), json!("logged"));
    let got: Vec<(LogLevel, &str)> = logs.iter().map(|l| (l.level, l.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (LogLevel::Info, "log line"),
            (LogLevel::Info, "info line"),
            (LogLevel::Warn, "warn line"),
            (LogLevel::Error, "error line"),
            (LogLevel::Debug, "debug line"),
            (LogLevel::Info, "joined 1 true ü"),
            (LogLevel::Warn, "after await"),
        ],
        "console lines with their levels, in order"
    );
    let slack = chrono::Duration::seconds(1);
    for pair in logs.windows(2) {
        assert!(
            pair[0].timestamp <= pair[1].timestamp,
            "log timestamps go back in time: {pair:?}"
        );
    }
    for l in &logs {
        assert!(
            l.timestamp >= start - slack && l.timestamp <= end + slack,
            "log timestamp {} is outside the run ({start} to {end})",
            l.timestamp
        );
    }
}

/// Secrets of at least [`MIN_REDACTED_LEN`] characters are [`REDACTED`] in logs, errors
/// and notifications; shorter values are kept; the returned value is not redacted.
pub async fn secrets_are_redacted(rt: &dyn ActionRuntime) {
    let secret = "sk-suite-0123456789abcdef";
    let short = "4".repeat(MIN_REDACTED_LEN - 1);
    let code = script(
        "secrets",
        "exports.handler = async (event, context) => {
            const { apiKey, pin } = event.secrets;
            const mode = event.request.body.mode;
            console.log('key=' + apiKey);
            console.warn('pin=' + pin);
            console.error('both', apiKey, pin);
            if (mode === 'notify') {
                await context.notificationClient.send({
                    channelAlias: 'suite', subject: 'key ' + apiKey, message: 'body ' + apiKey,
                });
            }
            if (mode === 'throw') throw new Error('failed with ' + apiKey);
            if (mode === 'throw-string') throw 'raw ' + apiKey;
            return { key: apiKey, nested: ['x-' + apiKey], pin };
        };",
    );
    let ev = |mode: &str| {
        let mut ev = with_body(event("secrets"), json!({ "mode": mode }));
        ev.secrets = Some(BTreeMap::from([
            ("apiKey".to_owned(), secret.to_owned()),
            ("pin".to_owned(), short.clone()),
        ]));
        ev
    };
    let redacted_logs = [
        format!("key={REDACTED}"),
        format!("pin={short}"),
        format!("both {REDACTED} {short}"),
    ];

    let outcome = run(rt, &code, ev("return")).await;
    assert_eq!(
        messages(&outcome),
        redacted_logs,
        "secrets are redacted in logs, short values are not"
    );
    assert_eq!(
        ok(outcome, "secrets_are_redacted"),
        json!({ "key": secret, "nested": [format!("x-{secret}")], "pin": short }),
        "the returned value is not redacted"
    );

    for (mode, message) in [
        ("throw", format!("failed with {REDACTED}")),
        ("throw-string", format!("raw {REDACTED}")),
    ] {
        let outcome = run(rt, &code, ev(mode)).await;
        let (got, stack) = thrown(&outcome, mode);
        assert_eq!(got, message, "{mode}: the error message is redacted");
        assert!(
            !stack.unwrap_or_default().contains(secret),
            "{mode}: the stack shows a secret"
        );
        assert_eq!(
            messages(&outcome),
            redacted_logs,
            "{mode}: logs are redacted"
        );
        assert!(
            !format!("{outcome:?}").contains(secret),
            "{mode}: the outcome shows a secret: {outcome:?}"
        );
    }

    let witness = Arc::new(RecordingNotifier::default());
    let outcome = run_request(rt, &code, request(ev("notify"), witness.clone())).await;
    ok(outcome, "secrets_are_redacted, notify");
    let sent = witness.messages();
    assert_eq!(sent.len(), 1, "one notification sent: {sent:?}");
    assert_eq!(
        (sent[0].subject.as_str(), sent[0].body.as_str()),
        (
            format!("key {REDACTED}").as_str(),
            format!("body {REDACTED}").as_str()
        ),
        "secrets are redacted in notifications"
    );
}
