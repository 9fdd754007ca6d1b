//! The host functions the prelude receives as `host` (user code never sees them), and the
//! installation of the prelude in a new context.
//!
//! Every value a host function receives comes from JavaScript and is hostile: each is read
//! once, as a plain value, checked and bounded before the host acts on it, and what the host
//! holds for the run (timers, operations in flight, their answers) is charged to the run's
//! memory limit.

use super::code_cache::CodeCache;
use super::crypto;
use super::errors::{out_of_memory, Finish};
use super::event_loop::{level, LoopState, OpResult};
use super::lazy::{self, Intrinsics};
use super::modules;
use super::zlib;
use crate::files::Files;
use crate::host::{self, OpContext, OpError};
use crate::script;
use rquickjs::function::This;
use rquickjs::{ArrayBuffer, Ctx, Exception, Function, Object, Value};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

const PRELUDE: &str = include_str!("../../js/prelude.js");

/// The scripts a context evaluates on first use, each by its name with `host.loadScript(name)`
/// (js/prelude.js and js/support.js say when); each evaluates to a function.
const LAZY_SCRIPTS: [(&str, &str); 9] = [
    // `console`, the timers, host operations and the loading of the others.
    ("support", include_str!("../../js/support.js")),
    // Defender's client modules.
    ("clients", include_str!("../../js/clients.js")),
    // The web globals (text encoding, `URL`, `AbortController`, `process`...).
    ("web", include_str!("../../js/web.js")),
    // `fetch`, `Headers`, `Request` and `Response`.
    ("fetch", include_str!("../../js/fetch.js")),
    // Node's `crypto` functions and `crypto.subtle` (src/sandbox/crypto/ computes them).
    ("node_crypto", include_str!("../../js/node_crypto.js")),
    // `Intl` and the locale-aware methods (see src/sandbox/intl/).
    ("intl", include_str!("../../js/intl.js")),
    // Node's core modules built from npm packages (`scripts/build-node-builtins.sh`).
    (
        "node-builtins",
        include_str!("../../js/generated/node-builtins.js"),
    ),
    // Node's `http` and `https`.
    ("node_http", include_str!("../../js/node_http.js")),
    // Node's `zlib` (src/sandbox/zlib/ computes it).
    ("node_zlib", include_str!("../../js/node_zlib.js")),
];

/// Longest script name `host.loadScript` looks up.
const MAX_SCRIPT_NAME: usize = 16;

/// Most bytes `crypto.getRandomValues` fills at once (as in the Web Crypto API).
const MAX_RANDOM_BYTES: usize = 65_536;

/// What an operation in flight costs the host besides its argument, charged to the run.
const OP_BYTES: usize = 512;

/// Longest operation name.
const MAX_OP_NAME: usize = 64;

/// Longest `require` request or module path the resolver looks at (longer ones are not
/// found, as no file has such a name).
const MAX_PATH_BYTES: usize = 4096;

/// Bytecode of the prelude and of the scripts evaluated on first use.
#[derive(Clone)]
struct PreludeCode {
    prelude: Arc<[u8]>,
    /// [`LAZY_SCRIPTS`]' bytecode, in its order.
    lazy: Arc<[Arc<[u8]>]>,
}

/// The prelude's bytecode, compiled once per process (it does not depend on any runtime).
static PRELUDE_CODE: Mutex<Option<PreludeCode>> = Mutex::new(None);

fn prelude_code(ctx: &Ctx<'_>) -> rquickjs::Result<PreludeCode> {
    let mut slot = PRELUDE_CODE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = slot.as_ref() {
        return Ok(p.clone());
    }
    // Global scripts without debug information (reading it back would be most of the cost,
    // and stack frames inside the prelude are no help to an action's author), read once per
    // runtime: see src/script.rs.
    let lazy = LAZY_SCRIPTS
        .iter()
        .map(|(name, src)| {
            script::compile(ctx, &format!("defender:{name}"), src, script::Mode::Sandbox)
        })
        .collect::<rquickjs::Result<Arc<[_]>>>()?;
    let code = PreludeCode {
        prelude: script::compile(ctx, "defender:prelude", PRELUDE, script::Mode::Sandbox)?,
        lazy,
    };
    *slot = Some(code.clone());
    Ok(code)
}

/// Text of a JavaScript string, at most `max_bytes` of it (cut at a character boundary);
/// lone UTF-16 surrogates become U+FFFD, as Node writes them to a UTF-8 stream.
#[allow(unsafe_code)]
pub(super) fn text(s: &rquickjs::String<'_>, max_bytes: usize) -> rquickjs::Result<String> {
    let c = s.clone().to_cstring()?;
    // SAFETY: `c` owns a buffer of `c.len()` bytes that QuickJS keeps alive until `c` is
    // dropped (after this function reads it).
    let bytes = unsafe { std::slice::from_raw_parts(c.as_ptr().cast::<u8>(), c.len()) };
    Ok(well_formed(&bytes[..bytes.len().min(max_bytes)]))
}

