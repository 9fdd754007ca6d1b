//! The management API that actions reach (`client.action`, `client.monitor`,
//! `client.notificationChannel` of the defender-sdk, and the legacy autotask and sentinel
//! clients): [`defender_core::ManageApi`] over the engine's actions, monitors and channels.
//!
//! Each run gets its own value, which knows how deep the run is nested in `runAction` calls;
//! it holds the engine weakly, so a run outliving the engine finds it gone rather than keeping
//! it alive.

use crate::actions::{ActionTrigger, Actions};
use crate::registry::Monitors;
use crate::run::{new_run_id, ManageFactory, Runner};
use crate::schedule::Schedule;
use async_trait::async_trait;
use defender_core::{
    ActionInfo, ActionRequest, ActionTriggerInfo, ChannelInfo, DynManageApi, ManageApi,
    ManageError, MonitorDefinition, MonitorInfo, RunRecord, Trigger, MAX_RUN_NESTING,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, Weak};
use subtle::ConstantTimeEq;

/// Most `runAction` calls one run may have in flight at once: with the nesting bound, this
/// bounds the runs one run can start (nested runs also wait in the runtime's queue like any
/// other).
pub(crate) const MAX_NESTED_IN_FLIGHT: u32 = 8;

/// What the management API knows besides the engine's registries: the team API keys, the
/// triggers of the actions (as registered) and the kinds of the channels added by the builder.
#[derive(Debug, Default)]
pub(crate) struct ManageState {
    pub(crate) team_keys: Vec<(String, String)>,
    pub(crate) triggers: RwLock<HashMap<String, Option<ActionTriggerInfo>>>,
    pub(crate) channel_kinds: HashMap<String, String>,
    /// Shares configuration changes with the other engines on the state (set once the
    /// engine is assembled).
    pub(crate) sync: std::sync::OnceLock<crate::sync::ConfigSync>,
}

impl ManageState {
    /// Shares a configuration change made on this engine with the others.
    pub(crate) fn share(&self, change: crate::sync::Change) {
        if let Some(sync) = self.sync.get() {
            sync.record(change);
        }
    }

    /// Notes that this engine's actions or monitors changed.
    pub(crate) fn touched(&self) {
        if let Some(sync) = self.sync.get() {
            sync.touched();
        }
    }

