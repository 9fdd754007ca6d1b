//! Loading one file for `require`: JSON, CommonJS (a script whose completion value is
//! Node's module wrapper) or an ES module, compiled once and kept in the [`CodeCache`]; and
//! the `import`s of ES modules (QuickJS's module loader, [`EsmResolver`] and [`EsmLoader`]).
//!
//! An ES module imports, as in Node: ES modules of the action or of `node_modules` (resolved
//! by the confined resolver of src/files.rs), CommonJS files and JSON (through the prelude's
//! `require`, sharing its cache: the default export is `module.exports`, its own enumerable
//! keys are the named exports), and the built-in modules (Defender's clients, Node's core
//! modules, `node:` names). A CommonJS module runs when the import graph is linked, so before
//! the ES modules of that graph, where Node runs it in import order.

use super::code_cache::{CodeCache, Compiled};
use crate::files::Files;
use crate::script;
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::{Declarations, Declared, Exports, ModuleDef, WriteOptions};
use rquickjs::{Ctx, Exception, Function, Module, Object, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Prefix of the module names of built-in modules (`builtin:events`).
const BUILTIN: &str = "builtin:";
/// Prefix of the module names of CommonJS files and JSON imported by an ES module.
const CJS: &str = "cjs:";
/// Most named exports a CommonJS module or built-in offers to an `import`.
const MAX_NAMED_EXPORTS: usize = 4096;
/// Longest specifier or module name looked at.
const MAX_SPECIFIER_BYTES: usize = 4096;

/// What the module loader needs while an ES module of the action loads: the run's files, the
/// prelude's hooks (`requireFrom(from, name)`, `builtin(name)`), and the values of the
/// CommonJS and built-in modules linked but not yet evaluated. It lives in the runtime's
/// userdata only while [`load_file`] evaluates an ES module (so it never outlives the context).
struct EsmScope<'js> {
    hooks: Object<'js>,
    files: Files,
    scope: Arc<str>,
    cache: Arc<CodeCache>,
    pending: RefCell<HashMap<String, Value<'js>>>,
    /// The named exports of the synthetic module being declared.
    declaring: RefCell<Vec<String>>,
}

// SAFETY: the type's only lifetime is the `'js` of the values it holds.
#[allow(unsafe_code)]
unsafe impl<'js> rquickjs::JsLifetime<'js> for EsmScope<'js> {
    type Changed<'to> = EsmScope<'to>;
}

/// What the resolver and loader read of the [`EsmScope`], cloned out of the userdata (whose
/// guard must not be held while JavaScript runs).
struct ScopeView<'js> {
    hooks: Object<'js>,
    files: Files,
    scope: Arc<str>,
    cache: Arc<CodeCache>,
}

fn scope_view<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<ScopeView<'js>> {
    let guard = ctx.userdata::<EsmScope<'js>>().ok_or_else(|| {
        Exception::throw_message(
            ctx,
            "import() after the action's modules have loaded is not supported: use a static import or require",
        )
    })?;
    Ok(ScopeView {
        hooks: guard.hooks.clone(),
        files: guard.files.clone(),
        scope: guard.scope.clone(),
        cache: guard.cache.clone(),
    })
}

/// Node's error for a module that is not found.
fn not_found(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    let Ok(e) = Exception::from_message(ctx.clone(), message) else {
        return rquickjs::Error::Exception;
    };
    let _ = e.set("code", "ERR_MODULE_NOT_FOUND");
    ctx.throw(e.into_value())
}

/// Resolves an `import` specifier to a module name: the virtual path of a file, `cjs:` and
/// the path of a CommonJS or JSON file, or `builtin:` and a built-in module's name.
pub(crate) struct EsmResolver;

