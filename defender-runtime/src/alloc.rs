//! A memory-limited allocator for QuickJS that records when the limit refused an allocation,
//! so that a run which caught its own out-of-memory error is still reported as such.
//!
//! The memory comes from mimalloc rather than the process allocator: a fresh context is
//! thousands of small allocations made and freed again for every run, which glibc's malloc
//! serves noticeably slower, and mimalloc knows each block's size without a header of ours.

use libmimalloc_sys as mi;
use rquickjs::allocator::Allocator;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The state of one QuickJS runtime's heap, shared by its allocator, the sandbox and the
/// host operations of the run in progress (which charge what they hold for it).
///
/// Atomics with relaxed ordering: the allocator is the only writer of `used` and `kept`
/// (on the script thread); host tasks only read them to decide whether a charge fits.
#[derive(Debug, Default)]
pub(crate) struct Heap {
    /// Most bytes the run may hold; may be changed while it lives (applies to later
    /// allocations).
    pub(crate) limit: AtomicUsize,
    /// Bytes held now (usable sizes of the live blocks).
    pub(crate) used: AtomicUsize,
    /// Set when the limit refused an allocation or a host charge.
    pub(crate) refused: AtomicBool,
    /// Bytes of `used` held by bytecode that the runtime keeps for all its contexts (see
    /// src/script.rs): not counted against a run's limit.
    pub(crate) kept: AtomicUsize,
    /// Bytes the host holds on behalf of the run in progress: host-call results not yet
    /// delivered, log entries, timers. Counted against the run's limit like its heap.
    pub(crate) host: AtomicUsize,
    /// Most bytes `used` reached since the run in progress started.
    pub(crate) peak: AtomicUsize,
    /// Which run the host charges are for: charges made for an earlier run (by a host task
    /// that finished after its run ended) are refused.
    generation: AtomicU64,
}

impl Heap {
    /// Bytes held for the current context: the heap less the runtime's kept bytecode.
    pub(crate) fn context_bytes(&self) -> usize {
        self.used
            .load(Ordering::Relaxed)
            .saturating_sub(self.kept.load(Ordering::Relaxed))
    }

    /// Bytes charged to the run in progress: its context's heap and what the host holds.
    pub(crate) fn run_bytes(&self) -> usize {
        self.context_bytes()
            .saturating_add(self.host.load(Ordering::Relaxed))
    }

