//! The `min-balance` watch: a relayer's balance read periodically and after each change of
//! one of its transactions, and a low-balance alert sent to notification channels once per
//! crossing below the minimum (Defender emailed the team when a relayer ran low).
//!
//! The decision is [`balance_change`], a pure function of the previous state and a reading;
//! [`BalanceWatch`] is the I/O around it.

use super::RpcRelayer;
use crate::hex::u256_of;
use alloy_primitives::{utils::format_ether, U256};
use defender_core::{Message, Notifier};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// What a new balance reading means against the minimum, given where the last one stood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BalanceChange {
    /// At or above the minimum, as before.
    StillAbove,
    /// Below the minimum, and it was not: the crossing that is alerted.
    FellBelow,
    /// Below the minimum, as before: already alerted.
    StillBelow,
    /// Back at or above the minimum: the next fall is alerted again.
    Recovered,
}

impl BalanceChange {
    /// Whether this reading sends a low-balance alert.
    pub fn alerts(self) -> bool {
        self == BalanceChange::FellBelow
    }

    /// Whether the balance is now below the minimum.
    pub fn is_below(self) -> bool {
        matches!(self, BalanceChange::FellBelow | BalanceChange::StillBelow)
    }
}

/// Where `balance` stands against `min_balance` given that the previous reading was below it
/// (`was_below`). A minimum of zero is never crossed.
pub fn balance_change(was_below: bool, balance: U256, min_balance: U256) -> BalanceChange {
    match (was_below, balance < min_balance) {
        (false, false) => BalanceChange::StillAbove,
        (false, true) => BalanceChange::FellBelow,
        (true, true) => BalanceChange::StillBelow,
        (true, false) => BalanceChange::Recovered,
    }
}

/// The settings of a [`BalanceWatch`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BalanceWatchConfig {
    /// The minimum balance, in wei (`min-balance`).
    pub min_balance: U256,
    /// How often the balance is read when nothing happens.
    pub interval: Duration,
    /// The channels alerted, by alias (for logs).
    pub channels: Vec<(String, Arc<dyn Notifier>)>,
}

impl BalanceWatchConfig {
    /// A watch of `min_balance` wei, read every 60 s, alerting no channel yet.
    pub fn new(min_balance: U256) -> Self {
        BalanceWatchConfig {
            min_balance,
            interval: Duration::from_secs(60),
            channels: Vec::new(),
        }
    }

    /// Sets how often the balance is read.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Adds a channel to alert.
    pub fn with_channel(mut self, alias: impl Into<String>, notifier: Arc<dyn Notifier>) -> Self {
        self.channels.push((alias.into(), notifier));
        self
    }
}

/// A running `min-balance` watch of one relayer; stops when dropped (unless detached) or when
/// the relayer is.
#[derive(Debug)]
pub struct BalanceWatch {
    below: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
}

