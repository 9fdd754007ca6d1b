//! The transaction lifecycle as a pure transition function.
//!
//! [`next`] takes what the relayer knows of a transaction ([`TxState`]), what it just observed
//! ([`Observation`]: one poll of the chain, or a resubmission refused because the nonce is
//! used) and the relayer's [`Rules`], and returns the [`Action`] to take. It does no I/O: the
//! background pass (`poll.rs`) gathers observations, calls it, and carries the action out.
//!
//! | state                              | observation                          | action            |
//! |------------------------------------|--------------------------------------|-------------------|
//! | replaced by a no-op, settled       | anything                             | wait              |
//! | replaced by a no-op                | a receipt of one of its hashes       | settle            |
//! | in flight                          | a successful receipt                 | mined (confirmed if deep enough) |
//! | in flight                          | a reverted receipt                   | failed            |
//! | mined                              | its receipt, deep enough             | confirmed         |
//! | mined                              | its receipt, not deep enough         | wait              |
//! | mined                              | due, and no receipt                  | reorged: back to submitted |
//! | mined                              | not due for a check                  | wait              |
//! | final (not a no-op)                | anything                             | wait              |
//! | in flight, not a no-op             | now past `validUntil`                | expire            |
//! | replaced by a no-op                | unmined for the `fast` wait          | bump the no-op    |
//! | sent or pending                    | not mined                            | rebroadcast       |
//! | submitted or inmempool             | unmined for its speed's wait         | resubmit (bumped fees), or rebroadcast as is when caller-priced |
//! | submitted                          | the node knows its hash              | inmempool         |
//! | anything else                      | nothing new                          | wait              |
//! | replaced by a no-op / not          | resubmission: nonce used, none of its hashes mined | settle / failed |
//! | any                                | resubmission: nonce used, one of its hashes mined  | wait (the next poll sees the receipt) |

use super::config::{RelayerConfig, ResubmitAfter};
use crate::store::StoredTransaction;
use chrono::{DateTime, Utc};
use defender_core::wire::{Speed, TxStatus};

/// What the lifecycle needs of a relayer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rules {
    /// Blocks on top of the mining block before `confirmed`.
    pub(super) confirmations: u64,
    /// How long an unmined transaction waits before it is resubmitted.
    pub(super) resubmit_after: ResubmitAfter,
}

impl Rules {
    /// The rules of these settings.
    pub(super) fn of(config: &RelayerConfig) -> Self {
        Rules {
            confirmations: config.confirmations,
            resubmit_after: config.resubmit_after,
        }
    }
}

/// What the lifecycle knows of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TxState {
    /// Its status.
    pub(super) status: TxStatus,
    /// Its speed (`None`: caller-priced).
    pub(super) speed: Option<Speed>,
    /// Whether the caller gave the fees (they are then never bumped).
    pub(super) fixed_fees: bool,
    /// When it was last sent; its age counts from there.
    pub(super) sent_at: Option<DateTime<Utc>>,
    /// Its deadline.
    pub(super) valid_until: DateTime<Utc>,
    /// The block it was seen mined in.
    pub(super) mined_block: Option<u64>,
    /// It was replaced by a no-op (expired, or refused by the node after later nonces).
    pub(super) noop: bool,
    /// The no-op's nonce is used: nothing more to follow.
    pub(super) settled: bool,
}

impl TxState {
    /// The state of a stored transaction.
    pub(super) fn of(rec: &StoredTransaction) -> Self {
        TxState {
            status: rec.tx.status,
            speed: rec.tx.speed,
            fixed_fees: rec.fixed_fees,
            sent_at: rec.tx.sent_at,
            valid_until: rec.tx.valid_until,
            mined_block: rec.mined_block,
            noop: rec.noop,
            settled: rec.settled,
        }
    }
}

/// A receipt found for one of a transaction's hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReceiptSeen {
    /// The hash it is the receipt of.
    pub(super) hash: String,
    /// Its block, when the receipt says.
    pub(super) block: Option<u64>,
    /// Whether the transaction succeeded.
    pub(super) success: bool,
}

/// What one lifecycle pass learned about a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Poll {
    /// The receipt of one of its hashes, if mined.
    pub(super) receipt: Option<ReceiptSeen>,
    /// Whether its receipts were asked for (a missing receipt then means "not mined").
    pub(super) checked: bool,
    /// Whether the node knows its latest hash.
    pub(super) in_mempool: bool,
    /// The chain's head.
    pub(super) head: u64,
    /// The time of the pass.
    pub(super) now: DateTime<Utc>,
}

