//! A memory-limited allocator for QuickJS that records when the limit refused an allocation,
//! so that a run which caught its own out-of-memory error is still reported as such.
//!
//! The memory comes from mimalloc rather than the process allocator: a fresh context is
//! thousands of small allocations made and freed again for every run, which glibc's malloc
//! serves noticeably slower, and mimalloc knows each block's size without a header of ours.

use libmimalloc_sys as mi;
use rquickjs::allocator::Allocator;
use std::cell::Cell;
use std::ffi::c_void;
use std::rc::Rc;

/// The state of one QuickJS runtime's heap, shared by its allocator and the sandbox.
#[derive(Debug, Default)]
pub(crate) struct Heap {
    /// Most bytes the runtime may hold; may be changed while it lives (applies to later
    /// allocations).
    pub(crate) limit: Cell<usize>,
    /// Bytes held now (usable sizes of the live blocks).
    pub(crate) used: Cell<usize>,
    /// Set when the limit refused an allocation.
    pub(crate) refused: Cell<bool>,
    /// Bytes of `used` held by bytecode that the runtime keeps for all its contexts (see
    /// src/script.rs): not counted against a run's limit.
    pub(crate) kept: Cell<usize>,
}

impl Heap {
    /// Bytes held for the current context: the heap less the runtime's kept bytecode.
    pub(crate) fn context_bytes(&self) -> usize {
        self.used.get().saturating_sub(self.kept.get())
    }
}

pub(crate) struct LimitedAllocator {
    heap: Rc<Heap>,
}

impl LimitedAllocator {
    pub(crate) fn new(heap: Rc<Heap>) -> Self {
        LimitedAllocator { heap }
    }

    fn refuse(&self, extra: usize) -> bool {
        if self.heap.context_bytes().saturating_add(extra) > self.heap.limit.get() {
            self.heap.refused.set(true);
            true
        } else {
            false
        }
    }

    fn release(&self, bytes: usize) {
        self.heap
            .used
            .set(self.heap.used.get().saturating_sub(bytes));
    }

    /// Counts a block just returned by mimalloc.
    #[allow(unsafe_code)]
    fn track(&mut self, p: *mut c_void) -> *mut u8 {
        if !p.is_null() {
            // SAFETY: `p` is a live block that mimalloc just returned.
            let size = unsafe { mi::mi_usable_size(p) };
            self.heap.used.set(self.heap.used.get() + size);
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
            self.heap.refused.set(true);
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
