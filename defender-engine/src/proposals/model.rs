//! Proposals as Defender's API wrote them (`ExternalApiCreateProposalRequest` and
//! `ExternalApiProposalResponse` of defender-sdk's `packages/proposal`), with what this engine
//! adds: the state, the approvals of a Safe, the transaction sent, the on-chain state of a
//! Governor proposal or Timelock operation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The contract a proposal calls (`PartialContract`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalContract {
    /// The network's name, as added with
    /// [`Engine::add_proposal_network`](crate::Engine::add_proposal_network).
    pub network: String,
    /// The contract's address.
    pub address: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contract's ABI (JSON text), where the function is looked up by name when
    /// `functionInterface` gives no inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<String>,
}

/// How a proposal is approved and executed (`viaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViaType {
    /// A local key the engine holds sends the call (`via`: its address).
    #[serde(rename = "EOA")]
    Eoa,
    /// A Safe multisig (`via`: the Safe): owners approve the Safe transaction, then
    /// `execTransaction` runs it once the threshold is met.
    Safe,
    /// Defender's older name of a Safe.
    #[serde(rename = "Gnosis Multisig")]
    GnosisMultisig,
    /// A relayer of the engine (`relayerId`) sends the call.
    Relayer,
    /// An OpenZeppelin Governor (`via`): the call is proposed (`propose`), voted on chain, and
    /// executed once it succeeded.
    Governor,
    /// An OpenZeppelin TimelockController (`via`): the call is scheduled, then executed after
    /// the delay.
    Timelock,
}

/// Defender's `ProposalFunctionInputType`: one parameter of the function, as an ABI writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionParam {
    /// The parameter's name.
    #[serde(default)]
    pub name: String,
    /// Its Solidity type (`uint256`, `address[]`, `tuple`...).
    #[serde(rename = "type")]
    pub ty: String,
    /// The compiler's type name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_type: Option<String>,
    /// The members of a tuple.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<FunctionParam>,
}

/// Defender's `ProposalTargetFunction`: the function called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetFunction {
    /// The function's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its parameters.
    #[serde(default)]
    pub inputs: Vec<FunctionParam>,
}

/// A Safe transaction's operation (`metadata.operationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum OperationType {
    /// A call.
    #[default]
    Call,
    /// A delegate call.
    DelegateCall,
}

/// Defender's `ProposalMetadata`: the parts used by custom proposals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProposalMetadata {
    /// Call or delegate call (Safe only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<OperationType>,
    /// Wei sent with the call (a decimal string or number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_value: Option<Value>,
}

/// A proposal to create (`ExternalApiCreateProposalRequest`, `type: 'custom'`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalRequest {
    /// The contract called.
    pub contract: ProposalContract,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `custom`, the only type this engine takes.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value sent and the Safe operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ProposalMetadata>,
    /// The address of the approval process: the EOA, Safe, Governor or Timelock (for a
    /// relayer, its address, checked when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The kind of approval process.
    pub via_type: ViaType,
    /// The function called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_interface: Option<TargetFunction>,
    /// Its arguments: strings, booleans, numbers, and arrays of them for arrays and tuples.
    #[serde(default)]
    pub function_inputs: Vec<Value>,
    /// The relayer that sends the transaction: the call itself for `Relayer`, and
    /// `execTransaction`, `propose`, `schedule`/`execute` for the other processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayer_id: Option<String>,
    /// Instead of a relayer, the address of an engine-held key
    /// ([`Engine::add_proposal_signer`](crate::Engine::add_proposal_signer)) that sends the
    /// Safe, Governor or Timelock transactions (not in Defender's API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
}

/// Where a proposal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalStatus {
    /// Created; collecting approvals (Safe) or waiting to be executed.
    Open,
    /// A Safe with enough approvals: ready to execute.
    Approved,
    /// Proposed to the Governor; `governor.state` has its on-chain state.
    Proposed,
    /// Scheduled in the Timelock; `timelock.readyAt` says from when it can execute.
    Scheduled,
    /// Executed: the call ran on chain.
    Executed,
    /// The transaction that would have executed it reverted.
    Failed,
}

impl ProposalStatus {
    /// Whether nothing more can happen to the proposal.
    pub fn is_final(self) -> bool {
        matches!(self, ProposalStatus::Executed | ProposalStatus::Failed)
    }
}

/// An owner's approval of a Safe proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeApproval {
    /// The owner.
    pub owner: String,
    /// The signature as `execTransaction` takes it (hex, 65 bytes).
    pub signature: String,
}

/// An approval given through [`Engine::approve_proposal`](crate::Engine::approve_proposal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Approval {
    /// An owner's signature of the Safe transaction hash (hex, 65 bytes): EIP-712 (`v` 27 or
    /// 28) or `eth_sign` (`v` 31 or 32).
    Signature(String),
    /// An owner who approved the hash on chain with the Safe's `approveHash`.
    ApprovedHash(String),
}

/// The Safe transaction of a Safe proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeTransaction {
    /// The EIP-712 hash owners sign.
    pub safe_tx_hash: String,
    /// The Safe's nonce it was built for.
    pub nonce: u64,
    /// The Safe's version (`VERSION()`).
    pub version: String,
}

/// The Governor side of a Governor proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GovernorProposal {
    /// The Governor's proposal id (decimal).
    pub proposal_id: String,
    /// The description proposed (its hash is part of the id).
    pub description: String,
    /// Its on-chain state (`Pending`, `Active`, `Succeeded`, `Executed`...), as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// The Timelock side of a Timelock proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelockOperation {
    /// The operation id (`hashOperation`).
    pub operation_id: String,
    /// The salt scheduled with.
    pub salt: String,
    /// When it can execute (unix seconds, `getTimestamp`), as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<u64>,
    /// `Waiting`, `Ready` or `Done`, as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// A proposal as the engine keeps and lists it (`ExternalApiProposalResponse`, plus its
/// state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    /// The request it was created from.
    #[serde(flatten)]
    pub request: ProposalRequest,
    /// Its id.
    pub proposal_id: String,
    /// `<network>-<address>` of the contract, as Defender named contracts.
    pub contract_id: String,
    /// When it was created (ISO 8601).
    pub created_at: String,
    /// Not executed, failed or archived.
    pub is_active: bool,
    /// Archived (never, here).
    pub is_archived: bool,
    /// Where it is.
    pub status: ProposalStatus,
    /// The encoded call (hex).
    pub calldata: String,
    /// The owners' approvals (Safe).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<SafeApproval>,
    /// The Safe transaction (Safe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe: Option<SafeTransaction>,
    /// The Governor proposal (Governor, once proposed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<GovernorProposal>,
    /// The Timelock operation (Timelock, once scheduled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelock: Option<TimelockOperation>,
    /// The hashes of the transactions sent for it, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
