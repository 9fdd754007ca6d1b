//! The [`Notifier`] contract, checked from both ends of a channel: what `send` and
//! `send_metric` answer, and what the far end (the service the channel posts to) receives.
//!
//! # What the suite checks
//! - [`kind_names_the_channel`]: `kind()` is a non-empty name without whitespace, the same at
//!   every call.
//! - [`delivers_messages`] / [`delivers_metrics`]: a channel either carries a kind of
//!   notification, and then every `Ok` send reaches the far end exactly once, in order, with
//!   its text (subject and body; a metric's name) intact, Unicode included; or it does not,
//!   and then it answers [`NotifyError::Unsupported`] naming itself, every time, and sends
//!   nothing. A channel carries at least one of the two.
//! - [`failures_are_delivery_errors`]: when the far end refuses, a send the channel carries
//!   fails with [`NotifyError::Delivery`] naming the channel and counting at least one
//!   attempt, never `Ok`.
//! - [`concurrent_sends`]: sends from many tasks at once all arrive, each exactly once.
//! - [`registry_routes_to_the_channel`] and [`registry_reports_failures`]: held by a
//!   [`NotifierRegistry`] as the engine holds it, the channel is reported by its kind, pausing
//!   its alias stops deliveries, and its failure is reported in the [`DeliveryReport`] while
//!   the other channels of the alias still get the notification.
//!
//! Every send is bounded: a `send` or `send_metric` that takes more than [`MAX_SEND_TIME`]
//! fails the suite (the contract says a channel gives up within its own bounded time).
//!
//! # Running it
//! [`run_suite`] takes a factory that builds a fresh channel whose far end behaves as asked
//! ([`FarEnd`]), with an [`Inbox`] that tells what that far end received. For an HTTP channel
//! the far end is a local server that records requests (and answers 5xx to refuse); for
//! [`RecordingNotifier`], the notifier is its own inbox:
//!
//! ```
//! use defender_core::conformance::notify::{self, FarEnd};
//! use defender_core::RecordingNotifier;
//! use std::sync::Arc;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! notify::run_suite(|far_end| async move {
//!     let channel = Arc::new(RecordingNotifier::default());
//!     if far_end == FarEnd::Refuses {
//!         channel.fail_with(Some("refused"));
//!     }
//!     (channel.clone(), channel)
//! })
//! .await;
//! # });
//! ```
//!
//! The messages the suite sends hold letters, digits, spaces and non-ASCII characters only
//! (no Markdown or HTML markup), so that a channel that renders Markdown for its service
//! still carries the text unchanged.

use super::Via;
use crate::notify::{
    DeliveryReport, Message, Metric, Notifier, NotifierRegistry, NotifyError, RecordingNotifier,
};
use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Longest time the suite lets one `send` or `send_metric` take, retries included. Configure
/// the channel under test to give up well within it.
pub const MAX_SEND_TIME: Duration = Duration::from_secs(60);

/// How many tasks [`run_suite`] sends from at once in [`concurrent_sends`].
pub const CONCURRENT_SENDS: usize = 8;

/// How the far end of a channel built by a [`run_suite`] factory answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FarEnd {
    /// It accepts every delivery.
    Accepts,
    /// It refuses every delivery, as a service that is down does (an HTTP 5xx, a refused
    /// connection, an SMTP 4xx...): the channel may retry, then gives up.
    Refuses,
}

/// What the far end of a channel has received.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// One entry per delivery received so far, in order of arrival, as text decoded from the
    /// channel's wire format (a JSON body's strings, a decoded email...) in which the
    /// notification's subject and body, or a metric's name, can be found.
    async fn received(&self) -> Vec<String>;
}

#[async_trait]
impl<T: Inbox + ?Sized> Inbox for Arc<T> {
    async fn received(&self) -> Vec<String> {
        (**self).received().await
    }
}

/// Its messages (`subject`, a line break, `body`), then its metrics (`name value tags`).
#[async_trait]
impl Inbox for RecordingNotifier {
    async fn received(&self) -> Vec<String> {
        let messages = self
            .messages()
            .into_iter()
            .map(|m| format!("{}\n{}", m.subject, m.body));
        let metrics = self
            .metrics()
            .into_iter()
            .map(|m| format!("{} {} {:?}", m.name, m.value, m.tags));
        messages.chain(metrics).collect()
    }
}

/// Whether a channel carries a kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Support {
    /// It delivers it.
    Supported,
    /// It answers [`NotifyError::Unsupported`].
    Unsupported,
}

/// A kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notification {
    /// A [`Message`], sent with `send`.
    Message,
    /// A [`Metric`], sent with `send_metric`.
    Metric,
}

