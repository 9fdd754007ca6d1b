//! The harness of the `crypto` tests (`node_crypto.rs`, `node_crypto_limits.rs`): a handler
//! body run in the sandbox, or in `node` for the expected answer, with `crypto` required and an
//! `err` helper that gives what a function throws.
#![allow(dead_code, unreachable_pub)]

use crate::common::{self, run};
use defender_runtime::QuickJsRuntime;
use serde_json::Value as Json;

/// Runs `body` as the handler's body, with `crypto` required and `err(f)` giving
/// `[name, code, message]` of what `f` throws; the handler's result.
pub async fn eval(rt: &QuickJsRuntime, body: &str) -> Json {
    let src = format!(
        "const crypto = require('crypto');
         const err = (f) => {{ try {{ f(); return 'no error'; }} catch (e) {{ return [e.name, e.code === undefined ? null : e.code, e.message]; }} }};
         exports.handler = async () => {{ {body} }};"
    );
    let out = run(rt, &src).await;
    match out.result {
        Ok(v) => v,
        Err(e) => panic!("{body}: {e:?} {:?}", out.logs),
    }
}

/// What `node` prints for `body` (an async function's body returning a JSON value) with
/// `crypto` required and the same `err` helper as [`eval`]: Node 20 is the reference.
pub fn node(body: &str) -> Json {
    let src = format!(
        "const crypto = require('crypto');
         const err = (f) => {{ try {{ f(); return 'no error'; }} catch (e) {{ return [e.name, e.code === undefined ? null : e.code, e.message]; }} }};
         (async () => {{ {body} }})().then((v) => process.stdout.write(JSON.stringify(v)), (e) => {{ console.error(e); process.exit(1); }});"
    );
    common::node_json(std::process::Command::new("node").arg("-e").arg(&src))
}
