//! Executing a proposal: the chain facts its approval process decides on, and the
//! transaction each step sends (a call, `execTransaction`, `propose`, `schedule` or `execute`).

use super::chain::{self, Chain, Mined, SendError};
use super::machine::{self, Facts, Process, Send};
use super::{
    address, b256, encode, safe, via, GovernorProposal, OperationType, Proposal, ProposalError,
    ProposalStatus, Proposals, TimelockOperation,
};
use alloy_primitives::{keccak256, Address, B256, U256};

impl Proposals {
    async fn facts(&self, chain: &Chain, p: &Proposal) -> Result<Facts, ProposalError> {
        let mut facts = Facts {
            approvals: p.approvals.len(),
            ..Facts::default()
        };
        match (Process::from(p.request.via_type), p.status) {
            (Process::Safe, _) => {
                let t = chain
                    .read(via(&p.request)?, chain::ISafe::getThresholdCall {})
                    .await?;
                facts.threshold = Some(u64::try_from(t).unwrap_or(u64::MAX));
            }
            (Process::Governor, ProposalStatus::Proposed) => {
                let mut p = p.clone();
                self.try_refresh(&mut p).await?;
                facts.governor_state = p.governor.and_then(|g| g.state);
            }
            (Process::Timelock, ProposalStatus::Scheduled) => {
                let t = p.timelock.as_ref().ok_or_else(|| {
                    ProposalError::Invalid("the Timelock operation is missing".into())
                })?;
                let id = b256("operation id", &t.operation_id)?;
                let timelock = via(&p.request)?;
                let ready = chain
                    .read(timelock, chain::ITimelock::isOperationReadyCall { id })
                    .await?;
                let at = chain
                    .read(timelock, chain::ITimelock::getTimestampCall { id })
                    .await?;
                facts.timelock_ready = Some((ready, u64::try_from(at).unwrap_or(u64::MAX)));
            }
            _ => {}
        }
        Ok(facts)
    }

    pub(crate) async fn execute(&self, id: &str) -> Result<Proposal, ProposalError> {
        let _serial = self.lock.lock().await;
        let mut p = self.load(id).await?;
        if p.status.is_final() {
            return Err(ProposalError::Closed(p.status));
        }
        let chain = self.chain(&p.request.contract.network)?;
        let facts = self.facts(&chain, &p).await?;
        let send = machine::execute(Process::from(p.request.via_type), p.status, &facts)?;
        let sender = self.sender(&p.request)?;
        let (to, value, data) = self.transaction(&chain, &mut p, send).await?;
        match chain.send(&sender, to, value, data).await {
            Ok(Mined { hash, succeeded }) => {
                p.transactions.push(format!("{hash:#x}"));
                p.status = machine::after_send(send, succeeded);
                if !succeeded {
                    p.error = Some(format!("transaction {hash:#x} reverted"));
                }
            }
            Err(SendError::Reverted(message)) => {
                p.status = machine::after_send(send, false);
                p.error = Some(message);
            }
            Err(SendError::Other(e)) => return Err(e),
        }
        // What the Governor or the Timelock now says, also of an executed proposal.
        if let Err(e) = self.try_refresh(&mut p).await {
            tracing::warn!(proposal_id = %p.proposal_id, error = %e, "on-chain state not read");
        }
        self.save(&mut p).await?;
        Ok(p)
    }