/// Runs every check on channels built by `make`, directly, through `Box<dyn Notifier>` and
/// through `Arc<dyn Notifier>`.
///
/// `make(far_end)` returns a fresh channel and the inbox of its far end, which answers as
/// `far_end` says. Checks that share the channel between tasks or hand it to a
/// [`NotifierRegistry`] hold it in an `Arc<dyn Notifier>` whichever way the others reach it.
pub async fn run_suite<F, Fut, N, I>(make: F)
where
    F: Fn(FarEnd) -> Fut,
    Fut: Future<Output = (N, I)>,
    N: Notifier,
    I: Inbox,
{
    for via in Via::ALL {
        let (n, _inbox) = make(FarEnd::Accepts).await;
        reach!(deref Notifier, via, n, |n| kind_names_the_channel(n));

        let (n, inbox) = make(FarEnd::Accepts).await;
        let messages = reach!(deref Notifier, via, n, |n| delivers_messages(n, &inbox).await);
        let (n, inbox) = make(FarEnd::Accepts).await;
        let metrics = reach!(deref Notifier, via, n, |n| delivers_metrics(n, &inbox).await);
        let what = match (messages, metrics) {
            (Support::Supported, _) => Notification::Message,
            (Support::Unsupported, Support::Supported) => Notification::Metric,
            (Support::Unsupported, Support::Unsupported) => {
                panic!("the channel carries neither messages nor metrics")
            }
        };

        let (n, _inbox) = make(FarEnd::Refuses).await;
        reach!(deref Notifier, via, n, |n| failures_are_delivery_errors(n).await);

        let (n, inbox) = make(FarEnd::Accepts).await;
        eprintln!("conformance: concurrent_sends {via}");
        concurrent_sends(
            share!(deref Notifier, via, n),
            &inbox,
            what,
            CONCURRENT_SENDS,
        )
        .await;

        let (n, inbox) = make(FarEnd::Accepts).await;
        eprintln!("conformance: registry_routes_to_the_channel {via}");
        registry_routes_to_the_channel(share!(deref Notifier, via, n), &inbox, what).await;

        let (n, _inbox) = make(FarEnd::Refuses).await;
        eprintln!("conformance: registry_reports_failures {via}");
        registry_reports_failures(share!(deref Notifier, via, n), what).await;
    }
}

/// Awaits `fut`, failing the suite if it takes more than [`MAX_SEND_TIME`].
async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(MAX_SEND_TIME, fut).await {
        Ok(v) => v,
        Err(_) => panic!(
            "{what} took more than {MAX_SEND_TIME:?}: a channel gives up within bounded time"
        ),
    }
}

/// The message the suite sends with `marker`: the marker in subject and body, with
/// non-ASCII text and no markup.
fn message(marker: &str) -> Message {
    Message::new(
        format!("Suite {marker} Zürich alert 🚨"),
        format!("Transfer {marker} of 5000 tokens from 東京 to Kraków 🦀 über alles"),
    )
}

/// The metric the suite sends with `marker` (a non-zero value: channels may skip zeros).
fn metric(marker: &str) -> Metric {
    Metric {
        name: format!("suite{marker}"),
        value: 3.5,
        tags: vec![("network".into(), "mainnet".into())],
    }
}

/// The texts a delivery of `what` with `marker` must hold at the far end.
fn expected(what: Notification, marker: &str) -> Vec<String> {
    match what {
        Notification::Message => {
            let m = message(marker);
            vec![m.subject, m.body]
        }
        Notification::Metric => vec![metric(marker).name],
    }
}

async fn send(n: &dyn Notifier, what: Notification, marker: &str) -> Result<(), NotifyError> {
    match what {
        Notification::Message => bounded("send", n.send(&message(marker))).await,
        Notification::Metric => bounded("send_metric", n.send_metric(&metric(marker))).await,
    }
}

async fn send_through(
    registry: &NotifierRegistry,
    alias: &str,
    what: Notification,
    marker: &str,
) -> Result<DeliveryReport, NotifyError> {
    match what {
        Notification::Message => {
            bounded("registry send", registry.send(alias, &message(marker))).await
        }
        Notification::Metric => {
            bounded(
                "registry send_metric",
                registry.send_metric(alias, &metric(marker)),
            )
            .await
        }
    }
}

/// The entries received after the first `before`.
async fn received_since(inbox: &dyn Inbox, before: usize) -> Vec<String> {
    inbox.received().await.into_iter().skip(before).collect()
}

fn assert_holds(entry: &str, what: Notification, marker: &str, context: &str) {
    for text in expected(what, marker) {
        assert!(
            entry.contains(&text),
            "{context}: the far end did not receive {text:?} intact; it received {entry:?}"
        );
    }
}

