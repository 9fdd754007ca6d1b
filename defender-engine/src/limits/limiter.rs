//! The limiter: admits a run or says which limit throttles it, counting runs in progress in the
//! process and quota windows in the engine state (see the parent module).

use super::{decide, ExecutionLimits, Quota, Refusal, Throttle};
use chrono::{DateTime, Utc};
use defender_core::state::{decode_counter, encode_counter, Space, StateStore};
use std::sync::Mutex;

/// Where quota counters live in the engine state.
const QUOTAS: Space = Space::new("run-quotas");

/// How many old windows of one scope and period are removed when a new window starts (there
/// is at most one after a normal run; more only when windows passed with no run).
const OLD_WINDOWS_REMOVED: usize = 16;

/// One action's limits and its runs in progress.
#[derive(Debug, Default)]
pub(crate) struct ActionLimits {
    limits: ExecutionLimits,
    /// Changed only under the engine's [`Limiter::running`] lock.
    running: Mutex<u32>,
}

impl ActionLimits {
    pub(crate) fn new(limits: ExecutionLimits) -> Self {
        ActionLimits {
            limits,
            running: Mutex::new(0),
        }
    }
}

/// The engine's limits and its runs in progress; admits runs (see the [limits](super) module).
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    limits: ExecutionLimits,
    running: Mutex<u32>,
}

/// A run admitted: its place among the runs in progress, given back when dropped.
#[derive(Debug)]
pub(crate) struct Admitted<'a> {
    engine: &'a Mutex<u32>,
    action: &'a Mutex<u32>,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        let mut action = self.action.lock().unwrap_or_else(|e| e.into_inner());
        *engine = engine.saturating_sub(1);
        *action = action.saturating_sub(1);
    }
}

/// A quota counter: its key, and the quota and scope it counts.
struct Counter {
    key: String,
    prefix: String,
    quota: Quota,
    action: Option<String>,
}

impl Limiter {
    pub(crate) fn new(limits: ExecutionLimits) -> Self {
        Limiter {
            limits,
            running: Mutex::new(0),
        }
    }

    /// Admits one run of action `action_id` at `now`, or says which limit throttles it. A
    /// run throttled is counted in no quota. When the engine state fails, the run is
    /// admitted (a quota is a cost bound, not worth stopping every action for).
    pub(crate) async fn admit<'a>(
        &'a self,
        state: &dyn StateStore,
        action_id: &str,
        action: &'a ActionLimits,
        now: DateTime<Utc>,
    ) -> Result<Admitted<'a>, Throttle> {
        let admitted = self.take_place(action_id, action)?;
        let counters = self.counters(action_id, &action.limits, now);
        if counters.is_empty() {
            return Ok(admitted);
        }
        let mut counted = Vec::with_capacity(counters.len());
        for counter in &counters {
            match state.increment(QUOTAS, &counter.key, 1).await {
                Ok(n) => {
                    if n == 1 {
                        remove_old_windows(state, counter).await;
                    }
                    counted.push((counter, n));
                }
                Err(e) => {
                    tracing::warn!(error = %e, key = counter.key, "quota not counted");
                }
            }
        }
        let refused = counted.iter().find(|(c, n)| {
            let limits = ExecutionLimits {
                max_concurrency: None,
                quotas: vec![c.quota],
            };
            decide(&limits, 0, &[*n]).is_err()
        });
        let Some((counter, _)) = refused else {
            return Ok(admitted);
        };
        let throttle = Throttle::Quota {
            action: counter.action.clone(),
            quota: counter.quota,
        };
        // Not started: counted in no window.
        for (c, _) in &counted {
            give_back(state, &c.key).await;
        }
        Err(throttle)
    }

    /// Takes a place among the runs in progress of the engine and of the action, both or none.
    fn take_place<'a>(
        &'a self,
        action_id: &str,
        action: &'a ActionLimits,
    ) -> Result<Admitted<'a>, Throttle> {
        let mut engine = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut running = action.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(Refusal::Concurrency(limit)) = decide(&action.limits, *running, &[]) {
            return Err(Throttle::Concurrency {
                action: Some(action_id.to_owned()),
                limit,
            });
        }
        if let Err(Refusal::Concurrency(limit)) = decide(&self.limits, *engine, &[]) {
            return Err(Throttle::Concurrency {
                action: None,
                limit,
            });
        }
        *engine = engine.saturating_add(1);
        *running = running.saturating_add(1);
        Ok(Admitted {
            engine: &self.running,
            action: &action.running,
        })
    }

    /// The counters a run of `action_id` at `now` counts in: the action's quotas, then the
    /// engine's.
    fn counters(
        &self,
        action_id: &str,
        limits: &ExecutionLimits,
        now: DateTime<Utc>,
    ) -> Vec<Counter> {
        // The id's length first, so that no action's prefix is another's.
        let action_scope = format!("action/{}:{action_id}", action_id.len());
        let of = |scope: &str, quota: &Quota, action: Option<String>| {
            let prefix = format!("{scope}/{}/", quota.period);
            Counter {
                key: format!("{prefix}{}", quota.period.window(now)),
                prefix,
                quota: *quota,
                action,
            }
        };
        limits
            .quotas
            .iter()
            .map(|q| of(&action_scope, q, Some(action_id.to_owned())))
            .chain(self.limits.quotas.iter().map(|q| of("engine", q, None)))
            .collect()
    }
}

