//! The retry policy every channel shares: bounded attempts, exponential backoff with jitter,
//! `Retry-After` on 429, a timeout per attempt and an overall deadline.

use defender_core::NotifyError;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How a channel retries a failed delivery.
///
/// A delivery is tried at most [`max_attempts`](Self::max_attempts) times. After a transient
/// failure (a connection error, a timed-out attempt, HTTP 408, 429 or 5xx, an SMTP 4xx reply) the
/// channel waits and tries again: the wait is the server's `Retry-After` when it sent one with a
/// 429, and otherwise `initial_backoff * 2^(attempt-1)`, capped at `max_backoff`, with "equal
/// jitter" (a random point between half the delay and the whole of it). A permanent failure (any
/// other HTTP 4xx, an SMTP 5xx reply, a message the server rejects) is not retried.
///
/// Each attempt is cut off after `attempt_timeout`, and the whole delivery after `deadline`: a wait
/// that would end past the deadline (a long `Retry-After`, say) is not started, the delivery fails
/// at once with [`NotifyError::Delivery`] saying why. So `send` never holds its caller longer than
/// `deadline` (plus scheduling noise).
///
/// Serialized in camelCase with durations in milliseconds; every field has a default:
/// ```
/// use defender_notify::RetryPolicy;
/// let p: RetryPolicy = serde_json::from_str(r#"{ "maxAttempts": 2, "deadlineMs": 5000 }"#).unwrap();
/// assert_eq!(p.max_attempts, 2);
/// assert_eq!(p.attempt_timeout_ms, RetryPolicy::default().attempt_timeout_ms);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetryPolicy {
    /// Most attempts, the first included (at least 1 is always made). Default 4.
    pub max_attempts: u32,
    /// Backoff before the second attempt, in ms. Default 200.
    pub initial_backoff_ms: u64,
    /// Longest backoff between two attempts, in ms. Default 5,000.
    pub max_backoff_ms: u64,
    /// Time allowed to one attempt, in ms. Default 10,000.
    pub attempt_timeout_ms: u64,
    /// Time allowed to the whole delivery, retries and waits included, in ms. Default 30,000.
    pub deadline_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff_ms: 200,
            max_backoff_ms: 5_000,
            attempt_timeout_ms: 10_000,
            deadline_ms: 30_000,
        }
    }
}

/// Why one attempt failed, as a channel tells [`RetryPolicy::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptError {
    /// Worth another try, after `retry_after` when the server said so.
    Transient {
        /// What happened.
        message: String,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Trying again would fail the same way.
    Permanent(String),
}

impl AttemptError {
    /// A transient failure with no server hint.
    pub fn transient(message: impl Into<String>) -> Self {
        AttemptError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }
}

impl RetryPolicy {
    /// A policy that tries `max_attempts` times with the given timeouts and the default backoff.
    pub fn new(max_attempts: u32, attempt_timeout: Duration, deadline: Duration) -> Self {
        RetryPolicy {
            max_attempts,
            attempt_timeout_ms: duration_ms(attempt_timeout),
            deadline_ms: duration_ms(deadline),
            ..RetryPolicy::default()
        }
    }

