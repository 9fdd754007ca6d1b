//! Stage 5 of the monitor path: dispatch. An alert that passed the gate goes to its monitor's
//! delivery queue, and the monitor's linked action starts in the background; neither is waited
//! for, so a slow or dead channel or a long action never holds up blocks.
//!
//! Each monitor id has its own delivery queue, in memory and bounded ([`DeliveryLimits`]), and
//! a task that takes the queue's alerts one at a time, in order, renders each and sends it to
//! the monitor's notification channels, each within the delivery timeout. A full queue drops
//! new alerts; a removed monitor's task ends once it has sent what is queued.

use crate::actions::Actions;
use crate::monitor::PlainAlertFormatter;
use crate::run::{new_run_id, Runner};
use defender_core::{ActionRequest, AlertFormatter, MonitorDefinition, MonitorMatch, Trigger};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Bounds of alert delivery.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryLimits {
    /// Longest wait for one channel to take one alert.
    pub(crate) timeout: Duration,
    /// Alerts waiting per monitor; beyond, new alerts are dropped (and logged).
    pub(crate) queue: usize,
}

/// An alert that passed the gate: to be dispatched.
pub(crate) struct Alert {
    pub(crate) id: String,
    pub(crate) def: Arc<MonitorDefinition>,
    pub(crate) alert: Arc<MonitorMatch>,
}

/// What a monitor's delivery task is asked to do.
#[derive(Debug)]
enum Delivery {
    /// Send an alert to the monitor's channels.
    Alert {
        def: Arc<MonitorDefinition>,
        alert: Arc<MonitorMatch>,
    },
    /// Answer once everything queued before has been handled.
    Flush(oneshot::Sender<()>),
}

/// The delivery queues, per monitor id, and what the linked actions run on.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    queues: Mutex<HashMap<String, mpsc::Sender<Delivery>>>,
    runner: Arc<Runner>,
    actions: Arc<Actions>,
    formatter: Option<Arc<dyn AlertFormatter>>,
    limits: DeliveryLimits,
}

impl Dispatcher {
    pub(crate) fn new(
        runner: Arc<Runner>,
        actions: Arc<Actions>,
        formatter: Option<Arc<dyn AlertFormatter>>,
        limits: DeliveryLimits,
    ) -> Self {
        Dispatcher {
            queues: Mutex::new(HashMap::new()),
            runner,
            actions,
            formatter,
            limits,
        }
    }

    /// Stage 5: the alert to its monitor's delivery queue, the linked action started. Returns
    /// at once.
    pub(crate) fn dispatch(&self, Alert { id, def, alert }: Alert) {
        if let Some(action_id) = &def.action_trigger {
            self.trigger_action(action_id, &alert);
        }
        if !def.notification_channels.is_empty() {
            self.enqueue(&id, Delivery::Alert { def, alert });
        }
    }

