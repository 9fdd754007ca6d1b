//! Execution limits as Defender had them: how many runs of an action may be in progress at
//! once (its concurrency) and how many may start per minute, hour, day or month (its quotas).
//! A run beyond a limit is not started: it is recorded with Defender's run status `throttled`,
//! and a webhook caller gets Defender's answer (402 `Quota of N for autotask runs exceeded`
//! for a quota, 429 for concurrency).
//!
//! Limits apply per action ([`ActionSpec::limits`](crate::ActionSpec::limits)) and per engine
//! ([`EngineBuilder::execution_limits`](crate::EngineBuilder::execution_limits): the runs of
//! all its actions together, as Defender's plan quota was per account). Both default to none.
//!
//! Quotas are counted in the engine state ([`StateStore::increment`] on one key per scope,
//! period and window), so several processes sharing one state store share the quota. Windows
//! are fixed calendar periods in UTC (a minute, an hour, a day, a month) and reset when the
//! next one starts. Concurrency is counted in the process: with several processes, each one
//! allows as many runs in progress.
//!
//! What a throttled run means to each trigger: a schedule's tick is skipped (the next one
//! tries again); a webhook caller gets 402 or 429; a manual run (or `runAction`) gets the
//! throttled record; a monitor's linked action is retried by its delivery's backoff (Defender
//! dropped it: "the event can be considered lost"); a custom filter keeps no match, as after
//! any filter run that did not succeed.
//!
//! The decision itself is [`decide`], a pure function; [`Limiter::admit`] does the I/O around
//! it.
//!
//! [`StateStore::increment`]: defender_core::state::StateStore::increment

mod limiter;

pub(crate) use limiter::{ActionLimits, Limiter};

use chrono::{DateTime, Utc};
use defender_core::RunRecord;
use serde_json::{json, Value};
use std::fmt;

/// A period over which a quota counts runs: a fixed calendar window in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaPeriod {
    /// A calendar minute.
    Minute,
    /// A calendar hour.
    Hour,
    /// A calendar day.
    Day,
    /// A calendar month.
    Month,
}

impl QuotaPeriod {
    /// The period's name (`minute`, `hour`, `day`, `month`).
    pub fn name(self) -> &'static str {
        match self {
            QuotaPeriod::Minute => "minute",
            QuotaPeriod::Hour => "hour",
            QuotaPeriod::Day => "day",
            QuotaPeriod::Month => "month",
        }
    }

    /// The window holding `at`, as text that names it (`2026-11-29T16:05` for a minute).
    fn window(self, at: DateTime<Utc>) -> String {
        let format = match self {
            QuotaPeriod::Minute => "%Y-%m-%dT%H:%M",
            QuotaPeriod::Hour => "%Y-%m-%dT%H",
            QuotaPeriod::Day => "%Y-%m-%d",
            QuotaPeriod::Month => "%Y-%m",
        };
        at.format(format).to_string()
    }
}

impl fmt::Display for QuotaPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// At most `runs` runs started per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Runs allowed per window.
    pub runs: u64,
    /// The window.
    pub period: QuotaPeriod,
}

/// How often an action (or all of an engine's actions together) may run. The default is no
/// limit.
///
/// ```
/// use defender_engine::{ExecutionLimits, QuotaPeriod};
/// // At most 2 runs at once and 120 runs an hour, as Defender's free plan allowed.
/// let limits = ExecutionLimits::default()
///     .max_concurrency(2)
///     .quota(120, QuotaPeriod::Hour);
/// assert!(!limits.is_unlimited());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionLimits {
    /// Most runs in progress at once (`None`: no limit; 0: every run is throttled).
    pub max_concurrency: Option<u32>,
    /// Quotas, all of which apply.
    pub quotas: Vec<Quota>,
}

impl ExecutionLimits {
    /// Sets the most runs in progress at once.
    pub fn max_concurrency(mut self, runs: u32) -> Self {
        self.max_concurrency = Some(runs);
        self
    }

    /// Adds a quota of `runs` per `period`.
    pub fn quota(mut self, runs: u64, period: QuotaPeriod) -> Self {
        self.quotas.push(Quota { runs, period });
        self
    }

    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_concurrency.is_none() && self.quotas.is_empty()
    }
}

/// Why a run was throttled: which limit of which scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// As many runs as allowed were in progress.
    Concurrency {
        /// The action, or `None` for the engine's limit.
        action: Option<String>,
        /// The limit.
        limit: u32,
    },
    /// The quota's window was used up.
    Quota {
        /// The action, or `None` for the engine's quota.
        action: Option<String>,
        /// The quota.
        quota: Quota,
    },
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = |action: &Option<String>| match action {
            Some(id) => format!("action `{id}`"),
            None => "all actions of the engine".to_owned(),
        };
        match self {
            Throttle::Concurrency { action, limit } => write!(
                f,
                "Concurrency limit of {limit} runs in progress exceeded ({})",
                scope(action)
            ),
            // Defender's message, then which quota.
            Throttle::Quota { action, quota } => write!(
                f,
                "Quota of {} for autotask runs exceeded ({} runs per {} of {})",
                quota.runs,
                quota.runs,
                quota.period,
                scope(action)
            ),
        }
    }
}

