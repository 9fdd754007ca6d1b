//! Notification channels and the registry that finds them by alias.

use crate::wire::MonitorMatch;
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};

/// Dynamic notifier, as the registry holds it.
pub type DynNotifier = dyn Notifier;

/// A message to people: rendered subject and body, and the monitor match it reports, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Subject or title.
    pub subject: String,
    /// Body in Markdown (Defender's alert format); email bodies may hold basic HTML.
    pub body: String,
    /// The match, when a monitor sent this; channels that send structured data use it.
    pub alert: Option<Arc<MonitorMatch>>,
    /// The same for every delivery of one notification to one channel, redeliveries included
    /// (the engine delivers monitor alerts at least once): a receiver that remembers it can
    /// drop a redelivery. Webhook channels send it as the `Idempotency-Key` header; `None`
    /// for messages that are not retried across restarts (an action's own notifications).
    pub idempotency_key: Option<String>,
}

impl Message {
    /// A message with no monitor match and no idempotency key.
    pub fn new(subject: impl Into<String>, body: impl Into<String>) -> Self {
        Message {
            subject: subject.into(),
            body: body.into(),
            alert: None,
            idempotency_key: None,
        }
    }

    /// The message with this idempotency key (see [`Message::idempotency_key`]).
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A metric point, as `notificationClient.sendMetric` and Datadog channels send it.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Name (a channel may prefix it).
    pub name: String,
    /// Value.
    pub value: f64,
    /// Tags as `(key, value)` pairs.
    pub tags: Vec<(String, String)>,
}

/// Errors of notifiers and of the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// No channel has this alias.
    #[error("no notification channel has the alias `{0}`")]
    UnknownAlias(String),
    /// Every channel with this alias is paused.
    #[error("notification channel `{0}` is paused")]
    Paused(String),
    /// The channel cannot send this kind of notification (a metric to Slack, say).
    #[error("channel {channel} cannot send {what}")]
    Unsupported {
        /// The channel's kind.
        channel: String,
        /// What was asked.
        what: &'static str,
    },
    /// The channel is misconfigured (bad URL, missing key).
    #[error("channel configuration: {0}")]
    Config(String),
    /// A template could not be rendered.
    #[error("template error: {0}")]
    Template(String),
    /// Delivery failed after all retries.
    #[error("delivery to {channel} failed after {attempts} attempt(s): {message}")]
    Delivery {
        /// The channel's kind.
        channel: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
}

/// One notification channel: Slack, email, a webhook...
///
/// # Contract
/// - `send` delivers one message, retrying transient failures within its own bounded time, and
///   returns [`NotifyError::Delivery`] when it gives up. It never panics and never waits without
///   bound.
/// - `send_metric` is for metric channels; others answer [`NotifyError::Unsupported`].
/// - `kind` names the channel type in logs and errors (`slack`, `email`, ...).
///
/// # Example
/// ```
/// use async_trait::async_trait;
/// use defender_core::{Message, Metric, Notifier, NotifyError};
///
/// #[derive(Debug)]
/// struct Stdout;
///
/// #[async_trait]
/// impl Notifier for Stdout {
///     fn kind(&self) -> &str { "stdout" }
///     async fn send(&self, m: &Message) -> Result<(), NotifyError> {
///         println!("{}: {}", m.subject, m.body);
///         Ok(())
///     }
///     async fn send_metric(&self, _: &Metric) -> Result<(), NotifyError> {
///         Err(NotifyError::Unsupported { channel: "stdout".into(), what: "metrics" })
///     }
/// }
/// ```
#[async_trait]
pub trait Notifier: Debug + Send + Sync + 'static {
    /// The channel type's name.
    fn kind(&self) -> &str;
    /// Delivers a message.
    async fn send(&self, message: &Message) -> Result<(), NotifyError>;
    /// Delivers a metric.
    async fn send_metric(&self, metric: &Metric) -> Result<(), NotifyError>;
}

#[async_trait]
impl<T: Notifier + ?Sized> Notifier for Arc<T> {
    fn kind(&self) -> &str {
        (**self).kind()
    }
    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        (**self).send(message).await
    }
    async fn send_metric(&self, metric: &Metric) -> Result<(), NotifyError> {
        (**self).send_metric(metric).await
    }
}

/// Renders a monitor match with the monitor's subject and body templates (Defender's default
/// alert text when they are absent).
///
/// Implement [`render_alert`](AlertFormatter::render_alert); [`format`](AlertFormatter::format)
/// builds a
/// [`Message`] from it. The engine's monitor path calls `render_alert` for each alert it owes:
/// the alert itself travels with the delivery, so nothing copies it here.
pub trait AlertFormatter: Debug + Send + Sync + 'static {
    /// The subject and body of `alert` with the optional custom templates.
    fn render_alert(
        &self,
        alert: &MonitorMatch,
        subject_template: Option<&str>,
        body_template: Option<&str>,
    ) -> Result<RenderedAlert, NotifyError>;

    /// [`render_alert`](AlertFormatter::render_alert) as a message that carries a copy of
    /// `alert`.
    fn format(
        &self,
        alert: &MonitorMatch,
        subject_template: Option<&str>,
        body_template: Option<&str>,
    ) -> Result<Message, NotifyError> {
        let RenderedAlert { subject, body } =
            self.render_alert(alert, subject_template, body_template)?;
        Ok(Message {
            subject,
            body,
            alert: Some(Arc::new(alert.clone())),
            idempotency_key: None,
        })
    }
}

