//! The bounds of Node's `crypto` module in the sandbox: a costly `pbkdf2` or `scrypt` stops at
//! the run's deadline, and the hash states the host holds for a run are charged to its memory
//! and end with it.

mod common;
mod node_crypto_support;

use common::*;
use defender_core::{ActionCode, ActionRuntime, CodeSource, RunError, RunLimits};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use node_crypto_support::eval;
use serde_json::json;
use std::time::{Duration, Instant};

fn limits(memory_bytes: usize, timeout: Duration) -> RunLimits {
    RunLimits {
        memory_bytes,
        timeout,
        max_stack_bytes: 512 * 1024,
    }
}

/// PBKDF2 with the most iterations and bytes the host allows would take hours: the run's
/// deadline stops it, and the run ends as a timeout, whatever the script catches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbkdf2_stops_at_the_deadline() {
    let rt = QuickJsRuntime::default();
    for src in [
        "exports.handler = async () => { require('crypto').pbkdf2Sync('p', 's', 10000000, 1048576, 'sha512'); return 'done'; };",
        "exports.handler = async () => { try { require('crypto').pbkdf2Sync('p', 's', 10000000, 1048576, 'sha1'); } catch (e) {} return 'caught'; };",
        "exports.handler = () => new Promise((resolve) => require('crypto').pbkdf2('p', 's', 10000000, 64, 'sha256', () => resolve('done')));",
    ] {
        let mut req = request(event());
        req.limits = limits(64 * 1024 * 1024, Duration::from_millis(500));
        let started = Instant::now();
        let out = rt.run(&script(src), req).await;
        assert!(
            matches!(out.result, Err(RunError::Timeout(_))),
            "{src}: {:?}",
            out.result
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{src}");
    }
    // The runtime still serves runs.
    let out = run(
        &rt,
        "exports.handler = async () => require('crypto').createHash('md5').update('abc').digest('hex');",
    )
    .await;
    assert_eq!(
        out.result.unwrap(),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
}

/// The hashes a run leaves undigested are held by the host for it: charged to its memory
/// limit (without that, a loop would grow the host without bound), given back on digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_states_are_charged_to_the_run() {
    let rt = QuickJsRuntime::default();
    let mut req = request(event());
    req.limits = limits(16 * 1024 * 1024, Duration::from_secs(20));
    // The script keeps nothing: only the host's states grow.
    let code = script(
        "exports.handler = async () => { const c = require('crypto'); for (let i = 0; i < 1e6; i++) c.createHmac('sha512', 'k'); return 'kept'; };",
    );
    let out = rt.run(&code, req).await;
    assert!(
        matches!(out.result, Err(RunError::OutOfMemory(_))),
        "{:?}",
        out.result
    );
    // Digested hashes are given back: as many, one at a time, fit.
    let mut req = request(event());
    req.limits = limits(16 * 1024 * 1024, Duration::from_secs(20));
    let code = script(
        "exports.handler = async () => { const c = require('crypto'); let last; for (let i = 0; i < 1e5; i++) last = c.createHmac('sha512', 'k').update('x').digest('hex'); return last.length; };",
    );
    let out = rt.run(&code, req).await;
    assert_eq!(out.result.unwrap(), json!(128));
}

/// A warm context keeps its globals, not the host's hash states: a hash left by an earlier run
/// is gone (the host dropped it when that run ended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_states_end_with_their_run() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(1));
    let code = ActionCode {
        action_id: "warm-crypto".into(),
        version: 1,
        source: CodeSource::Script(
            "const crypto = require('crypto'); let kept;
             exports.handler = async () => {
               if (!kept) { kept = crypto.createHash('sha256').update('a'); return 'first'; }
               return crypto.createHash('sha256').update('b').digest('hex') + ' ' + kept.update('c').digest('hex');
             };"
            .into(),
        ),
    };
    let first = rt.run(&code, request(event())).await;
    assert_eq!(first.result.unwrap(), json!("first"));
    let second = rt.run(&code, request(event())).await;
    match second.result {
        Err(RunError::Thrown { message, .. }) => {
            assert!(message.contains("no longer available"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

/// The cost a script may ask for is bounded (Node would compute it for minutes with a large
/// `maxmem`), and a costly derivation stops at the run's deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrypt_is_bounded_and_stops_at_the_deadline() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        "return [err(() => crypto.scryptSync('p', 's', 64, { N: 2 ** 20, r: 8, maxmem: 2 ** 31 })),
                 err(() => crypto.scryptSync('p', 's', 2 ** 21))];",
    )
    .await;
    assert_eq!(got[0][1], json!("ERR_CRYPTO_INVALID_SCRYPT_PARAMS"));
    assert!(
        got[0][2].as_str().unwrap().contains("action sandbox"),
        "{got}"
    );
    assert_eq!(got[1][1], json!("ERR_OUT_OF_RANGE"));
    // The largest cost allowed (N * r * p = 2^24) takes longer than this run's 200 ms.
    let mut req = request(event());
    req.limits = limits(512 * 1024 * 1024, Duration::from_millis(200));
    let code = script(
        "exports.handler = async () => { const c = require('crypto'); try { c.scryptSync('p', 's', 32, { N: 2 ** 17, r: 8, p: 16, maxmem: 2 ** 28 }); } catch (e) { return 'caught'; } return 'derived'; };",
    );
    let started = Instant::now();
    let out = rt.run(&code, req).await;
    assert!(
        matches!(out.result, Err(RunError::Timeout(_))),
        "{:?}",
        out.result
    );
    // Reported once the deadline passed, not once the derivation finished.
    assert!(started.elapsed() < Duration::from_secs(5));
}