/// `kind()` names the channel: not empty, no whitespace or control characters, the same at
/// every call.
pub fn kind_names_the_channel(n: &dyn Notifier) {
    let kind = n.kind().to_owned();
    assert!(!kind.is_empty(), "kind() is empty");
    assert!(
        !kind.chars().any(|c| c.is_whitespace() || c.is_control()),
        "kind() {kind:?} holds whitespace or control characters"
    );
    assert_eq!(n.kind(), kind, "kind() changed between calls");
}

async fn delivers(n: &dyn Notifier, inbox: &dyn Inbox, what: Notification) -> Support {
    let before = inbox.received().await.len();
    let markers = ["one", "two", "three"];
    let first = send(n, what, markers[0]).await;
    if let Err(NotifyError::Unsupported { channel, .. }) = &first {
        assert_eq!(
            channel,
            n.kind(),
            "Unsupported names the channel by its kind"
        );
        for marker in &markers[1..] {
            let again = send(n, what, marker).await;
            assert!(
                matches!(again, Err(NotifyError::Unsupported { .. })),
                "{what:?}: Unsupported once, then {again:?}"
            );
        }
        let sent = received_since(inbox, before).await;
        assert!(
            sent.is_empty(),
            "{what:?} is Unsupported, yet the far end received {sent:?}"
        );
        return Support::Unsupported;
    }
    first.unwrap_or_else(|e| panic!("{what:?} to a far end that accepts: {e}"));
    for marker in &markers[1..] {
        send(n, what, marker)
            .await
            .unwrap_or_else(|e| panic!("{what:?} {marker} to a far end that accepts: {e}"));
    }
    let got = received_since(inbox, before).await;
    assert_eq!(
        got.len(),
        markers.len(),
        "{} {what:?} sent one after the other, each Ok: the far end must receive each exactly \
         once; it received {got:#?}",
        markers.len()
    );
    for (entry, marker) in got.iter().zip(markers) {
        assert_holds(entry, what, marker, "deliveries in order");
    }
    Support::Supported
}

/// Three messages sent one after the other: either each is `Ok` and reaches the far end
/// exactly once, in order, with subject and body intact; or each is
/// [`NotifyError::Unsupported`] naming the channel, and nothing is sent.
pub async fn delivers_messages(n: &dyn Notifier, inbox: &dyn Inbox) -> Support {
    delivers(n, inbox, Notification::Message).await
}

/// Three metrics sent one after the other: either each is `Ok` and reaches the far end
/// exactly once, in order, with its name intact; or each is [`NotifyError::Unsupported`]
/// naming the channel, and nothing is sent.
pub async fn delivers_metrics(n: &dyn Notifier, inbox: &dyn Inbox) -> Support {
    delivers(n, inbox, Notification::Metric).await
}

fn assert_refused(kind: &str, what: Notification, got: Result<(), NotifyError>) -> bool {
    match got {
        Err(NotifyError::Delivery {
            channel,
            attempts,
            message,
        }) => {
            assert_eq!(channel, kind, "Delivery names the channel by its kind");
            assert!(attempts >= 1, "a failed delivery counts its attempts");
            assert!(!message.is_empty(), "a failed delivery says why");
            true
        }
        Err(NotifyError::Unsupported { .. }) => false,
        Ok(()) => panic!("{what:?} to a far end that refuses was reported delivered"),
        Err(other) => panic!("{what:?} to a far end that refuses: expected Delivery, got {other}"),
    }
}

/// The far end refuses every delivery: `send` and `send_metric` fail with
/// [`NotifyError::Delivery`] (the channel's kind, at least one attempt, a reason), or
/// [`NotifyError::Unsupported`] for what the channel does not carry, and at least one of them
/// is a `Delivery` failure. `n`'s far end must refuse.
pub async fn failures_are_delivery_errors(n: &dyn Notifier) {
    let kind = n.kind().to_owned();
    let m = assert_refused(
        &kind,
        Notification::Message,
        send(n, Notification::Message, "refused").await,
    );
    let x = assert_refused(
        &kind,
        Notification::Metric,
        send(n, Notification::Metric, "refused").await,
    );
    assert!(
        m || x,
        "both kinds Unsupported: the channel carries nothing"
    );
}

fn concurrent_marker(i: usize) -> String {
    format!("concurrent{i:03}")
}

