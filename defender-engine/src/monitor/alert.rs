//! Alert threshold and alert timeout: which matches notify.

use chrono::{DateTime, Duration, Utc};
use defender_core::Clock;
use defender_core::{AlertThreshold, MonitorDefinition};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Decides, per monitor and per matching transaction, whether to notify.
///
/// - **Alert threshold** (`amount` within `windowSeconds`): every match is counted. A match
///   notifies only when at least `amount` matches (itself included) happened within the last
///   `windowSeconds`, so once the threshold is reached, notifications keep firing for each
///   match while the count in the window ending at that match stays at or above `amount`.
/// - **Alert timeout** (`alertTimeoutMs`): after a notification, no other notification for that
///   monitor until the timeout has passed. Suppressed matches still count for the threshold.
///
/// Time comes from the [`Clock`], so tests move it by hand with a
/// [`ManualClock`](defender_core::ManualClock). State is in memory, per monitor id.
///
/// ```
/// use defender_engine::monitor::AlertGate;
/// use defender_core::{AlertThreshold, ManualClock};
/// use std::sync::Arc;
///
/// let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
/// let gate = AlertGate::new(clock.clone());
/// let twice_a_minute = Some(AlertThreshold { amount: 2, window_seconds: 60 });
/// assert!(!gate.admit("m", twice_a_minute, None));
/// clock.advance(chrono::Duration::seconds(30));
/// assert!(gate.admit("m", twice_a_minute, None));
/// ```
#[derive(Debug)]
pub struct AlertGate {
    clock: Arc<dyn Clock>,
    state: Mutex<HashMap<String, GateState>>,
}

#[derive(Debug, Default)]
struct GateState {
    /// Times of recent matches, oldest first; at most `amount` are kept.
    recent: VecDeque<DateTime<Utc>>,
    last_notified: Option<DateTime<Utc>>,
}

impl AlertGate {
    /// A gate reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        AlertGate {
            clock,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Records a match of `monitor` now and says whether it notifies.
    pub fn admit(
        &self,
        monitor: &str,
        threshold: Option<AlertThreshold>,
        timeout_ms: Option<u64>,
    ) -> bool {
        let now = self.clock.now();
        let mut all = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = all.entry(monitor.to_string()).or_default();
        if let Some(t) = threshold.filter(|t| t.amount > 1) {
            let window = Duration::seconds(i64::try_from(t.window_seconds).unwrap_or(i64::MAX));
            st.recent.push_back(now);
            let keep = t.amount as usize;
            while st.recent.len() > keep {
                st.recent.pop_front();
            }
            // Matches older than the window no longer count.
            while st
                .recent
                .front()
                .is_some_and(|first| now.signed_duration_since(*first) >= window)
            {
                st.recent.pop_front();
            }
            if st.recent.len() < keep {
                return false;
            }
        }
        if let (Some(ms), Some(last)) = (timeout_ms.filter(|ms| *ms > 0), st.last_notified) {
            let timeout = Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
            if now.signed_duration_since(last) < timeout {
                return false;
            }
        }
        st.last_notified = Some(now);
        true
    }

    /// [`AlertGate::admit`] with the definition's threshold and timeout.
    pub fn admit_def(&self, monitor: &str, def: &MonitorDefinition) -> bool {
        self.admit(monitor, def.alert_threshold, def.alert_timeout_ms)
    }

    /// Forgets a monitor's history (when it is removed or redefined).
    pub fn forget(&self, monitor: &str) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(monitor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_core::ManualClock;

    /// One step: seconds since the previous step, then whether that match notifies.
    type Steps = &'static [(i64, bool)];

    /// Threshold `(amount, window)`, timeout in ms, steps.
    type Case = (Option<(u32, u64)>, Option<u64>, Steps);

    fn run(threshold: Option<(u32, u64)>, timeout_ms: Option<u64>, steps: Steps) {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let gate = AlertGate::new(clock.clone());
        let threshold = threshold.map(|(amount, window_seconds)| AlertThreshold {
            amount,
            window_seconds,
        });
        for (i, (dt, expect)) in steps.iter().enumerate() {
            clock.advance(Duration::seconds(*dt));
            assert_eq!(
                gate.admit("m", threshold, timeout_ms),
                *expect,
                "step {i} with {threshold:?} {timeout_ms:?}"
            );
        }
    }

    #[test]
    fn table() {
        let cases: &[Case] = &[
            // No limits: every match notifies.
            (None, None, &[(0, true), (0, true), (1, true)]),
            // Amount 1 is no threshold.
            (Some((1, 60)), None, &[(0, true), (100, true)]),
            // 3 within 60 s: fires from the third, keeps firing while the window holds 3.
            (
                Some((3, 60)),
                None,
                &[
                    (0, false),
                    (10, false),
                    (10, true),
                    (10, true),
                    // 70 s later: the window before it holds only this one.
                    (70, false),
                    (1, false),
                    (1, true),
                ],
            ),
            // A match exactly `window` seconds after another no longer counts it.
            (Some((2, 60)), None, &[(0, false), (60, false), (59, true)]),
            // Timeout: at most one notification per 100 s.
            (
                None,
                Some(100_000),
                &[(0, true), (50, false), (49, false), (1, true), (99, false)],
            ),
            // Threshold and timeout together; suppressed matches still count.
            (
                Some((2, 60)),
                Some(30_000),
                &[(0, false), (1, true), (1, false), (1, false), (30, true)],
            ),
            // Timeout 0 means none.
            (None, Some(0), &[(0, true), (0, true)]),
        ];
        for (threshold, timeout, steps) in cases {
            run(*threshold, *timeout, steps);
        }
    }

    #[test]
    fn monitors_are_independent_and_forgettable() {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let gate = AlertGate::new(clock);
        let t = Some(AlertThreshold {
            amount: 2,
            window_seconds: 60,
        });
        assert!(!gate.admit("a", t, None));
        assert!(!gate.admit("b", t, None));
        assert!(gate.admit("a", t, None));
        gate.forget("a");
        assert!(!gate.admit("a", t, None));
    }
}
