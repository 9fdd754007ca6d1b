//! Stage 5 of the monitor path: dispatch. An alert that passed the gate becomes an outbox
//! item: the match, its rendered message and the deliveries it owes, one per notification
//! channel and one for the linked action. The monitor path writes these with the checkpoint
//! (see [`pipeline`](crate::pipeline)); the delivery workers ([`delivery`](crate::delivery))
//! take it from there, so a slow or dead channel or a long action never holds up blocks, and
//! nothing owed is lost to a crash.

use crate::actions::Actions;
use crate::delivery::{Deliverer, DeliveryLimits, Workers};
use crate::monitor::PlainAlertFormatter;
use crate::outbox::{
    idempotency_key, AlertRecord, DeadLetter, DeliveryTarget, Outbox, Owed, Pending, RecordWriter,
    Summaries,
};
use crate::run::Runner;
use defender_core::state::{StateError, StateOp};
use defender_core::{AlertFormatter, MonitorDefinition, MonitorMatch};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// An alert that passed the gate: to be dispatched.
pub(crate) struct Alert {
    pub(crate) id: String,
    pub(crate) def: Arc<MonitorDefinition>,
    pub(crate) alert: Arc<MonitorMatch>,
}

/// What a block's alerts owe: the outbox writes, for the checkpoint's batch, and the
/// deliveries to tell the workers of once the batch is written, with the records written.
#[derive(Debug, Default)]
pub(crate) struct Owing {
    pub(crate) ops: Vec<StateOp>,
    pub(crate) pending: Vec<Pending>,
    /// By item.
    pub(crate) records: Vec<(String, AlertRecord)>,
}

/// Turns alerts into outbox items, and runs the delivery workers.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    deliverer: Arc<Deliverer>,
    workers: Workers,
    formatter: Option<Arc<dyn AlertFormatter>>,
    /// The monitors' summaries as the alert records hold them, written once per monitor.
    summaries: Arc<Mutex<Summaries>>,
}

impl Dispatcher {
    /// A dispatcher over the runner's engine state; its workers start at once when there is a
    /// tokio runtime (else with the first monitor loop).
    pub(crate) fn new(
        runner: Arc<Runner>,
        actions: Arc<Actions>,
        formatter: Option<Arc<dyn AlertFormatter>>,
        limits: DeliveryLimits,
    ) -> Self {
        let dispatcher = Dispatcher {
            deliverer: Arc::new(Deliverer {
                outbox: Outbox::new(runner.state.clone()),
                owner: runner.cluster.instance.clone(),
                runner,
                actions,
                limits,
            }),
            workers: Workers::default(),
            formatter,
            summaries: Arc::default(),
        };
        dispatcher.start();
        dispatcher
    }

    /// Starts the delivery workers unless they run; they first resume every delivery left in
    /// the outbox.
    pub(crate) fn start(&self) {
        self.workers.start(&self.deliverer);
    }

    /// Stops the delivery workers (see [`Workers::stop`]).
    pub(crate) fn stop(&self) -> Option<JoinHandle<()>> {
        self.workers.stop()
    }