    /// Whether `extra` more bytes would pass the limit; records the refusal if so.
    fn refuse(&self, extra: usize) -> bool {
        if self.run_bytes().saturating_add(extra) > self.limit.load(Ordering::Relaxed) {
            self.refused.store(true, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Charges `bytes` that the host holds for the run; `false` (and the run is marked as
    /// out of memory) when they do not fit in its limit.
    pub(crate) fn charge(&self, bytes: usize) -> bool {
        if self.refuse(bytes) {
            return false;
        }
        self.host.fetch_add(bytes, Ordering::Relaxed);
        true
    }

    /// Gives back bytes charged with [`Heap::charge`].
    pub(crate) fn uncharge(&self, bytes: usize) {
        let _ = self
            .host
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| {
                Some(h.saturating_sub(bytes))
            });
    }

    /// Starts the charges of a new run with `limit` bytes: earlier host charges are
    /// forgotten, and a [`Budget`] for the new run is returned.
    pub(crate) fn start_run(self: &Arc<Self>, limit: usize) -> Budget {
        self.set_limit(limit);
        self.host.store(0, Ordering::Relaxed);
        self.peak
            .store(self.used.load(Ordering::Relaxed), Ordering::Relaxed);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        Budget {
            heap: self.clone(),
            generation,
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub(crate) fn was_refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }
}

/// What host tasks of one run charge their memory to (they may run on other threads, and
/// may finish after the run ended: then their charges are refused).
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    heap: Arc<Heap>,
    generation: u64,
}

impl Budget {
    fn current(&self) -> bool {
        self.heap.generation.load(Ordering::Relaxed) == self.generation
    }

    /// Charges `bytes` to the run; `false` when they do not fit (the run then ends as out
    /// of memory) or the run is over.
    pub(crate) fn charge(&self, bytes: usize) -> bool {
        self.current() && self.heap.charge(bytes)
    }

    /// Gives back bytes charged with [`Budget::charge`].
    pub(crate) fn uncharge(&self, bytes: usize) {
        if self.current() {
            self.heap.uncharge(bytes);
        }
    }
}

/// Bytes charged to a run's [`Budget`] for as long as this value lives (the memory a host
/// function or operation holds for the run: a body as it arrives, a zlib state...).
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Budget,
    bytes: usize,
}

impl Charge {
    /// Nothing charged yet.
    pub(crate) fn new(budget: &Budget) -> Self {
        Charge {
            budget: budget.clone(),
            bytes: 0,
        }
    }

    /// `bytes` charged at once; `None` when they do not fit.
    pub(crate) fn of(budget: &Budget, bytes: usize) -> Option<Self> {
        let mut charge = Charge::new(budget);
        charge.add(bytes).then_some(charge)
    }

    /// Charges `bytes` more; `false`, with nothing more charged, when they do not fit.
    pub(crate) fn add(&mut self, bytes: usize) -> bool {
        if !self.budget.charge(bytes) {
            return false;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        true
    }

    /// The budget charged.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.uncharge(self.bytes);
    }
}

/// Returns the memory this thread's mimalloc heap holds unused to the system. A script
/// thread calls it after freeing a large context: otherwise the pages stay with the thread
/// (which may then sit idle for a long time) and the process's resident memory keeps the
/// high-water mark of every thread.
/// The process allocator (glibc's malloc, which holds the host's own buffers for a run:
/// answers, logs) is trimmed too.
#[allow(unsafe_code)]
pub(crate) fn return_free_memory() {
    // SAFETY: no arguments to check; mimalloc collects the calling thread's heap.
    unsafe { mi::mi_collect(true) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

pub(crate) struct LimitedAllocator {
    heap: Arc<Heap>,
}

impl LimitedAllocator {
    pub(crate) fn new(heap: Arc<Heap>) -> Self {
        LimitedAllocator { heap }
    }

    fn refuse(&self, extra: usize) -> bool {
        self.heap.refuse(extra)
    }

    fn release(&self, bytes: usize) {
        let used = &self.heap.used;
        used.store(
            used.load(Ordering::Relaxed).saturating_sub(bytes),
            Ordering::Relaxed,
        );
    }

    /// Counts a block just returned by mimalloc.
    #[allow(unsafe_code)]
    fn track(&mut self, p: *mut c_void) -> *mut u8 {
        if !p.is_null() {
            // SAFETY: `p` is a live block that mimalloc just returned.
            let size = unsafe { mi::mi_usable_size(p) };
            let used = self.heap.used.load(Ordering::Relaxed).saturating_add(size);
            self.heap.used.store(used, Ordering::Relaxed);
            if used > self.heap.peak.load(Ordering::Relaxed) {
                self.heap.peak.store(used, Ordering::Relaxed);
            }
        }
        p.cast()
    }
}

#[allow(unsafe_code)]
// SAFETY: every block is allocated, resized and freed by mimalloc, whose `mi_malloc`,
// `mi_calloc` and `mi_realloc` return blocks aligned for any fundamental type (as `malloc`
// does, which is what QuickJS expects) or null; this type only counts bytes and returns null
// for allocations over the limit, which QuickJS handles as an out-of-memory condition.
unsafe impl Allocator for LimitedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if self.refuse(size) {
            return std::ptr::null_mut();
        }
        // SAFETY: any size may be asked for; null is returned on failure.
        let p = unsafe { mi::mi_malloc(size) };
        self.track(p)
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            self.heap.refused.store(true, Ordering::Relaxed);
            return std::ptr::null_mut();
        };
        if self.refuse(total) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above; mimalloc checks the multiplication too.
        let p = unsafe { mi::mi_calloc(count, size) };
        self.track(p)
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        let ptr = ptr.cast::<c_void>();
        // SAFETY: QuickJS only frees blocks this allocator returned, once.
        unsafe {
            self.release(mi::mi_usable_size(ptr));
            mi::mi_free(ptr);
        }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        if new_size == 0 {
            // SAFETY: `ptr` is live (QuickJS only reallocates what this allocator returned).
            unsafe { self.dealloc(ptr) };
            return std::ptr::null_mut();
        }
        let ptr = ptr.cast::<c_void>();
        // SAFETY: as above.
        let old = unsafe { mi::mi_usable_size(ptr) };
        if new_size > old && self.refuse(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` is live; on failure it stays valid and unchanged, as with `realloc`.
        let p = unsafe { mi::mi_realloc(ptr, new_size) };
        if !p.is_null() {
            self.release(old);
        }
        self.track(p)
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: QuickJS only asks about live blocks this allocator returned.
        unsafe { mi::mi_usable_size(ptr.cast::<c_void>()) }
    }
}

#[cfg(test)]
mod tests {
    use super::{Charge, Heap};
    use std::sync::Arc;

    #[test]
    fn a_charge_is_given_back_when_dropped() {
        let heap = Arc::new(Heap::default());
        let budget = heap.start_run(1000);
        let mut charge = Charge::new(&budget);
        assert!(charge.add(600));
        // What does not fit is refused and not charged.
        assert!(!charge.add(500));
        assert!(Charge::of(&budget, 401).is_none());
        let other = Charge::of(&budget, 400).expect("fits");
        assert_eq!(heap.run_bytes(), 1000);
        drop(charge);
        assert_eq!(heap.run_bytes(), 400);
        drop(other);
        assert_eq!(heap.run_bytes(), 0);
    }
}
