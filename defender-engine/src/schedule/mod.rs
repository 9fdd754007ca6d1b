//! Scheduled runs: by interval, measured start to start, or by cron expression, keeping their
//! phase across restarts in the engine state ([`Space::SCHEDULES`](defender_core::state::Space::SCHEDULES)).
//!
//! The decisions are pure functions of the stored tick, the time and the policy
//! ([`plan_interval`], [`plan_cron`]), tested by tables; the task (module `task`, [`spawn`])
//! only holds the schedule's lease, reads and writes the state, sleeps and fires.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// When a scheduled action runs.
///
/// Runs of one schedule never overlap. An interval is measured from one run's start to the
/// next one's, as in Defender; when a run outlasts the interval, the starts it overlapped are
/// skipped and the next run starts at the following tick of the original cadence. A cron
/// schedule likewise skips occurrences that fall while its previous run is still going.
///
/// The phase survives restarts: each schedule's last tick is kept in the engine state, and a
/// new engine on the same state continues the cadence instead of starting it over (so an
/// interval longer than the time between two restarts still fires). Ticks that fell while no
/// engine ran are handled by the engine's [`MissedRuns`] policy.
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

    /// The run id of action `action_id`'s run at `tick` on this schedule: the same in every
    /// engine and for every attempt, so a tick run again (its engine died during the run,
    /// see [`Cluster`](crate::Cluster)) keeps its id, and a receiver can drop the repeat.
    pub fn run_id(&self, action_id: &str, tick: DateTime<Utc>) -> String {
        tick_run_id(&state_key(action_id, self), tick.timestamp_millis())
    }

    /// What the stored state of this schedule is for: a changed schedule starts a new phase.
    fn fingerprint(&self) -> String {
        match self {
            Schedule::Interval(d) => format!("interval:{}", d.as_millis()),
            Schedule::Cron(expr) => format!("cron:{expr}"),
        }
    }
}

/// What happens to the ticks of a schedule that fell while no engine ran (chosen per engine
/// with [`EngineBuilder::missed_runs`](crate::EngineBuilder::missed_runs)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedRuns {
    /// None of them runs: the schedule continues at its next tick.
    #[default]
    Skip,
    /// One run at start, however many ticks were missed, then the next tick as usual.
    CatchUpOnce,
}

fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron expression `{expr}`: {e}"))
}

/// A schedule's decision: run once now to catch up, then next at `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// One run now for the ticks missed (only with [`MissedRuns::CatchUpOnce`]).
    pub(crate) catch_up: bool,
    /// The next tick: the first one at or after now.
    pub(crate) next: DateTime<Utc>,
    /// The tick before `next` (or the anchor when none passed): the phase to store.
    pub(crate) last: DateTime<Utc>,
}