impl Resolver for EsmResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let view = scope_view(ctx)?;
        if name.len() > MAX_SPECIFIER_BYTES || base.len() > MAX_SPECIFIER_BYTES {
            return Err(not_found(
                ctx,
                "Cannot find module: the specifier is too long",
            ));
        }
        let builtin: Function<'js> = view.hooks.get("builtin")?;
        let b: Option<String> = builtin.call((name,))?;
        if let Some(b) = b {
            return Ok(format!("{BUILTIN}{b}"));
        }
        let request = match name.strip_prefix("file://") {
            Some(path) => path,
            // Our own module names, and URL schemes Node refuses, are no specifiers.
            None if name.starts_with(BUILTIN) || name.starts_with(CJS) || has_scheme(name) => {
                return Err(not_found(
                    ctx,
                    &format!(
                        "Only file and node URLs are supported by the default ESM loader: '{name}'"
                    ),
                ))
            }
            None => name,
        };
        let path = view
            .cache
            .resolve(&view.files, &view.scope, base, request)
            .map_err(|m| not_found(ctx, &format!("{m} (imported from {base})")))?;
        Ok(if path.ends_with(".json") {
            format!("{CJS}{path}")
        } else {
            path
        })
    }
}

/// `scheme:rest`, as a URL (a Windows drive letter is not one here).
fn has_scheme(name: &str) -> bool {
    match name.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Loads the module a name of [`EsmResolver`] names.
pub(crate) struct EsmLoader;

impl Loader for EsmLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let view = scope_view(ctx)?;
        if let Some(b) = name.strip_prefix(BUILTIN) {
            return synthetic(ctx, &view, name, "/action/index.js", b);
        }
        if let Some(path) = name.strip_prefix(CJS) {
            return synthetic(ctx, &view, name, path, path);
        }
        // A substituted file (src/substitute/) loads through `require`, which runs its shim.
        if crate::substitute::find(&view.files, name).is_some() {
            return synthetic(ctx, &view, name, name, name);
        }
        let key = view.cache.key(&view.files, &view.scope, name);
        match load_code_file(ctx, &view.files, &view.cache, key, name)? {
            Loaded::Esm(m) => {
                set_meta(&m, name)?;
                Ok(m)
            }
            Loaded::Cjs(_) => synthetic(ctx, &view, name, name, name),
        }
    }
}

/// Node's `import.meta` of the module at `path`.
fn set_meta(m: &Module<'_, Declared>, path: &str) -> rquickjs::Result<()> {
    let meta = m.meta()?;
    meta.set("url", format!("file://{path}"))?;
    meta.set("filename", path)?;
    meta.set("dirname", crate::files::dirname(path))?;
    Ok(())
}

/// A module whose default export is what the prelude's `require(request)` (from `from`)
/// returns, and whose named exports are that value's own enumerable keys (Node's CommonJS
/// interop).
fn synthetic<'js>(
    ctx: &Ctx<'js>,
    view: &ScopeView<'js>,
    name: &str,
    from: &str,
    request: &str,
) -> rquickjs::Result<Module<'js, Declared>> {
    let require: Function<'js> = view.hooks.get("requireFrom")?;
    let exports: Value<'js> = require.call((from, request))?;
    let mut names = Vec::new();
    if let Some(o) = exports.as_object() {
        for key in o.keys::<String>() {
            let key = key?;
            if names.len() >= MAX_NAMED_EXPORTS {
                break;
            }
            if key != "default" && !key.contains('\0') {
                names.push(key);
            }
        }
    }
    {
        let guard = ctx
            .userdata::<EsmScope<'js>>()
            .ok_or_else(|| Exception::throw_internal(ctx, "no module scope"))?;
        guard.pending.borrow_mut().insert(name.to_owned(), exports);
        *guard.declaring.borrow_mut() = names;
    }
    Module::declare_def::<Synthetic, _>(ctx.clone(), name)
}

/// The [`ModuleDef`] of [`synthetic`] modules: its names and value come from the
/// [`EsmScope`].
struct Synthetic;

