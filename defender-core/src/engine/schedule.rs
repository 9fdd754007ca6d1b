//! Scheduled runs: by interval, measured start to start, or by cron expression.

use super::actions::{execute, new_run_id, ActionEntry};
use super::Inner;
use crate::wire::Trigger;
use chrono::Utc;
use croner::parser::{CronParser, Seconds};
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// When a scheduled action runs.
///
/// Runs of one schedule never overlap. An interval is measured from one run's start to the
/// next one's, as in Defender; when a run outlasts the interval, the starts it overlapped are
/// skipped and the next run starts at the following tick of the original cadence. A cron
/// schedule likewise skips occurrences that fall while its previous run is still going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `Duration`, start to start.
    Interval(Duration),
    /// A cron expression (five fields, or six with seconds), evaluated in UTC.
    Cron(String),
}

impl Schedule {
    /// Checks the schedule: a non-zero interval, or a cron expression that parses.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Schedule::Interval(d) if d.is_zero() => Err("the interval is zero".into()),
            Schedule::Interval(_) => Ok(()),
            Schedule::Cron(expr) => parse_cron(expr).map(|_| ()),
        }
    }
}

fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron expression `{expr}`: {e}"))
}

pub(crate) fn spawn(
    inner: Weak<Inner>,
    entry: Weak<ActionEntry>,
    schedule: Schedule,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match schedule {
            Schedule::Interval(period) => {
                let start = tokio::time::Instant::now() + period;
                let mut ticks = tokio::time::interval_at(start, period);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
                loop {
                    ticks.tick().await;
                    if !fire(&inner, &entry).await {
                        return;
                    }
                }
            }
            Schedule::Cron(expr) => {
                let Ok(cron) = parse_cron(&expr) else { return };
                loop {
                    let now = Utc::now();
                    let Ok(next) = cron.find_next_occurrence(&now, false) else {
                        return;
                    };
                    let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait).await;
                    if !fire(&inner, &entry).await {
                        return;
                    }
                }
            }
        }
    })
}

/// Runs the action once unless paused; returns false once the engine or the action is gone.
async fn fire(inner: &Weak<Inner>, entry: &Weak<ActionEntry>) -> bool {
    let (Some(inner), Some(entry)) = (inner.upgrade(), entry.upgrade()) else {
        return false;
    };
    if !entry.paused.load(Ordering::SeqCst) {
        execute(&inner, &entry, Trigger::Schedule, None, new_run_id()).await;
    }
    true
}
