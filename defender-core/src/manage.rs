//! Managing Defender from inside an action: what `client.action`, `client.monitor` and
//! `client.notificationChannel` of `@openzeppelin/defender-sdk` (and the legacy autotask and
//! sentinel clients) reach.
//!
//! The runtime reaches the engine only through [`ManageApi`]; the engine installs one in the
//! [`RunServices`](crate::RunServices) of each run. Without one (a runtime used alone), the
//! clients fail with a clear "not available" error.

use crate::wire::RunRecord;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Debug;
use std::sync::Arc;

/// Dynamic management API, as [`RunServices`](crate::RunServices) holds it.
pub type DynManageApi = dyn ManageApi;

/// Most runs an action may start inside one another (`runAction` from an action run by
/// `runAction`...): an action that runs itself stops there with
/// [`ManageError::NestingTooDeep`].
pub const MAX_RUN_NESTING: u32 = 4;

/// What starts an action, as Defender's action API describes it (`trigger`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ActionTriggerInfo {
    /// A schedule: every `frequencyMinutes` minutes, or a cron expression.
    #[serde(rename_all = "camelCase")]
    Schedule {
        /// The interval, in whole minutes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frequency_minutes: Option<u64>,
        /// The cron expression.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cron: Option<String>,
    },
    /// A webhook (its token is not disclosed).
    Webhook,
}

/// An action as the management API lists it (Defender's `Action`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionInfo {
    /// The action's id.
    pub action_id: String,
    /// Its name.
    pub name: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Its trigger (`None`: run only by hand or by monitors).
    pub trigger: Option<ActionTriggerInfo>,
    /// The linked relayer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayer_id: Option<String>,
}

/// A monitor as the management API lists it (Defender's subscriber, `BLOCK` type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorInfo {
    /// The monitor's id.
    pub monitor_id: String,
    /// Its name.
    pub name: String,
    /// Its network.
    pub network: String,
    /// Whether it is paused.
    pub paused: bool,
    /// The watched addresses.
    pub addresses: Vec<String>,
    /// The aliases of the channels it notifies.
    pub notification_channels: Vec<String>,
    /// The action it runs on each match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_trigger: Option<String>,
}

/// A notification channel as the management API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelInfo {
    /// Its id: the alias actions and monitors name it by.
    pub notification_id: String,
    /// Its name (the alias too).
    pub name: String,
    /// The kind of its channels (`slack`, `email`...), when the engine knows it.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Why a management operation failed. [`ManageError::code`] is the `code` the action's
/// JavaScript error carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManageError {
    /// No such action, monitor or channel.
    #[error("no {kind} `{id}`")]
    NotFound {
        /// `action`, `monitor` or `notification channel`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The action is paused: it cannot be run.
    #[error("action `{0}` is paused")]
    ActionPaused(String),
    /// The credentials are not a team API key the engine knows.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The run was started by runs nested [`MAX_RUN_NESTING`] deep already.
    #[error("runAction is nested too deep: at most {limit} runs may start one another")]
    NestingTooDeep {
        /// The bound.
        limit: u32,
    },
    /// The engine does not support this operation.
    #[error("{0} is not supported by this engine")]
    Unsupported(String),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The engine is gone (shut down) or failed.
    #[error("management API unavailable: {0}")]
    Unavailable(String),
}

impl ManageError {
    /// The error's `code`, as the action sees it on `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ManageError::NotFound { .. } => "NOT_FOUND",
            ManageError::ActionPaused(_) => "ACTION_PAUSED",
            ManageError::Unauthorized(_) => "UNAUTHORIZED",
            ManageError::NestingTooDeep { .. } => "RUN_NESTING_LIMIT",
            ManageError::Unsupported(_) => "NOT_SUPPORTED",
            ManageError::Invalid(_) => "INVALID_ARGUMENT",
            ManageError::Unavailable(_) => "UNAVAILABLE",
        }
    }

    /// The HTTP status Defender's API answered such an error with.
    pub fn http_status(&self) -> u16 {
        match self {
            ManageError::NotFound { .. } => 404,
            ManageError::ActionPaused(_) => 409,
            ManageError::Unauthorized(_) => 401,
            ManageError::NestingTooDeep { .. } => 429,
            ManageError::Unsupported(_) => 501,
            ManageError::Invalid(_) => 400,
            ManageError::Unavailable(_) => 503,
        }
    }
}

