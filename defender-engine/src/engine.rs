//! The engine's handle: the public operations, each delegating to the module that owns it
//! (actions, the run path, webhooks, the monitor path). Its builder is in module `builder`.

use crate::actions::{new_token, ActionSpec, Actions};
use crate::builder::EngineBuilder;
use crate::error::EngineError;
use crate::forta::FortaMonitors;
use crate::manage::{EngineManageFactory, ManageState};
use crate::monitor::TestScope;
use crate::network::NetworkSpec;
use crate::outbox::DeadLetter;
use crate::proposals::Proposals;
use crate::registry::Monitors;
use crate::run::{new_run_id, ManageFactory, Runner};
use crate::secrets::SealedSecrets;
use crate::sync::Change;
use crate::webhook::{self, WebhookAnswer, WebhookLimits, WebhookRequest};
use crate::workflows::Workflows;
use defender_core::state::StateStore;
use defender_core::{
    ActionRequest, ActionRuntime, CodeSource, KvStore, ManageApi, MonitorDefinition, MonitorMatch,
    NotifierRegistry, Relayer, RunRecord, SecretStore, Trigger,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long a graceful shutdown waits for a schedule's tick under way.
const SCHEDULE_STOP_GRACE: Duration = Duration::from_secs(10);

/// The engine's parts, as [`EngineBuilder::build`] assembles them.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) runner: Arc<Runner>,
    pub(crate) actions: Arc<Actions>,
    pub(crate) monitors: Arc<Monitors>,
    pub(crate) manage: Arc<ManageState>,
    /// The sealed secrets of [`EngineBuilder::secrets_key`], to check the key.
    pub(crate) sealed: Option<Arc<SealedSecrets>>,
    pub(crate) proposals: Arc<Proposals>,
    pub(crate) workflows: Arc<Workflows>,
    /// Forta monitors (their `Engine` methods are in module `forta`).
    pub(crate) forta: Arc<FortaMonitors>,
    pub(crate) webhook: WebhookLimits,
}