/// UTF-8 from QuickJS's output, where a lone surrogate is the 3-byte sequence `ED A0..BF xx`.
fn well_formed(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == 0xED && bytes.get(i + 1).is_some_and(|c| (0xA0..=0xBF).contains(c)) {
            out.extend_from_slice("\u{FFFD}".as_bytes());
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Installs the prelude in `ctx` with the host functions bound to `state`; the prelude's
/// API object (`start`, `resolveOp`, `fire`...).
pub(super) fn setup<'js>(
    ctx: &Ctx<'js>,
    cache: &Arc<CodeCache>,
    state: &Rc<RefCell<LoopState>>,
    tx: &mpsc::Sender<OpResult>,
) -> rquickjs::Result<Object<'js>> {
    let PreludeCode { prelude, lazy } = prelude_code(ctx)?;
    let host = Object::new(ctx.clone())?;

    let st = state.clone();
    host.set(
        "log",
        Function::new(
            ctx.clone(),
            move |lvl: i32, msg: rquickjs::String<'js>| -> rquickjs::Result<()> {
                // Read no more than the log can still hold (one byte more shows the cut).
                let room = st.borrow().log_room();
                let msg = text(&msg, room.saturating_add(1))?;
                st.borrow_mut().log(level(lvl), msg);
                Ok(())
            },
        )?,
    )?;
    for (name, kind) in [
        ("returned", Finish::Returned as fn(String) -> Finish),
        ("unserializable", Finish::Unserializable),
        ("invalid", Finish::InvalidCode),
        ("threw", Finish::Threw),
    ] {
        let st = state.clone();
        host.set(
            name,
            Function::new(
                ctx.clone(),
                move |payload: rquickjs::String<'js>| -> rquickjs::Result<()> {
                    let payload = text(&payload, usize::MAX)?;
                    let mut s = st.borrow_mut();
                    if s.finished.is_none() {
                        s.finished = Some(kind(payload));
                    }
                    Ok(())
                },
            )?,
        )?;
    }
    let st = state.clone();
    host.set(
        "setTimer",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, ms: f64| {
            st.borrow_mut()
                .add_timer(ms)
                .ok_or_else(|| out_of_memory(&ctx))
        })?,
    )?;
    let st = state.clone();
    host.set(
        "clearTimer",
        Function::new(ctx.clone(), move |id: u32| st.borrow_mut().clear_timer(id))?,
    )?;
    let st = state.clone();
    let tx = tx.clone();
    host.set(
        "op",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  op: rquickjs::String<'js>,
                  arg: rquickjs::String<'js>|
                  -> rquickjs::Result<u32> {
                let op = text(&op, MAX_OP_NAME)?;
                let outlives_run = op.starts_with("notify.");
                let mut s = st.borrow_mut();
                let id = s.next_op_id();
                let run = s.current_run(&ctx)?;
                let arg_len = arg.clone().to_cstring()?.len();
                let held = OP_BYTES.saturating_add(arg_len);
                if !run.budget.charge(held) {
                    return Err(out_of_memory(&ctx));
                }
                let arg = text(&arg, usize::MAX)?;
                let op_ctx = OpContext {
                    services: run.services.clone(),
                    fetch: run.fetch.clone(),
                    budget: run.budget.clone(),
                    redactor: run.redactor.clone(),
                };
                let tx = tx.clone();
                let task = run.handle.spawn(async move {
                    let res = match serde_json::from_str::<Json>(&arg) {
                        Ok(arg) => host::dispatch(&op, arg, &op_ctx).await,
                        Err(e) => Err(OpError::invalid_argument(e.to_string())),
                    };
                    drop(arg);
                    // The answer is charged until the script has it.
                    let (res, answer) = match res {
                        Ok((v, lines)) => {
                            let text = v.to_string();
                            let size = text.len() + lines.iter().map(String::len).sum::<usize>();
                            if op_ctx.budget.charge(size) {
                                (Ok((text, lines)), size)
                            } else {
                                (Err(OpError::out_of_memory()), 0)
                            }
                        }
                        Err(e) => (Err(e), 0),
                    };
                    let _ = tx.send((id, res, held.saturating_add(answer)));
                });
                s.add_op(id, task, outlives_run);
                Ok(id)
            },
        )?,
    )?;
    let start = Instant::now();
    host.set(
        "now",
        Function::new(ctx.clone(), move || start.elapsed().as_secs_f64() * 1000.0)?,
    )?;
    host.set(
        "random",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, n: f64| -> rquickjs::Result<ArrayBuffer<'js>> {
                // One read of a plain number, checked before anything is allocated.
                if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_RANDOM_BYTES as f64)
                {
                    return Err(Exception::throw_range(
                        &ctx,
                        &format!("at most {MAX_RANDOM_BYTES} random bytes at once"),
                    ));
                }
                let mut bytes = vec![0u8; n as usize];
                fastrand::fill(&mut bytes);
                ArrayBuffer::new(ctx, bytes)
            },
        )?,
    )?;
    let intrinsics = Intrinsics::install(ctx)?;
    host.set("intrinsicGroups", intrinsics.captured(ctx)?)?;
    host.set(
        "intrinsic",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, group: u32| {
            intrinsics.group(&ctx, group)
        })?,
    )?;
    host.set(
        "uuid",
        Function::new(ctx.clone(), || uuid::Uuid::new_v4().to_string())?,
    )?;
    // `process.env` is built when the script first uses a web global, during its run: the
    // run's action picks its own variables.
    let (st, env_cache) = (state.clone(), cache.clone());
    host.set(
        "env",
        Function::new(ctx.clone(), move || {
            let scope = st.borrow().run.as_ref().map(|r| r.scope.clone());
            env_cache.env_json_for(scope.as_deref()).to_string()
        })?,
    )?;
    let st = state.clone();
    let resolve_cache = cache.clone();
    host.set(
        "resolve",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  from: rquickjs::String<'js>,
                  request: rquickjs::String<'js>|
                  -> rquickjs::Result<String> {
                let from = text(&from, MAX_PATH_BYTES + 1)?;
                let request = text(&request, MAX_PATH_BYTES + 1)?;
                let (files, scope) = run_files(&ctx, &st)?;
                if from.len() > MAX_PATH_BYTES || request.len() > MAX_PATH_BYTES {
                    return Err(Exception::throw_message(
                        &ctx,
                        "Cannot find module: the path is too long",
                    ));
                }
                resolve_cache
                    .resolve(&files, &scope, &from, &request)
                    .map_err(|m| module_not_found(&ctx, &m))
            },
        )?,
    )?;
    let st = state.clone();
    let code_cache = cache.clone();
    let groups = Groups::new(state);
    host.set(
        "load",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  this: This<Object<'js>>,
                  path: rquickjs::String<'js>,
                  esm_hooks: rquickjs::function::Opt<Object<'js>>,
                  original: rquickjs::function::Opt<bool>|
                  -> rquickjs::Result<Value<'js>> {
                let path = text(&path, MAX_PATH_BYTES)?;
                // Cloned out of the state: loading runs module code that logs and requires.
                let (files, scope) = run_files(&ctx, &st)?;
                // `original`: the file itself, not the shim that replaces it (src/substitute/).
                let original = original.0.unwrap_or(false);
                let loaded = modules::load_file(
                    &ctx,
                    &files,
                    &scope,
                    &code_cache,
                    &path,
                    esm_hooks.0,
                    original,
                )?;
                // A shim computes with the host's crypto functions.
                let shim = loaded
                    .as_object()
                    .and_then(|o| o.get::<_, String>("kind").ok())
                    .is_some_and(|k| k == "shim");
                if shim {
                    groups.install(&ctx, &this.0, HostGroup::Crypto)?;
                }
                Ok(loaded)
            },
        )?,
    )?;

    let install = script::eval_shared(ctx, &prelude)?;
    let install = install
        .as_function()
        .ok_or_else(|| Exception::throw_internal(ctx, "the prelude is not a function"))?;
    host.set("loadScript", script_loader(ctx, lazy, Groups::new(state))?)?;
    let api: Object<'js> = install.call((host,))?;
    // The patched engine resolves lazy globals itself, with `resolveLazy`; the published one
    // gets self-replacing accessors from `defineLazy`.
    let lazy_hook = if cfg!(feature = "quickjs-patches") {
        "resolveLazy"
    } else {
        "defineLazy"
    };
    lazy::complete(ctx, api.get(lazy_hook)?)?;
    Ok(api)
}