    /// Stage 5: the outbox items of a block's alerts, one per alert that owes anything.
    /// Nothing is written: the caller writes [`Owing::ops`] with the checkpoint, then hands
    /// [`Owing::pending`] to [`Dispatcher::owed`]. The items are numbered at once; the
    /// returned future gives them once rendered and encoded, which for many alerts happens in
    /// tasks that start at once, beside the caller.
    pub(crate) async fn owe(
        &self,
        alerts: Vec<Alert>,
    ) -> Result<impl Future<Output = Result<Owing, StateError>> + Send + 'static, StateError> {
        let encoded = self.start_owing(alerts).await?;
        Ok(async move {
            let parts = match encoded {
                Encoding::Done(owing) => return owing,
                Encoding::OffThread(parts) => parts,
            };
            let mut all = Owing::default();
            for part in parts {
                let owing = match part.await {
                    Ok(owing) => owing?,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // Cancelled: the runtime is shutting down; nothing is written, and the
                    // block is handled again at the next start.
                    Err(e) => return Err(StateError::unavailable(e)),
                };
                all.ops.extend(owing.ops);
                all.pending.extend(owing.pending);
                all.records.extend(owing.records);
            }
            Ok(all)
        })
    }

    async fn start_owing(&self, alerts: Vec<Alert>) -> Result<Encoding, StateError> {
        let owing: Vec<(Alert, Vec<DeliveryTarget>)> = alerts
            .into_iter()
            .map(|a| {
                let targets = targets(&a.def);
                (a, targets)
            })
            .filter(|(_, targets)| !targets.is_empty())
            .collect();
        if owing.is_empty() {
            return Ok(Encoding::Done(Ok(Owing::default())));
        }
        let first = self.deliverer.outbox.reserve(owing.len() as u64).await?;
        let now = self.deliverer.runner.clock.now().timestamp_millis();
        if owing.len() < OFF_THREAD_AT {
            let owing = items(
                self.formatter.as_deref(),
                &self.summaries,
                owing,
                first,
                now,
            );
            return Ok(Encoding::Done(owing));
        }
        // Rendering and encoding are most of a block's work when many monitors alert. As
        // tasks they run on another worker beside the monitor loop, which reads and matches
        // the next block meanwhile; in two halves from `2 * OFF_THREAD_AT` alerts, so that
        // they keep two cores busy while the loop waits for them. Tokio keeps a task spawned
        // from a worker in that worker's slot for its next task, where no other worker takes
        // it, until the next spawn: the second half's and the block's write (which always
        // follows) push them out to the queue other workers steal from. Not blocking threads:
        // with more threads than cores, the woken encoders preempted the loop itself.
        let mut rest = owing;
        let mut parts = Vec::with_capacity(2);
        let mut first = first;
        while !rest.is_empty() {
            let part = if parts.is_empty() && rest.len() >= 2 * OFF_THREAD_AT {
                let tail = rest.split_off(rest.len() / 2);
                std::mem::replace(&mut rest, tail)
            } else {
                std::mem::take(&mut rest)
            };
            let n = part.len() as u64;
            let formatter = self.formatter.clone();
            let summaries = self.summaries.clone();
            let span = tracing::Span::current();
            parts.push(tokio::spawn(async move {
                span.in_scope(|| items(formatter.as_deref(), &summaries, part, first, now))
            }));
            first = first.saturating_add(n);
        }
        Ok(Encoding::OffThread(parts))
    }

    /// Tells the workers of deliveries just written to the outbox ([`Owing::ops`] taken out
    /// and written), handing them the records in memory.
    pub(crate) fn owed(&self, owing: Owing) {
        self.deliverer.outbox.keep_fresh(owing.records);
        self.workers.owed(owing.pending);
    }

    /// Whether the first delivery attempts fall behind what was owed (see
    /// [`Outbox::first_attempts_behind`](crate::outbox::Outbox::first_attempts_behind)).
    pub(crate) fn first_attempts_behind(&self) -> bool {
        self.deliverer.outbox.first_attempts_behind()
    }

    /// Alert records kept in memory for their first delivery attempt.
    #[cfg(test)]
    pub(crate) fn fresh_records(&self) -> usize {
        self.deliverer.outbox.fresh_records()
    }

    /// Waits until every delivery due now has had an attempt.
    pub(crate) async fn flush(&self) {
        self.workers.flush().await;
    }

    /// The dead letters.
    pub(crate) async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        self.deliverer.outbox.dead_letters().await
    }

    /// Owes the dead deliveries of dead letter `id` again; returns how many (0: no such dead
    /// letter).
    pub(crate) async fn replay(&self, id: &str) -> Result<usize, StateError> {
        let now = self.deliverer.runner.clock.now().timestamp_millis();
        let pending = self.deliverer.outbox.replay(id, now).await?;
        let n = pending.len();
        self.start();
        self.workers.owed(pending);
        Ok(n)
    }
}

/// Where a monitor's alert goes: each notification channel alias once, in order, then the
/// linked action, then the workflow.
fn targets(def: &MonitorDefinition) -> Vec<DeliveryTarget> {
    let mut seen = std::collections::HashSet::new();
    let mut targets: Vec<DeliveryTarget> = def
        .notification_channels
        .iter()
        .filter(|alias| seen.insert(alias.as_str()))
        .map(|alias| DeliveryTarget::Channel(alias.clone()))
        .collect();
    if let Some(action_id) = &def.action_trigger {
        targets.push(DeliveryTarget::Action(action_id.clone()));
    }
    if let Some(workflow_id) = &def.workflow_trigger {
        targets.push(DeliveryTarget::Workflow(workflow_id.clone()));
    }
    targets
}

/// A block's outbox items: encoded, or being encoded in tasks of their own.
enum Encoding {
    Done(Result<Owing, StateError>),
    /// In order: the items of the first part come first.
    OffThread(Vec<JoinHandle<Result<Owing, StateError>>>),
}

/// Fewest alerts of a block that [`Dispatcher::owe`] renders and encodes in tasks of their own.
const OFF_THREAD_AT: usize = 16;

