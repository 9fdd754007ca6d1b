//! The globals a context starts with, besides the engine's own: the sandbox's (`console`,
//! timers, `fetch`, `Buffer`...) and the intrinsic groups that the prelude's code reads
//! before any user code can replace them.
//!
//! With the `quickjs-patches` feature (patched QuickJS, see vendor/README.md) they are
//! created on first use, as engine auto-init properties that look like plain data
//! properties to the script: a context starts with half of the engine's intrinsics and none
//! of the sandbox's globals, which is most of the cost of a fresh context. Without it
//! (published QuickJS), the context starts with every intrinsic, and each of the sandbox's
//! globals is an accessor, defined before any user code runs, that turns itself into a data
//! property on first use: the same globals, at a higher cost per fresh context.

#[cfg(feature = "quickjs-patches")]
use rquickjs::Exception;
#[cfg(not(feature = "quickjs-patches"))]
use rquickjs::Object;
use rquickjs::{context::intrinsic, Ctx, Function, Value};
#[cfg(feature = "quickjs-patches")]
use std::cell::Cell;

/// The intrinsics every context starts with: what module code, async functions and literals
/// (`/re/`, `1n`) need before any global is looked up. The others are added on first use
/// of one of their globals ([`intrinsic_group`]): creating and freeing them is about half
/// the cost of a full context, and a typical handler never touches most of them.
#[cfg(feature = "quickjs-patches")]
pub(super) type ContextIntrinsics = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Promise,
);

/// Without the patches, a context starts with every intrinsic.
#[cfg(not(feature = "quickjs-patches"))]
pub(super) type ContextIntrinsics = intrinsic::All;

/// The globals of the lazy intrinsic group `group` (numbered as in [`LAZY_GLOBALS`]), added to the context once, in a new object: the engine defines them there
/// instead of on the global object, where the script may have replaced or deleted them.
/// `undefined` for an unknown group or one already added.
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
fn intrinsic_group<'js>(
    ctx: &Ctx<'js>,
    added: &Cell<u8>,
    group: u32,
) -> rquickjs::Result<Value<'js>> {
    let bit = 1u8.checked_shl(group).unwrap_or(0);
    if group > 6 || added.get() & bit != 0 {
        return Ok(Value::new_undefined(ctx.clone()));
    }
    added.set(added.get() | bit);
    // SAFETY: `ctx` is a live context on this thread. `JS_NewIntrinsicGroup` (vendor patch)
    // runs what `JS_NewContext` runs for the group, once per context thanks to the bit
    // above, and returns an owned value or JS_EXCEPTION.
    let raw = unsafe { rquickjs::qjs::JS_NewIntrinsicGroup(ctx.as_raw().as_ptr(), group as _) };
    // SAFETY: inspects the tag of a value.
    if unsafe { rquickjs::qjs::JS_IsException(raw) } {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: `raw` is owned and belongs to this context.
    Ok(unsafe { Value::from_raw(ctx.clone(), raw) })
}

/// The prelude's resolver of lazily created globals (`resolveLazy` in js/prelude.js), called
/// by [`lazy_global_value`]. It lives in the runtime's userdata, which holds one context's at
/// a time and is emptied before that context is freed.
#[cfg(feature = "quickjs-patches")]
pub(super) struct LazyResolver<'js>(pub(super) Function<'js>);

// SAFETY: the type's only lifetime is the `'js` of the function it holds.
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
unsafe impl<'js> rquickjs::JsLifetime<'js> for LazyResolver<'js> {
    type Changed<'to> = LazyResolver<'to>;
}