/// `count` tasks send one `what` each, all at once: every send is `Ok`, and the far end
/// receives each exactly once. `what` must be a kind the channel carries.
pub async fn concurrent_sends(
    n: Arc<dyn Notifier>,
    inbox: &dyn Inbox,
    what: Notification,
    count: usize,
) {
    let before = inbox.received().await.len();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let n = n.clone();
            tokio::spawn(async move { send(&*n, what, &concurrent_marker(i)).await })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        t.await
            .expect("a sending task panicked")
            .unwrap_or_else(|e| panic!("concurrent {what:?} {i}: {e}"));
    }
    let got = received_since(inbox, before).await;
    assert_eq!(
        got.len(),
        count,
        "{count} concurrent sends, each Ok: the far end must receive {count}; it received \
         {got:#?}"
    );
    for i in 0..count {
        let marker = concurrent_marker(i);
        let holding: Vec<_> = got.iter().filter(|e| e.contains(&marker)).collect();
        assert_eq!(
            holding.len(),
            1,
            "concurrent send {i} must arrive exactly once; found in {holding:#?}"
        );
        assert_holds(holding[0], what, &marker, "concurrent sends");
    }
}

/// Held by a [`NotifierRegistry`] under an alias: a send reaches the channel, whose kind the
/// [`DeliveryReport`] names; while the alias is paused nothing is delivered and the send fails
/// with [`NotifyError::Paused`]; once resumed it delivers again; once removed, the alias is
/// unknown. `what` must be a kind the channel carries.
pub async fn registry_routes_to_the_channel(
    n: Arc<dyn Notifier>,
    inbox: &dyn Inbox,
    what: Notification,
) {
    let kind = n.kind().to_owned();
    let registry = NotifierRegistry::default();
    registry.add("suite", n);
    let before = inbox.received().await.len();

    let report = send_through(&registry, "suite", what, "routed")
        .await
        .expect("a registered alias");
    assert_eq!(report.results.len(), 1, "one channel, one result");
    assert_eq!(
        report.results[0].0, kind,
        "the report names the channel's kind"
    );
    assert!(report.all_delivered(), "delivery failed: {report:?}");
    let got = received_since(inbox, before).await;
    assert_eq!(got.len(), 1, "one send, one delivery: {got:#?}");
    assert_holds(&got[0], what, "routed", "through the registry");

    assert_eq!(registry.set_paused("suite", true), 1);
    let paused = send_through(&registry, "suite", what, "paused").await;
    assert!(
        matches!(&paused, Err(NotifyError::Paused(a)) if a == "suite"),
        "a paused alias: expected Paused, got {paused:?}"
    );
    assert_eq!(registry.set_paused("suite", false), 1);
    let report = send_through(&registry, "suite", what, "resumed")
        .await
        .expect("a resumed alias");
    assert!(report.all_delivered(), "delivery failed: {report:?}");
    let got = received_since(inbox, before).await;
    assert_eq!(got.len(), 2, "a paused alias delivers nothing: {got:#?}");
    assert_holds(&got[1], what, "resumed", "after resuming");

    assert_eq!(registry.remove("suite"), 1);
    let removed = send_through(&registry, "suite", what, "removed").await;
    assert!(
        matches!(&removed, Err(NotifyError::UnknownAlias(a)) if a == "suite"),
        "a removed alias: expected UnknownAlias, got {removed:?}"
    );
    assert_eq!(
        inbox.received().await.len(),
        before + 2,
        "nothing is delivered to a removed alias"
    );
}

/// A channel whose far end refuses shares an alias with a working channel: the registry's
/// send succeeds, its report holds the refusing channel's [`NotifyError::Delivery`] under its
/// kind and the working channel's success, and the working channel got the notification.
/// `refusing`'s far end must refuse; `what` must be a kind it carries.
pub async fn registry_reports_failures(refusing: Arc<dyn Notifier>, what: Notification) {
    let kind = refusing.kind().to_owned();
    let witness = Arc::new(RecordingNotifier::default());
    let registry = NotifierRegistry::default();
    registry.add("suite", refusing);
    registry.add("suite", witness.clone());
    let report = send_through(&registry, "suite", what, "partial")
        .await
        .expect("one channel's failure is reported, not raised");
    assert_eq!(report.results.len(), 2, "two channels, two results");
    assert!(
        !report.all_delivered(),
        "a refused delivery was reported delivered"
    );
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "one channel failed: {report:?}");
    assert_eq!(failures[0].0, kind, "the failure names the channel's kind");
    assert!(
        matches!(failures[0].1, NotifyError::Delivery { .. }),
        "expected Delivery, got {}",
        failures[0].1
    );
    let got = witness.received().await;
    assert_eq!(
        got.len(),
        1,
        "the working channel got the notification: {got:?}"
    );
    assert_holds(&got[0], what, "partial", "beside a failing channel");
}