    /// Remembers the trigger Defender would report for an action (its first one).
    pub(crate) fn set_trigger(&self, id: &str, triggers: &[ActionTrigger]) {
        let summary = triggers.first().map(|t| match t {
            ActionTrigger::Schedule(Schedule::Interval(d)) => ActionTriggerInfo::Schedule {
                frequency_minutes: Some(d.as_secs() / 60),
                cron: None,
            },
            ActionTrigger::Schedule(Schedule::Cron(c)) => ActionTriggerInfo::Schedule {
                frequency_minutes: None,
                cron: Some(c.clone()),
            },
            ActionTrigger::Webhook => ActionTriggerInfo::Webhook,
        });
        self.triggers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), summary);
    }

    /// Forgets a removed action.
    pub(crate) fn forget(&self, id: &str) {
        self.triggers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// Makes each run's [`EngineManage`].
#[derive(Debug)]
pub(crate) struct EngineManageFactory {
    pub(crate) runner: Weak<Runner>,
    pub(crate) actions: Weak<Actions>,
    pub(crate) monitors: Weak<Monitors>,
    pub(crate) state: Arc<ManageState>,
}

impl ManageFactory for EngineManageFactory {
    fn for_run(&self, depth: u32) -> Arc<DynManageApi> {
        Arc::new(EngineManage {
            runner: self.runner.clone(),
            actions: self.actions.clone(),
            monitors: self.monitors.clone(),
            state: self.state.clone(),
            depth,
            in_flight: AtomicU32::new(0),
        })
    }
}

/// The management API of one run.
#[derive(Debug)]
pub(crate) struct EngineManage {
    runner: Weak<Runner>,
    actions: Weak<Actions>,
    monitors: Weak<Monitors>,
    state: Arc<ManageState>,
    /// How many `runAction` calls started the run this value serves (0: a run started
    /// otherwise).
    depth: u32,
    in_flight: AtomicU32,
}

fn gone() -> ManageError {
    ManageError::Unavailable("the engine has shut down".into())
}

fn not_found(kind: &'static str, id: &str) -> ManageError {
    ManageError::NotFound {
        kind,
        id: id.to_owned(),
    }
}

fn monitor_info(id: &str, def: &MonitorDefinition) -> MonitorInfo {
    MonitorInfo {
        monitor_id: id.to_owned(),
        name: def.name.clone(),
        network: def.network.clone(),
        paused: def.paused,
        addresses: def.addresses.clone(),
        notification_channels: def.notification_channels.clone(),
        action_trigger: def.action_trigger.clone(),
    }
}

/// Gives back a slot of [`EngineManage::in_flight`] when the nested run ends (or its future
/// is dropped).
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EngineManage {
    fn actions(&self) -> Result<Arc<Actions>, ManageError> {
        self.actions.upgrade().ok_or_else(gone)
    }

    fn monitors(&self) -> Result<Arc<Monitors>, ManageError> {
        self.monitors.upgrade().ok_or_else(gone)
    }

    fn action_info(&self, actions: &Actions, id: &str) -> Result<ActionInfo, ManageError> {
        let entry = actions.get(id).ok_or_else(|| not_found("action", id))?;
        let trigger = self
            .state
            .triggers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .flatten();
        let name = entry.name.read().unwrap_or_else(|e| e.into_inner()).clone();
        let relayer_id = entry
            .relayer_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(ActionInfo {
            action_id: entry.id.clone(),
            name,
            paused: entry.is_paused(),
            trigger,
            relayer_id,
        })
    }
}

#[async_trait]
impl ManageApi for EngineManage {
    fn check_team_key(&self, api_key: &str, api_secret: &str) -> bool {
        // Every configured key is compared, in constant time, whichever matches.
        self.state
            .team_keys
            .iter()
            .fold(false, |found, (key, secret)| {
                let k: bool = key.as_bytes().ct_eq(api_key.as_bytes()).into();
                let s: bool = secret.as_bytes().ct_eq(api_secret.as_bytes()).into();
                found | (k & s)
            })
    }

    async fn list_actions(&self) -> Result<Vec<ActionInfo>, ManageError> {
        let actions = self.actions()?;
        Ok(actions
            .ids()
            .iter()
            .filter_map(|id| self.action_info(&actions, id).ok())
            .collect())
    }

    async fn get_action(&self, id: &str) -> Result<ActionInfo, ManageError> {
        self.action_info(&*self.actions()?, id)
    }

    async fn run_action(&self, id: &str, data: Value) -> Result<RunRecord, ManageError> {
        if self.depth >= MAX_RUN_NESTING {
            return Err(ManageError::NestingTooDeep {
                limit: MAX_RUN_NESTING,
            });
        }
        let entry = self
            .actions()?
            .entry(id)
            .map_err(|_| not_found("action", id))?;
        if entry.is_paused() {
            return Err(ManageError::ActionPaused(id.to_owned()));
        }
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_NESTED_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(ManageError::Invalid(format!(
                "at most {MAX_NESTED_IN_FLIGHT} runAction calls may be in flight in one run"
            )));
        }
        let _slot = InFlight(&self.in_flight);
        let runner = self.runner.upgrade().ok_or_else(gone)?;
        let request = ActionRequest {
            body: Some(data),
            ..Default::default()
        };
        Ok(runner
            .execute_nested(
                &entry,
                Trigger::ManualApi,
                Some(request),
                new_run_id(),
                self.depth + 1,
            )
            .await)
    }

    async fn set_action_paused(&self, id: &str, paused: bool) -> Result<ActionInfo, ManageError> {
        let actions = self.actions()?;
        actions
            .set_paused(id, paused)
            .map_err(|_| not_found("action", id))?;
        self.state.share(crate::sync::Change::ActionPaused {
            id: id.to_owned(),
            paused,
        });
        self.action_info(&actions, id)
    }

    async fn list_monitors(&self) -> Result<Vec<MonitorInfo>, ManageError> {
        let monitors = self.monitors()?;
        Ok(monitors
            .ids()
            .iter()
            .filter_map(|id| monitors.definition(id).map(|d| monitor_info(id, &d)))
            .collect())
    }

    async fn get_monitor(&self, id: &str) -> Result<MonitorInfo, ManageError> {
        let def = self
            .monitors()?
            .definition(id)
            .ok_or_else(|| not_found("monitor", id))?;
        Ok(monitor_info(id, &def))
    }

    async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<MonitorInfo, ManageError> {
        let monitors = self.monitors()?;
        monitors
            .set_paused(id, paused)
            .await
            .map_err(|_| not_found("monitor", id))?;
        self.state.share(crate::sync::Change::MonitorPaused {
            id: id.to_owned(),
            paused,
        });
        let def = monitors
            .definition(id)
            .ok_or_else(|| not_found("monitor", id))?;
        Ok(monitor_info(id, &def))
    }

    async fn list_channels(&self) -> Result<Vec<ChannelInfo>, ManageError> {
        let runner = self.runner.upgrade().ok_or_else(gone)?;
        Ok(runner
            .notifiers
            .aliases()
            .into_iter()
            .map(|alias| ChannelInfo {
                kind: self.state.channel_kinds.get(&alias).cloned(),
                notification_id: alias.clone(),
                name: alias,
            })
            .collect())
    }
}
