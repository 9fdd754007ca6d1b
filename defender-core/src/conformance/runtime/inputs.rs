//! What reaches the handler: the event, as its first argument, and the run's services (the
//! key-value store and the notification client).

use super::{event, ok, request, run, run_request, script};
use crate::notify::RecordingNotifier;
use crate::runtime::ActionRuntime;
use crate::wire::ActionRequest;
use crate::KvStore;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The event reaches the handler as its first argument: ids and names (current and legacy),
/// the request's body, headers and query parameters, and the secrets.
pub async fn event_reaches_the_handler(rt: &dyn ActionRuntime) {
    let mut ev = event("event");
    let body = json!({
        "name": "world", "n": 5, "list": [1, 2], "unicode": "ü 🦀", "nested": { "ok": true }
    });
    ev.request = Some(ActionRequest {
        body: Some(body.clone()),
        headers: Some(BTreeMap::from([("X-Suite".to_owned(), "yes".to_owned())])),
        query_parameters: Some(BTreeMap::from([("q".to_owned(), "1".to_owned())])),
    });
    ev.secrets = Some(BTreeMap::from([
        ("apiKey".to_owned(), "k-1".to_owned()),
        ("other".to_owned(), "o-2".to_owned()),
    ]));
    let code = script(
        "event",
        "exports.handler = async (event) => ({
            actionId: event.actionId, actionName: event.actionName,
            actionRunId: event.actionRunId, autotaskId: event.autotaskId,
            autotaskName: event.autotaskName, autotaskRunId: event.autotaskRunId,
            body: event.request.body, headers: event.request.headers,
            query: event.request.queryParameters, secrets: event.secrets,
        });",
    );
    let got = ok(
        run(rt, &code, ev.clone()).await,
        "event_reaches_the_handler",
    );
    assert_eq!(
        got,
        json!({
            "actionId": ev.action_id, "actionName": ev.action_name,
            "actionRunId": ev.action_run_id, "autotaskId": ev.action_id,
            "autotaskName": ev.action_name, "autotaskRunId": ev.action_run_id,
            "body": body, "headers": { "X-Suite": "yes" }, "query": { "q": "1" },
            "secrets": { "apiKey": "k-1", "other": "o-2" },
        }),
        "the event as the handler saw it"
    );
}

/// `defender-kvstore-client` reads and writes the run's store, and
/// `context.notificationClient.send` reaches the run's registry.
pub async fn services_reach_the_handler(rt: &dyn ActionRuntime) {
    let code = script(
        "services",
        "const { KeyValueStoreClient } = require('defender-kvstore-client');
        exports.handler = async (event, context) => {
            const store = new KeyValueStoreClient(event);
            await store.put('suite-key', 'from the action');
            const back = await store.get('suite-key');
            const preset = await store.get('preset-key');
            await context.notificationClient.send({
                channelAlias: 'suite', subject: 'From the action', message: 'Hello 🦀',
            });
            return { back, preset };
        };",
    );
    let witness = Arc::new(RecordingNotifier::default());
    let req = request(event("services"), witness.clone());
    let kv = req.services.kv.clone();
    kv.put("preset-key", "from the host").await.expect("put");
    let outcome = run_request(rt, &code, req).await;
    let got = ok(outcome, "services_reach_the_handler");
    assert_eq!(
        got,
        json!({ "back": "from the action", "preset": "from the host" }),
        "the key-value store as the action saw it"
    );
    assert_eq!(
        kv.get("suite-key").await.expect("get").as_deref(),
        Some("from the action"),
        "the action's put reached the run's store"
    );
    let sent = witness.messages();
    assert_eq!(sent.len(), 1, "one notification sent: {sent:?}");
    assert_eq!(sent[0].subject, "From the action");
    assert_eq!(sent[0].body, "Hello 🦀");
}
