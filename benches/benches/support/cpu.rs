//! CPU time of this process, for benches that print it beside wall-clock figures.

use std::time::Duration;

/// CPU time this process has used so far, all threads (user and system).
#[allow(unsafe_code)] // getrusage has no safe wrapper in std
pub(crate) fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