impl ModuleDef for Synthetic {
    fn declare<'js>(decl: &Declarations<'js>) -> rquickjs::Result<()> {
        let ctx = decl.module().ctx().clone();
        let names = match ctx.userdata::<EsmScope<'js>>() {
            Some(s) => std::mem::take(&mut *s.declaring.borrow_mut()),
            None => Vec::new(),
        };
        decl.declare("default")?;
        for n in names {
            decl.declare(n)?;
        }
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> rquickjs::Result<()> {
        let name: String = exports.module().name()?;
        let value = ctx
            .userdata::<EsmScope<'js>>()
            .and_then(|s| s.pending.borrow_mut().remove(&name))
            .ok_or_else(|| Exception::throw_internal(ctx, "module evaluated twice"))?;
        if let Some(o) = value.as_object() {
            for key in o.keys::<String>() {
                let key = key?;
                if key != "default" && !key.contains('\0') {
                    let v: Value<'js> = o.get(key.as_str())?;
                    // Only the names declared (the first MAX_NAMED_EXPORTS) can be set.
                    let _ = exports.export(key, v);
                }
            }
        }
        exports.export("default", value)?;
        Ok(())
    }
}

/// ES modules are recognized by a top-level `export` or `import` statement.
fn is_esm(src: &str) -> bool {
    src.lines().any(|l| {
        let t = l.trim_start();
        (t.starts_with("export ")
            || t.starts_with("export{")
            || t.starts_with("import ")
            || t.starts_with("import{"))
            && l.len() - t.len() == 0
    })
}

fn strip_preamble(src: &str) -> &str {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    if src.starts_with("#!") {
        // Keep the line count: drop only the shebang text.
        match src.find('\n') {
            Some(i) => &src[i..],
            None => "",
        }
    } else {
        src
    }
}

/// Loads module bytecode written by [`load_code_file`] in this process.
#[allow(unsafe_code)]
fn load_bytecode<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Module<'js, Declared>> {
    // SAFETY: the bytes come only from `load_code_file` (`Module::write` or
    // `script::compile_module`) of this QuickJS build, kept in this process's cache; they are
    // never read from user input or disk.
    unsafe { Module::load(ctx.clone(), bytes) }
}

/// Evaluates a declared module and returns its namespace.
fn eval_module<'js>(ctx: &Ctx<'js>, m: Module<'js, Declared>) -> rquickjs::Result<Object<'js>> {
    let (m, promise) = m.eval()?;
    // Modules without top-level await settle synchronously; drive jobs just in case.
    while promise.state() == rquickjs::promise::PromiseState::Pending && ctx.execute_pending_job() {
    }
    if let Some(Err(e)) = promise.result::<Value<'js>>() {
        return Err(e);
    }
    m.namespace()
}

/// A CommonJS file as a script whose completion value is Node's module wrapper function
/// (on the file's first line, so line numbers stay those of the file).
fn wrap_cjs(src: &str) -> String {
    format!("(function (exports, require, module, __filename, __dirname) {{{src}\n}})")
}

/// A code file ready to run: CommonJS bytecode, or an ES module declared in the context.
enum Loaded<'js> {
    Cjs(Arc<[u8]>),
    Esm(Module<'js, Declared>),
}

