//! The decisions of a proposal's life, with no I/O: what an approval or an execution does in
//! each state of each approval process, given the facts read from the chain.

use super::error::ProposalError;
use super::model::{ProposalStatus, ViaType};

/// The approval processes, as the decisions tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Process {
    /// A relayer or an EOA sends the call.
    Direct,
    /// A Safe multisig.
    Safe,
    /// A Governor.
    Governor,
    /// A TimelockController.
    Timelock,
}

impl From<ViaType> for Process {
    fn from(v: ViaType) -> Self {
        match v {
            ViaType::Eoa | ViaType::Relayer => Process::Direct,
            ViaType::Safe | ViaType::GnosisMultisig => Process::Safe,
            ViaType::Governor => Process::Governor,
            ViaType::Timelock => Process::Timelock,
        }
    }
}

/// What the chain says, read before deciding (each only where it matters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Approvals given (Safe).
    pub(crate) approvals: usize,
    /// The Safe's threshold.
    pub(crate) threshold: Option<u64>,
    /// The Governor proposal's state name.
    pub(crate) governor_state: Option<String>,
    /// The Timelock operation: ready, and from when.
    pub(crate) timelock_ready: Option<(bool, u64)>,
}

/// The transaction an execution sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Send {
    /// The call itself (relayer, EOA).
    Call,
    /// The Safe's `execTransaction` with the owners' signatures.
    SafeExec,
    /// The Governor's `propose`.
    GovernorPropose,
    /// The Governor's `execute`.
    GovernorExecute,
    /// The Timelock's `schedule`.
    TimelockSchedule,
    /// The Timelock's `execute`.
    TimelockExecute,
}

/// The state after a valid approval, or why approvals are refused.
pub(crate) fn approve(
    process: Process,
    via: ViaType,
    status: ProposalStatus,
    facts: &Facts,
) -> Result<ProposalStatus, ProposalError> {
    if process != Process::Safe {
        return Err(ProposalError::NotApprovable(via));
    }
    match status {
        ProposalStatus::Open | ProposalStatus::Approved => Ok(threshold_status(facts)),
        other => Err(ProposalError::Closed(other)),
    }
}

fn threshold_status(facts: &Facts) -> ProposalStatus {
    match facts.threshold {
        Some(need) if facts.approvals as u64 >= need => ProposalStatus::Approved,
        _ => ProposalStatus::Open,
    }
}

/// The transaction an execution sends, or why it is refused.
pub(crate) fn execute(
    process: Process,
    status: ProposalStatus,
    facts: &Facts,
) -> Result<Send, ProposalError> {
    if status.is_final() {
        return Err(ProposalError::Closed(status));
    }
    match (process, status) {
        (Process::Direct, ProposalStatus::Open) => Ok(Send::Call),
        (Process::Safe, ProposalStatus::Open | ProposalStatus::Approved) => {
            let need = facts.threshold.unwrap_or(u64::MAX);
            if (facts.approvals as u64) < need {
                return Err(ProposalError::ThresholdNotMet {
                    have: facts.approvals,
                    need,
                });
            }
            Ok(Send::SafeExec)
        }
        (Process::Governor, ProposalStatus::Open) => Ok(Send::GovernorPropose),
        (Process::Governor, ProposalStatus::Proposed) => match facts.governor_state.as_deref() {
            Some("Succeeded" | "Queued") => Ok(Send::GovernorExecute),
            other => Err(ProposalError::GovernorState(
                other.unwrap_or("unknown").to_owned(),
            )),
        },
        (Process::Timelock, ProposalStatus::Open) => Ok(Send::TimelockSchedule),
        (Process::Timelock, ProposalStatus::Scheduled) => match facts.timelock_ready {
            Some((true, _)) => Ok(Send::TimelockExecute),
            Some((false, ready_at)) => Err(ProposalError::NotReady { ready_at }),
            None => Err(ProposalError::NotReady { ready_at: 0 }),
        },
        (_, other) => Err(ProposalError::Closed(other)),
    }
}

