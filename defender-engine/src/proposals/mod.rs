//! Transaction proposals and their approval processes: a call to a contract (function and
//! inputs encoded from its ABI, a value), executed through a relayer, an engine-held key
//! (EOA), a Safe multisig (owners' signatures of the SafeTx hash collected through the API,
//! then `execTransaction`), an OpenZeppelin Governor (`propose`, then `execute` once the vote
//! succeeded) or a TimelockController (`schedule`, then `execute` after the delay).
//!
//! The decisions (what an approval or an execution does in each state) are pure functions in
//! `machine`; the chain is read and written at the edges (`chain`, alloy's provider).
//! Proposals are kept in the engine state (space `proposals`), so they survive restarts.
//! Approvals and executions of one engine are serialized; two engines must not share the
//! proposals of one state.

mod api;
mod chain;
mod encode;
mod error;
mod execution;
mod machine;
mod model;
mod safe;

pub use error::ProposalError;
pub use model::{
    Approval, FunctionParam, GovernorProposal, OperationType, Proposal, ProposalContract,
    ProposalMetadata, ProposalRequest, ProposalStatus, SafeApproval, SafeTransaction,
    TargetFunction, TimelockOperation, ViaType,
};

use crate::run::Runner;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256, U256};
use chain::{Chain, Sender, GOVERNOR_STATES};
use defender_core::state::{Space, StateStore, StateStoreExt};
use defender_core::wire::iso8601;
use machine::{Facts, Process};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Where proposals are kept in the engine state, by proposal id.
const PROPOSALS: Space = Space::new("proposals");
/// Longest title, in bytes.
const MAX_TITLE_BYTES: usize = 1024;
/// Longest description, in bytes.
const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// The proposals of an engine.
#[derive(Debug)]
pub(crate) struct Proposals {
    runner: Arc<Runner>,
    networks: RwLock<HashMap<String, Chain>>,
    signers: RwLock<HashMap<Address, PrivateKeySigner>>,
    /// Serializes approvals and executions, so that a proposal is never sent twice.
    lock: tokio::sync::Mutex<()>,
}

fn address(what: &str, text: &str) -> Result<Address, ProposalError> {
    text.parse()
        .map_err(|e| ProposalError::Invalid(format!("{what} `{text}` is not an address: {e}")))
}

fn b256(what: &str, text: &str) -> Result<B256, ProposalError> {
    text.parse()
        .map_err(|e| ProposalError::Invalid(format!("stored {what} `{text}`: {e}")))
}

/// The proposal's `via`, parsed.
fn via(p: &ProposalRequest) -> Result<Address, ProposalError> {
    let text = p.via.as_deref().ok_or_else(|| {
        ProposalError::Invalid(format!("`via` is required for {:?} proposals", p.via_type))
    })?;
    address("`via`", text)
}

impl Proposals {
    pub(crate) fn new(runner: Arc<Runner>) -> Self {
        Proposals {
            runner,
            networks: RwLock::default(),
            signers: RwLock::default(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> &dyn StateStore {
        self.runner.state.as_ref()
    }

    async fn add_network(&self, name: &str, rpc_url: &str) -> Result<u64, ProposalError> {
        let chain = Chain::connect(rpc_url).await?;
        let id = chain.chain_id;
        self.networks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), chain);
        Ok(id)
    }

    fn add_signer(&self, key: PrivateKeySigner) -> Address {
        let address = key.address();
        self.signers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(address, key);
        address
    }

    fn chain(&self, network: &str) -> Result<Chain, ProposalError> {
        self.networks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(network)
            .cloned()
            .ok_or_else(|| ProposalError::UnknownNetwork(network.to_owned()))
    }

    fn key(&self, address: Address) -> Option<PrivateKeySigner> {
        self.signers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&address)
            .cloned()
    }

