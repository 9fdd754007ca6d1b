//! Loading one file for `require`: JSON, CommonJS (a script whose completion value is
//! Node's module wrapper) or an ES module, compiled once and kept in the [`CodeCache`].

use super::code_cache::{CodeCache, Compiled};
use crate::files::Files;
use crate::script;
use rquickjs::module::Declared;
use rquickjs::{Ctx, Exception, Module, Object, Value};
use std::sync::Arc;

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

/// Loads module bytecode produced by [`script::compile_module`] in this process.
#[allow(unsafe_code)]
fn load_bytecode<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Module<'js, Declared>> {
    // SAFETY: the bytes come only from `script::compile_module` of the same QuickJS build,
    // kept in this process's cache; they are never read from user input or disk.
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

fn compile(ctx: &Ctx<'_>, files: &Files, path: &str) -> rquickjs::Result<Compiled> {
    let bytes = files
        .read(path)
        .ok_or_else(|| Exception::throw_message(ctx, &format!("cannot read {path}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let src = strip_preamble(&text);
    // CommonJS first: a real ES module does not parse inside a function body. Like Node,
    // CommonJS is sloppy unless the file says 'use strict'.
    match script::compile(ctx, path, &wrap_cjs(src), script::Mode::User) {
        Ok(code) => Ok(Compiled::Cjs(code)),
        Err(rquickjs::Error::Exception) if is_esm(src) && !path.ends_with(".cjs") => {
            let _ = ctx.catch();
            Ok(Compiled::Esm(script::compile_module(ctx, path, src)?))
        }
        Err(e) => Err(e),
    }
}

/// The file at the virtual `path` for the prelude's `require`: `{kind: 'json', text}`,
/// `{kind: 'cjs', fn}` or `{kind: 'esm', ns}`.
pub(super) fn load_file<'js>(
    ctx: &Ctx<'js>,
    files: &Files,
    action_scope: &Arc<str>,
    cache: &CodeCache,
    path: &str,
) -> rquickjs::Result<Value<'js>> {
    let out = Object::new(ctx.clone())?;
    if path.ends_with(".json") {
        let bytes = files
            .read(path)
            .ok_or_else(|| Exception::throw_message(ctx, &format!("cannot read {path}")))?;
        out.set("kind", "json")?;
        out.set("text", String::from_utf8_lossy(&bytes).into_owned())?;
        return Ok(out.into_value());
    }
    let key = cache.key(files, action_scope, path);
    let compiled = match key.as_ref().and_then(|k| cache.get(k)) {
        Some(c) => c,
        None => {
            let c = compile(ctx, files, path)?;
            if let Some(k) = key {
                cache.put(k, c.clone());
            }
            c
        }
    };
    match compiled {
        Compiled::Cjs(code) => {
            out.set("kind", "cjs")?;
            out.set("fn", script::eval_shared(ctx, &code)?)?;
        }
        Compiled::Esm(code) => {
            let ns = eval_module(ctx, load_bytecode(ctx, &code)?)?;
            out.set("kind", "esm")?;
            out.set("ns", ns)?;
        }
    }
    Ok(out.into_value())
}
