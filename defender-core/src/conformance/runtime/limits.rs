//! Limits: the run's timeout and the code's size.

use super::{
    action_id, event, messages, ok, request, run, run_request, script, SHORT_TIMEOUT, VERSION,
};
use crate::code_size::MAX_UNCOMPRESSED_CODE_BYTES;
use crate::runtime::{ActionCode, ActionRuntime, CodeSource, RunError, MAX_CODE_BYTES};
use crate::wire::ErrorType;
use bytes::Bytes;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Runs that wait on a timer, or spin, past [`SHORT_TIMEOUT`] end with [`RunError::Timeout`]
/// soon after it, keeping what they logged; the next run works.
pub async fn timeouts(rt: &dyn ActionRuntime) {
    let cases = [
        (
            "exports.handler = async () => { console.log('waiting'); \
             await new Promise((resolve) => setTimeout(resolve, 600000)); return 'too late'; };",
            "waiting",
        ),
        (
            "exports.handler = async () => { console.log('spinning'); for (;;) {} };",
            "spinning",
        ),
    ];
    for (source, logged) in cases {
        let code = script("timeout", source);
        let mut req = request(event("timeout"), Arc::default());
        req.limits.timeout = SHORT_TIMEOUT;
        let started = Instant::now();
        let outcome = run_request(rt, &code, req).await;
        let took = started.elapsed();
        match &outcome.result {
            Err(e @ RunError::Timeout(after)) => {
                assert!(
                    *after >= SHORT_TIMEOUT,
                    "Timeout({after:?}) is shorter than the limit {SHORT_TIMEOUT:?}"
                );
                assert_eq!(e.error_type(), ErrorType::Timeout);
            }
            other => panic!("{source}: expected RunError::Timeout, got {other:?}"),
        }
        assert!(
            took >= SHORT_TIMEOUT,
            "{source}: timed out after {took:?}, before its limit {SHORT_TIMEOUT:?}"
        );
        assert_eq!(
            messages(&outcome),
            [logged],
            "a timed-out run keeps what it logged"
        );
    }
    let code = script("after-timeout", "exports.handler = async () => 'on time';");
    let got = ok(
        run(rt, &code, event("after-timeout")).await,
        "a run after timeouts",
    );
    assert_eq!(got, json!("on time"));
}

/// Code over [`MAX_CODE_BYTES`] raw that Defender accepted (6 MB of JavaScript that
/// compresses well under the limit) runs; code over [`MAX_UNCOMPRESSED_CODE_BYTES`], as a
/// script or a bundle, is [`RunError::CodeTooLarge`] with its size and that limit, and does
/// not run.
pub async fn code_too_large(rt: &dyn ActionRuntime) {
    let head = "exports.handler = async () => 'fits';\n";
    let line = "// padding that compresses well, as minified bundles' repeated code does\n";
    let accepted = format!("{head}{}", line.repeat(6 * 1024 * 1024 / line.len()));
    assert!(accepted.len() > MAX_CODE_BYTES);
    let code = script("size", accepted);
    let got = ok(
        run(rt, &code, event("size")).await,
        "6 MB of compressible code",
    );
    assert_eq!(got, json!("fits"), "code Defender accepted runs");

    let limit = MAX_UNCOMPRESSED_CODE_BYTES;
    let head = "console.log('ran'); exports.handler = async () => 'ran anyway';\n//";
    let over = format!("{head}{}", "x".repeat(limit + 1 - head.len()));
    let index = "console.log('ran'); exports.handler = async () => 'ran anyway';";
    let padding = limit + 1 - "index.js".len() - index.len() - "padding.txt".len();
    let bundle = CodeSource::Bundle(BTreeMap::from([
        ("index.js".to_owned(), Bytes::from(index)),
        ("padding.txt".to_owned(), Bytes::from("x".repeat(padding))),
    ]));
    assert_eq!(bundle.size(), limit + 1);
    for source in [CodeSource::Script(over), bundle] {
        let what = match source {
            CodeSource::Script(_) => "a script",
            CodeSource::Bundle(_) => "a bundle",
        };
        let code = ActionCode {
            action_id: action_id("size"),
            version: VERSION.fetch_add(1, Ordering::Relaxed),
            source,
        };
        let outcome = run(rt, &code, event("size")).await;
        match &outcome.result {
            Err(e @ RunError::CodeTooLarge { size, limit: got }) => {
                assert_eq!(*size, limit + 1, "{what}: the code's size");
                assert_eq!(*got, limit, "{what}: the limit");
                assert_eq!(e.error_type(), ErrorType::Program);
            }
            other => panic!("{what} over the limit: expected CodeTooLarge, got {other:?}"),
        }
        assert!(
            outcome.logs.is_empty(),
            "{what} over the limit ran: {:?}",
            outcome.logs
        );
    }
}
