//! How a workflow run moves on, with no I/O: the next step to start, or the run's outcome,
//! from the outcomes of the steps so far.

use super::model::WorkflowStatus;

/// What to do after the steps so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Start step `n` (0-based).
    Run(usize),
    /// The run is over.
    Done(WorkflowStatus),
}

/// The next move of a workflow of `steps` steps whose first steps ended as `finished` says
/// (each `true` when every item of the step succeeded): a step starts only when the one
/// before succeeded, and the run stops at the first step that did not.
pub(crate) fn next(steps: usize, finished: &[bool]) -> Next {
    if finished.iter().any(|ok| !ok) {
        return Next::Done(WorkflowStatus::Error);
    }
    if finished.len() >= steps {
        Next::Done(WorkflowStatus::Success)
    } else {
        Next::Run(finished.len())
    }
}

/// Whether a step succeeded: every one of its items did (a step with none did not run).
pub(crate) fn step_succeeded(items: &[bool]) -> bool {
    !items.is_empty() && items.iter().all(|ok| *ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_while_they_succeed() {
        // (steps, outcomes so far, next move)
        let table: &[(usize, &[bool], Next)] = &[
            (3, &[], Next::Run(0)),
            (3, &[true], Next::Run(1)),
            (3, &[true, true], Next::Run(2)),
            (3, &[true, true, true], Next::Done(WorkflowStatus::Success)),
            (3, &[false], Next::Done(WorkflowStatus::Error)),
            (3, &[true, false], Next::Done(WorkflowStatus::Error)),
            (3, &[true, true, false], Next::Done(WorkflowStatus::Error)),
            (1, &[true], Next::Done(WorkflowStatus::Success)),
            (0, &[], Next::Done(WorkflowStatus::Success)),
        ];
        for (steps, finished, want) in table {
            assert_eq!(next(*steps, finished), *want, "{steps} {finished:?}");
        }
    }

    #[test]
    fn a_step_succeeds_when_all_its_items_do() {
        let table: &[(&[bool], bool)] = &[
            (&[true], true),
            (&[true, true, true], true),
            (&[true, false, true], false),
            (&[false], false),
            (&[], false),
        ];
        for (items, want) in table {
            assert_eq!(step_succeeded(items), *want, "{items:?}");
        }
    }
}