/// The globals created on first use, by group: the intrinsic groups of
/// `JS_NewIntrinsicGroup` (0 to 6), then js/support.js (7), js/web.js (8, with js/fetch.js),
/// the global object's own names (9) and js/intl.js (10), as `SUPPORT`, `WEB`, `SELF` and
/// `INTL` in js/prelude.js.
const LAZY_GLOBALS: [&[&str]; 11] = [
    &["Date"],
    &["Map", "Set", "WeakMap", "WeakSet"],
    &[
        "ArrayBuffer",
        "SharedArrayBuffer",
        "Uint8ClampedArray",
        "Int8Array",
        "Uint8Array",
        "Int16Array",
        "Uint16Array",
        "Int32Array",
        "Uint32Array",
        "BigInt64Array",
        "BigUint64Array",
        "Float16Array",
        "Float32Array",
        "Float64Array",
        "DataView",
        "Atomics",
    ],
    &["Proxy"],
    &["WeakRef", "FinalizationRegistry"],
    &["performance"],
    &["DOMException"],
    &[
        "console",
        "setTimeout",
        "setInterval",
        "setImmediate",
        "clearTimeout",
        "clearInterval",
        "clearImmediate",
        "queueMicrotask",
    ],
    &[
        "TextEncoder",
        "TextDecoder",
        "btoa",
        "atob",
        "Buffer",
        "crypto",
        "URL",
        "URLSearchParams",
        "Headers",
        "Request",
        "Response",
        "fetch",
        "process",
        "Event",
        "EventTarget",
        "AbortSignal",
        "AbortController",
        "structuredClone",
    ],
    &["global", "self"],
    &["Intl"],
];

/// Defines each of [`LAZY_GLOBALS`] on the global object as a property that the engine
/// creates on first use, with the prelude's `resolveLazy(group, name)` (see
/// [`lazy_global_value`]), and that is a plain writable, configurable data property from then
/// on; until then it costs a slot in the global object's shape and no object (patched
/// QuickJS, see vendor/README.md).
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
fn define_lazy_globals(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    use rquickjs::qjs;
    let raw = ctx.as_raw().as_ptr();
    let global = ctx.globals();
    // SAFETY: `raw` is the live context of `ctx` on this thread; the runtime's hook is a
    // plain function; each atom is created and freed here and `global` is borrowed.
    unsafe {
        qjs::JS_SetHostAutoInit(qjs::JS_GetRuntime(raw), Some(lazy_global_value));
        for (group, names) in LAZY_GLOBALS.iter().enumerate() {
            for (k, name) in names.iter().enumerate() {
                let atom = qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _);
                if atom == qjs::JS_ATOM_NULL {
                    return Err(rquickjs::Error::Allocation);
                }
                let r = qjs::JS_DefineHostAutoInitProperty(
                    raw,
                    global.as_raw(),
                    atom,
                    (group << 8 | k) as u32,
                    (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE) as _,
                );
                qjs::JS_FreeAtom(raw, atom);
                if r < 0 {
                    return Err(rquickjs::Error::Allocation);
                }
            }
        }
    }
    Ok(())
}

/// The engine's hook for lazily created properties: the value of lazy global `index`, from
/// the prelude's resolver; `JS_EXCEPTION` with the exception pending when it throws.
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
unsafe extern "C" fn lazy_global_value(
    ctx: *mut rquickjs::qjs::JSContext,
    _obj: rquickjs::qjs::JSValue,
    _prop: rquickjs::qjs::JSAtom,
    index: u32,
) -> rquickjs::qjs::JSValue {
    use rquickjs::qjs;
    let Some(raw) = std::ptr::NonNull::new(ctx) else {
        return qjs::JS_UNDEFINED;
    };
    let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the engine calls this on the thread that owns the context, while it runs.
        let ctx = unsafe { Ctx::from_raw(raw) };
        let resolver = ctx.userdata::<LazyResolver<'_>>().map(|r| r.0.clone());
        let (group, k) = ((index >> 8) as usize, (index & 0xff) as usize);
        let name = LAZY_GLOBALS.get(group).and_then(|names| names.get(k));
        let value = match (resolver, name) {
            (Some(f), Some(name)) => f.call::<_, Value<'_>>((group, *name)),
            _ => Ok(Value::new_undefined(ctx.clone())),
        };
        match value {
            // SAFETY: the returned value gets a reference of its own.
            Ok(v) => unsafe { qjs::JS_DupValue(raw.as_ptr(), v.as_raw()) },
            Err(rquickjs::Error::Exception) => qjs::JS_EXCEPTION,
            Err(e) => {
                let _ = Exception::throw_internal(&ctx, &e.to_string());
                qjs::JS_EXCEPTION
            }
        }
    }));
    value.unwrap_or_else(|_| {
        // SAFETY: as above.
        let ctx = unsafe { Ctx::from_raw(raw) };
        let _ = Exception::throw_internal(&ctx, "a lazy global failed");
        qjs::JS_EXCEPTION
    })
}

