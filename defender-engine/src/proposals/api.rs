//! The engine's proposal operations, each delegating to [`Proposals`](super::Proposals).

use super::{Approval, Proposal, ProposalError, ProposalRequest};
use crate::engine::Engine;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::Address;

impl Engine {
    /// Adds (or replaces) a network that proposals can target, reached at `rpc_url`; returns
    /// its chain id.
    pub async fn add_proposal_network(
        &self,
        name: &str,
        rpc_url: &str,
    ) -> Result<u64, ProposalError> {
        self.proposals_service().add_network(name, rpc_url).await
    }

    /// Gives the engine a key that can send proposals' transactions: the EOA of `EOA`
    /// proposals (`via`), or the `executor` of Safe, Governor and Timelock proposals. Returns
    /// its address.
    pub fn add_proposal_signer(&self, key: PrivateKeySigner) -> Address {
        self.proposals_service().add_signer(key)
    }

    /// Creates a proposal (Defender's `proposal.create` with `type: 'custom'`): checks its
    /// inputs against the function's ABI and its approval process (for a Safe, reads the
    /// Safe's version and nonce and computes the SafeTx hash owners sign), and keeps it in the
    /// engine state, `open`.
    pub async fn create_proposal(&self, req: ProposalRequest) -> Result<Proposal, ProposalError> {
        self.proposals_service().create(req).await
    }

    /// The proposals, oldest first, with the on-chain state of Governor proposals and
    /// Timelock operations read now.
    pub async fn list_proposals(&self) -> Result<Vec<Proposal>, ProposalError> {
        self.proposals_service().list().await
    }

    /// A proposal, with its on-chain state read now.
    pub async fn get_proposal(&self, id: &str) -> Result<Proposal, ProposalError> {
        self.proposals_service().get(id).await
    }

    /// An owner's approval of a Safe proposal: a signature of its `safeTxHash` (recovered and
    /// checked against the Safe's owners), or an owner who approved the hash on chain. The
    /// proposal is `approved` once the approvals reach the Safe's threshold. Other proposals
    /// take no approvals ([`ProposalError::NotApprovable`]).
    pub async fn approve_proposal(
        &self,
        id: &str,
        approval: Approval,
    ) -> Result<Proposal, ProposalError> {
        self.proposals_service().approve(id, approval).await
    }

    /// Moves a proposal on and waits for its transaction: sends the call (relayer, EOA),
    /// `execTransaction` with the owners' signatures (Safe, once the threshold is met),
    /// `propose` then `execute` once the vote succeeded (Governor), `schedule` then `execute`
    /// once the delay passed (Timelock). Refusals (threshold not met, not ready...) change
    /// nothing; a transaction that reverts makes the proposal `failed`.
    pub async fn execute_proposal(&self, id: &str) -> Result<Proposal, ProposalError> {
        self.proposals_service().execute(id).await
    }
}
