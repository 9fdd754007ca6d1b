//! The task of one schedule: it holds the schedule's lease, resumes from the stored state,
//! sleeps until each tick, claims it, fires and records it.

use super::{
    parse_cron, plan_cron, plan_interval, state_key, tick_run_id, MissedRuns, Plan, Schedule,
    ScheduleState,
};
use crate::lease;
use crate::run::{ActionEntry, Runner};
use chrono::{DateTime, Utc};
use defender_core::state::{Lease, Space, StateError, StateOp, StateStoreExt};
use defender_core::Trigger;
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The ticks a new holder runs late rather than treat as missed: those that fell at most this
/// long (counted in lease times to live) before it took over. The cluster was running; only
/// its holder changed.
const HANDOVER_TTLS: u32 = 3;
/// Most late ticks a new holder runs.
const MAX_LATE_TICKS: usize = 100;

/// Longest single sleep: a wall clock that jumps is noticed within this.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Starts the task that runs `entry` on `schedule`; it ends once the runner or the action is
/// gone.
///
/// The schedule runs in the engine holding its lease (`schedule/<state key>`, see
/// [`Cluster`](crate::Cluster)), so each tick runs once across the engines sharing the state.
/// Each tick is claimed in the state (fenced by the lease) before its run and released once
/// its run is recorded; a holder taking over runs a claimed tick again and the ticks that fell
/// during the takeover.
pub(crate) fn spawn(
    runner: Weak<Runner>,
    entry: Weak<ActionEntry>,
    schedule: Schedule,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let cron = match &schedule {
            Schedule::Interval(_) => None,
            Schedule::Cron(expr) => match parse_cron(expr) {
                Ok(cron) => Some(cron),
                Err(_) => return,
            },
        };
        let task = ScheduleTask {
            runner,
            entry,
            schedule,
            cron,
            stop,
        };
        let Some((key, mut held, release, holding)) = task.hold() else {
            return;
        };
        loop {
            let mut stop = task.stop.clone();
            let lease = tokio::select! {
                lease = lease::acquired(&mut held) => lease,
                _ = stop.wait_for(|s| *s) => None,
            };
            let Some(lease) = lease else {
                break;
            };
            match task.term(&key, &lease, &held).await {
                Term::Lost => continue,
                Term::Gone => break,
            }
        }
        // The lease is released, and the store let go, before the task ends.
        drop((held, release));
        let _ = holding.await;
    })
}

/// How a term of leadership ended.
enum Term {
    /// The lease passed to another engine: wait for it again.
    Lost,
    /// The engine or the action is gone.
    Gone,
}

/// What a schedule task runs on.
struct ScheduleTask {
    runner: Weak<Runner>,
    entry: Weak<ActionEntry>,
    schedule: Schedule,
    cron: Option<croner::Cron>,
    /// Turns true at a graceful shutdown: the task ends before its next tick.
    stop: watch::Receiver<bool>,
}

impl ScheduleTask {
    fn plan_at(
        &self,
        anchor: DateTime<Utc>,
        now: DateTime<Utc>,
        policy: MissedRuns,
    ) -> Option<Plan> {
        match (&self.schedule, &self.cron) {
            (Schedule::Interval(period), _) => Some(plan_interval(anchor, *period, now, policy)),
            (_, Some(cron)) => plan_cron(cron, anchor, now, policy),
            _ => None,
        }
    }

    fn now(&self) -> Option<DateTime<Utc>> {
        self.runner.upgrade().map(|r| r.clock.now())
    }

    /// Starts holding the schedule's lease: its state key, the lease, the sender whose drop
    /// releases it, and the holding task.
    fn hold(&self) -> Option<(String, lease::Held, watch::Sender<bool>, JoinHandle<()>)> {
        let (r, e) = (self.runner.upgrade()?, self.entry.upgrade()?);
        let key = state_key(&e.id, &self.schedule);
        let (stop, stopped) = watch::channel(false);
        let (held, holding) = lease::hold(
            r.state.clone(),
            format!("schedule/{key}"),
            &r.cluster,
            stopped,
        );
        Some((key, held, stop, holding))
    }

