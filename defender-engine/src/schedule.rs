//! Scheduled runs: by interval, measured start to start, or by cron expression.

use crate::run::{new_run_id, ActionEntry, Runner};
use chrono::Utc;
use croner::parser::{CronParser, Seconds};
use defender_core::Trigger;
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

/// Starts the task that runs `entry` on `schedule`; it ends once the runner or the action is
/// gone.
pub(crate) fn spawn(
    runner: Weak<Runner>,
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
                    if !fire(&runner, &entry).await {
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
                    if !fire(&runner, &entry).await {
                        return;
                    }
                }
            }
        }
    })
}

/// Runs the action once unless paused; returns false once the engine or the action is gone.
async fn fire(runner: &Weak<Runner>, entry: &Weak<ActionEntry>) -> bool {
    let (Some(runner), Some(entry)) = (runner.upgrade(), entry.upgrade()) else {
        return false;
    };
    if !entry.is_paused() {
        runner
            .execute(&entry, Trigger::Schedule, None, new_run_id())
            .await;
    }
    true
}