/// Removes the counters of windows before `counter`'s (best effort: they are only garbage).
async fn remove_old_windows(state: &dyn StateStore, counter: &Counter) {
    let old = match state
        .scan_prefix(QUOTAS, &counter.prefix, None, OLD_WINDOWS_REMOVED + 1)
        .await
    {
        Ok(entries) => entries,
        Err(e) => {
            tracing::debug!(error = %e, "old quota windows not listed");
            return;
        }
    };
    for (key, _) in old.into_iter().filter(|(k, _)| *k != counter.key) {
        if let Err(e) = state.delete(QUOTAS, &key).await {
            tracing::debug!(error = %e, key, "old quota window not removed");
        }
    }
}

/// Takes back one count of a run that did not start (the state has no decrement: a
/// compare-and-swap from the value read, tried again when another process got in between).
async fn give_back(state: &dyn StateStore, key: &str) {
    for _ in 0..8 {
        let current = match state.get(QUOTAS, key).await {
            Ok(Some(v)) => v,
            // Gone (a new window removed it): nothing to give back.
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, key, "quota count not given back");
                return;
            }
        };
        let Some(n) = decode_counter(&current).filter(|n| *n > 0) else {
            return;
        };
        match state
            .compare_and_swap(QUOTAS, key, Some(current), Some(encode_counter(n - 1)))
            .await
        {
            Ok(true) => return,
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, key, "quota count not given back");
                return;
            }
        }
    }
    tracing::warn!(key, "quota count not given back: the counter kept changing");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::tests::limits;
    use crate::limits::QuotaPeriod;
    use defender_core::state::MemoryStateStore;

    #[tokio::test]
    async fn quotas_count_in_the_state_and_throttled_runs_are_not_counted() {
        let state = MemoryStateStore::default();
        let engine = Limiter::new(limits(None, &[(3, QuotaPeriod::Minute)]));
        let action = ActionLimits::new(limits(None, &[(2, QuotaPeriod::Minute)]));
        let t0: DateTime<Utc> = "2026-11-29T16:05:00Z".parse().unwrap();
        let t1: DateTime<Utc> = "2026-11-29T16:06:00Z".parse().unwrap();
        let other = ActionLimits::default();
        for _ in 0..2 {
            assert!(engine.admit(&state, "a", &action, t0).await.is_ok());
        }
        // The action's quota refuses the third run, which is then counted in no window.
        match engine.admit(&state, "a", &action, t0).await {
            Err(Throttle::Quota {
                action: Some(id),
                quota,
            }) => {
                assert_eq!((id.as_str(), quota.runs), ("a", 2));
            }
            other => panic!("expected the action's quota, got {other:?}"),
        }
        // The engine's quota (3) still has one run left, which another action takes.
        assert!(engine.admit(&state, "b", &other, t0).await.is_ok());
        assert!(matches!(
            engine.admit(&state, "b", &other, t0).await,
            Err(Throttle::Quota { action: None, .. })
        ));
        // The next minute is a new window; the old windows' counters are removed.
        assert!(engine.admit(&state, "a", &action, t1).await.is_ok());
        let keys = state.scan_prefix(QUOTAS, "", None, 100).await.unwrap();
        let keys: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "action/1:a/minute/2026-11-29T16:06",
                "engine/minute/2026-11-29T16:06"
            ]
        );
    }

    #[test]
    fn places_are_given_back_when_runs_end() {
        let engine = Limiter::new(limits(Some(3), &[]));
        let action = ActionLimits::new(limits(Some(1), &[]));
        let first = engine.take_place("a", &action).unwrap();
        assert_eq!(
            engine.take_place("a", &action).err(),
            Some(Throttle::Concurrency {
                action: Some("a".into()),
                limit: 1
            })
        );
        let other = ActionLimits::default();
        let _b = engine.take_place("b", &other).unwrap();
        let _c = engine.take_place("c", &other).unwrap();
        assert_eq!(
            engine.take_place("d", &other).err(),
            Some(Throttle::Concurrency {
                action: None,
                limit: 3
            })
        );
        drop(first);
        assert!(engine.take_place("a", &action).is_ok());
    }
}
