//! The abuse corpus: every script in `tests/abuse/` is contained with the expected error while
//! a normal run goes on and succeeds.

mod common;

use common::*;
use defender_core::{ActionRuntime, RunError};
use defender_runtime::QuickJsRuntime;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// `expect` is an outcome (`ok`, an error type, or `THROWN <text of the message>`), or
/// several separated by ` | ` when which limit trips first depends on the machine's speed.
fn check(
    name: &str,
    expect: &str,
    result: &Result<serde_json::Value, RunError>,
) -> Result<(), String> {
    if expect.split(" | ").any(|one| outcome_matches(one, result)) {
        Ok(())
    } else {
        Err(format!("{name}: expected {expect}, got {result:?}"))
    }
}

fn outcome_matches(expect: &str, result: &Result<serde_json::Value, RunError>) -> bool {
    let (kind, text) = expect.split_once(' ').unwrap_or((expect, ""));
    match (kind, result) {
        ("ok", Ok(_)) => true,
        ("TIMEOUT", Err(RunError::Timeout(_))) => true,
        ("OUT_OF_MEMORY", Err(RunError::OutOfMemory(_))) => true,
        ("STACK_OVERFLOW", Err(RunError::StackOverflow)) => true,
        // Published QuickJS does not tell the host it ran out of stack: the overflow is the
        // thrown RangeError Node reports.
        ("STACK_OVERFLOW", Err(RunError::Thrown { message, .. })) => {
            !cfg!(feature = "quickjs-patches") && message == "Maximum call stack size exceeded"
        }
        ("RELAYER_CONFIGURATION", Err(RunError::RelayerConfiguration(_))) => true,
        ("INVALID_RESULT", Err(RunError::InvalidResult(_))) => true,
        ("THROWN", Err(RunError::Thrown { message, .. })) => message.contains(text),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_corpus_is_contained() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/abuse");
    let mut scripts: Vec<(String, String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .map(|p| {
            let src = std::fs::read_to_string(&p).unwrap();
            let expect = src
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("// expect: "))
                .unwrap_or_else(|| panic!("{} has no `// expect:` line", p.display()))
                .trim()
                .to_owned();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                expect,
                src,
            )
        })
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 30, "only {} abuse scripts", scripts.len());

    let rt = Arc::new(QuickJsRuntime::default());
    // The host's resident memory once a few runs have warmed it up.
    for _ in 0..4 {
        let warm = run(
            &*rt,
            "exports.handler = async () => new Uint8Array(1 << 20).length;",
        )
        .await;
        assert_eq!(warm.result.unwrap(), json!(1 << 20));
    }
    let rss_before = rss_bytes();
    let mut tasks = Vec::new();
    for (name, expect, src) in scripts {
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = request(event());
            req.limits.timeout = Duration::from_secs(2);
            req.limits.memory_bytes = 32 * 1024 * 1024;
            let out = rt.run(&script(&src), req).await;
            check(&name, &expect, &out.result)
        }));
    }
    // A normal run, with timers and host calls, while the abusers run.
    let normal = rt
        .run(
            &script("exports.handler = async (e) => { await new Promise((r) => setTimeout(r, 50)); const { KeyValueStoreClient } = require('defender-kvstore-client'); const s = new KeyValueStoreClient(e); await s.put('k', 'v'); return s.get('k'); };"),
            request(event()),
        )
        .await;
    assert_eq!(normal.result.unwrap(), json!("v"));
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The runtime still works afterwards.
    let after = run(&*rt, "exports.handler = async () => 'alive';").await;
    assert_eq!(after.result.unwrap(), json!("alive"));

    // And the host gave back what the corpus made it hold: its resident memory is back
    // within 50 MB of where it started (script threads started for the corpus end after
    // being idle for `RuntimeConfig::thread_idle`, 5 s by default, so it is read again for
    // a while).
    let limit = rss_before + 50 * 1024 * 1024;
    let mut rss_after = rss_bytes();
    for _ in 0..150 {
        if rss_after <= limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        rss_after = rss_bytes();
    }
    let threads = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:").map(|t| t.trim().to_owned()))
        .unwrap_or_default();
    eprintln!(
        "host RSS: {} MB before the corpus, {} MB after ({threads} threads)",
        rss_before >> 20,
        rss_after >> 20
    );
    assert!(
        rss_after <= limit,
        "RSS grew from {} MB to {} MB",
        rss_before >> 20,
        rss_after >> 20
    );
}

/// The resident memory of this process.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}
