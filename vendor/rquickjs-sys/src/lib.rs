#![allow(non_upper_case_globals)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(clippy::unreadable_literal)]
#![allow(clippy::missing_safety_doc)]
#![allow(clippy::upper_case_acronyms)]
#![allow(clippy::uninlined_format_args)]
#![no_std]

use ::core::ptr;

/// Common error message for converting between C `size_t` and Rust `usize`;
pub const SIZE_T_ERROR: &str =
    "conversion between C type 'size_t' and Rust type 'usize' overflowed.";

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

#[cfg(not(feature = "bindgen"))]
include!(concat!("bindings/", bindings_env!("TARGET"), ".rs"));

#[cfg(target_pointer_width = "64")]
include!("inlines/ptr_64.rs");

#[cfg(target_pointer_width = "32")]
include!("inlines/ptr_32_nan_boxing.rs");

include!("inlines/common.rs");

// defender-runtime patch (see vendor/README.md): lazily created properties and intrinsic
// groups, defined at the end of quickjs/quickjs.c.

/// Creates the value of a property defined by [`JS_DefineHostAutoInitProperty`] on first
/// use; `index` is the one given there. Returns the value, or `JS_EXCEPTION`.
pub type JSHostAutoInitFunc = ::core::option::Option<
    unsafe extern "C" fn(ctx: *mut JSContext, obj: JSValue, prop: JSAtom, index: u32) -> JSValue,
>;

extern "C" {
    /// Sets the runtime's creator of lazily defined properties.
    pub fn JS_SetHostAutoInit(rt: *mut JSRuntime, func: JSHostAutoInitFunc);
    /// Defines `obj[prop]` as a property whose value the runtime's [`JSHostAutoInitFunc`]
    /// creates when it is first used; it then is a data property with `flags`. Returns 1, or 0
    /// when `obj` already has `prop` or is not extensible, or -1 on an allocation failure.
    pub fn JS_DefineHostAutoInitProperty(
        ctx: *mut JSContext,
        obj: JSValue,
        prop: JSAtom,
        index: u32,
        flags: ::core::ffi::c_int,
    ) -> ::core::ffi::c_int;
    /// A new object holding the globals that intrinsic group `group` defines (0 Date, 1 Map
    /// and Set, 2 typed arrays, 3 Proxy, 4 WeakRef, 5 performance, 6 DOMException), which
    /// are added to the context without touching its global object; `undefined` for an
    /// unknown group. Each group must be added at most once per context.
    pub fn JS_NewIntrinsicGroup(ctx: *mut JSContext, group: ::core::ffi::c_int) -> JSValue;
    /// Makes the function bytecode `obj` (from `JS_ReadObject`) usable by every context of
    /// the runtime: it drops the realm of the context that read it, and its functions run
    /// in their caller's realm. Returns -1, changing nothing, when `obj` is not function
    /// bytecode or holds a constant tied to one context (an object or a module).
    pub fn JS_DetachBytecodeRealm(ctx: *mut JSContext, obj: JSValue) -> ::core::ffi::c_int;
    /// How many stack overflows (`RangeError: Maximum call stack size exceeded`) the engine
    /// of `rt` has thrown so far; the host compares it before and after a run.
    pub fn JS_GetStackOverflowCount(rt: *mut JSRuntime) -> u32;
}

