//! Alert threshold and alert timeout: which matches notify, with the state kept in the engine
//! state so that a restart neither forgets a timeout nor a threshold's count.

use chrono::{DateTime, Duration, Utc};
use defender_core::state::{Space, StateError, StateStore, StateStoreExt};
use defender_core::Clock;
use defender_core::{AlertThreshold, MonitorDefinition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

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
/// [`ManualClock`](defender_core::ManualClock). The decision is a pure function of a
/// monitor's state, the time and its settings; the state is per monitor id, in memory, and,
/// once a [`StateStore`] is attached ([`AlertGate::attach_store`]), loaded from
/// [`Space::ALERT_GATES`] by [`AlertGate::load`] and written back when it changes. Writes
/// never hold up [`AlertGate::admit`] (it is on the block path): a background task writes
/// the latest state of each changed monitor, and [`AlertGate::flush`] waits for it. State
/// kept for other settings (a changed threshold or timeout) is started over.
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
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Shared {
    states: Mutex<HashMap<String, GateState>>,
    store: OnceLock<Arc<dyn StateStore>>,
    /// Monitors whose state changed since it was last written.
    dirty: Mutex<BTreeSet<String>>,
    wake: Notify,
    /// Serialises writers, so the last write of a monitor is its latest state.
    writes: tokio::sync::Mutex<()>,
}

/// A monitor's threshold and timeout, as its state was built for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    threshold: Option<(u32, u64)>,
    timeout_ms: Option<u64>,
}

impl Settings {
    /// Whether these settings ever hold a match back: a threshold above 1 or a timeout above
    /// 0. A monitor without either notifies on every match and needs no state.
    fn gates(&self) -> bool {
        self.threshold.is_some_and(|(amount, _)| amount > 1)
            || self.timeout_ms.is_some_and(|ms| ms > 0)
    }
}

/// One monitor's state, as stored in [`Space::ALERT_GATES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GateState {
    settings: Settings,
    /// Times of recent matches, oldest first; at most `amount` are kept.
    recent: VecDeque<DateTime<Utc>>,
    last_notified: Option<DateTime<Utc>>,
}

/// What [`admit_at`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Admission {
    notify: bool,
    /// The state changed (and is to be written).
    changed: bool,
}

/// The gate's decision for one match at `now`: a pure function of the state, the time and the
/// settings, which updates the state.
fn admit_at(st: &mut GateState, now: DateTime<Utc>, settings: Settings) -> Admission {
    if st.settings != settings {
        *st = GateState {
            settings,
            ..GateState::default()
        };
    }
    let mut changed = false;
    if let Some((amount, window_seconds)) = settings.threshold.filter(|(amount, _)| *amount > 1) {
        let window = Duration::seconds(i64::try_from(window_seconds).unwrap_or(i64::MAX));
        st.recent.push_back(now);
        changed = true;
        let keep = amount as usize;
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
            return Admission {
                notify: false,
                changed,
            };
        }
    }
    if let (Some(ms), Some(last)) = (settings.timeout_ms.filter(|ms| *ms > 0), st.last_notified) {
        let timeout = Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
        if now.signed_duration_since(last) < timeout {
            return Admission {
                notify: false,
                changed,
            };
        }
    }
    st.last_notified = Some(now);
    Admission {
        notify: true,
        changed: true,
    }
}

impl AlertGate {
    /// A gate reading time from `clock`, its state in memory until a store is attached.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        AlertGate {
            clock,
            shared: Arc::default(),
            writer: Mutex::new(None),
        }
    }

    /// Keeps the state in `store` from now on (the first store attached stays).
    pub fn attach_store(&self, store: Arc<dyn StateStore>) {
        let _ = self.shared.store.set(store);
    }

    /// Loads the stored state of `monitor`, unless the gate already holds one (or no store is
    /// attached). Call it when a monitor is added, before its first match.
    pub async fn load(&self, monitor: &str) -> Result<(), StateError> {
        let Some(store) = self.shared.store.get() else {
            return Ok(());
        };
        if self.lock_states().contains_key(monitor) {
            return Ok(());
        }
        let Some(mut stored) = store
            .get_json::<GateState>(Space::ALERT_GATES, monitor)
            .await?
        else {
            return Ok(());
        };
        // Stored state is the engine's own, yet bounded like a live one.
        let keep = stored
            .settings
            .threshold
            .map_or(0, |(amount, _)| amount as usize);
        let excess = stored.recent.len().saturating_sub(keep);
        stored.recent.drain(..excess);
        self.lock_states()
            .entry(monitor.to_owned())
            .or_insert(stored);
        Ok(())
    }

    /// Reads the stored state of `monitor` again, dropping the one in memory: when this
    /// process takes over a network from another, whose gate moved on meanwhile.
    pub(crate) async fn reload(&self, monitor: &str) -> Result<(), StateError> {
        self.lock_states().remove(monitor);
        self.load(monitor).await
    }

    fn lock_states(&self) -> std::sync::MutexGuard<'_, HashMap<String, GateState>> {
        self.shared.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a match of `monitor` now and says whether it notifies.
    pub fn admit(
        &self,
        monitor: &str,
        threshold: Option<AlertThreshold>,
        timeout_ms: Option<u64>,
    ) -> bool {
        let settings = Settings {
            threshold: threshold.map(|t| (t.amount, t.window_seconds)),
            timeout_ms,
        };
        if !settings.gates() {
            // Nothing to keep: state built for other settings is started over anyway when
            // settings that gate come back (see `admit_at`).
            return true;
        }
        let now = self.clock.now();
        let admission = {
            let mut all = self.lock_states();
            let st = all.entry(monitor.to_owned()).or_insert_with(|| GateState {
                settings,
                ..GateState::default()
            });
            admit_at(st, now, settings)
        };
        if admission.changed {
            self.changed(monitor);
        }
        admission.notify
    }

    /// [`AlertGate::admit`] with the definition's threshold and timeout.
    pub fn admit_def(&self, monitor: &str, def: &MonitorDefinition) -> bool {
        self.admit(monitor, def.alert_threshold, def.alert_timeout_ms)
    }

    /// Forgets a monitor's history (when it is removed or redefined), in the store too.
    pub fn forget(&self, monitor: &str) {
        if self.lock_states().remove(monitor).is_some() || self.shared.store.get().is_some() {
            self.changed(monitor);
        }
    }

    /// Marks a monitor's state to be written, and wakes the writer (started on first use).
    fn changed(&self, monitor: &str) {
        if self.shared.store.get().is_none() {
            return;
        }
        self.shared
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(monitor.to_owned());
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if writer.is_none() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                *writer = Some(runtime.spawn(write_loop(self.shared.clone())));
            }
        }
        self.shared.wake.notify_one();
    }

    /// Writes every change made so far to the store.
    pub async fn flush(&self) -> Result<(), StateError> {
        persist(&self.shared).await
    }

    /// Writes every change made so far, then stops the writer task (which holds the store).
    pub(crate) async fn close(&self) {
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "alert-gate state not saved");
        }
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            writer.abort();
            let _ = writer.await;
        }
    }
}