/// The state after the transaction of `send` was mined: `succeeded` when it did not revert.
pub(crate) fn after_send(send: Send, succeeded: bool) -> ProposalStatus {
    match (send, succeeded) {
        (_, false) => ProposalStatus::Failed,
        (Send::GovernorPropose, true) => ProposalStatus::Proposed,
        (Send::TimelockSchedule, true) => ProposalStatus::Scheduled,
        (Send::Call | Send::SafeExec | Send::GovernorExecute | Send::TimelockExecute, true) => {
            ProposalStatus::Executed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProposalStatus::*;

    fn safe(approvals: usize, threshold: u64) -> Facts {
        Facts {
            approvals,
            threshold: Some(threshold),
            ..Facts::default()
        }
    }

    fn governor(state: &str) -> Facts {
        Facts {
            governor_state: Some(state.into()),
            ..Facts::default()
        }
    }

    fn timelock(ready: bool) -> Facts {
        Facts {
            timelock_ready: Some((ready, 100)),
            ..Facts::default()
        }
    }

    #[test]
    fn executions_by_process_and_state() {
        // (process, status, facts, the transaction sent or the refusal's text)
        let table: Vec<(Process, ProposalStatus, Facts, Result<Send, &str>)> = vec![
            (Process::Direct, Open, Facts::default(), Ok(Send::Call)),
            (Process::Direct, Executed, Facts::default(), Err("Executed")),
            (Process::Direct, Failed, Facts::default(), Err("Failed")),
            (Process::Safe, Open, safe(1, 2), Err("1 of 2 approvals")),
            (Process::Safe, Open, safe(0, 1), Err("0 of 1 approvals")),
            (Process::Safe, Approved, safe(2, 2), Ok(Send::SafeExec)),
            (Process::Safe, Open, safe(3, 2), Ok(Send::SafeExec)),
            (Process::Safe, Approved, Facts::default(), Err("approvals")),
            (Process::Safe, Executed, safe(2, 2), Err("Executed")),
            (
                Process::Governor,
                Open,
                Facts::default(),
                Ok(Send::GovernorPropose),
            ),
            (
                Process::Governor,
                Proposed,
                governor("Active"),
                Err("Active"),
            ),
            (
                Process::Governor,
                Proposed,
                governor("Pending"),
                Err("Pending"),
            ),
            (
                Process::Governor,
                Proposed,
                governor("Defeated"),
                Err("Defeated"),
            ),
            (
                Process::Governor,
                Proposed,
                governor("Succeeded"),
                Ok(Send::GovernorExecute),
            ),
            (
                Process::Governor,
                Proposed,
                governor("Queued"),
                Ok(Send::GovernorExecute),
            ),
            (
                Process::Timelock,
                Open,
                Facts::default(),
                Ok(Send::TimelockSchedule),
            ),
            (
                Process::Timelock,
                Scheduled,
                timelock(false),
                Err("ready at 100"),
            ),
            (
                Process::Timelock,
                Scheduled,
                timelock(true),
                Ok(Send::TimelockExecute),
            ),
            (Process::Timelock, Executed, timelock(true), Err("Executed")),
            (
                Process::Direct,
                Scheduled,
                Facts::default(),
                Err("Scheduled"),
            ),
        ];
        for (process, status, facts, want) in table {
            let got = execute(process, status, &facts).map_err(|e| e.to_string());
            match (&want, &got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{process:?} {status:?}"),
                (Err(fragment), Err(e)) => {
                    assert!(e.contains(fragment), "{process:?} {status:?}: {e}")
                }
                _ => panic!("{process:?} {status:?} {facts:?}: want {want:?}, got {got:?}"),
            }
        }
    }

    /// (process, via, status, facts after recording the approval, new status or refusal)
    type ApprovalCase = (
        Process,
        ViaType,
        ProposalStatus,
        Facts,
        Result<ProposalStatus, &'static str>,
    );

    #[test]
    fn approvals_by_process_and_state() {
        let table: Vec<ApprovalCase> = vec![
            (Process::Safe, ViaType::Safe, Open, safe(1, 2), Ok(Open)),
            (Process::Safe, ViaType::Safe, Open, safe(2, 2), Ok(Approved)),
            (
                Process::Safe,
                ViaType::GnosisMultisig,
                Approved,
                safe(3, 2),
                Ok(Approved),
            ),
            (
                Process::Safe,
                ViaType::Safe,
                Executed,
                safe(3, 2),
                Err("Executed"),
            ),
            (
                Process::Direct,
                ViaType::Relayer,
                Open,
                safe(1, 1),
                Err("Relayer proposals take no approvals"),
            ),
            (
                Process::Governor,
                ViaType::Governor,
                Open,
                Facts::default(),
                Err("no approvals"),
            ),
            (
                Process::Timelock,
                ViaType::Timelock,
                Open,
                Facts::default(),
                Err("no approvals"),
            ),
        ];
        for (process, via, status, facts, want) in table {
            let got = approve(process, via, status, &facts).map_err(|e| e.to_string());
            match (&want, &got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{process:?} {status:?}"),
                (Err(fragment), Err(e)) => assert!(e.contains(fragment), "{e}"),
                _ => panic!("{process:?} {status:?}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn states_after_a_mined_transaction() {
        let table = [
            (Send::Call, true, Executed),
            (Send::Call, false, Failed),
            (Send::SafeExec, true, Executed),
            (Send::SafeExec, false, Failed),
            (Send::GovernorPropose, true, Proposed),
            (Send::GovernorPropose, false, Failed),
            (Send::GovernorExecute, true, Executed),
            (Send::TimelockSchedule, true, Scheduled),
            (Send::TimelockExecute, true, Executed),
            (Send::TimelockExecute, false, Failed),
        ];
        for (send, ok, want) in table {
            assert_eq!(after_send(send, ok), want, "{send:?} {ok}");
        }
    }
}
