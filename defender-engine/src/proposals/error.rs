//! Errors of proposals: what is wrong with a request, why an approval or an execution is
//! refused, and chain failures.

use super::model::{ProposalStatus, ViaType};

/// Why a proposal operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalError {
    /// No proposal with this id.
    #[error("no proposal `{0}`")]
    Unknown(String),
    /// The request is not a valid proposal (a missing or malformed field).
    #[error("invalid proposal: {0}")]
    Invalid(String),
    /// The function's inputs do not match its ABI.
    #[error("invalid function inputs: {0}")]
    Inputs(String),
    /// The network was not added with `Engine::add_proposal_network`.
    #[error("unknown network `{0}`")]
    UnknownNetwork(String),
    /// No relayer or engine-held key can send the transaction.
    #[error("no sender: {0}")]
    NoSender(String),
    /// Only Safe proposals take approvals.
    #[error("{0:?} proposals take no approvals")]
    NotApprovable(ViaType),
    /// The proposal is executed or failed.
    #[error("the proposal is {0:?}: nothing more can happen to it")]
    Closed(ProposalStatus),
    /// The signature is not a valid one of the Safe transaction hash.
    #[error("invalid signature: {0}")]
    BadSignature(String),
    /// The signer (or approver) is not an owner of the Safe.
    #[error("{0} is not an owner of the Safe")]
    NotOwner(String),
    /// The Safe has fewer approvals than its threshold.
    #[error("{have} of {need} approvals: the Safe's threshold is not met")]
    ThresholdNotMet {
        /// Approvals given.
        have: usize,
        /// The Safe's threshold.
        need: u64,
    },
    /// The Timelock operation's delay has not passed.
    #[error("the Timelock operation is not ready (ready at {ready_at})")]
    NotReady {
        /// When it is (unix seconds).
        ready_at: u64,
    },
    /// The Governor proposal cannot be executed in this state.
    #[error("the Governor proposal is {0}: only a Succeeded or Queued one executes")]
    GovernorState(String),
    /// A chain call or a transaction failed (not a revert of the executed call, which marks
    /// the proposal failed).
    #[error("chain: {0}")]
    Chain(String),
    /// The engine state could not be read or written.
    #[error("engine state: {0}")]
    State(#[from] defender_core::state::StateError),
}