    /// The transaction of `send`: receiver, value and calldata. Records in `p` what the
    /// Governor or the Timelock will know the proposal by.
    async fn transaction(
        &self,
        chain: &Chain,
        p: &mut Proposal,
        send: Send,
    ) -> Result<(Address, U256, Vec<u8>), ProposalError> {
        use alloy::sol_types::SolCall;
        let target = address("`contract.address`", &p.request.contract.address)?;
        let value = encode::send_value(&p.request)?;
        let data = hex::decode(p.calldata.trim_start_matches("0x"))
            .map_err(|e| ProposalError::Invalid(format!("stored calldata: {e}")))?;
        Ok(match send {
            Send::Call => (target, value, data),
            Send::SafeExec => {
                let safe_tx = p.safe.as_ref().ok_or_else(|| {
                    ProposalError::Invalid("the Safe transaction is missing".into())
                })?;
                let mut signatures = Vec::new();
                for a in &p.approvals {
                    let owner = address("approval owner", &a.owner)?;
                    let sig = hex::decode(a.signature.trim_start_matches("0x"))
                        .map_err(|e| ProposalError::Invalid(format!("stored signature: {e}")))?;
                    signatures.push((owner, sig));
                }
                let delegate = matches!(
                    p.request.metadata.as_ref().and_then(|m| m.operation_type),
                    Some(OperationType::DelegateCall)
                );
                let tx = safe::safe_tx(target, value, data, delegate, safe_tx.nonce);
                let call = chain::ISafe::execTransactionCall {
                    to: tx.to,
                    value: tx.value,
                    data: tx.data,
                    operation: tx.operation,
                    safeTxGas: tx.safeTxGas,
                    baseGas: tx.baseGas,
                    gasPrice: tx.gasPrice,
                    gasToken: tx.gasToken,
                    refundReceiver: tx.refundReceiver,
                    signatures: safe::packed_signatures(signatures).into(),
                };
                (via(&p.request)?, U256::ZERO, call.abi_encode())
            }
            Send::GovernorPropose => {
                let governor = via(&p.request)?;
                let description = if p.request.description.is_empty() {
                    format!("# {}", p.request.title)
                } else {
                    format!("# {}\n\n{}", p.request.title, p.request.description)
                };
                let id = chain
                    .read(
                        governor,
                        chain::IGovernor::hashProposalCall {
                            targets: vec![target],
                            values: vec![value],
                            calldatas: vec![data.clone().into()],
                            descriptionHash: keccak256(description.as_bytes()),
                        },
                    )
                    .await?;
                let call = chain::IGovernor::proposeCall {
                    targets: vec![target],
                    values: vec![value],
                    calldatas: vec![data.into()],
                    description: description.clone(),
                };
                p.governor = Some(GovernorProposal {
                    proposal_id: id.to_string(),
                    description,
                    state: None,
                });
                (governor, U256::ZERO, call.abi_encode())
            }
            Send::GovernorExecute => {
                let g = p.governor.as_ref().ok_or_else(|| {
                    ProposalError::Invalid("the Governor proposal is missing".into())
                })?;
                let call = chain::IGovernor::executeCall {
                    targets: vec![target],
                    values: vec![value],
                    calldatas: vec![data.into()],
                    descriptionHash: keccak256(g.description.as_bytes()),
                };
                (via(&p.request)?, value, call.abi_encode())
            }
            Send::TimelockSchedule => {
                let timelock = via(&p.request)?;
                let salt = keccak256(p.proposal_id.as_bytes());
                let delay = chain
                    .read(timelock, chain::ITimelock::getMinDelayCall {})
                    .await?;
                let id = chain
                    .read(
                        timelock,
                        chain::ITimelock::hashOperationCall {
                            target,
                            value,
                            data: data.clone().into(),
                            predecessor: B256::ZERO,
                            salt,
                        },
                    )
                    .await?;
                let call = chain::ITimelock::scheduleCall {
                    target,
                    value,
                    data: data.into(),
                    predecessor: B256::ZERO,
                    salt,
                    delay,
                };
                p.timelock = Some(TimelockOperation {
                    operation_id: format!("{id:#x}"),
                    salt: format!("{salt:#x}"),
                    ready_at: None,
                    state: None,
                });
                (timelock, U256::ZERO, call.abi_encode())
            }
            Send::TimelockExecute => {
                let t = p.timelock.as_ref().ok_or_else(|| {
                    ProposalError::Invalid("the Timelock operation is missing".into())
                })?;
                let call = chain::ITimelock::executeCall {
                    target,
                    value,
                    payload: data.into(),
                    predecessor: B256::ZERO,
                    salt: b256("salt", &t.salt)?,
                };
                (via(&p.request)?, value, call.abi_encode())
            }
        })
    }
}