/// Throws Node's error for a module `require` cannot find: an `Error` with code
/// `MODULE_NOT_FOUND`.
fn module_not_found(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message) {
        Ok(e) => {
            if e.as_object().set("code", "MODULE_NOT_FOUND").is_err() {
                return rquickjs::Error::Exception;
            }
            ctx.throw(e.into_value())
        }
        Err(err) => err,
    }
}

/// The files and cache scope of the run in progress.
fn run_files(ctx: &Ctx<'_>, state: &RefCell<LoopState>) -> rquickjs::Result<(Files, Arc<str>)> {
    let s = state.borrow();
    let run = s.current_run(ctx)?;
    Ok((run.files.clone(), run.scope.clone()))
}

/// The host functions that only some scripts use, added to `host` by the first script that
/// needs them rather than to every new context (creating them, and freeing them with the
/// context, was about a sixth of the cost of a fresh context).
#[derive(Clone, Copy)]
enum HostGroup {
    /// `crypto` (hashes, HMAC, PBKDF2, scrypt, secp256k1): js/node_crypto.js and the shims
    /// of src/substitute/.
    Crypto = 1,
    /// `Intl`: js/intl.js.
    Intl = 2,
    /// `zlib`: js/node_zlib.js.
    Zlib = 4,
}

/// The groups added to one context's `host` so far.
#[derive(Clone)]
struct Groups {
    state: Rc<RefCell<LoopState>>,
    added: Rc<std::cell::Cell<u8>>,
}

