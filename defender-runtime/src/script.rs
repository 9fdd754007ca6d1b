//! Global scripts whose bytecode is read once per QuickJS runtime and evaluated in each of
//! its contexts.
//!
//! Reading bytecode (`JS_ReadObject`) creates every function, atom and constant again, and
//! freeing it is as costly; for the prelude that was a fifth of a fresh context. The patched
//! QuickJS (`JS_DetachBytecodeRealm`, see vendor/README.md) lets bytecode outlive the
//! context that read it: its functions then run in their caller's realm, which is their own
//! because a runtime of this crate has one context at a time. Bytecode is code only (the
//! patch refuses bytecode holding an object constant), so nothing a run does to its
//! context reaches the next one. The sandbox's scripts and CommonJS files (user code and
//! node_modules) are kept this way; their bytes are not charged to a run's memory limit.
//!
//! Without the `quickjs-patches` feature (published QuickJS), bytecode is read again in each
//! context that runs it.

use crate::alloc::Heap;
use rquickjs::{qjs, Ctx, Value};
#[cfg(feature = "quickjs-patches")]
use std::cell::RefCell;
#[cfg(feature = "quickjs-patches")]
use std::collections::HashMap;
use std::ffi::CString;
#[cfg(feature = "quickjs-patches")]
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How a script is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The sandbox's own scripts: strict, without debug information (reading it back would
    /// be most of the cost, and stack frames inside them are no help to an action's author).
    Sandbox,
    /// User code: sloppy unless it says `'use strict'` (as Node runs CommonJS), with line
    /// numbers for stack traces and the source text for `Function.prototype.toString`.
    User,
}

/// Compiles `src` as a global script to bytecode that [`eval_shared`] runs; the script's
/// completion value is what it returns.
pub(crate) fn compile(
    ctx: &Ctx<'_>,
    name: &str,
    src: &str,
    mode: Mode,
) -> rquickjs::Result<Arc<[u8]>> {
    let (eval_flags, write_flags) = match mode {
        Mode::Sandbox => (
            qjs::JS_EVAL_FLAG_STRICT,
            qjs::JS_WRITE_OBJ_STRIP_DEBUG | qjs::JS_WRITE_OBJ_STRIP_SOURCE,
        ),
        Mode::User => (0, 0),
    };
    let eval_flags = qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY | eval_flags;
    compile_to_bytes(ctx, name, src, eval_flags, write_flags)
}

/// Compiles `src` as an ES module to bytecode (for `Module::load`).
pub(crate) fn compile_module(ctx: &Ctx<'_>, name: &str, src: &str) -> rquickjs::Result<Arc<[u8]>> {
    let eval_flags =
        qjs::JS_EVAL_TYPE_MODULE | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
    compile_to_bytes(ctx, name, src, eval_flags, 0)
}

/// Compiles `src` with `JS_Eval` and writes the result with `JS_WriteObject`.
///
/// The source is passed with its length and a terminating NUL after it, so that source
/// text holding NUL characters (valid JavaScript) compiles as it does in Node.
#[allow(unsafe_code)]
fn compile_to_bytes(
    ctx: &Ctx<'_>,
    name: &str,
    src: &str,
    eval_flags: u32,
    write_flags: u32,
) -> rquickjs::Result<Arc<[u8]>> {
    let raw = ctx.as_raw().as_ptr();
    let mut text = Vec::new();
    text.try_reserve_exact(src.len().saturating_add(1))
        .map_err(|_| rquickjs::Error::Allocation)?;
    text.extend_from_slice(src.as_bytes());
    text.push(0);
    // A file name is only a label: its NUL characters are dropped.
    let file = CString::new(name.replace('\0', "")).unwrap_or_default();
    let write_flags = qjs::JS_WRITE_OBJ_BYTECODE | write_flags;
    // SAFETY: `raw` is the live context of `ctx` on this thread; `text` holds `src.len()`
    // bytes followed by a NUL, as JS_Eval requires; the value returned is owned and freed
    // below, and the buffer JS_WriteObject returns is copied and freed with the context's
    // allocator.
    unsafe {
        let f = qjs::JS_Eval(
            raw,
            text.as_ptr().cast(),
            src.len() as _,
            file.as_ptr(),
            eval_flags as _,
        );
        if qjs::JS_IsException(f) {
            return Err(rquickjs::Error::Exception);
        }
        let mut len = 0;
        let buf = qjs::JS_WriteObject(raw, &mut len, f, write_flags as _);
        qjs::JS_FreeValue(raw, f);
        if buf.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        let bytes: Arc<[u8]> = std::slice::from_raw_parts(buf, len as usize).into();
        qjs::js_free(raw, buf.cast());
        Ok(bytes)
    }
}

/// Reads script bytecode from [`compile`]; an owned function bytecode value.
#[allow(unsafe_code)]
fn read(ctx: &Ctx<'_>, code: &[u8]) -> rquickjs::Result<qjs::JSValue> {
    // SAFETY: `ctx` is live on this thread. The bytes come only from `compile` in this
    // process (never from user input or disk).
    unsafe {
        let f = qjs::JS_ReadObject(
            ctx.as_raw().as_ptr(),
            code.as_ptr(),
            code.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as _,
        );
        if qjs::JS_IsException(f) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(f)
    }
}