    fn relayer(&self, id: &str) -> Result<Arc<dyn defender_core::Relayer>, ProposalError> {
        self.runner
            .relayers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ProposalError::NoSender(format!("no relayer `{id}`")))
    }

    /// Who sends the proposal's transactions.
    fn sender(&self, p: &ProposalRequest) -> Result<Sender, ProposalError> {
        match p.via_type {
            ViaType::Relayer => {
                let id = p.relayer_id.as_deref().ok_or_else(|| {
                    ProposalError::Invalid("`relayerId` is required for Relayer proposals".into())
                })?;
                self.relayer(id).map(Sender::Relayer)
            }
            ViaType::Eoa => {
                let eoa = via(p)?;
                self.key(eoa).map(Sender::Key).ok_or_else(|| {
                    ProposalError::NoSender(format!("the engine holds no key of {eoa}"))
                })
            }
            _ => match (&p.relayer_id, &p.executor) {
                (Some(id), _) => self.relayer(id).map(Sender::Relayer),
                (None, Some(executor)) => {
                    let executor = address("`executor`", executor)?;
                    self.key(executor).map(Sender::Key).ok_or_else(|| {
                        ProposalError::NoSender(format!("the engine holds no key of {executor}"))
                    })
                }
                (None, None) => Err(ProposalError::NoSender(format!(
                    "{:?} proposals need a `relayerId` or an `executor` to send their transactions",
                    p.via_type
                ))),
            },
        }
    }

    async fn load(&self, id: &str) -> Result<Proposal, ProposalError> {
        if id.is_empty() || id.len() > 64 {
            return Err(ProposalError::Unknown(id.to_owned()));
        }
        self.state()
            .get_json(PROPOSALS, id)
            .await?
            .ok_or_else(|| ProposalError::Unknown(id.to_owned()))
    }

    async fn save(&self, p: &mut Proposal) -> Result<(), ProposalError> {
        p.is_active = !p.status.is_final();
        self.state().put_json(PROPOSALS, &p.proposal_id, p).await?;
        Ok(())
    }

    pub(crate) async fn create(&self, req: ProposalRequest) -> Result<Proposal, ProposalError> {
        if req.kind != "custom" {
            return Err(ProposalError::Invalid(format!(
                "type `{}`: only `custom` proposals are supported",
                req.kind
            )));
        }
        if req.title.trim().is_empty() || req.title.len() > MAX_TITLE_BYTES {
            return Err(ProposalError::Invalid(format!(
                "the title is 1 to {MAX_TITLE_BYTES} bytes"
            )));
        }
        if req.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(ProposalError::Invalid(format!(
                "the description is at most {MAX_DESCRIPTION_BYTES} bytes"
            )));
        }
        let chain = self.chain(&req.contract.network)?;
        let target = address("`contract.address`", &req.contract.address)?;
        let function = encode::function(&req)?;
        let calldata = encode::calldata(&function, &req.function_inputs)?;
        let value = encode::send_value(&req)?;
        let delegate = matches!(
            req.metadata.as_ref().and_then(|m| m.operation_type),
            Some(OperationType::DelegateCall)
        );
        if delegate && Process::from(req.via_type) != Process::Safe {
            return Err(ProposalError::Invalid(
                "`delegateCall` is only for Safe proposals".into(),
            ));
        }
        let sender = self.sender(&req)?;
        if let (ViaType::Relayer, Some(via), Sender::Relayer(r)) = (req.via_type, &req.via, &sender)
        {
            let info = r
                .get_relayer()
                .await
                .map_err(|e| ProposalError::Chain(format!("relayer: {e}")))?;
            if !info.address.eq_ignore_ascii_case(via) {
                return Err(ProposalError::Invalid(format!(
                    "`via` {via} is not the address of relayer `{}` ({})",
                    req.relayer_id.as_deref().unwrap_or_default(),
                    info.address
                )));
            }
        }
        let proposal_id = uuid::Uuid::new_v4().to_string();
        let safe = match Process::from(req.via_type) {
            Process::Safe => {
                let safe = via(&req)?;
                let version = chain.read(safe, chain::ISafe::VERSIONCall {}).await?;
                let nonce = chain.read(safe, chain::ISafe::nonceCall {}).await?;
                let nonce = u64::try_from(nonce)
                    .map_err(|_| ProposalError::Chain(format!("the Safe's nonce {nonce}")))?;
                let tx = safe::safe_tx(target, value, calldata.clone(), delegate, nonce);
                let hash = safe::safe_tx_hash(&tx, &version, chain.chain_id, safe)?;
                Some(SafeTransaction {
                    safe_tx_hash: format!("{hash:#x}"),
                    nonce,
                    version,
                })
            }
            Process::Governor | Process::Timelock => {
                via(&req)?;
                None
            }
            Process::Direct => None,
        };
        let mut p = Proposal {
            contract_id: format!("{}-{:#x}", req.contract.network, target),
            request: req,
            proposal_id,
            created_at: iso8601::format(&self.runner.clock.now()),
            is_active: true,
            is_archived: false,
            status: ProposalStatus::Open,
            calldata: format!("0x{}", hex::encode(&calldata)),
            approvals: Vec::new(),
            safe,
            governor: None,
            timelock: None,
            transactions: Vec::new(),
            error: None,
        };
        self.save(&mut p).await?;
        Ok(p)
    }

    async fn get(&self, id: &str) -> Result<Proposal, ProposalError> {
        let mut p = self.load(id).await?;
        self.refresh(&mut p).await;
        Ok(p)
    }

    async fn list(&self) -> Result<Vec<Proposal>, ProposalError> {
        let mut all = Vec::new();
        for (key, bytes) in self.state().scan_all(PROPOSALS, "").await? {
            match serde_json::from_slice::<Proposal>(&bytes) {
                Ok(mut p) => {
                    self.refresh(&mut p).await;
                    all.push(p);
                }
                Err(e) => {
                    tracing::warn!(proposal_id = key, error = %e, "stored proposal unreadable")
                }
            }
        }
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(all)
    }

    /// Reads the on-chain state of a proposed Governor proposal or a scheduled Timelock
    /// operation into `p` (best effort: a chain that does not answer leaves what was read
    /// last). Executed by someone else on chain, it becomes executed here too.
    async fn refresh(&self, p: &mut Proposal) {
        if p.status.is_final() {
            return;
        }
        if let Err(e) = self.try_refresh(p).await {
            tracing::warn!(proposal_id = %p.proposal_id, error = %e, "on-chain state not read");
        }
    }

    async fn try_refresh(&self, p: &mut Proposal) -> Result<(), ProposalError> {
        let chain = self.chain(&p.request.contract.network)?;
        if let Some(g) = &mut p.governor {
            let id: U256 = g
                .proposal_id
                .parse()
                .map_err(|e| ProposalError::Chain(format!("stored Governor id: {e}")))?;
            let state = chain
                .read(
                    via(&p.request)?,
                    chain::IGovernor::stateCall { proposalId: id },
                )
                .await?;
            let name = GOVERNOR_STATES
                .get(usize::from(state))
                .copied()
                .unwrap_or("Unknown");
            g.state = Some(name.to_owned());
            if name == "Executed" {
                p.status = ProposalStatus::Executed;
            }
        }
        if let Some(t) = &mut p.timelock {
            let id = b256("operation id", &t.operation_id)?;
            let ts = chain
                .read(via(&p.request)?, chain::ITimelock::getTimestampCall { id })
                .await?;
            let ts = u64::try_from(ts).unwrap_or(u64::MAX);
            let now = chain.now().await?;
            let state = match ts {
                0 => "Unset",
                1 => "Done",
                ts if ts <= now => "Ready",
                _ => "Waiting",
            };
            t.ready_at = (ts > 1).then_some(ts);
            t.state = Some(state.to_owned());
            if state == "Done" {
                p.status = ProposalStatus::Executed;
            }
        }
        Ok(())
    }

    async fn approve(&self, id: &str, approval: Approval) -> Result<Proposal, ProposalError> {
        let _serial = self.lock.lock().await;
        let mut p = self.load(id).await?;
        let process = Process::from(p.request.via_type);
        // Refusals that need no chain: not a Safe, or closed.
        machine::approve(process, p.request.via_type, p.status, &Facts::default())?;
        let safe_tx = p
            .safe
            .as_ref()
            .ok_or_else(|| ProposalError::Invalid("the Safe transaction is missing".into()))?;
        let hash = b256("Safe transaction hash", &safe_tx.safe_tx_hash)?;
        let chain = self.chain(&p.request.contract.network)?;
        let safe = via(&p.request)?;
        let (owner, signature) = match &approval {
            Approval::Signature(sig) => safe::signer(hash, sig)?,
            Approval::ApprovedHash(owner) => {
                let owner = address("approver", owner)?;
                let approved = chain
                    .read(safe, chain::ISafe::approvedHashesCall { owner, hash })
                    .await?;
                if approved.is_zero() {
                    return Err(ProposalError::BadSignature(format!(
                        "{owner} has not approved the hash on chain (approveHash)"
                    )));
                }
                (owner, safe::approved_hash_signature(owner))
            }
        };
        if !chain
            .read(safe, chain::ISafe::isOwnerCall { owner })
            .await?
        {
            return Err(ProposalError::NotOwner(format!("{owner}")));
        }
        let owner_text = format!("{owner:#x}");
        p.approvals.retain(|a| a.owner != owner_text);
        p.approvals.push(SafeApproval {
            owner: owner_text,
            signature: format!("0x{}", hex::encode(signature)),
        });
        let threshold = chain.read(safe, chain::ISafe::getThresholdCall {}).await?;
        let facts = Facts {
            approvals: p.approvals.len(),
            threshold: Some(u64::try_from(threshold).unwrap_or(u64::MAX)),
            ..Facts::default()
        };
        p.status = machine::approve(process, p.request.via_type, p.status, &facts)?;
        self.save(&mut p).await?;
        Ok(p)
    }
}
