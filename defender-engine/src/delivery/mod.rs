//! The delivery workers: they work through the [outbox](crate::outbox) until every delivery
//! is done or given up.
//!
//! One scheduler task per engine keeps an index of the deliveries owed (read from the outbox
//! at start, then told of each new one) and starts attempts as they come due:
//!
//! - **Per target, in order, bounded**: each notification channel alias takes one delivery at
//!   a time, oldest first (as a queue); each linked action (and each workflow) up to 16 runs
//!   at a time; at most
//!   256 attempts run at once in all. A dead or slow channel holds only its own slot, so it
//!   never delays another channel, a linked action, or blocks (the monitor path only writes
//!   to the outbox).
//! - **One attempt** claims the delivery in the store, skips it if its idempotency key is
//!   already marked done, sends it (a channel within the delivery timeout; an action run
//!   within its run limits) and then, in one batch, marks it done and removes it; or stores
//!   the failure with the time of the next attempt.
//! - **Retries** back off exponentially from the first retry delay up to the longest one,
//!   until the retry horizon (counted from when the alert was owed, or replayed); a delivery
//!   still failing then is moved to the dead letters.
//!
//! Delivery is at least once: a crash after a send and before its batch sends it again after
//! the restart, with the same idempotency key, so a receiver can drop the repeat.

mod scheduler;

pub(crate) use scheduler::Workers;

use crate::actions::Actions;
use crate::outbox::{AlertRecord, Claim, Claimed, DeliveryTarget, Outbox, Owed};
use crate::run::Runner;
use crate::workflows::{WorkflowError, WorkflowTrigger};
use defender_core::state::StateError;
use defender_core::{ActionRequest, Message, NotifyError, RunStatus, Trigger};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Timeouts and retry policy of deliveries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryLimits {
    /// Longest wait for one channel to take one alert.
    pub(crate) timeout: Duration,
    /// Wait after the first failed attempt; doubled after each next one.
    pub(crate) first_retry: Duration,
    /// Longest wait between two attempts.
    pub(crate) max_retry: Duration,
    /// How long a delivery is retried before it becomes a dead letter.
    pub(crate) horizon: Duration,
}

impl DeliveryLimits {
    /// The wait after `attempts` failed attempts (at least 1).
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(30);
        self.first_retry
            .saturating_mul(factor)
            .min(self.max_retry)
            .max(self.first_retry.min(self.max_retry))
    }
}