impl Throttle {
    /// The HTTP status a webhook caller gets: Defender answered 402 to a run over its quota;
    /// 429 (Too Many Requests) for one over its concurrency.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            Throttle::Concurrency { .. } => 429,
            Throttle::Quota { .. } => 402,
        }
    }

    /// The webhook answer's body: Defender's `{ message }` (for a quota, `Quota of N for
    /// autotask runs exceeded`), with the throttled run's id and status.
    pub(crate) fn webhook_body(&self, record: &RunRecord) -> Value {
        let message = match self {
            Throttle::Quota { quota, .. } => {
                format!("Quota of {} for autotask runs exceeded", quota.runs)
            }
            Throttle::Concurrency { .. } => self.to_string(),
        };
        json!({
            "message": message,
            "autotaskRunId": record.action_run_id,
            "autotaskId": record.action_id,
            "trigger": "webhook",
            "status": "throttled",
            "createdAt": defender_core::wire::iso8601::format(&record.created_at),
        })
    }
}

impl crate::EngineBuilder {
    /// Limits on the runs of all the engine's actions together: most runs in progress at once,
    /// and quotas (as Defender's plan quota, per account). Runs beyond them are recorded as
    /// `throttled`. Each action may have its own limits too
    /// ([`ActionSpec::limits`](crate::ActionSpec::limits)). Default: no limit.
    pub fn execution_limits(mut self, limits: ExecutionLimits) -> Self {
        self.execution_limits = limits;
        self
    }
}

/// Which limit of one scope refuses a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The concurrency limit.
    Concurrency(u32),
    /// This quota.
    Quota(Quota),
}

/// What one scope's limits say of one more run. `running`: the runs in progress besides this
/// one. `counted`: each quota's count in its current window with this run counted, in the
/// order of `limits.quotas` (empty: quotas not counted yet, only concurrency is decided).
pub(crate) fn decide(
    limits: &ExecutionLimits,
    running: u32,
    counted: &[u64],
) -> Result<(), Refusal> {
    if let Some(max) = limits.max_concurrency {
        if running >= max {
            return Err(Refusal::Concurrency(max));
        }
    }
    match limits
        .quotas
        .iter()
        .zip(counted)
        .find(|(quota, count)| **count > quota.runs)
    {
        Some((quota, _)) => Err(Refusal::Quota(*quota)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Limits of at most `max` runs in progress and these quotas.
    pub(super) fn limits(max: Option<u32>, quotas: &[(u64, QuotaPeriod)]) -> ExecutionLimits {
        ExecutionLimits {
            max_concurrency: max,
            quotas: quotas
                .iter()
                .map(|&(runs, period)| Quota { runs, period })
                .collect(),
        }
    }

    #[test]
    fn decisions() {
        use QuotaPeriod::*;
        let q = |runs, period| Quota { runs, period };
        // (max concurrency, quotas, running, counted, decision)
        type Case = (
            Option<u32>,
            Vec<(u64, QuotaPeriod)>,
            u32,
            Vec<u64>,
            Result<(), Refusal>,
        );
        let cases: Vec<Case> = vec![
            // No limit: always.
            (None, vec![], 0, vec![], Ok(())),
            (None, vec![], u32::MAX, vec![], Ok(())),
            // Concurrency: strictly fewer in progress than the limit.
            (Some(2), vec![], 1, vec![], Ok(())),
            (Some(2), vec![], 2, vec![], Err(Refusal::Concurrency(2))),
            (Some(2), vec![], 7, vec![], Err(Refusal::Concurrency(2))),
            // A limit of 0 throttles every run.
            (Some(0), vec![], 0, vec![], Err(Refusal::Concurrency(0))),
            // Quotas: the count with this run may reach the quota, not pass it.
            (None, vec![(3, Hour)], 0, vec![3], Ok(())),
            (
                None,
                vec![(3, Hour)],
                0,
                vec![4],
                Err(Refusal::Quota(q(3, Hour))),
            ),
            // A quota of 0 throttles every run.
            (
                None,
                vec![(0, Day)],
                0,
                vec![1],
                Err(Refusal::Quota(q(0, Day))),
            ),
            // Quotas not counted yet: only concurrency decides.
            (None, vec![(0, Day)], 0, vec![], Ok(())),
            // The first quota passed names the refusal.
            (
                None,
                vec![(10, Minute), (5, Month)],
                0,
                vec![11, 6],
                Err(Refusal::Quota(q(10, Minute))),
            ),
            (
                None,
                vec![(10, Minute), (5, Month)],
                0,
                vec![2, 6],
                Err(Refusal::Quota(q(5, Month))),
            ),
            (None, vec![(10, Minute), (5, Month)], 0, vec![2, 5], Ok(())),
            // Concurrency is decided before quotas.
            (
                Some(1),
                vec![(1, Hour)],
                1,
                vec![9],
                Err(Refusal::Concurrency(1)),
            ),
        ];
        for (max, quotas, running, counted, want) in cases {
            let l = limits(max, &quotas);
            assert_eq!(
                decide(&l, running, &counted),
                want,
                "{max:?} {quotas:?} running {running} counted {counted:?}"
            );
        }
    }

    #[test]
    fn windows_are_calendar_periods_in_utc() {
        let at: DateTime<Utc> = "2026-11-29T16:05:59Z".parse().unwrap();
        let cases = [
            (QuotaPeriod::Minute, "2026-11-29T16:05"),
            (QuotaPeriod::Hour, "2026-11-29T16"),
            (QuotaPeriod::Day, "2026-11-29"),
            (QuotaPeriod::Month, "2026-11"),
        ];
        for (period, want) in cases {
            assert_eq!(period.window(at), want, "{period}");
        }
    }
}