impl Drop for BalanceWatch {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl BalanceWatch {
    /// Starts watching `relayer`: a first reading now, then every `config.interval` and after
    /// each change of one of its transactions.
    pub fn start(relayer: &Arc<RpcRelayer>, config: BalanceWatchConfig) -> Self {
        let below = Arc::new(AtomicBool::new(false));
        let flag = below.clone();
        let weak = Arc::downgrade(relayer);
        let mut events = relayer.subscribe();
        let task = tokio::spawn(async move {
            let mut was_below = false;
            loop {
                let Some(relayer) = weak.upgrade() else {
                    return;
                };
                match read_balance(&relayer).await {
                    Ok(balance) => {
                        let change = balance_change(was_below, balance, config.min_balance);
                        was_below = change.is_below();
                        flag.store(was_below, Ordering::Relaxed);
                        if change.alerts() {
                            alert(&relayer, balance, &config).await;
                        } else if change == BalanceChange::Recovered {
                            tracing::info!(relayer = %relayer.shared.config.relayer_id, %balance, "relayer balance back above its minimum");
                        }
                    }
                    Err(e) => tracing::warn!(
                        relayer = %relayer.shared.config.relayer_id,
                        error = %e,
                        "relayer balance could not be read"
                    ),
                }
                drop(relayer);
                tokio::select! {
                    () = tokio::time::sleep(config.interval) => {}
                    event = events.recv() => match event {
                        // One reading for a burst of changes.
                        Ok(_) | Err(RecvError::Lagged(_)) => while events.try_recv().is_ok() {},
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
        BalanceWatch {
            below,
            task: Some(task),
        }
    }

    /// Lets the watch run until the relayer is dropped.
    pub fn detach(mut self) {
        self.task = None;
    }

    /// Whether the last reading was below the minimum.
    pub fn is_below(&self) -> bool {
        self.below.load(Ordering::Relaxed)
    }
}

async fn read_balance(relayer: &RpcRelayer) -> Result<U256, defender_core::RelayerError> {
    let v = relayer
        .shared
        .rpc("eth_getBalance", json!([relayer.shared.address, "latest"]))
        .await?;
    u256_of(&v).ok_or_else(|| {
        defender_core::RelayerError::Configuration(format!("the node answered a balance of {v}"))
    })
}

/// The low-balance message: who, how much, what minimum.
pub fn low_balance_message(
    relayer_id: &str,
    name: &str,
    address: &str,
    network: &str,
    balance: U256,
    min_balance: U256,
) -> Message {
    Message::new(
        format!("Relayer {name} is low on funds"),
        format!(
            "Relayer **{name}** (`{relayer_id}`, `{address}`) on **{network}** has a balance of \
             {} ({balance} wei), below its minimum balance of {} ({min_balance} wei). Fund it so \
             that its transactions keep being sent.",
            format_ether(balance),
            format_ether(min_balance),
        ),
    )
}

async fn alert(relayer: &RpcRelayer, balance: U256, config: &BalanceWatchConfig) {
    let c = &relayer.shared.config;
    let address = relayer.address().to_checksum(None);
    tracing::warn!(
        relayer = %c.relayer_id,
        %address,
        %balance,
        min_balance = %config.min_balance,
        "relayer balance below its minimum"
    );
    let message = low_balance_message(
        &c.relayer_id,
        &c.name,
        &address,
        &c.network,
        balance,
        config.min_balance,
    );
    for (alias, channel) in &config.channels {
        if let Err(e) = channel.send(&message).await {
            tracing::warn!(relayer = %c.relayer_id, channel = %alias, error = %e, "low-balance alert not delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_once_per_crossing_below() {
        use BalanceChange::*;
        let u = U256::from;
        // (was below, balance, minimum) -> change
        let table = [
            (false, 10, 5, StillAbove),
            (false, 5, 5, StillAbove),
            (false, 4, 5, FellBelow),
            (true, 3, 5, StillBelow),
            (true, 5, 5, Recovered),
            (true, 9, 5, Recovered),
            (false, 0, 0, StillAbove),
            (true, 0, 0, Recovered),
        ];
        for (was, balance, min, want) in table {
            let got = balance_change(was, u(balance), u(min));
            assert_eq!(got, want, "was_below {was}, balance {balance}, min {min}");
            assert_eq!(got.alerts(), want == FellBelow);
        }
        // A series: alerted when it first falls, not while it stays low, again after recovery.
        let mut below = false;
        let alerts: Vec<bool> = [9, 4, 3, 2, 6, 7, 1, 1]
            .into_iter()
            .map(|b| {
                let c = balance_change(below, u(b), u(5));
                below = c.is_below();
                c.alerts()
            })
            .collect();
        assert_eq!(
            alerts,
            [false, true, false, false, false, false, true, false]
        );
    }

    #[test]
    fn the_message_names_the_relayer_and_amounts() {
        let m = low_balance_message(
            "r1",
            "Relayer 1",
            "0xabc",
            "sepolia",
            U256::from(500_000_000_000_000_000u128),
            U256::from(1_000_000_000_000_000_000u128),
        );
        assert_eq!(m.subject, "Relayer Relayer 1 is low on funds");
        assert!(m.body.contains("0.500000000000000000"), "{}", m.body);
        assert!(m.body.contains("1000000000000000000 wei"), "{}", m.body);
        assert!(m.body.contains("sepolia"));
    }
}