/// How much longer than its longest attempt a claim lasts.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);
/// A workflow's claim lasts this many action run timeouts.
const WORKFLOW_CLAIM_RUNS: u32 = 10;

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The run id of a linked-action delivery: the same for every attempt, so a run done again
/// after a crash replaces its record in the run history rather than adding one.
fn run_id_for(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// How an attempt went.
enum Sent {
    /// Delivered, or nothing to deliver (a paused channel or action): done for good.
    Done,
    /// Failed: to be retried.
    Failed(String),
}

/// What attempts need: the outbox, what sends and runs, and the policy.
#[derive(Debug)]
pub(crate) struct Deliverer {
    pub(crate) outbox: Outbox,
    pub(crate) runner: Arc<Runner>,
    pub(crate) actions: Arc<Actions>,
    pub(crate) limits: DeliveryLimits,
    /// This engine's name in claims.
    pub(crate) owner: String,
}

impl Deliverer {
    pub(crate) fn now_ms(&self) -> i64 {
        self.runner.clock.now().timestamp_millis()
    }

    /// How long a claim lasts: past the longest attempt (a channel's delivery timeout, an
    /// action's run timeout, a workflow's) with a margin, so that only a dead engine's claim
    /// expires.
    fn claim_ms(&self, target: &DeliveryTarget) -> i64 {
        let longest = match target {
            DeliveryTarget::Channel(_) => self.limits.timeout,
            DeliveryTarget::Action(_) => self.runner.limits.timeout,
            _ => self
                .runner
                .limits
                .timeout
                .saturating_mul(WORKFLOW_CLAIM_RUNS),
        };
        millis(longest.saturating_add(CLAIM_MARGIN))
    }

    /// One attempt at the delivery under `key`: when it is due next, or `None` once it is
    /// done, dead or gone. A failing store is retried after the first retry delay.
    pub(crate) async fn attempt(&self, key: &str) -> Option<i64> {
        match self.try_attempt(key).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(key, error = %e, "outbox unavailable; delivery retried later");
                Some(
                    self.now_ms()
                        .saturating_add(millis(self.limits.first_retry)),
                )
            }
        }
    }

    async fn try_attempt(&self, key: &str) -> Result<Option<i64>, StateError> {
        let now = self.now_ms();
        let until = |target: &DeliveryTarget| now.saturating_add(self.claim_ms(target));
        let claimed = match self.outbox.claim(key, &self.owner, now, until).await? {
            Claim::Mine(claimed) => claimed,
            // Another engine works on it: look again once its claim ends.
            Claim::Busy(until) => return Ok(Some(until.saturating_add(1))),
            Claim::Gone => {
                self.outbox.forget_fresh(key);
                return Ok(None);
            }
        };
        // The copy of the record kept since this process owed it: every attempt takes it, used
        // or not, so that none is left behind.
        let fresh = self.outbox.take_fresh(claimed.item());
        // Done already under the same key (the alert was owed twice: a block handled again
        // after a reorg, or a replay).
        if self.outbox.is_done(&claimed.owed.idempotency_key).await? {
            return self.settle(&claimed, Sent::Done).await;
        }
        let record = match fresh {
            Some(record) => Some(record),
            None => self.outbox.alert(claimed.item()).await?,
        };
        let sent = match record {
            None => Sent::Failed("the alert record is missing from the outbox".into()),
            Some(record) => match &claimed.owed.target {
                DeliveryTarget::Channel(alias) => {
                    self.notify(alias, record, &claimed.owed.idempotency_key)
                        .await
                }
                DeliveryTarget::Action(id) => {
                    self.run_action(id, record, &claimed.owed.idempotency_key)
                        .await
                }
                DeliveryTarget::Workflow(id) => self.run_workflow(id, record, &claimed.owed).await,
            },
        };
        self.settle(&claimed, sent).await
    }

    /// Stores how an attempt went; returns when the delivery is due next.
    async fn settle(&self, claimed: &Claimed, sent: Sent) -> Result<Option<i64>, StateError> {
        let now = self.now_ms();
        let (written, next) = match sent {
            Sent::Done => (self.outbox.done(claimed, now).await?, None),
            Sent::Failed(error) => {
                let mut owed = claimed.owed.clone();
                let horizon_end = owed.since_ms.saturating_add(millis(self.limits.horizon));
                if now >= horizon_end {
                    owed.failed(&error, now);
                    tracing::error!(
                        key = %claimed.key,
                        target = ?owed.target,
                        attempts = owed.attempts,
                        error = %error,
                        "delivery given up at the retry horizon: kept as a dead letter"
                    );
                    (self.outbox.bury(claimed, owed).await?, None)
                } else {
                    let wait = self.limits.backoff(owed.attempts.saturating_add(1));
                    // The last attempt falls on the horizon itself.
                    let next = now.saturating_add(millis(wait)).min(horizon_end);
                    owed.failed(&error, next);
                    tracing::warn!(
                        key = %claimed.key,
                        target = ?owed.target,
                        attempts = owed.attempts,
                        retry_in_ms = next.saturating_sub(now),
                        error = %error,
                        "delivery failed; retrying"
                    );
                    (self.outbox.retry(claimed, owed).await?, Some(next))
                }
            }
        };
        // Changed under our feet: look again at once.
        Ok(if written { next } else { Some(now) })
    }

    /// Sends the alert to the channel(s) with `alias`, within the delivery timeout.
    async fn notify(&self, alias: &str, record: AlertRecord, key: &str) -> Sent {
        let message = Message {
            subject: record.subject,
            body: record.body,
            alert: Some(record.alert),
            idempotency_key: Some(key.to_owned()),
        };
        let metrics = &self.runner.metrics;
        let severity = message
            .alert
            .as_ref()
            .and_then(|a| a.monitor.severity_level);
        let sent = tokio::time::timeout(
            self.limits.timeout,
            self.runner.notifiers.send(alias, &message),
        )
        .await;
        match sent {
            Ok(Ok(report)) => {
                for (_, result) in &report.results {
                    metrics.notification(alias, severity, result.is_ok());
                }
                if report.all_delivered() {
                    return Sent::Done;
                }
                let errors: Vec<String> = report
                    .failures()
                    .map(|(channel, e)| format!("{channel}: {e}"))
                    .collect();
                Sent::Failed(errors.join("; "))
            }
            Ok(Err(NotifyError::Paused(_))) => {
                tracing::info!(alias, "notification channel paused; alert not sent");
                Sent::Done
            }
            Ok(Err(e)) => {
                metrics.notification(alias, severity, false);
                Sent::Failed(e.to_string())
            }
            Err(_) => {
                metrics.notification(alias, severity, false);
                Sent::Failed(format!(
                    "no answer within {} ms",
                    self.limits.timeout.as_millis()
                ))
            }
        }
    }

    /// Runs the linked action with the match as `request.body`. A run that happened is done,
    /// whatever its outcome (its failure is the action's, recorded and reported as any run's);
    /// a run the runtime refused to start (throttled) is retried.
    async fn run_action(&self, action_id: &str, record: AlertRecord, key: &str) -> Sent {
        let Some(entry) = self.actions.get(action_id) else {
            return Sent::Failed(format!("the linked action `{action_id}` does not exist"));
        };
        if entry.is_paused() {
            tracing::info!(action_id, "linked action paused; not run");
            return Sent::Done;
        }
        let body = match serde_json::to_value(&record.alert) {
            Ok(body) => body,
            Err(e) => return Sent::Failed(format!("match not serializable: {e}")),
        };
        let request = ActionRequest {
            body: Some(body),
            ..Default::default()
        };
        let run = self
            .runner
            .execute(&entry, Trigger::Monitor, Some(request), run_id_for(key))
            .await;
        if run.status == RunStatus::Throttled {
            return Sent::Failed(run.message.unwrap_or_else(|| "run throttled".into()));
        }
        Sent::Done
    }
}