/// The running engine. Cheap to clone; all clones share state. Dropping the last clone does not
/// stop scheduled actions: call [`Engine::shutdown`].
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// The engine over parts the builder assembled.
    pub(crate) fn from_parts(inner: Inner) -> Engine {
        Engine {
            inner: Arc::new(inner),
        }
    }

    /// The sealed secrets of [`EngineBuilder::secrets_key`], if any, for the builder to check
    /// the key.
    pub(crate) fn sealed_secrets(&self) -> Option<&Arc<SealedSecrets>> {
        self.inner.sealed.as_ref()
    }

    /// Starts assembling an engine around the runtime that runs action code.
    pub fn builder(runtime: Arc<dyn ActionRuntime>) -> EngineBuilder {
        EngineBuilder::new(runtime)
    }

    /// The proposals (their `Engine` methods are in module `proposals`).
    pub(crate) fn proposals_service(&self) -> &Proposals {
        &self.inner.proposals
    }

    /// The Forta monitors (their `Engine` methods are in module `forta`).
    pub(crate) fn forta_service(&self) -> &FortaMonitors {
        &self.inner.forta
    }

    /// The workflows (their `Engine` methods are in module `workflows`).
    pub(crate) fn workflows_service(&self) -> &Workflows {
        &self.inner.workflows
    }

    /// The registry of notification channels, to add, pause or remove channels at run time.
    pub fn notifiers(&self) -> &Arc<NotifierRegistry> {
        &self.inner.runner.notifiers
    }

    /// The shared key-value store.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.inner.runner.kv
    }

    /// The engine state (see [`EngineBuilder::state`]): what a host builds the engine's
    /// relayers on (`defender-relay`'s `StateRelayerStore`).
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.runner.state
    }

    /// The secret store.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.inner.runner.secrets
    }

    /// The management API over the engine's actions, monitors and channels (what an action's
    /// `client.action` and `client.monitor` reach), for a host to serve to operators: list,
    /// get, run, pause. Runs it starts are ordinary runs (`trigger: manual-api`).
    pub fn manage(&self) -> Arc<dyn ManageApi> {
        match self.inner.runner.manage.get() {
            Some(factory) => factory.for_run(0),
            None => Arc::new(EngineManageFactory {
                runner: Arc::downgrade(&self.inner.runner),
                actions: Arc::downgrade(&self.inner.actions),
                monitors: Arc::downgrade(&self.inner.monitors),
                state: self.inner.manage.clone(),
            })
            .for_run(0),
        }
    }

    /// Adds or replaces the relayer with `id`.
    pub fn set_relayer(&self, id: impl Into<String>, relayer: Arc<dyn Relayer>) {
        self.inner
            .runner
            .relayers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.into(), relayer);
    }

    /// The engine's metrics in Prometheus' text format: runs, run errors, monitor matches,
    /// notifications and block lag.
    #[cfg(feature = "prometheus")]
    pub fn metrics_text(&self) -> String {
        self.inner.runner.metrics.encode()
    }

    /// Stops every scheduled action and every monitor loop. Runs in progress finish, and
    /// alerts already queued are still delivered (see [`Engine::flush_alerts`]). A monitor
    /// loop stops while it waits for a block or runs a custom filter, not between handing out
    /// a block's alerts and writing its checkpoint, so a restart neither repeats nor skips
    /// them.
    pub fn shutdown(&self) {
        for h in self.inner.actions.take_schedules() {
            h.abort();
        }
        drop(self.inner.monitors.stop_loops());
        drop(self.inner.forta.stop_loops());
    }

    /// [`Engine::shutdown`], then waits until the schedule and monitor tasks have ended, so
    /// that the stores they hold (a redb file, say) are released when it returns.
    pub async fn shutdown_and_wait(&self) {
        // Schedules end at their next sleep, so that a tick under way finishes and is
        // recorded (another engine sharing the state would otherwise run it again); those
        // that do not end within the grace period are cancelled.
        self.inner.actions.stop_schedules_gracefully();
        let mut handles = Vec::new();
        for mut h in self.inner.actions.take_schedules() {
            if tokio::time::timeout(SCHEDULE_STOP_GRACE, &mut h)
                .await
                .is_err()
            {
                h.abort();
                handles.push(h);
            }
        }
        handles.extend(self.inner.monitors.stop_loops());
        handles.extend(self.inner.forta.stop_loops());
        for h in handles {
            // A cancelled task is what was asked for; a panicked one has ended too.
            let _ = h.await;
        }
        // The alert gate's last changes, then its writer, which holds the state store.
        self.inner.monitors.close_gate().await;
        if let Some(sync) = self.inner.manage.sync.get() {
            sync.stop().await;
        }
    }

    // -------------------------------------------------------------------------------------
    // Actions

    /// Registers an action and starts its schedules. Returns the webhook token if it has a
    /// webhook trigger: the one the engine state keeps for this action id (set by an earlier
    /// engine on the same state, or with [`Engine::set_webhook_token`]), else a new random one,
    /// then kept there. Schedules continue the phase the state keeps for them (see
    /// [`Schedule`](crate::Schedule)).
    ///
    /// Must be called within a tokio runtime when the action has a schedule.
    pub async fn add_action(&self, spec: ActionSpec) -> Result<Option<String>, EngineError> {
        let (id, triggers) = (spec.id.clone(), spec.triggers.clone());
        let token = self.inner.actions.add(&self.inner.runner, spec)?;
        let token = match token {
            Some(fresh) => {
                match webhook::restore_token(self.inner.runner.state.as_ref(), &id, fresh).await {
                    Ok(kept) => {
                        self.set_entry_token(&id, kept.clone())?;
                        Some(kept)
                    }
                    Err(e) => {
                        let _ = self.inner.actions.remove(&id);
                        return Err(e.into());
                    }
                }
            }
            None => None,
        };
        self.inner.manage.set_trigger(&id, &triggers);
        self.inner.manage.touched();
        Ok(token)
    }

    /// Removes an action and stops its schedules. Runs in progress finish.
    pub fn remove_action(&self, id: &str) -> Result<(), EngineError> {
        self.inner.actions.remove(id)?;
        self.inner.manage.forget(id);
        Ok(())
    }

    /// Pauses or resumes an action. A paused action's schedules, webhook and monitor triggers
    /// do nothing; manual runs are refused.
    pub fn set_action_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.inner.actions.set_paused(id, paused)?;
        self.inner.manage.share(Change::ActionPaused {
            id: id.to_owned(),
            paused,
        });
        Ok(())
    }

    /// Replaces an action's code (Defender's update-code). Runs that start after this call use
    /// the new code; runs in progress finish with the old one. Returns the new version.
    pub fn update_code(&self, id: &str, code: CodeSource) -> Result<u64, EngineError> {
        let shared = (&code).into();
        let version = self.inner.actions.update_code(id, code)?;
        self.inner.manage.share(Change::ActionCode {
            id: id.to_owned(),
            code: shared,
        });
        Ok(version)
    }

    /// Links (or unlinks) a relayer.
    pub fn set_action_relayer(
        &self,
        id: &str,
        relayer_id: Option<String>,
    ) -> Result<(), EngineError> {
        self.inner.actions.set_relayer(id, relayer_id.clone())?;
        self.inner.manage.share(Change::ActionRelayer {
            id: id.to_owned(),
            relayer: relayer_id,
        });
        Ok(())
    }

    /// The ids of the registered actions, sorted.
    pub fn action_ids(&self) -> Vec<String> {
        self.inner.actions.ids()
    }

    /// An action's run history, newest first (at most `limit`). Stored runs have the run's
    /// secret values redacted from their result, message and logs.
    pub async fn runs(&self, id: &str, limit: usize) -> Result<Vec<RunRecord>, EngineError> {
        self.inner.actions.entry(id)?;
        Ok(self
            .inner
            .runner
            .runs
            .list(id, limit)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(action_id = id, error = %e, "run store failed");
                Vec::new()
            }))
    }

    /// Runs an action now and waits for the result. `body` becomes `event.request.body`.
    ///
    /// The returned record carries the handler's result as it was produced; its message and
    /// logs, like everything stored or notified, have the run's secret values redacted.
    pub async fn run_action(
        &self,
        id: &str,
        trigger: Trigger,
        body: Option<Value>,
    ) -> Result<RunRecord, EngineError> {
        let entry = self.inner.actions.entry(id)?;
        if entry.is_paused() {
            return Err(EngineError::Paused(id.to_owned()));
        }
        let request = body.map(|b| ActionRequest {
            body: Some(b),
            ..Default::default()
        });
        Ok(self
            .inner
            .runner
            .execute(&entry, trigger, request, new_run_id())
            .await)
    }

    // -------------------------------------------------------------------------------------
    // Webhooks

    /// The webhook token of an action, if it has a webhook trigger.
    pub fn webhook_token(&self, id: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .inner
            .actions
            .entry(id)?
            .webhook_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    /// Replaces an action's webhook token with a new random one, kept in the engine state;
    /// the old URL stops working at once. Enables the webhook trigger if the action had none.
    pub async fn regenerate_webhook_token(&self, id: &str) -> Result<String, EngineError> {
        let token = new_token();
        self.set_webhook_token(id, &token).await?;
        Ok(token)
    }

    /// Sets an action's webhook token, kept in the engine state: a team moving from Defender
    /// keeps its webhook URLs by setting each action's old secret. The old URL stops working
    /// at once; enables the webhook trigger if the action had none.
    ///
    /// The token is 16 to 256 characters of `A`-`Z`, `a`-`z`, `0`-`9`, `-` and `_`; another
    /// fails with [`EngineError::InvalidWebhookToken`], and changes nothing.
    pub async fn set_webhook_token(&self, id: &str, token: &str) -> Result<(), EngineError> {
        webhook::check_token(token).map_err(|reason| EngineError::InvalidWebhookToken {
            id: id.to_owned(),
            reason,
        })?;
        self.inner.actions.entry(id)?;
        webhook::store_token(self.inner.runner.state.as_ref(), id, token).await?;
        self.set_entry_token(id, token.to_owned())
    }

    fn set_entry_token(&self, id: &str, token: String) -> Result<(), EngineError> {
        *self
            .inner
            .actions
            .entry(id)?
            .webhook_token
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(())
    }

    /// Handles a webhook request and answers as Defender did:
    /// - anything but POST, an unknown action or a wrong token: 403
    ///   `{"message":"Missing Authentication Token"}`;
    /// - a body over the limit: 413; a body that is not JSON: 415;
    /// - a paused action: 409;
    /// - otherwise the run's [`WebhookResponse`](defender_core::WebhookResponse), or a
    ///   `pending` one if the run takes longer than the engine's pending delay (25 s); the run
    ///   goes on and is recorded.
    ///
    /// The token is compared in constant time.
    pub async fn handle_webhook(&self, req: WebhookRequest) -> WebhookAnswer {
        webhook::handle(
            &self.inner.runner,
            &self.inner.actions,
            self.inner.webhook,
            req,
        )
        .await
    }

    /// The webhook's access check, done before anything reads the body.
    #[cfg(feature = "webhook-server")]
    pub(crate) fn authorize_webhook(
        &self,
        method: &str,
        action_id: &str,
        token: &str,
    ) -> Result<Arc<crate::run::ActionEntry>, WebhookAnswer> {
        webhook::authorize(&self.inner.actions, method, action_id, token)
    }

    /// Largest webhook body accepted.
    #[cfg(feature = "webhook-server")]
    pub(crate) fn webhook_body_limit(&self) -> usize {
        self.inner.webhook.body_limit
    }

    // -------------------------------------------------------------------------------------
    // Monitors

    /// Adds a network that monitors can watch. Its chain id is read from the source.
    pub async fn add_network(&self, spec: NetworkSpec) -> Result<u64, EngineError> {
        self.inner.monitors.add_network(spec).await
    }

    /// Adds a monitor from Defender's definition JSON, or replaces the monitor with this id.
    /// Its network must have been added. The monitor sees every block mined after this call
    /// returns (and, when its network already has a checkpoint for its confirmation level,
    /// every block after that checkpoint).
    ///
    /// Each block then goes through the monitor path (module `pipeline`): block source
    /// (confirmations, reorgs) -> matcher -> custom filter -> alert gate -> dispatch (each
    /// alert owes one delivery per notification channel and a run of the linked action, with
    /// the match as `request.body`) -> checkpoint, written with what the alerts owe in one
    /// atomic batch of the engine state (the outbox). Delivery workers then deliver, at least
    /// once, across crashes and restarts, retrying failures (see
    /// [`EngineBuilder::delivery_retry`] and [`EngineBuilder::delivery_horizon`]); a slow or
    /// dead channel never holds up blocks or other channels (see
    /// [`EngineBuilder::notification_timeout`]). Each delivery carries an idempotency key,
    /// sent to webhook channels as the `Idempotency-Key` header, so a receiver can drop a
    /// redelivery.
    pub async fn add_monitor(&self, id: &str, def: MonitorDefinition) -> Result<(), EngineError> {
        self.inner.monitors.add_monitor(id, def).await?;
        self.inner.manage.touched();
        Ok(())
    }

    /// Adds several monitors as [`add_monitor`](Self::add_monitor) does, every one of them
    /// before any network starts watching: after a restart, the blocks a network replays
    /// from its checkpoint are matched against all of them (added one by one, a monitor
    /// added after its network's loop started misses the blocks replayed before it).
    /// Stops at the first invalid monitor, with its error; those before it are added.
    pub async fn add_monitors(
        &self,
        monitors: impl IntoIterator<Item = (String, MonitorDefinition)>,
    ) -> Result<(), EngineError> {
        let added = self.inner.monitors.add_monitors(monitors).await;
        self.inner.manage.touched();
        added
    }

    /// Removes a monitor. What its alerts owe is still delivered.
    pub fn remove_monitor(&self, id: &str) -> Result<(), EngineError> {
        self.inner.monitors.remove_monitor(id)
    }

    /// Pauses or resumes a monitor: a paused monitor matches nothing.
    pub async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.inner.monitors.set_paused(id, paused).await?;
        self.inner.manage.share(Change::MonitorPaused {
            id: id.to_owned(),
            paused,
        });
        Ok(())
    }

    /// A monitor's definition, with its current `paused` flag (which actions change through
    /// `client.monitor.pause`).
    pub fn monitor(&self, id: &str) -> Option<Arc<MonitorDefinition>> {
        self.inner.monitors.definition(id)
    }

    /// The ids of the monitors, sorted.
    pub fn monitor_ids(&self) -> Vec<String> {
        self.inner.monitors.ids()
    }

    /// Waits until every delivery due now (notifications and linked-action runs of the
    /// alerts of the blocks processed so far) has had an attempt: delivered, failed or timed
    /// out. Deliveries waiting for a retry are not waited for. Blocks are processed without
    /// waiting for deliveries; call this to know that the alerts so far have gone out.
    pub async fn flush_alerts(&self) {
        self.inner.monitors.flush().await
    }

    /// The dead letters: alerts with a delivery given up at the retry horizon
    /// ([`EngineBuilder::delivery_horizon`]), oldest first. They stay in the engine state
    /// until replayed.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, EngineError> {
        self.inner.monitors.dead_letters().await
    }

    /// Delivers the given-up deliveries of dead letter `id` again, with a fresh retry horizon
    /// (their idempotency keys unchanged); returns how many. An unknown id is
    /// [`EngineError::UnknownDeadLetter`].
    pub async fn replay_dead_letter(&self, id: &str) -> Result<usize, EngineError> {
        self.inner.monitors.replay_dead_letter(id).await
    }

    /// Defender's "test conditions" tool: the matches a definition would produce over recent
    /// blocks, one block or one transaction of its network. Nothing is notified.
    pub async fn test_monitor_conditions(
        &self,
        def: &MonitorDefinition,
        scope: TestScope,
    ) -> Result<Vec<MonitorMatch>, EngineError> {
        self.inner.monitors.test_conditions(def, scope).await
    }
}

#[cfg(test)]
impl Engine {
    /// Alert records kept in memory for their first delivery attempt.
    pub(crate) fn fresh_records(&self) -> usize {
        self.inner
            .monitors
            .stages()
            .upgrade()
            .map_or(0, |stages| stages.dispatcher.fresh_records())
    }
}
