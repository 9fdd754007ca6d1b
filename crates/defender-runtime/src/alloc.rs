//! A memory-limited allocator for QuickJS that records when the limit refused an allocation,
//! so that a run which caught its own out-of-memory error is still reported as such.

use rquickjs::allocator::{Allocator, RustAllocator};
use std::cell::Cell;
use std::rc::Rc;

pub(crate) struct LimitedAllocator {
    inner: RustAllocator,
    used: usize,
    limit: Rc<Cell<usize>>,
    hit: Rc<Cell<bool>>,
}

impl LimitedAllocator {
    /// `limit` may be changed while the runtime lives (it applies to later allocations).
    pub(crate) fn new(limit: Rc<Cell<usize>>, hit: Rc<Cell<bool>>) -> Self {
        LimitedAllocator {
            inner: RustAllocator,
            used: 0,
            limit,
            hit,
        }
    }

    fn refuse(&self, extra: usize) -> bool {
        if self.used.saturating_add(extra) > self.limit.get() {
            self.hit.set(true);
            true
        } else {
            false
        }
    }
}

#[allow(unsafe_code)]
// SAFETY: every call is forwarded to `RustAllocator`, which upholds the trait's contract;
// this type only counts bytes and refuses allocations over the limit by returning null,
// which QuickJS handles as an out-of-memory condition.
unsafe impl Allocator for LimitedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if self.refuse(size) {
            return std::ptr::null_mut();
        }
        let p = self.inner.alloc(size);
        if !p.is_null() {
            // SAFETY: `p` was just returned by `RustAllocator::alloc`.
            self.used += unsafe { RustAllocator::usable_size(p) };
        }
        p
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            self.hit.set(true);
            return std::ptr::null_mut();
        };
        if self.refuse(total) {
            return std::ptr::null_mut();
        }
        if total == 0 {
            return self.alloc(0);
        }
        let p = self.inner.calloc(count, size);
        if !p.is_null() {
            // SAFETY: `p` was just returned by `RustAllocator::calloc`.
            self.used += unsafe { RustAllocator::usable_size(p) };
        }
        p
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if !ptr.is_null() {
            // SAFETY: QuickJS only frees pointers this allocator returned.
            self.used = self
                .used
                .saturating_sub(unsafe { RustAllocator::usable_size(ptr) });
        }
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // `RustAllocator::realloc` needs a live pointer and a size: do what libc does otherwise.
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        if new_size == 0 {
            // SAFETY: `ptr` is live (QuickJS only reallocates what this allocator returned).
            unsafe { self.dealloc(ptr) };
            return std::ptr::null_mut();
        }
        let old = if ptr.is_null() {
            0
        } else {
            // SAFETY: QuickJS only reallocates pointers this allocator returned.
            unsafe { RustAllocator::usable_size(ptr) }
        };
        if new_size > old && self.refuse(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let p = unsafe { self.inner.realloc(ptr, new_size) };
        if p.is_null() {
            if new_size == 0 {
                self.used = self.used.saturating_sub(old);
            }
        } else {
            // SAFETY: `p` was just returned by `RustAllocator::realloc`.
            self.used = self.used.saturating_sub(old) + unsafe { RustAllocator::usable_size(p) };
        }
        p
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: forwarded.
        unsafe { RustAllocator::usable_size(ptr) }
    }
}