    /// Puts an alert in the monitor's delivery queue, starting its delivery task if needed. A
    /// full queue (its channels are slower than its alerts) drops the alert, logged and counted
    /// as failed, rather than hold up blocks.
    fn enqueue(&self, id: &str, job: Delivery) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let mut job = job;
        for _ in 0..2 {
            let queue = queues
                .entry(id.to_owned())
                .or_insert_with(|| self.spawn_delivery(id));
            match queue.try_send(job) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(Delivery::Alert { def, alert })) => {
                    tracing::error!(
                        monitor_id = id,
                        tx = %alert.hash,
                        capacity = self.limits.queue,
                        "alert dropped: the monitor's delivery queue is full"
                    );
                    for alias in &def.notification_channels {
                        self.runner.metrics.notification(alias, false);
                    }
                    return;
                }
                Err(mpsc::error::TrySendError::Full(_)) => return,
                Err(mpsc::error::TrySendError::Closed(back)) => {
                    // The delivery task is gone (it panicked): start another one.
                    queues.remove(id);
                    job = back;
                }
            }
        }
    }

    fn spawn_delivery(&self, id: &str) -> mpsc::Sender<Delivery> {
        let (tx, rx) = mpsc::channel(self.limits.queue.max(1));
        let worker = DeliveryTask {
            runner: self.runner.clone(),
            formatter: self.formatter.clone(),
            timeout: self.limits.timeout,
        };
        let span = tracing::info_span!("monitor_delivery", monitor_id = %id);
        tokio::spawn(worker.run(rx).instrument(span));
        tx
    }

    /// Runs the linked action with the match as `request.body`, in the background: a slow
    /// action does not hold up monitoring. The run is in the action's history.
    fn trigger_action(&self, action_id: &str, m: &MonitorMatch) {
        let Some(entry) = self.actions.get(action_id) else {
            tracing::warn!(action_id, "monitor triggers an action that does not exist");
            return;
        };
        if entry.is_paused() {
            return;
        }
        let body = match serde_json::to_value(m) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "match not serializable");
                return;
            }
        };
        let runner = self.runner.clone();
        tokio::spawn(async move {
            let request = ActionRequest {
                body: Some(body),
                ..Default::default()
            };
            runner
                .execute(&entry, Trigger::Monitor, Some(request), new_run_id())
                .await;
        });
    }

    /// Drops a monitor's delivery queue: its task ends once it has sent what is queued.
    pub(crate) fn remove(&self, id: &str) {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Waits until every alert queued so far has been sent (or has failed or timed out).
    pub(crate) async fn flush(&self) {
        let queues: Vec<mpsc::Sender<Delivery>> = self
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for queue in queues {
            let (done, wait) = oneshot::channel();
            if queue.send(Delivery::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

/// Sends a monitor's alerts to its channels, one alert at a time, in order.
struct DeliveryTask {
    runner: Arc<Runner>,
    formatter: Option<Arc<dyn AlertFormatter>>,
    timeout: Duration,
}

impl DeliveryTask {
    /// Ends once the queue is closed (the monitor was removed, or the engine is gone) and
    /// empty.
    async fn run(self, mut queue: mpsc::Receiver<Delivery>) {
        while let Some(job) = queue.recv().await {
            match job {
                Delivery::Alert { def, alert } => self.notify(&def, &alert).await,
                Delivery::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Renders the alert and sends it to each of the monitor's channels, concurrently, each
    /// within the delivery timeout.
    async fn notify(&self, def: &MonitorDefinition, alert: &Arc<MonitorMatch>) {
        let formatter: &dyn AlertFormatter = match &self.formatter {
            Some(f) => f.as_ref(),
            None => &PlainAlertFormatter,
        };
        let mut message = match formatter.format(
            alert,
            def.alert_message_subject.as_deref(),
            def.alert_message_body.as_deref(),
        ) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(error = %e, "alert template failed; sending the default text");
                match PlainAlertFormatter.format(alert, None, None) {
                    Ok(message) => message,
                    Err(_) => return,
                }
            }
        };
        message.alert = Some(alert.clone());
        let message = &message;
        let sends = def.notification_channels.iter().map(|alias| async move {
            let sent =
                tokio::time::timeout(self.timeout, self.runner.notifiers.send(alias, message))
                    .await;
            let metrics = &self.runner.metrics;
            match sent {
                Ok(Ok(report)) => {
                    for (channel, result) in &report.results {
                        if let Err(e) = result {
                            tracing::warn!(alias = %alias, channel = %channel, error = %e, "notification failed");
                        }
                        metrics.notification(alias, result.is_ok());
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(alias = %alias, error = %e, "notification not sent");
                    metrics.notification(alias, false);
                }
                Err(_) => {
                    tracing::warn!(
                        alias = %alias,
                        timeout_ms = self.timeout.as_millis() as u64,
                        "notification timed out"
                    );
                    metrics.notification(alias, false);
                }
            }
        });
        futures::future::join_all(sends).await;
    }
}