impl Groups {
    fn new(state: &Rc<RefCell<LoopState>>) -> Self {
        Groups {
            state: state.clone(),
            added: Rc::new(std::cell::Cell::new(0)),
        }
    }

    /// Adds `group`'s functions to `host` unless they are there. `host` is the object the
    /// prelude calls `load` and `loadScript` on: the sandbox's own, never the script's.
    fn install<'js>(
        &self,
        ctx: &Ctx<'js>,
        host: &Object<'js>,
        group: HostGroup,
    ) -> rquickjs::Result<()> {
        let bit = group as u8;
        if self.added.get() & bit != 0 {
            return Ok(());
        }
        match group {
            HostGroup::Crypto => crypto::install(host, &self.state)?,
            HostGroup::Intl => super::intl::install(ctx, host)?,
            HostGroup::Zlib => zlib::install(host, &self.state)?,
        }
        self.added.set(self.added.get() | bit);
        Ok(())
    }
}

/// `host.loadScript(name)`: runs the script of [`LAZY_SCRIPTS`] named `name` (whose bytecode
/// is `lazy`) and returns its completion value.
/// The host functions a script needs are added first (see [`HostGroup`]).
fn script_loader<'js>(
    ctx: &Ctx<'js>,
    lazy: Arc<[Arc<[u8]>]>,
    groups: Groups,
) -> rquickjs::Result<Function<'js>> {
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              this: This<Object<'js>>,
              name: rquickjs::String<'js>|
              -> rquickjs::Result<Value<'js>> {
            let name = text(&name, MAX_SCRIPT_NAME + 1)?;
            let group = match name.as_str() {
                "node_crypto" => Some(HostGroup::Crypto),
                "intl" => Some(HostGroup::Intl),
                "node_zlib" => Some(HostGroup::Zlib),
                _ => None,
            };
            if let Some(group) = group {
                groups.install(&ctx, &this.0, group)?;
            }
            let code = LAZY_SCRIPTS
                .iter()
                .position(|(n, _)| *n == name)
                .and_then(|i| lazy.get(i));
            match code {
                Some(code) => script::eval_shared(&ctx, code),
                None => Err(Exception::throw_internal(&ctx, "no such prelude script")),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::{well_formed, LAZY_SCRIPTS, PRELUDE};
    use crate::script;

    #[test]
    fn every_prelude_script_compiles() {
        let rt = rquickjs::Runtime::new().expect("runtime");
        let ctx = rquickjs::Context::full(&rt).expect("context");
        ctx.with(|ctx| {
            let scripts = std::iter::once(("prelude", PRELUDE)).chain(LAZY_SCRIPTS);
            for (name, src) in scripts {
                if let Err(e) = script::compile(&ctx, name, src, script::Mode::Sandbox) {
                    let caught = ctx.catch();
                    let message = caught.as_exception().and_then(|x| x.message());
                    panic!("the script {name} does not compile: {e} {message:?}");
                }
            }
        });
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        // "a" + lone high surrogate (ED A0 80) + "b" + an emoji (valid 4-byte UTF-8).
        let bytes = [b'a', 0xED, 0xA0, 0x80, b'b', 0xF0, 0x9F, 0x98, 0x80];
        assert_eq!(well_formed(&bytes), "a\u{FFFD}b\u{1F600}");
        // A cut in the middle of a character is replaced, not a panic.
        assert_eq!(well_formed(&[b'x', 0xE2, 0x82]), "x\u{FFFD}");
        assert_eq!(well_formed(&[0xED, 0xB0]), "\u{FFFD}");
    }
}