impl Drop for AlertGate {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.get_mut().ok().and_then(Option::take) {
            writer.abort();
        }
    }
}

/// The writer task: writes the changed monitors each time it is woken. Aborted when the gate
/// is closed or dropped.
async fn write_loop(shared: Arc<Shared>) {
    loop {
        let wait = shared.wake.notified();
        tokio::pin!(wait);
        // Registered before reading the set, so that no wake-up is lost.
        wait.as_mut().enable();
        let idle = shared
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if idle {
            wait.await;
            continue;
        }
        if let Err(e) = persist(&shared).await {
            tracing::warn!(error = %e, "alert-gate state not saved; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}

/// Writes the latest state of every changed monitor (a delete for a forgotten one). A monitor
/// whose write failed stays marked, except for a key the store refuses (an id over its
/// length limit), which is kept in memory only.
async fn persist(shared: &Shared) -> Result<(), StateError> {
    let Some(store) = shared.store.get() else {
        return Ok(());
    };
    let _serial = shared.writes.lock().await;
    let dirty = std::mem::take(&mut *shared.dirty.lock().unwrap_or_else(|e| e.into_inner()));
    let mut failure = None;
    for monitor in dirty {
        let snapshot = shared
            .states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&monitor)
            .cloned();
        let written = match &snapshot {
            Some(st) => store.put_json(Space::ALERT_GATES, &monitor, st).await,
            None => store.delete(Space::ALERT_GATES, &monitor).await.map(|_| ()),
        };
        match written {
            Ok(()) => {}
            Err(StateError::InvalidKey { reason }) => {
                tracing::warn!(monitor, reason, "alert-gate state kept in memory only");
            }
            Err(e) => {
                shared
                    .dirty
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(monitor);
                failure = Some(e);
            }
        }
    }
    failure.map_or(Ok(()), Err)
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

    #[tokio::test]
    async fn state_survives_a_new_gate_on_the_same_store_and_resets_on_new_settings() {
        use defender_core::state::MemoryStateStore;
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let gate = AlertGate::new(clock.clone());
        gate.attach_store(store.clone());
        gate.load("m").await.unwrap();
        assert!(gate.admit("m", None, Some(60_000)));
        gate.close().await;
        drop(gate);

        clock.advance(Duration::seconds(10));
        let again = AlertGate::new(clock.clone());
        again.attach_store(store.clone());
        again.load("m").await.unwrap();
        assert!(!again.admit("m", None, Some(60_000)), "the timeout holds");
        // Other settings: the stored history does not apply.
        assert!(again.admit("m", None, Some(1_000)));
        // A timeout that holds changes nothing, so nothing is written.
        again.flush().await.unwrap();
        let before = store.get(Space::ALERT_GATES, "m").await.unwrap();
        assert!(!again.admit("m", None, Some(1_000)));
        assert!(again.shared.dirty.lock().unwrap().is_empty());
        again.forget("m");
        again.flush().await.unwrap();
        assert!(before.is_some());
        assert_eq!(store.get(Space::ALERT_GATES, "m").await.unwrap(), None);
    }

    #[tokio::test]
    async fn settings_that_never_gate_keep_no_state() {
        use defender_core::state::MemoryStateStore;
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let gate = AlertGate::new(clock.clone());
        gate.attach_store(store.clone());
        let one = Some(AlertThreshold {
            amount: 1,
            window_seconds: 60,
        });
        for (threshold, timeout) in [(None, None), (one, None), (None, Some(0)), (one, Some(0))] {
            assert!(gate.admit("m", threshold, timeout));
            assert!(gate.admit("m", threshold, timeout));
        }
        assert!(gate.shared.dirty.lock().unwrap().is_empty());
        assert!(gate.lock_states().is_empty());
        gate.flush().await.unwrap();
        assert_eq!(store.get(Space::ALERT_GATES, "m").await.unwrap(), None);
        // A timeout set afterwards starts from nothing: its first match notifies.
        assert!(gate.admit("m", None, Some(60_000)));
        clock.advance(Duration::seconds(1));
        assert!(!gate.admit("m", None, Some(60_000)));
        gate.flush().await.unwrap();
        assert!(store.get(Space::ALERT_GATES, "m").await.unwrap().is_some());
    }
}
