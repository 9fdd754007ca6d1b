//! One run on one script thread: a QuickJS context with the prelude installed, the action's
//! handler, and the event loop that drives timers and host operations.
//!
//! - [`code_cache`]: compiled files and `require` resolutions shared by all runs;
//! - [`modules`]: loading one file for `require`;
//! - [`lazy`]: globals created on first use;
//! - [`bindings`]: the host functions the prelude receives;
//! - [`crypto`]: the hashes, HMAC, PBKDF2 and scrypt of Node's `crypto` module, computed by
//!   the host (the costly ones bounded and stopped at the run's deadline);
//! - [`intl`]: `Intl`, formatted by the host with ICU4X;
//! - [`zlib`]: Node's `zlib` (gzip, deflate and their streams), with bounded output;
//! - [`bytes`]: the bytes of JavaScript values as the host functions read them;
//! - [`handles`]: the host-side objects scripts refer to by number (hashes, zlib streams);
//! - [`event_loop`]: the loop of one run and the state its host functions share;
//! - [`errors`]: how a run ended, from what the host observed;
//! - [`instance`]: a QuickJS runtime and context ready for runs.

mod bindings;
mod bytes;
mod code_cache;
mod crypto;
mod errors;
mod event_loop;
mod handles;
mod host_args;
mod instance;
mod intl;
mod lazy;
mod modules;
mod zlib;

pub(crate) use code_cache::CodeCache;
pub use event_loop::{MAX_LOG_BYTES, MAX_LOG_ENTRIES};
pub(crate) use instance::Instance;

use crate::files::Files;
use crate::host::FetchPolicy;
use defender_core::redact::Redactor;
use defender_core::{LogEntry, RunError, RunLimits, RunServices};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Everything one run needs on its thread.
pub(crate) struct Job {
    pub(crate) files: Files,
    pub(crate) scope: Arc<str>,
    pub(crate) event_json: String,
    pub(crate) limits: RunLimits,
    pub(crate) services: Arc<RunServices>,
    pub(crate) fetch: Arc<FetchPolicy>,
    pub(crate) cache: Arc<CodeCache>,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) redactor: Redactor,
}

/// Output of a run.
pub(crate) type RunOutput = (Result<Json, RunError>, Vec<LogEntry>);

thread_local! {
    /// A pristine instance (prelude installed, no user code run), prepared after a run so
    /// that the next run on this thread does not wait for context creation.
    static SPARE: RefCell<Option<(u64, Instance)>> = const { RefCell::new(None) };
}

/// Runs one job in a fresh instance (the thread's pristine spare when there is one); returns
/// the output and the used instance, to be recycled or dropped after the output is delivered.
pub(crate) fn run(job: Job) -> (RunOutput, Option<Instance>) {
    let spare = SPARE.with(|s| {
        let mut s = s.borrow_mut();
        match s.take() {
            Some((id, i)) if id == job.cache.id => Some(i),
            _ => None,
        }
    });
    let instance = match spare {
        Some(i) => Ok(i),
        None => Instance::new(&job.limits, &job.cache),
    };
    match instance {
        Ok(mut i) => {
            let out = i.run(job);
            (out, Some(i))
        }
        Err(e) => ((Err(e), Vec::new()), None),
    }
}

/// Prepares this thread's spare instance for the runtime that owns `cache`, in the QuickJS
/// runtime of `used` (the instance of the run that just ended on this thread) when it can be
/// recycled. Returns whether a QuickJS runtime was freed (its memory can then be given
/// back to the system).
pub(crate) fn prepare_spare(cache: &Arc<CodeCache>, used: Option<Instance>) -> bool {
    let ready = SPARE.with(|s| s.borrow().as_ref().is_some_and(|(id, _)| *id == cache.id));
    if ready {
        return used.is_some();
    }
    let limits = RunLimits::default();
    let had_runtime = used.is_some();
    let (spare, freed) = match used.and_then(|i| i.recycle(&limits, cache)) {
        Some(i) => (Some(i), false),
        None => (Instance::new(&limits, cache).ok(), had_runtime),
    };
    if let Some(i) = spare {
        SPARE.with(|s| *s.borrow_mut() = Some((cache.id, i)));
    }
    freed
}

/// Frees this thread's spare instance, and gives the memory back to the system: the thread
/// is about to end (its allocator would otherwise keep the freed pages of a dead thread).
pub(crate) fn release_thread() {
    SPARE.with(|s| drop(s.borrow_mut().take()));
    crate::alloc::return_free_memory();
}