/// An interval schedule's plan from its last tick `anchor` (ticks are `anchor + k * period`,
/// `k >= 1`): the next tick is the first at or after `now`, and ticks before `now` were
/// missed. An anchor in the future (the clock went back) counts as now.
pub(crate) fn plan_interval(
    anchor: DateTime<Utc>,
    period: Duration,
    now: DateTime<Utc>,
    policy: MissedRuns,
) -> Plan {
    let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
    let anchor = anchor.min(now);
    let elapsed = now.signed_duration_since(anchor).num_milliseconds().max(0);
    // The first k >= 1 with anchor + k * period >= now; the k - 1 ticks before it are missed.
    let k = (elapsed / period_ms + i64::from(elapsed % period_ms != 0)).max(1);
    let at = |k: i64| {
        chrono::Duration::try_milliseconds(k.saturating_mul(period_ms))
            .and_then(|d| anchor.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    let next = at(k);
    Plan {
        catch_up: policy == MissedRuns::CatchUpOnce && k > 1 && next > now,
        next,
        last: if k > 1 { at(k - 1) } else { anchor },
    }
}

/// A cron schedule's plan from its last tick `anchor`: the next occurrence is the first at or
/// after `now`, and occurrences after the anchor and before `now` were missed. `None` when
/// the expression has no next occurrence.
pub(crate) fn plan_cron(
    cron: &croner::Cron,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: MissedRuns,
) -> Option<Plan> {
    let anchor = anchor.min(now);
    // The first occurrence at or after now and strictly after the anchor (whose occurrence
    // has run). croner works in whole seconds: an inclusive search from a time within a
    // second can return that second's start, before now, so the search steps on.
    let mut next = cron.find_next_occurrence(&now, true).ok()?;
    for _ in 0..4 {
        if next >= now && next > anchor {
            break;
        }
        next = cron.find_next_occurrence(&next, false).ok()?;
    }
    if next < now || next <= anchor {
        return None;
    }
    let first_after_anchor = cron.find_next_occurrence(&anchor, false).ok()?;
    let missed = first_after_anchor < now;
    Some(Plan {
        catch_up: policy == MissedRuns::CatchUpOnce && missed && next > now,
        next,
        last: if missed { now } else { anchor },
    })
}

/// A schedule's state in [`Space::SCHEDULES`](defender_core::state::Space::SCHEDULES).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleState {
    /// The schedule it belongs to ([`Schedule::fingerprint`]).
    pub(crate) schedule: String,
    /// The last tick (or the time the schedule started), in ms since the Unix epoch: the phase.
    pub(crate) last_tick_ms: i64,
    /// The next tick planned, in ms since the Unix epoch.
    pub(crate) next_tick_ms: i64,
    /// The tick whose run has started and not yet been recorded: a holder that finds one
    /// left by another (dead) holder runs it again, under the same run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) running_tick_ms: Option<i64>,
}

/// The key of an action's schedule in [`Space::SCHEDULES`](defender_core::state::Space::SCHEDULES): the JSON array `[action id,
/// schedule]`, so that no two pairs share a key.
pub(crate) fn state_key(action_id: &str, schedule: &Schedule) -> String {
    serde_json::to_string(&[action_id, &schedule.fingerprint()]).unwrap_or_default()
}

/// The run id of the run of schedule `key` at tick `tick_ms`: the same in every process and
/// for every attempt, so a tick run again after its holder died replaces its record.
pub(crate) fn tick_run_id(key: &str, tick_ms: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(b"schedule\0");
    digest.update(key.as_bytes());
    digest.update(tick_ms.to_be_bytes());
    let digest = digest.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

mod task;

pub(crate) use task::spawn;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        format!("2026-01-01T{s}Z").parse().unwrap()
    }

    #[test]
    fn interval_plans() {
        use MissedRuns::*;
        let hour = Duration::from_secs(3600);
        // (anchor, now, policy, catch_up, next, last)
        let cases = [
            // Restarted before the first tick: the phase is kept.
            ("00:00:00", "00:30:00", Skip, false, "01:00:00", "00:00:00"),
            (
                "00:00:00",
                "00:30:00",
                CatchUpOnce,
                false,
                "01:00:00",
                "00:00:00",
            ),
            // Just started: the first tick is one period away.
            ("00:00:00", "00:00:00", Skip, false, "01:00:00", "00:00:00"),
            // A tick exactly now is due, not missed.
            (
                "00:00:00",
                "01:00:00",
                CatchUpOnce,
                false,
                "01:00:00",
                "00:00:00",
            ),
            // Down across three ticks: none or one run, then the original cadence.
            ("00:00:00", "03:30:00", Skip, false, "04:00:00", "03:00:00"),
            (
                "00:00:00",
                "03:30:00",
                CatchUpOnce,
                true,
                "04:00:00",
                "03:00:00",
            ),
            // Down across one tick, back on the next one exactly: that one runs, no extra.
            (
                "00:00:00",
                "02:00:00",
                CatchUpOnce,
                false,
                "02:00:00",
                "01:00:00",
            ),
            // The clock went back before the anchor: counted from now.
            (
                "05:00:00",
                "04:00:00",
                CatchUpOnce,
                false,
                "05:00:00",
                "04:00:00",
            ),
        ];
        for (anchor, now, policy, catch_up, next, last) in cases {
            let plan = plan_interval(t(anchor), hour, t(now), policy);
            assert_eq!(
                plan,
                Plan {
                    catch_up,
                    next: t(next),
                    last: t(last)
                },
                "anchor {anchor}, now {now}, {policy:?}"
            );
        }
    }

    #[test]
    fn interval_plans_never_overflow() {
        let far = DateTime::<Utc>::MAX_UTC;
        let plan = plan_interval(t("00:00:00"), Duration::MAX, far, MissedRuns::CatchUpOnce);
        assert!(plan.next >= plan.last);
        let plan = plan_interval(
            t("00:00:00"),
            Duration::from_nanos(1),
            t("00:00:01"),
            MissedRuns::Skip,
        );
        assert_eq!(plan.next, t("00:00:01"));
    }

    #[test]
    fn cron_plans() {
        use MissedRuns::*;
        let hourly = parse_cron("0 * * * *").unwrap();
        // (anchor, now, policy, catch_up, next)
        let cases = [
            ("00:00:00", "00:30:00", Skip, false, "01:00:00"),
            ("00:00:00", "00:30:00", CatchUpOnce, false, "01:00:00"),
            ("00:00:00", "03:30:00", Skip, false, "04:00:00"),
            ("00:00:00", "03:30:00", CatchUpOnce, true, "04:00:00"),
            ("00:00:00", "01:00:00", CatchUpOnce, false, "01:00:00"),
        ];
        let every_second = parse_cron("* * * * * *").unwrap();
        // Within a second, and right on the anchor: never a time already past or run.
        let ms = |s: &str| -> DateTime<Utc> { format!("2026-01-01T{s}Z").parse().unwrap() };
        for (anchor, now, next) in [
            ("00:00:01.000", "00:00:01.003", "00:00:02.000"),
            ("00:00:01.000", "00:00:01.000", "00:00:02.000"),
            ("00:00:00.000", "00:00:01.000", "00:00:01.000"),
            ("00:00:00.500", "00:00:00.999", "00:00:01.000"),
        ] {
            let plan = plan_cron(&every_second, ms(anchor), ms(now), Skip).unwrap();
            assert_eq!(plan.next, ms(next), "anchor {anchor}, now {now}");
        }
        for (anchor, now, policy, catch_up, next) in cases {
            let plan = plan_cron(&hourly, t(anchor), t(now), policy).unwrap();
            assert_eq!(
                (plan.catch_up, plan.next),
                (catch_up, t(next)),
                "anchor {anchor}, now {now}, {policy:?}"
            );
        }
    }

    #[test]
    fn state_keys_are_unambiguous() {
        let a = state_key("a,b", &Schedule::Cron("x".into()));
        let b = state_key("a", &Schedule::Cron("b\",\"cron:x".into()));
        assert_ne!(a, b);
        assert_ne!(
            state_key("a", &Schedule::Interval(Duration::from_secs(1))),
            state_key("a", &Schedule::Interval(Duration::from_secs(2)))
        );
    }
}
