//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use defender_core::{
    ActionCode, ActionEvent, ActionRuntime, CodeSource, InMemoryKvStore, NotifierRegistry,
    RunLimits, RunOutcome, RunRequest, RunServices,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static VERSION: AtomicU64 = AtomicU64::new(1);

/// The npm fixture's node_modules (`npm ci` in tests/node).
pub fn node_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/node_modules")
}

/// Whether the npm fixture is installed; panics when it is not, unless
/// `DEFENDER_SKIP_EXTERNAL=1` (then the caller skips the test).
pub fn npm_fixture_ready() -> bool {
    if node_modules().join("ethers").is_dir() && node_modules().join("ethers6").is_dir() {
        return true;
    }
    if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
        eprintln!("npm fixture missing; skipped (DEFENDER_SKIP_EXTERNAL=1)");
        return false;
    }
    panic!("run `npm ci` in defender-runtime/tests/node first (or set DEFENDER_SKIP_EXTERNAL=1)");
}

pub fn script(src: &str) -> ActionCode {
    ActionCode {
        action_id: "test-action".into(),
        version: VERSION.fetch_add(1, Ordering::Relaxed),
        source: CodeSource::Script(src.into()),
    }
}

pub fn services() -> RunServices {
    RunServices {
        kv: Arc::new(InMemoryKvStore::default()),
        relayer: None,
        relayer_keys: Default::default(),
        notifiers: Arc::new(NotifierRegistry::default()),
        manage: None,
    }
}

pub fn limits() -> RunLimits {
    RunLimits {
        memory_bytes: 64 * 1024 * 1024,
        timeout: Duration::from_secs(3),
        max_stack_bytes: 512 * 1024,
    }
}

pub fn request(event: ActionEvent) -> RunRequest {
    RunRequest {
        event,
        services: services(),
        limits: limits(),
    }
}

pub fn event() -> ActionEvent {
    ActionEvent::new("test-action", "Test action", "run-1")
}

pub async fn run(rt: &impl ActionRuntime, src: &str) -> RunOutcome {
    rt.run(&script(src), request(event())).await
}

/// The value the handler of `src` returns, given 20 s (for handlers that wait on servers or
/// compress a lot in a debug build); panics with `what`, the error and the logs otherwise.
pub async fn returned(rt: &impl ActionRuntime, src: &str, what: &str) -> serde_json::Value {
    let mut req = request(event());
    req.limits.timeout = Duration::from_secs(20);
    let out = rt.run(&script(src), req).await;
    match out.result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?} {:?}", out.logs),
    }
}

/// What `node` (Node 20, the reference for JavaScript behaviour) printed as JSON, run as
/// `command` says (its arguments, directory, environment); panics when it fails or prints
/// something else.
pub fn node_json(command: &mut std::process::Command) -> serde_json::Value {
    let out = command
        .output()
        .expect("node runs (Node 20 is the reference)");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "node printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