    /// Sets the backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff_ms = duration_ms(initial);
        self.max_backoff_ms = duration_ms(max);
        self
    }

    /// Time allowed to one attempt.
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms.max(1))
    }

    /// Time allowed to the whole delivery.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms.max(1))
    }

    /// The backoff after failed attempt number `attempt` (1-based), jitter included.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        let full = self
            .initial_backoff_ms
            .saturating_mul(1u64 << shift)
            .min(self.max_backoff_ms);
        let half = full / 2;
        Duration::from_millis(half + fastrand::u64(0..=full - half))
    }

    /// Runs `op` (given the 1-based attempt number) until it succeeds, fails permanently, or the
    /// attempts or the deadline run out. `channel` names the channel in the error.
    pub async fn run<T, F, Fut>(&self, channel: &str, mut op: F) -> Result<T, NotifyError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let started = Instant::now();
        let deadline = started + self.deadline();
        let max_attempts = self.max_attempts.max(1);
        let mut attempts = 0u32;
        let mut last = String::from("no attempt was made");
        let fail = |attempts: u32, message: String| NotifyError::Delivery {
            channel: channel.to_owned(),
            attempts,
            message,
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(fail(
                    attempts,
                    format!("{last}; deadline of {:?} reached", self.deadline()),
                ));
            }
            attempts += 1;
            let budget = self.attempt_timeout().min(deadline - now);
            let wait = match tokio::time::timeout(budget, op(attempts)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(AttemptError::Permanent(message))) => return Err(fail(attempts, message)),
                Ok(Err(AttemptError::Transient {
                    message,
                    retry_after,
                })) => {
                    last = message;
                    retry_after.unwrap_or_else(|| self.backoff(attempts))
                }
                Err(_) => {
                    last = format!("attempt {attempts} timed out after {budget:?}");
                    self.backoff(attempts)
                }
            };
            tracing::debug!(channel, attempts, error = %last, ?wait, "notification attempt failed");
            if attempts >= max_attempts {
                return Err(fail(attempts, last));
            }
            if Instant::now() + wait >= deadline {
                return Err(fail(
                    attempts,
                    format!(
                        "{last}; waiting {wait:?} for a retry would pass the deadline of {:?}",
                        self.deadline()
                    ),
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(1e9)));
        }
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..50 {
            let b1 = p.backoff(1).as_millis();
            assert!((50..=100).contains(&b1), "{b1}");
            let b3 = p.backoff(3).as_millis();
            assert!((200..=400).contains(&b3), "{b3}");
            let b10 = p.backoff(10).as_millis();
            assert!((500..=1000).contains(&b10), "{b10}");
        }
        assert!(p.backoff(u32::MAX) <= Duration::from_millis(1000));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::default();
        let r: Result<(), _> = p
            .run("test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(AttemptError::Permanent("400 bad request".into())) }
            })
            .await;
        assert!(matches!(r, Err(NotifyError::Delivery { attempts: 1, .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn transient_failures_use_every_attempt() {
        let p = RetryPolicy::new(3, Duration::from_secs(1), Duration::from_secs(10))
            .with_backoff(Duration::from_millis(1), Duration::from_millis(2));
        let r: Result<(), _> = p
            .run("test", |n| async move {
                Err(AttemptError::transient(format!("boom {n}")))
            })
            .await;
        match r {
            Err(NotifyError::Delivery {
                attempts,
                message,
                channel,
            }) => {
                assert_eq!(attempts, 3);
                assert_eq!(channel, "test");
                assert_eq!(message, "boom 3");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_retry_after_past_the_deadline_stops_at_once() {
        let p = RetryPolicy::new(5, Duration::from_secs(1), Duration::from_secs(2));
        let r: Result<(), _> = p
            .run("test", |_| async {
                Err(AttemptError::Transient {
                    message: "429".into(),
                    retry_after: Some(Duration::from_secs(3600)),
                })
            })
            .await;
        match r {
            Err(NotifyError::Delivery {
                attempts, message, ..
            }) => {
                assert_eq!(attempts, 1);
                assert!(message.contains("deadline"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn hanging_attempts_are_cut_by_the_attempt_timeout_and_the_deadline() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::new(10, Duration::from_millis(400), Duration::from_millis(1000))
            .with_backoff(Duration::from_millis(1), Duration::from_millis(1));
        let r: Result<(), _> = p
            .run("test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                std::future::pending()
            })
            .await;
        // 400 ms + 400 ms + the ~200 ms left: three attempts, then the deadline.
        assert!(
            matches!(r, Err(NotifyError::Delivery { attempts: 3, .. })),
            "{r:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