/// The outbox items of `owing`, numbered from `first`: each alert rendered, its record and its
/// deliveries encoded.
fn items(
    formatter: Option<&dyn AlertFormatter>,
    summaries: &Mutex<Summaries>,
    owing: Vec<(Alert, Vec<DeliveryTarget>)>,
    first: u64,
    now: i64,
) -> Result<Owing, StateError> {
    let mut writer = RecordWriter::new(summaries);
    let mut out = Owing::default();
    for (n, (Alert { id, def, alert }, targets)) in (first..).zip(owing) {
        let (subject, body) = render(formatter, &def, &alert);
        let deliveries = targets
            .into_iter()
            .map(|target| {
                let key = idempotency_key(&id, &alert.hash, &target);
                Owed::new(target, key, now)
            })
            .collect();
        let record = AlertRecord {
            monitor_id: id,
            created_ms: now,
            subject,
            body,
            alert,
        };
        let item = Outbox::item_id(n);
        let pending = Outbox::owe_ops(&item, &record, &mut writer, deliveries, &mut out.ops)?;
        out.pending.extend(pending);
        out.records.push((item, record));
    }
    Ok(out)
}

/// The alert's subject and body with the monitor's templates (the default text if they
/// fail).
fn render(
    formatter: Option<&dyn AlertFormatter>,
    def: &MonitorDefinition,
    alert: &MonitorMatch,
) -> (String, String) {
    let formatter = formatter.unwrap_or(&PlainAlertFormatter);
    let rendered = formatter
        .render_alert(
            alert,
            def.alert_message_subject.as_deref(),
            def.alert_message_body.as_deref(),
        )
        .or_else(|e| {
            tracing::warn!(error = %e, "alert template failed; sending the default text");
            PlainAlertFormatter.render_alert(alert, None, None)
        });
    match rendered {
        Ok(rendered) => (rendered.subject, rendered.body),
        // The plain formatter does not fail; should it, the match still goes out.
        Err(_) => (format!("Monitor alert: {}", alert.hash), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, NetworkSpec};
    use async_trait::async_trait;
    use defender_core::{
        ActionCode, ActionRuntime, InMemoryChain, RecordingNotifier, RunOutcome, RunRequest,
        Transaction,
    };
    use std::sync::Arc;
    use std::time::Duration;

    #[derive(Debug)]
    struct NoActions;

    #[async_trait]
    impl ActionRuntime for NoActions {
        async fn run(&self, _: &ActionCode, _: RunRequest) -> RunOutcome {
            RunOutcome {
                result: Ok(serde_json::Value::Null),
                logs: vec![],
            }
        }
    }

    /// A call from the watched address, by number.
    fn call(n: u64) -> Transaction {
        Transaction {
            hash: alloy_primitives::keccak256(n.to_be_bytes()),
            from: alloy_primitives::Address::repeat_byte(0xaa),
            to: Some(alloy_primitives::Address::repeat_byte(0xbb)),
            ..Transaction::default()
        }
    }

    /// The records kept for first attempts go with those attempts, including those that
    /// find their delivery done already (the same transaction in a later block: same
    /// idempotency key, nothing sent).
    #[tokio::test]
    async fn records_kept_for_first_attempts_do_not_outlive_them() {
        let chain = Arc::new(InMemoryChain::new(1));
        chain.mine(vec![]);
        let ops = Arc::new(RecordingNotifier::default());
        let engine = Engine::builder(Arc::new(NoActions))
            .notifier("ops", ops.clone())
            .build();
        engine
            .add_network(NetworkSpec {
                poll_interval: Duration::from_millis(5),
                ..NetworkSpec::new("local", chain.clone())
            })
            .await
            .unwrap();
        let def = serde_json::from_value(serde_json::json!({
            "name": "calls", "network": "local",
            "addresses": [alloy_primitives::Address::repeat_byte(0xaa).to_checksum(None)],
            "confirmLevel": 0, "notificationChannels": ["ops"]
        }))
        .unwrap();
        engine.add_monitor("m", def).await.unwrap();
        chain.mine((0..20).map(call).collect());
        chain.mine((0..20).map(call).collect());
        for _ in 0..500 {
            engine.flush_alerts().await;
            if ops.messages().len() >= 20 && engine.fresh_records() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Each transaction sent once; no record left behind by the 20 done-already
        // deliveries of the second block.
        assert_eq!(ops.messages().len(), 20);
        assert_eq!(engine.fresh_records(), 0);
        engine.shutdown_and_wait().await;
    }
}