/// Runs the owned function bytecode `f` in `ctx`; its completion value.
#[allow(unsafe_code)]
fn run<'js>(ctx: &Ctx<'js>, f: qjs::JSValue) -> rquickjs::Result<Value<'js>> {
    // SAFETY: `ctx` is live on this thread; JS_EvalFunction consumes `f`.
    let v = unsafe { qjs::JS_EvalFunction(ctx.as_raw().as_ptr(), f) };
    // SAFETY: inspects the tag of a value.
    if unsafe { qjs::JS_IsException(v) } {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: `v` is owned and belongs to this context.
    Ok(unsafe { Value::from_raw(ctx.clone(), v) })
}

/// Bytecode read in one runtime, with the bytes it was read from (kept alive so that their
/// address, the key, cannot be reused for other bytes).
#[cfg(feature = "quickjs-patches")]
struct Read {
    _bytes: Arc<[u8]>,
    function: qjs::JSValue,
}

/// The bytecode read in one runtime, by the address of its bytes.
#[cfg(feature = "quickjs-patches")]
struct Shared {
    rt: *mut qjs::JSRuntime,
    read: RefCell<HashMap<usize, Read>>,
    /// The runtime's heap gauge, whose `kept` counts the bytes of `read`.
    heap: RefCell<Option<Arc<Heap>>>,
}

/// The shared bytecode of the runtime of `ctx`, created on first use.
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
fn shared<'a>(ctx: &'a Ctx<'_>) -> Option<rquickjs::runtime::UserDataGuard<'a, Shared>> {
    if ctx.userdata::<Shared>().is_none() {
        let shared = Shared {
            // SAFETY: `ctx` is live on this thread.
            rt: unsafe { qjs::JS_GetRuntime(ctx.as_raw().as_ptr()) },
            read: RefCell::default(),
            heap: RefCell::default(),
        };
        // Only fails while the userdata is borrowed, which it is not here.
        let _ = ctx.store_userdata(shared);
    }
    ctx.userdata::<Shared>()
}

/// Tells the runtime of `ctx` which heap gauge counts its kept bytecode (once per runtime).
#[cfg(feature = "quickjs-patches")]
pub(crate) fn attach_heap(ctx: &Ctx<'_>, heap: &Arc<Heap>) {
    if let Some(s) = shared(ctx) {
        let mut slot = s.heap.borrow_mut();
        if slot.is_none() {
            *slot = Some(heap.clone());
        }
    }
}

#[cfg(feature = "quickjs-patches")]
impl Drop for Shared {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        for (_, read) in self.read.get_mut().drain() {
            // SAFETY: rquickjs drops a runtime's userdata before it frees the runtime, and
            // each value holds one reference of its own.
            unsafe { qjs::JS_FreeValueRT(self.rt, read.function) };
        }
    }
}

// SAFETY: the type holds no lifetime.
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
unsafe impl<'js> rquickjs::JsLifetime<'js> for Shared {
    type Changed<'to> = Shared;
}

/// Most bytes of bytecode a runtime keeps (beyond, scripts are read for each context):
/// kept bytecode is not counted against a run's memory limit, and a runtime serves many
/// actions (but at most 256 contexts).
#[cfg(feature = "quickjs-patches")]
const KEEP_LIMIT_BYTES: usize = 32 << 20;

/// Runs script bytecode from [`compile`] in `ctx`; its completion value. The bytecode is
/// read once per runtime and kept for its later contexts, unless it holds a constant tied
/// to one context or the runtime keeps [`KEEP_LIMIT_BYTES`] already.
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
pub(crate) fn eval_shared<'js>(ctx: &Ctx<'js>, code: &Arc<[u8]>) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    let key = code.as_ptr() as usize;
    let kept = ctx
        .userdata::<Shared>()
        .and_then(|s| s.read.borrow().get(&key).map(|r| r.function));
    if let Some(f) = kept {
        // SAFETY: `raw` is live on this thread; the run gets a reference of its own.
        return run(ctx, unsafe { qjs::JS_DupValue(raw, f) });
    }
    let heap = ctx
        .userdata::<Shared>()
        .and_then(|s| s.heap.borrow().clone());
    let before = heap.as_ref().map_or(0, |h| h.used.load(Ordering::Relaxed));
    let f = read(ctx, code)?;
    let room = heap
        .as_ref()
        .is_none_or(|h| h.kept.load(Ordering::Relaxed) < KEEP_LIMIT_BYTES);
    // SAFETY: `raw` is live on this thread and `f` is owned function bytecode; the kept
    // copy gets a reference of its own, freed when the runtime's userdata is dropped.
    unsafe {
        if room && qjs::JS_DetachBytecodeRealm(raw, f) == 0 {
            if let Some(s) = shared(ctx) {
                let read = Read {
                    _bytes: code.clone(),
                    function: qjs::JS_DupValue(raw, f),
                };
                s.read.borrow_mut().insert(key, read);
                if let Some(h) = heap {
                    let grew = h.used.load(Ordering::Relaxed).saturating_sub(before);
                    h.kept.fetch_add(grew, Ordering::Relaxed);
                }
            }
        }
    }
    run(ctx, f)
}