/// The engine's actions, monitors and notification channels, as an action manages them.
///
/// # Contract
/// - One value serves one run: it knows how deep that run is nested in `runAction` calls, so
///   [`ManageApi::run_action`] fails with [`ManageError::NestingTooDeep`] once
///   [`MAX_RUN_NESTING`] runs start one another, and counts each nested run against the
///   engine's normal limits (a nested run is an ordinary run, with its own limits).
/// - [`ManageApi::run_action`] of a paused action fails with [`ManageError::ActionPaused`],
///   of an unknown one with [`ManageError::NotFound`]; a run that fails is still `Ok`: the
///   record says how it ended.
/// - [`ManageApi::check_team_key`] accepts only the team API keys the embedder configured
///   (compared in constant time); the runtime refuses any other key before calling anything.
/// - Listings are sorted by id. Nothing here panics on any input.
///
/// # Example
/// ```
/// use async_trait::async_trait;
/// use defender_core::manage::*;
/// use defender_core::RunRecord;
///
/// /// An engine with no actions, monitors or channels.
/// #[derive(Debug)]
/// struct Empty;
///
/// #[async_trait]
/// impl ManageApi for Empty {
///     fn check_team_key(&self, _key: &str, _secret: &str) -> bool { false }
///     async fn list_actions(&self) -> Result<Vec<ActionInfo>, ManageError> { Ok(vec![]) }
///     async fn get_action(&self, id: &str) -> Result<ActionInfo, ManageError> {
///         Err(ManageError::NotFound { kind: "action", id: id.into() })
///     }
///     async fn run_action(&self, id: &str, _data: serde_json::Value) -> Result<RunRecord, ManageError> {
///         Err(ManageError::NotFound { kind: "action", id: id.into() })
///     }
///     async fn set_action_paused(&self, id: &str, _paused: bool) -> Result<ActionInfo, ManageError> {
///         Err(ManageError::NotFound { kind: "action", id: id.into() })
///     }
///     async fn list_monitors(&self) -> Result<Vec<MonitorInfo>, ManageError> { Ok(vec![]) }
///     async fn get_monitor(&self, id: &str) -> Result<MonitorInfo, ManageError> {
///         Err(ManageError::NotFound { kind: "monitor", id: id.into() })
///     }
///     async fn set_monitor_paused(&self, id: &str, _paused: bool) -> Result<MonitorInfo, ManageError> {
///         Err(ManageError::NotFound { kind: "monitor", id: id.into() })
///     }
///     async fn list_channels(&self) -> Result<Vec<ChannelInfo>, ManageError> { Ok(vec![]) }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert!(Empty.list_actions().await.unwrap().is_empty());
/// assert_eq!(Empty.get_channel("ops").await.unwrap_err().code(), "NOT_FOUND");
/// # });
/// ```
#[async_trait]
pub trait ManageApi: Debug + Send + Sync + 'static {
    /// Whether `api_key` with `api_secret` is a team API key of this engine.
    fn check_team_key(&self, api_key: &str, api_secret: &str) -> bool;

    /// The actions, sorted by id.
    async fn list_actions(&self) -> Result<Vec<ActionInfo>, ManageError>;

    /// One action.
    async fn get_action(&self, id: &str) -> Result<ActionInfo, ManageError>;

    /// Runs an action by hand (`trigger: manual-api`) with `data` as `event.request.body`, and
    /// waits for its record.
    async fn run_action(&self, id: &str, data: Value) -> Result<RunRecord, ManageError>;

    /// Pauses or resumes an action; the action as it is now.
    async fn set_action_paused(&self, id: &str, paused: bool) -> Result<ActionInfo, ManageError>;

    /// The monitors, sorted by id.
    async fn list_monitors(&self) -> Result<Vec<MonitorInfo>, ManageError>;

    /// One monitor.
    async fn get_monitor(&self, id: &str) -> Result<MonitorInfo, ManageError>;

    /// Pauses or resumes a monitor; the monitor as it is now.
    async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<MonitorInfo, ManageError>;

    /// The notification channels, sorted by id.
    async fn list_channels(&self) -> Result<Vec<ChannelInfo>, ManageError>;

    /// One notification channel (by default, found in [`ManageApi::list_channels`]).
    async fn get_channel(&self, id: &str) -> Result<ChannelInfo, ManageError> {
        self.list_channels()
            .await?
            .into_iter()
            .find(|c| c.notification_id == id)
            .ok_or_else(|| ManageError::NotFound {
                kind: "notification channel",
                id: id.to_owned(),
            })
    }
}

#[async_trait]
impl<T: ManageApi + ?Sized> ManageApi for Arc<T> {
    fn check_team_key(&self, api_key: &str, api_secret: &str) -> bool {
        (**self).check_team_key(api_key, api_secret)
    }
    async fn list_actions(&self) -> Result<Vec<ActionInfo>, ManageError> {
        (**self).list_actions().await
    }
    async fn get_action(&self, id: &str) -> Result<ActionInfo, ManageError> {
        (**self).get_action(id).await
    }
    async fn run_action(&self, id: &str, data: Value) -> Result<RunRecord, ManageError> {
        (**self).run_action(id, data).await
    }
    async fn set_action_paused(&self, id: &str, paused: bool) -> Result<ActionInfo, ManageError> {
        (**self).set_action_paused(id, paused).await
    }
    async fn list_monitors(&self) -> Result<Vec<MonitorInfo>, ManageError> {
        (**self).list_monitors().await
    }
    async fn get_monitor(&self, id: &str) -> Result<MonitorInfo, ManageError> {
        (**self).get_monitor(id).await
    }
    async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<MonitorInfo, ManageError> {
        (**self).set_monitor_paused(id, paused).await
    }
    async fn list_channels(&self) -> Result<Vec<ChannelInfo>, ManageError> {
        (**self).list_channels().await
    }
    async fn get_channel(&self, id: &str) -> Result<ChannelInfo, ManageError> {
        (**self).get_channel(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_have_defenders_field_names() {
        let a = ActionInfo {
            action_id: "a".into(),
            name: "A".into(),
            paused: false,
            trigger: Some(ActionTriggerInfo::Schedule {
                frequency_minutes: Some(5),
                cron: None,
            }),
            relayer_id: None,
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"actionId": "a", "name": "A", "paused": false,
                   "trigger": {"type": "schedule", "frequencyMinutes": 5}})
        );
        let c = ChannelInfo {
            notification_id: "ops".into(),
            name: "ops".into(),
            kind: Some("slack".into()),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"notificationId": "ops", "name": "ops", "type": "slack"})
        );
    }

    #[test]
    fn codes() {
        assert_eq!(
            ManageError::NestingTooDeep { limit: 4 }.code(),
            "RUN_NESTING_LIMIT"
        );
        assert_eq!(ManageError::Unauthorized("x".into()).http_status(), 401);
    }
}