    /// One term of leadership: resume from the stored state, then tick until the lease is
    /// lost or the engine or action is gone.
    async fn term(&self, key: &str, lease: &Lease, held: &lease::Held) -> Term {
        let Some(runner) = self.runner.upgrade() else {
            return Term::Gone;
        };
        let (policy, handover) = (runner.missed_runs, runner.cluster.lease_ttl * HANDOVER_TTLS);
        let stored = load(&runner, key, &self.schedule).await;
        drop(runner);
        let Some(now) = self.now() else {
            return Term::Gone;
        };
        // A tick claimed by a holder that died before its run was recorded runs again.
        if let Some(tick) = stored.as_ref().and_then(|s| s.running_tick_ms) {
            if let Some(t) = self.tick(key, lease, tick, None).await {
                return t;
            }
        }
        let mut next = match &stored {
            // The ticks that fell during a takeover run now, late, each once.
            Some(s)
                if now.timestamp_millis().saturating_sub(s.next_tick_ms) <= millis(handover) =>
            {
                let mut late = 0;
                let mut tick = s.next_tick_ms;
                loop {
                    let Some(due) = DateTime::from_timestamp_millis(tick) else {
                        return Term::Gone;
                    };
                    let Some(now) = self.now() else {
                        return Term::Gone;
                    };
                    if due > now || late >= MAX_LATE_TICKS {
                        break due.max(now);
                    }
                    let Some(plan) = self.plan_at(due, due, MissedRuns::Skip) else {
                        return Term::Gone;
                    };
                    let following = self
                        .plan_at(
                            due,
                            due + chrono::Duration::milliseconds(1),
                            MissedRuns::Skip,
                        )
                        .map_or(plan.next, |p| p.next);
                    if let Some(t) = self.tick(key, lease, tick, Some(following)).await {
                        return t;
                    }
                    late += 1;
                    tick = following.timestamp_millis();
                }
            }
            _ => {
                let anchor = stored
                    .as_ref()
                    .and_then(|s| DateTime::from_timestamp_millis(s.last_tick_ms))
                    .unwrap_or(now);
                let Some(plan) = self.plan_at(anchor, now, policy) else {
                    return Term::Gone;
                };
                if plan.catch_up && !self.fire(now.timestamp_millis(), key).await {
                    return Term::Gone;
                }
                // The plan is written once the catch-up run (if any) is recorded.
                let state = self.state(plan.last, plan.next, None);
                if let Some(t) = save(&self.runner, key, lease, &state).await {
                    return t;
                }
                plan.next
            }
        };
        loop {
            // Sleeps until `next` by the engine's clock, in bounded steps, while the lease
            // is held.
            loop {
                if lease::current(held).is_none_or(|l| l.token() != lease.token()) {
                    return Term::Lost;
                }
                let Some(now) = self.now() else {
                    return Term::Gone;
                };
                let Ok(wait) = next.signed_duration_since(now).to_std() else {
                    break;
                };
                if wait.is_zero() {
                    break;
                }
                let (mut watch, mut stop) = (held.clone(), self.stop.clone());
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
                    _ = watch.changed() => {}
                    _ = stop.wait_for(|s| *s) => return Term::Gone,
                }
            }
            let due = next;
            let Some(now) = self.now() else {
                return Term::Gone;
            };
            let Some(planned) = self.plan_at(due, now, MissedRuns::Skip) else {
                return Term::Gone;
            };
            if let Some(t) = self
                .tick(key, lease, due.timestamp_millis(), Some(planned.next))
                .await
            {
                return t;
            }
            let Some(now) = self.now() else {
                return Term::Gone;
            };
            // A run that outlasted its interval skips the ticks it overlapped.
            let Some(after) = self.plan_at(due, now, MissedRuns::Skip) else {
                return Term::Gone;
            };
            next = after.next;
            if next != planned.next {
                let state = self.state(after.last.max(due), next, None);
                if let Some(t) = save(&self.runner, key, lease, &state).await {
                    return t;
                }
            }
        }
    }

    fn state(
        &self,
        last: DateTime<Utc>,
        next: DateTime<Utc>,
        running: Option<i64>,
    ) -> ScheduleState {
        ScheduleState {
            schedule: self.schedule.fingerprint(),
            last_tick_ms: last.timestamp_millis(),
            next_tick_ms: next.timestamp_millis(),
            running_tick_ms: running,
        }
    }

    /// Runs tick `tick_ms`: claims it in the state (the phase moves to it, and to `next` when
    /// given), runs the action, then releases the claim. `Some` when the term ends.
    async fn tick(
        &self,
        key: &str,
        lease: &Lease,
        tick_ms: i64,
        next: Option<DateTime<Utc>>,
    ) -> Option<Term> {
        let due = DateTime::from_timestamp_millis(tick_ms)?;
        let next = next.unwrap_or(due);
        let claim = self.state(due, next, Some(tick_ms));
        if let Some(t) = save(&self.runner, key, lease, &claim).await {
            return Some(t);
        }
        if !self.fire(tick_ms, key).await {
            return Some(Term::Gone);
        }
        let done = self.state(due, next, None);
        save(&self.runner, key, lease, &done).await
    }

    /// Runs the action once for tick `tick_ms` unless paused; false once the engine or the
    /// action is gone.
    async fn fire(&self, tick_ms: i64, key: &str) -> bool {
        let (Some(runner), Some(entry)) = (self.runner.upgrade(), self.entry.upgrade()) else {
            return false;
        };
        if !entry.is_paused() {
            runner
                .execute(&entry, Trigger::Schedule, None, tick_run_id(key, tick_ms))
                .await;
        }
        true
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The stored state of this schedule, if the state holds one for it.
async fn load(runner: &Runner, key: &str, schedule: &Schedule) -> Option<ScheduleState> {
    match runner
        .state
        .get_json::<ScheduleState>(Space::SCHEDULES, key)
        .await
    {
        Ok(Some(s)) if s.schedule == schedule.fingerprint() => Some(s),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "schedule state unreadable; the schedule starts a new phase");
            None
        }
    }
}

/// Stores the phase, fenced by the lease: `Some(Term::Lost)` when another engine holds the
/// lease now, `Some(Term::Gone)` once the engine is gone. Another failed write is logged and
/// the schedule goes on (it may then restart its phase after a restart).
async fn save(
    runner: &Weak<Runner>,
    key: &str,
    lease: &Lease,
    state: &ScheduleState,
) -> Option<Term> {
    let Some(runner) = runner.upgrade() else {
        return Some(Term::Gone);
    };
    let write = match StateOp::put_json(Space::SCHEDULES, key, state) {
        Ok(write) => write,
        Err(e) => {
            tracing::warn!(error = %e, "schedule state not saved");
            return None;
        }
    };
    match runner.state.apply(vec![lease.fence(), write]).await {
        Ok(()) => None,
        Err(StateError::Conflict { .. }) => {
            tracing::info!(schedule = key, "schedule taken over by another engine");
            Some(Term::Lost)
        }
        Err(e) => {
            tracing::warn!(error = %e, "schedule state not saved");
            None
        }
    }
}
