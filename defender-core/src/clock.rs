//! Time, injectable so that expiry, thresholds and timeouts can be tested without waiting.

use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::Mutex;

/// A source of the current time.
///
/// Everything in this workspace that depends on wall-clock time (key-value expiry, alert
/// thresholds and timeouts, transaction deadlines) asks a `Clock`, so tests can move time.
pub trait Clock: Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// The current time in whole milliseconds since the Unix epoch (negative before it).
    ///
    /// The same instant as [`Clock::now`]; hot paths that only compare timestamps (every
    /// key-value read checks its entry's expiry) call this one, which a clock can answer
    /// without building a calendar date.
    fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn now_millis(&self) -> i64 {
        let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => millis(after),
            Err(before) => -millis(before.duration()),
        }
    }
}

/// A clock that moves only when told to.
///
/// ```
/// use defender_core::{Clock, ManualClock};
/// let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
/// clock.advance(chrono::Duration::seconds(90));
/// assert_eq!(clock.now().to_rfc3339(), "2026-01-01T00:01:30+00:00");
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new(Utc::now())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn now_millis(&self) -> i64 {
        (**self).now_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_millis_is_now_in_milliseconds() {
        let before = Utc::now().timestamp_millis();
        let ms = SystemClock.now_millis();
        let after = Utc::now().timestamp_millis();
        assert!(before <= ms && ms <= after, "{before} <= {ms} <= {after}");
        for at in ["2026-11-23T14:45:31.123Z", "1969-12-31T23:59:59.250Z"] {
            let at: DateTime<Utc> = at.parse().unwrap();
            let manual = std::sync::Arc::new(ManualClock::new(at));
            assert_eq!(manual.now_millis(), at.timestamp_millis());
        }
        assert_eq!(
            ManualClock::new("1969-12-31T23:59:59.250Z".parse().unwrap()).now_millis(),
            -750
        );
    }
}