/// The file at `path`, from the cache or compiled now (and kept). An ES module compiled now
/// is the module declared by compiling it (declaring it again from its bytecode would leave
/// two modules of that name in the context, and `import.meta` would find the wrong one).
fn load_code_file<'js>(
    ctx: &Ctx<'js>,
    files: &Files,
    cache: &CodeCache,
    key: Option<(Arc<str>, String)>,
    path: &str,
) -> rquickjs::Result<Loaded<'js>> {
    if let Some(c) = key.as_ref().and_then(|k| cache.get(k)) {
        return Ok(match c {
            Compiled::Cjs(code) => Loaded::Cjs(code),
            Compiled::Esm(code) => Loaded::Esm(load_bytecode(ctx, &code)?),
        });
    }
    let bytes = files
        .read(path)
        .ok_or_else(|| Exception::throw_message(ctx, &format!("cannot read {path}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let src = strip_preamble(&text);
    // CommonJS first: a real ES module does not parse inside a function body. Like Node,
    // CommonJS is sloppy unless the file says 'use strict'.
    let (compiled, loaded) = match script::compile(ctx, path, &wrap_cjs(src), script::Mode::User) {
        Ok(code) => (Compiled::Cjs(code.clone()), Loaded::Cjs(code)),
        Err(rquickjs::Error::Exception) if is_esm(src) && !path.ends_with(".cjs") => {
            let _ = ctx.catch();
            if src.contains('\0') {
                // Source text holding NUL characters (valid JavaScript) compiles only through
                // `script::compile_module`, whose compiled copy keeps the module's name: on
                // this first load `import.meta` is that copy's, without `url`.
                let code = script::compile_module(ctx, path, src)?;
                let m = load_bytecode(ctx, &code)?;
                (Compiled::Esm(code), Loaded::Esm(m))
            } else {
                let m = Module::declare(ctx.clone(), path, src)?;
                let code: Arc<[u8]> = m.write(WriteOptions::default())?.into();
                (Compiled::Esm(code), Loaded::Esm(m))
            }
        }
        Err(e) => return Err(e),
    };
    if let Some(k) = key {
        cache.put(k, compiled);
    }
    Ok(loaded)
}

/// The file at the virtual `path` for the prelude's `require`: `{kind: 'json', text}`,
/// `{kind: 'cjs', fn}`, `{kind: 'esm', ns}` or, for a file substituted by a shim
/// (src/substitute/) unless `original` is asked for, `{kind: 'shim', fn}`. `hooks` are the
/// prelude's functions that the `import`s of an ES module need (`requireFrom`, `builtin`);
/// without them an ES module that imports anything fails to load.
pub(super) fn load_file<'js>(
    ctx: &Ctx<'js>,
    files: &Files,
    action_scope: &Arc<str>,
    cache: &Arc<CodeCache>,
    path: &str,
    hooks: Option<Object<'js>>,
    original: bool,
) -> rquickjs::Result<Value<'js>> {
    let out = Object::new(ctx.clone())?;
    if !original {
        if let Some(shim) = crate::substitute::find(files, path) {
            out.set("kind", "shim")?;
            out.set("fn", crate::substitute::load(ctx, shim)?)?;
            return Ok(out.into_value());
        }
    }
    if path.ends_with(".json") {
        let bytes = files
            .read(path)
            .ok_or_else(|| Exception::throw_message(ctx, &format!("cannot read {path}")))?;
        out.set("kind", "json")?;
        out.set("text", String::from_utf8_lossy(&bytes).into_owned())?;
        return Ok(out.into_value());
    }
    // The loader's scope for the imports of an ES module, replacing (and then restoring) the
    // one of the module being loaded when this file is `require`d from a CommonJS file that
    // an ES module imported.
    let installed = match hooks {
        Some(hooks) => {
            let previous = ctx.remove_userdata::<EsmScope<'js>>().ok().flatten();
            let scope = EsmScope {
                hooks,
                files: files.clone(),
                scope: action_scope.clone(),
                cache: cache.clone(),
                pending: RefCell::default(),
                declaring: RefCell::default(),
            };
            if ctx.store_userdata(scope).is_err() {
                return Err(Exception::throw_internal(ctx, "module scope in use"));
            }
            Some(previous)
        }
        None => None,
    };
    let loaded = load_code(ctx, files, action_scope, cache, path, &out);
    if let Some(previous) = installed {
        let _ = ctx.remove_userdata::<EsmScope<'js>>();
        if let Some(previous) = previous {
            let _ = ctx.store_userdata(*previous);
        }
    }
    loaded?;
    Ok(out.into_value())
}

/// Sets `out` to `{kind: 'cjs', fn}` or `{kind: 'esm', ns}` for the code file at `path`.
fn load_code<'js>(
    ctx: &Ctx<'js>,
    files: &Files,
    action_scope: &Arc<str>,
    cache: &CodeCache,
    path: &str,
    out: &Object<'js>,
) -> rquickjs::Result<()> {
    let key = cache.key(files, action_scope, path);
    match load_code_file(ctx, files, cache, key, path)? {
        Loaded::Cjs(code) => {
            out.set("kind", "cjs")?;
            out.set("fn", script::eval_shared(ctx, &code)?)?;
        }
        Loaded::Esm(m) => {
            set_meta(&m, path)?;
            out.set("ns", eval_module(ctx, m)?)?;
            out.set("kind", "esm")?;
        }
    }
    Ok(())
}