impl Deliverer {
    /// Runs the monitor's workflow with the match as its input. A run that happened is done,
    /// whatever its outcome (recorded in the workflow's history); an unknown workflow or a
    /// run the engine state cut short is retried. Every attempt is the same run (its id
    /// and start come from the delivery), so a run done again replaces its record.
    async fn run_workflow(&self, workflow_id: &str, record: AlertRecord, owed: &Owed) -> Sent {
        let Some(workflows) = self.runner.workflows.get().and_then(Weak::upgrade) else {
            return Sent::Failed("the engine is shutting down".into());
        };
        let input = match serde_json::to_value(&record.alert) {
            Ok(input) => input,
            Err(e) => return Sent::Failed(format!("match not serializable: {e}")),
        };
        let trigger = WorkflowTrigger::Monitor {
            monitor_id: record.monitor_id,
        };
        let run_id = run_id_for(&owed.idempotency_key);
        match workflows
            .run_as(workflow_id, trigger, input, run_id, owed.since_ms)
            .await
        {
            Ok(run) => {
                tracing::info!(workflow_id, status = ?run.status, "monitor's workflow ran");
                Sent::Done
            }
            Err(WorkflowError::Unknown(_)) => Sent::Failed(format!(
                "the monitor's workflow `{workflow_id}` does not exist"
            )),
            Err(e) => Sent::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_longest_wait() {
        let limits = DeliveryLimits {
            timeout: Duration::from_secs(1),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(10),
            horizon: Duration::from_secs(100),
        };
        let waits: Vec<u64> = (1..=6).map(|n| limits.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(limits.backoff(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn run_ids_are_stable_uuids() {
        let a = run_id_for("k1");
        assert_eq!(a, run_id_for("k1"));
        assert_ne!(a, run_id_for("k2"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