/// An alert's text, as an [`AlertFormatter`] renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAlert {
    /// One line.
    pub subject: String,
    /// Markdown.
    pub body: String,
}

#[derive(Debug)]
struct Channel {
    notifier: Arc<DynNotifier>,
    paused: bool,
}

/// The outcome of a send through the registry: one entry per channel with the alias.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    /// `(channel kind, result)` for every active channel notified.
    pub results: Vec<(String, Result<(), NotifyError>)>,
}

impl DeliveryReport {
    /// Whether every channel accepted the notification.
    pub fn all_delivered(&self) -> bool {
        self.results.iter().all(|(_, r)| r.is_ok())
    }

    /// The failures.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &NotifyError)> {
        self.results
            .iter()
            .filter_map(|(k, r)| r.as_ref().err().map(|e| (k.as_str(), e)))
    }
}

/// Channels by alias. Several channels may share an alias: all of them are notified.
///
/// As Defender did: an unknown alias, or one whose channels are all paused, is an error; a
/// delivery failure of one channel is reported in the [`DeliveryReport`], not as an error.
///
/// ```
/// use defender_core::{Message, NotifierRegistry, RecordingNotifier, NotifyError};
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let registry = NotifierRegistry::default();
/// let ops = Arc::new(RecordingNotifier::default());
/// registry.add("ops", ops.clone());
/// let report = registry.send("ops", &Message::new("hello", "world")).await.unwrap();
/// assert!(report.all_delivered());
/// assert_eq!(ops.messages().len(), 1);
/// assert!(matches!(registry.send("nobody", &Message::new("a", "b")).await,
///                  Err(NotifyError::UnknownAlias(_))));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct NotifierRegistry {
    channels: RwLock<HashMap<String, Vec<Channel>>>,
}

impl NotifierRegistry {
    /// Adds a channel under `alias`.
    pub fn add(&self, alias: impl Into<String>, notifier: Arc<DynNotifier>) {
        self.write().entry(alias.into()).or_default().push(Channel {
            notifier,
            paused: false,
        });
    }

    /// Removes every channel with `alias`; returns how many there were.
    pub fn remove(&self, alias: &str) -> usize {
        self.write().remove(alias).map_or(0, |v| v.len())
    }

    /// Pauses or resumes every channel with `alias`; returns how many there are.
    pub fn set_paused(&self, alias: &str, paused: bool) -> usize {
        let mut channels = self.write();
        match channels.get_mut(alias) {
            Some(list) => {
                list.iter_mut().for_each(|c| c.paused = paused);
                list.len()
            }
            None => 0,
        }
    }

    /// The aliases, sorted.
    pub fn aliases(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read().keys().cloned().collect();
        v.sort();
        v
    }

    fn active(&self, alias: &str) -> Result<Vec<Arc<DynNotifier>>, NotifyError> {
        let channels = self.read();
        let list = channels
            .get(alias)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| NotifyError::UnknownAlias(alias.to_owned()))?;
        let active: Vec<_> = list
            .iter()
            .filter(|c| !c.paused)
            .map(|c| c.notifier.clone())
            .collect();
        if active.is_empty() {
            return Err(NotifyError::Paused(alias.to_owned()));
        }
        Ok(active)
    }

    /// Sends `message` to every active channel with `alias`, concurrently.
    pub async fn send(
        &self,
        alias: &str,
        message: &Message,
    ) -> Result<DeliveryReport, NotifyError> {
        let targets = self.active(alias)?;
        let results = futures::future::join_all(
            targets
                .iter()
                .map(|n| async move { (n.kind().to_owned(), n.send(message).await) }),
        )
        .await;
        Ok(DeliveryReport { results })
    }

    /// Sends `metric` to every active channel with `alias`, concurrently.
    pub async fn send_metric(
        &self,
        alias: &str,
        metric: &Metric,
    ) -> Result<DeliveryReport, NotifyError> {
        let targets = self.active(alias)?;
        let results = futures::future::join_all(
            targets
                .iter()
                .map(|n| async move { (n.kind().to_owned(), n.send_metric(metric).await) }),
        )
        .await;
        Ok(DeliveryReport { results })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<Channel>>> {
        self.channels.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Channel>>> {
        self.channels.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A [`Notifier`] that keeps what it is sent, for tests and doctests. It can be told to fail.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    messages: Mutex<Vec<Message>>,
    metrics: Mutex<Vec<Metric>>,
    fail_with: Mutex<Option<String>>,
}

impl RecordingNotifier {
    /// The messages received so far.
    pub fn messages(&self) -> Vec<Message> {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The metrics received so far.
    pub fn metrics(&self) -> Vec<Metric> {
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes every later delivery fail with this message (`None` to succeed again).
    pub fn fail_with(&self, message: Option<&str>) {
        *self.fail_with.lock().unwrap_or_else(|e| e.into_inner()) = message.map(str::to_owned);
    }

    fn check(&self) -> Result<(), NotifyError> {
        match &*self.fail_with.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(m) => Err(NotifyError::Delivery {
                channel: "recording".into(),
                attempts: 1,
                message: m.clone(),
            }),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn kind(&self) -> &str {
        "recording"
    }
    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        self.check()?;
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.clone());
        Ok(())
    }
    async fn send_metric(&self, metric: &Metric) -> Result<(), NotifyError> {
        self.check()?;
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(metric.clone());
        Ok(())
    }
}