/// What the relayer observed about a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Observation {
    /// A pass of the background lifecycle.
    Poll(Poll),
    /// A resubmission was refused with "nonce too low": the nonce is used.
    NonceUsed {
        /// Whether one of the transaction's own hashes has a receipt.
        ours_mined: bool,
    },
}

/// Where a transaction was included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Inclusion {
    /// The hash that was mined.
    pub(super) hash: String,
    /// The block it was mined in.
    pub(super) block: u64,
}

/// What to do with a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Nothing this time.
    Wait,
    /// The no-op that replaced it is mined (with where), or its nonce is used: stop following it.
    Settle {
        /// Where the no-op was mined, when a receipt says.
        inclusion: Option<Inclusion>,
    },
    /// Included and successful: `mined`, then at once `confirmed` when already deep enough.
    Mine {
        /// Where.
        inclusion: Inclusion,
        /// Whether it is already deep enough to be `confirmed`.
        confirmed: bool,
    },
    /// `failed`: reverted (with where), or its nonce used by another transaction.
    Fail {
        /// Where it was mined, when it reverted.
        inclusion: Option<Inclusion>,
    },
    /// Mined and deep enough: `confirmed`.
    Confirm,
    /// Mined, but its receipt is gone: back to `submitted`, and broadcast again.
    Reorg,
    /// Past `validUntil`: replace it with a 0-value self-transfer at its nonce, `expired`.
    Expire,
    /// The no-op replacing it is stuck: bump its fees (the gas price cap does not apply).
    BumpNoop,
    /// Signed but not accepted by a node yet: broadcast again; `submitted` once accepted.
    Rebroadcast,
    /// Caller-priced and stuck: broadcast it as is and restart its wait.
    RebroadcastAsIs,
    /// Priced by speed and stuck: resubmit with fees bumped by at least 10%.
    Resubmit,
    /// The node knows its hash: `inmempool`.
    MarkInMempool,
}

/// The next action for a transaction in `state` after `observation`.
pub(super) fn next(state: &TxState, observation: &Observation, rules: &Rules) -> Action {
    if state.noop && state.settled {
        return Action::Wait;
    }
    match observation {
        Observation::NonceUsed { ours_mined: true } => Action::Wait,
        Observation::NonceUsed { ours_mined: false } if state.noop => {
            Action::Settle { inclusion: None }
        }
        Observation::NonceUsed { ours_mined: false } => Action::Fail { inclusion: None },
        Observation::Poll(poll) => match &poll.receipt {
            Some(receipt) => on_receipt(state, receipt, poll.head, rules),
            None => without_receipt(state, poll, rules),
        },
    }
}

fn on_receipt(state: &TxState, receipt: &ReceiptSeen, head: u64, rules: &Rules) -> Action {
    let inclusion = Inclusion {
        hash: receipt.hash.clone(),
        block: receipt.block.unwrap_or(head),
    };
    let deep = |block: u64| head.saturating_sub(block) >= rules.confirmations;
    if state.noop {
        Action::Settle {
            inclusion: Some(inclusion),
        }
    } else if state.status.is_in_flight() && receipt.success {
        Action::Mine {
            confirmed: deep(inclusion.block),
            inclusion,
        }
    } else if state.status.is_in_flight() {
        Action::Fail {
            inclusion: Some(inclusion),
        }
    } else if state.status == TxStatus::Mined && deep(state.mined_block.unwrap_or(inclusion.block))
    {
        Action::Confirm
    } else {
        Action::Wait
    }
}

fn without_receipt(state: &TxState, poll: &Poll, rules: &Rules) -> Action {
    if state.status == TxStatus::Mined {
        // Checked and no receipt: reorged out. Not checked: not due for confirmation yet.
        return if poll.checked {
            Action::Reorg
        } else {
            Action::Wait
        };
    }
    if state.status.is_final() && !state.noop {
        return Action::Wait;
    }
    let age = state
        .sent_at
        .map(|s| (poll.now - s).to_std().unwrap_or_default())
        .unwrap_or_default();
    if !state.noop && state.status.is_in_flight() && poll.now > state.valid_until {
        return Action::Expire;
    }
    if state.noop {
        return if age >= rules.resubmit_after.fast {
            Action::BumpNoop
        } else {
            Action::Wait
        };
    }
    if matches!(state.status, TxStatus::Sent | TxStatus::Pending) {
        return Action::Rebroadcast;
    }
    if age >= rules.resubmit_after.of(state.speed) {
        return if state.fixed_fees {
            Action::RebroadcastAsIs
        } else {
            Action::Resubmit
        };
    }
    if state.status == TxStatus::Submitted && poll.in_mempool {
        return Action::MarkInMempool;
    }
    Action::Wait
}

#[cfg(test)]
mod tests;