/// The first group of the sandbox's own globals in [`LAZY_GLOBALS`] (the ones before it are
/// the engine's intrinsic groups).
#[cfg(not(feature = "quickjs-patches"))]
const FIRST_SANDBOX_GROUP: usize = 7;

/// How the host gives the prelude the original values of an intrinsic group.
pub(super) struct Intrinsics {
    /// Groups already added (patched QuickJS adds each group once, on first use).
    #[cfg(feature = "quickjs-patches")]
    added: Cell<u8>,
}

impl Intrinsics {
    /// Prepares the global object of a new context, before the prelude is installed.
    pub(super) fn install(ctx: &Ctx<'_>) -> rquickjs::Result<Self> {
        #[cfg(feature = "quickjs-patches")]
        {
            define_lazy_globals(ctx)?;
            Ok(Intrinsics {
                added: Cell::new(0),
            })
        }
        #[cfg(not(feature = "quickjs-patches"))]
        {
            let _ = ctx;
            Ok(Intrinsics {})
        }
    }

    /// The original values of intrinsic group `group`, added now (`undefined` for another
    /// group, one already added, or without the patches: see [`Intrinsics::captured`]).
    pub(super) fn group<'js>(&self, ctx: &Ctx<'js>, group: u32) -> rquickjs::Result<Value<'js>> {
        #[cfg(feature = "quickjs-patches")]
        {
            intrinsic_group(ctx, &self.added, group)
        }
        #[cfg(not(feature = "quickjs-patches"))]
        {
            let _ = group;
            Ok(Value::new_undefined(ctx.clone()))
        }
    }

    /// Without the patches, the context starts with every intrinsic: each group's globals,
    /// read now (before any user code), in an array for the prelude (`host.intrinsicGroups`).
    /// A JavaScript value, never one held by a host closure: the garbage collector must see
    /// every reference for the context to be freed whole.
    pub(super) fn captured<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        #[cfg(feature = "quickjs-patches")]
        {
            Ok(Value::new_undefined(ctx.clone()))
        }
        #[cfg(not(feature = "quickjs-patches"))]
        {
            let global = ctx.globals();
            let groups = rquickjs::Array::new(ctx.clone())?;
            for (i, names) in LAZY_GLOBALS[..FIRST_SANDBOX_GROUP].iter().enumerate() {
                let holder = Object::new(ctx.clone())?;
                for name in names.iter() {
                    holder.set(*name, global.get::<_, Value<'js>>(*name)?)?;
                }
                groups.set(i, holder)?;
            }
            Ok(groups.into_value())
        }
    }
}

/// Completes the global object once the prelude is installed. With the patched engine,
/// `resolve` is the prelude's resolver of lazily created globals (`resolveLazy(group, name)`
/// in js/prelude.js), kept for the engine to call; with the published one, it is the
/// prelude's `defineLazy(group, name)`, called here for each global.
pub(super) fn complete<'js>(ctx: &Ctx<'js>, resolve: Function<'js>) -> rquickjs::Result<()> {
    #[cfg(feature = "quickjs-patches")]
    {
        ctx.store_userdata(LazyResolver(resolve))
            .map(drop)
            .map_err(|_| Exception::throw_internal(ctx, "lazy globals are being resolved"))
    }
    #[cfg(not(feature = "quickjs-patches"))]
    {
        let _ = ctx;
        for (group, names) in LAZY_GLOBALS.iter().enumerate().skip(FIRST_SANDBOX_GROUP) {
            for name in names.iter() {
                let _: Value<'js> = resolve.call((group, *name))?;
            }
        }
        Ok(())
    }
}

/// Lets go of what the runtime holds for the context about to be freed.
pub(super) fn release(ctx: &Ctx<'_>) {
    #[cfg(feature = "quickjs-patches")]
    {
        let _ = ctx.remove_userdata::<LazyResolver<'_>>();
    }
    #[cfg(not(feature = "quickjs-patches"))]
    let _ = ctx;
}