/// Runs script bytecode from [`compile`] in `ctx`; its completion value. Published QuickJS
/// ties bytecode to the context that read it, so it is read again for each context.
#[cfg(not(feature = "quickjs-patches"))]
pub(crate) fn eval_shared<'js>(ctx: &Ctx<'js>, code: &Arc<[u8]>) -> rquickjs::Result<Value<'js>> {
    run(ctx, read(ctx, code)?)
}

/// Without the patches no bytecode is kept, so there is nothing to count.
#[cfg(not(feature = "quickjs-patches"))]
pub(crate) fn attach_heap(_ctx: &Ctx<'_>, _heap: &Arc<Heap>) {}

#[cfg(all(test, feature = "quickjs-patches"))]
mod tests {
    use super::*;
    use rquickjs::{Context, Function, Runtime};

    /// How many scripts the runtime of `ctx` keeps read.
    fn kept(ctx: &Ctx<'_>) -> usize {
        ctx.userdata::<Shared>()
            .map_or(0, |s| s.read.borrow().len())
    }

    #[test]
    fn shared_bytecode_runs_afresh_in_each_context() {
        let rt = Runtime::new().unwrap();
        let code = Context::full(&rt)
            .unwrap()
            .with(|ctx| {
                compile(
                    &ctx,
                    "counter",
                    "(function () { let n = 0; return () => [++n + (globalThis.mark || 0), []]; })()",
                    Mode::Sandbox,
                )
            })
            .unwrap();
        for _ in 0..3 {
            let context = Context::full(&rt).unwrap();
            context.with(|ctx| {
                let counter: Function<'_> = eval_shared(&ctx, &code).unwrap().into_function().unwrap();
                // Closure state is this context's: it starts again at 1.
                let first: rquickjs::Array<'_> = counter.call(()).unwrap();
                assert_eq!(first.get::<i32>(0).unwrap(), 1);
                // Globals and prototypes are those of the calling context.
                ctx.globals().set("mark", 10).unwrap();
                ctx.globals().set("counter", counter).unwrap();
                let same_realm: bool = ctx
                    .eval("const [n, a] = counter(); n === 12 && a instanceof Array && Object.getPrototypeOf(a) === Array.prototype")
                    .unwrap();
                assert!(same_realm);
                assert_eq!(kept(&ctx), 1);
            });
            drop(context);
            rt.run_gc();
        }
    }

    #[test]
    fn bytecode_tied_to_a_context_is_not_shared() {
        let rt = Runtime::new().unwrap();
        let context = Context::full(&rt).unwrap();
        context.with(|ctx| {
            // A tagged template's strings array is an object constant of the bytecode.
            let code =
                compile(&ctx, "t", "((s) => s.raw[0] + typeof s)`x`", Mode::Sandbox).unwrap();
            let v: String = eval_shared(&ctx, &code).unwrap().get().unwrap();
            assert_eq!(v, "xobject");
            let plain = compile(&ctx, "p", "1 + 1", Mode::Sandbox).unwrap();
            let v: i32 = eval_shared(&ctx, &plain).unwrap().get().unwrap();
            assert_eq!(v, 2);
            // Only the second one is kept.
            assert_eq!(kept(&ctx), 1);
            // And evaluating it again reuses it.
            let v: i32 = eval_shared(&ctx, &plain).unwrap().get().unwrap();
            assert_eq!((v, kept(&ctx)), (2, 1));
        });
    }

    #[test]
    fn user_scripts_are_sloppy_unless_they_say_otherwise() {
        let rt = Runtime::new().unwrap();
        let context = Context::full(&rt).unwrap();
        context.with(|ctx| {
            let sloppy = compile(
                &ctx,
                "a.js",
                "undeclared = 5; (function () { return typeof this; })()",
                Mode::User,
            )
            .unwrap();
            let v: String = eval_shared(&ctx, &sloppy).unwrap().get().unwrap();
            assert_eq!(v, "object");
            assert_eq!(ctx.globals().get::<_, i32>("undeclared").unwrap(), 5);
            let strict = compile(
                &ctx,
                "b.js",
                "'use strict'; (function () { return typeof this; })()",
                Mode::User,
            )
            .unwrap();
            let v: String = eval_shared(&ctx, &strict).unwrap().get().unwrap();
            assert_eq!(v, "undefined");
            let sandbox = compile(
                &ctx,
                "c.js",
                "(function () { return typeof this; })()",
                Mode::Sandbox,
            )
            .unwrap();
            let v: String = eval_shared(&ctx, &sandbox).unwrap().get().unwrap();
            assert_eq!(v, "undefined");
        });
    }
}
