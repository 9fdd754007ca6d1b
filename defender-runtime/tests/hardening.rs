//! Attacks on the sandbox and the host, class by class: each test is a script an attacker
//! would write, and what the host must do about it.

mod common;

use common::*;
use defender_core::{
    ActionCode, ActionRuntime, CodeSource, NotifierRegistry, RecordingNotifier, RunError, RunLimits,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig, MAX_LOG_BYTES, MAX_LOG_ENTRIES};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn with_secret(name: &str, value: &str) -> defender_core::ActionEvent {
    let mut ev = event();
    ev.secrets = Some([(name.to_string(), value.to_string())].into());
    ev
}

/// Class 1: a script that answers differently on each read of a length cannot make the
/// host allocate from the second answer; every host function bounds what it is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lengths_read_twice_cannot_crash_the_host() {
    let rt = QuickJsRuntime::default();
    let scripts = [
        // The report's script: a subclass whose byteLength grows after the first read.
        r#"class X extends Uint8Array { get byteLength() { this.n = (this.n || 0) + 1; return this.n === 1 ? 16 : 2 ** 45; } }
           exports.handler = async () => { crypto.getRandomValues(new X(16)); return 'survived'; };"#,
        // The same on a DataView, and a length that is not a number on the second read.
        r#"class D extends DataView { get byteLength() { this.n = (this.n || 0) + 1; return this.n === 1 ? 8 : 1e300; } }
           exports.handler = async () => { crypto.getRandomValues(new D(new ArrayBuffer(8))); return 'survived'; };"#,
        r#"class Y extends Uint8Array { get byteLength() { this.n = (this.n || 0) + 1; return this.n === 1 ? 4 : { valueOf() { return 2 ** 40; } }; } }
           exports.handler = async () => { crypto.getRandomValues(new Y(4)); return 'survived'; };"#,
        // Node's randomBytes with sizes from the script.
        r#"exports.handler = async () => { const c = require('crypto'); for (const n of [-1, 2 ** 45, NaN, 1.5, 65537]) { try { c.randomBytes(n); } catch (e) {} } return 'survived'; };"#,
        // Timers with absurd delays and ids.
        r#"exports.handler = async () => { setTimeout(() => {}, 2 ** 64); clearTimeout(-1); clearTimeout(2 ** 40); setTimeout(() => {}, -5); return 'survived'; };"#,
        // Host paths of absurd length.
        r#"exports.handler = async () => { try { require('x'.repeat(10 * 1024 * 1024)); } catch (e) {} try { require.resolve('./' + 'a/'.repeat(100000)); } catch (e) {} return 'survived'; };"#,
    ];
    for src in scripts {
        let out = run(&rt, src).await;
        match out.result {
            Ok(v) => assert_eq!(v, json!("survived"), "{src}"),
            Err(RunError::Thrown { .. } | RunError::OutOfMemory(_)) => {}
            Err(e) => panic!("{src}: {e:?}"),
        }
    }
    // The report's script: the length is read once, as Node reads it, and 16 bytes filled.
    let out = run(
        &rt,
        &scripts[0].replace("return 'survived'", "const a = new X(16); crypto.getRandomValues(a); return Array.from(a).some((b) => b !== 0)"),
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(true));
    // And the host still serves runs.
    let out = run(
        &rt,
        "exports.handler = async () => crypto.getRandomValues(new Uint8Array(32)).length;",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(32));
}

/// Class 2: a host call made to fail with a message the script controls (a throwing setter
/// on `Error.prototype`) cannot carry a secret out, nor can notifications, nor a secret
/// rotated while a warm context kept the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_do_not_leak_through_host_errors_or_notifications() {
    let rt = QuickJsRuntime::default();
    let secret = "sk-live-9f8e7d6c5b4a";
    let leak = r#"exports.handler = async (event) => {
            const s = event.secrets.token;
            Object.defineProperty(Error.prototype, 'code', { set() { throw new Error('leaked ' + s); }, configurable: true });
            const { KeyValueStoreClient } = require('defender-kvstore-client');
            await new KeyValueStoreClient(event).get('');
            return 'not reached';
        };"#;
    let out = rt
        .run(&script(leak), request(with_secret("token", secret)))
        .await;
    let text = format!("{:?} {:?}", out.result, out.logs);
    assert!(out.result.is_err(), "{text}");
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");

    // A notification sent by the action leaves the run: redacted like its logs.
    let ops = Arc::new(RecordingNotifier::default());
    let registry = NotifierRegistry::default();
    registry.add("ops", ops.clone());
    let mut req = request(with_secret("token", secret));
    req.services.notifiers = Arc::new(registry);
    let code = script(
        r#"exports.handler = async (event, context) => {
            await context.notificationClient.send({ channelAlias: 'ops', subject: 'key ' + event.secrets.token, message: 'body ' + event.secrets.token });
            return event.secrets.token;
        };"#,
    );
    let out = rt.run(&code, req).await;
    // The value returned reaches the caller as produced.
    assert_eq!(out.result.unwrap(), json!(secret));
    let sent = ops.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "key [REDACTED]");
    assert_eq!(sent[0].body, "body [REDACTED]");

    // A warm context that kept a secret in a global still redacts it after rotation.
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(1));
    let code = ActionCode {
        action_id: "warm".into(),
        version: 1,
        source: CodeSource::Script(
            "let kept; exports.handler = async (event) => { if (!kept) kept = event.secrets.token; console.log('kept', kept); throw new Error('kept ' + kept); };".into(),
        ),
    };
    let first = rt
        .run(&code, request(with_secret("token", "old-secret-111111")))
        .await;
    assert_eq!(first.logs[0].message, "kept [REDACTED]");
    let second = rt
        .run(&code, request(with_secret("token", "new-secret-222222")))
        .await;
    let text = format!("{:?} {:?}", second.result, second.logs);
    assert!(!text.contains("old-secret-111111"), "{text}");
    assert_eq!(second.logs[0].message, "kept [REDACTED]");
}

/// An HTTP server on 127.0.0.1 that answers every request with `body_bytes` bytes.
async fn big_body_server(body_bytes: usize) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let body = Arc::new(vec![b'x'; body_bytes]);
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    addr
}

/// Class 3: what a run makes the host hold is charged to it or bounded: parallel fetches,
/// log entries, the shared bytecode cache, runs queued beyond the threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_memory_is_charged_or_bounded() {
    // 40 parallel 10 MB fetches in a 64 MB run end the run as out of memory.
    let addr = big_body_server(10 * 1024 * 1024).await;
    let rt = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(addr.to_string()));
    let src = format!(
        "exports.handler = async () => {{ const r = await Promise.all(Array.from({{ length: 40 }}, () => fetch('http://{addr}/'))); return r.length; }};"
    );
    let out = run(&rt, &src).await;
    assert!(
        matches!(out.result, Err(RunError::OutOfMemory(_))),
        "{:?}",
        out.result
    );
    // A fetch that fits goes on as usual.
    let small = big_body_server(1024 * 1024).await;
    let rt = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(small.to_string()));
    let src = format!(
        "exports.handler = async () => (await (await fetch('http://{small}/')).arrayBuffer()).byteLength;"
    );
    let mut req = request(event());
    req.limits.timeout = Duration::from_secs(60);
    let out = rt.run(&script(&src), req).await;
    assert_eq!(out.result.unwrap(), json!(1024 * 1024));

    // Millions of empty lines are bounded by entries and bytes.
    let rt = QuickJsRuntime::default();
    let mut req = request(event());
    req.limits.timeout = Duration::from_secs(30);
    let out = rt
        .run(
            &script("exports.handler = async () => { for (let i = 0; i < 2e6; i++) console.log(); return 1; };"),
            req,
        )
        .await;
    assert_eq!(out.result.unwrap(), json!(1));
    assert!(out.logs.len() <= MAX_LOG_ENTRIES + 1, "{}", out.logs.len());
    let bytes: usize = out
        .logs
        .iter()
        .map(|l| l.message.len() + std::mem::size_of_val(l))
        .sum();
    assert!(bytes <= MAX_LOG_BYTES + 1024, "{bytes}");
    assert!(out.logs.last().unwrap().message.contains("truncated"));

    // Every spelling of a path is one entry of the shared bytecode cache.
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("file.js"), "module.exports = 7;").unwrap();
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(dir.path()));
    let out = run(
        &rt,
        "exports.handler = async () => { let n = 0; for (let i = 1; i < 300; i++) n += require('pkg/' + './'.repeat(i) + 'file.js'); return n; };",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(7 * 299));
    // The action's index.js and the one package file.
    assert_eq!(rt.cached_files(), 2);
}

/// Class 3: runs beyond the threads and their queue are answered `Throttled` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_beyond_the_queue_are_throttled() {
    let mut config = RuntimeConfig::default();
    config.max_threads = 1;
    config.max_queued_runs = 2;
    let rt = Arc::new(QuickJsRuntime::new(config));
    let slow = "exports.handler = async () => { const t = Date.now(); while (Date.now() - t < 300) {} return 'done'; };";
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move { run(&*rt, slow).await.result }));
    }
    let mut done = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => done += 1,
            Err(RunError::Throttled { queued }) => {
                assert!(queued >= 2);
                throttled += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(throttled >= 4, "done {done}, throttled {throttled}");
    assert!(done >= 2, "done {done}, throttled {throttled}");
    assert_eq!(
        RunError::Throttled { queued: 2 }.error_type(),
        defender_core::ErrorType::Internal
    );
}

/// Class 4: a run that grows the runtime's atom table does not make the next, unrelated
/// run on the same thread fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_does_not_affect_the_next() {
    let mut config = RuntimeConfig::default();
    config.max_threads = 1;
    let rt = QuickJsRuntime::new(config);
    let mut big = request(event());
    big.limits = RunLimits {
        memory_bytes: 256 * 1024 * 1024,
        timeout: Duration::from_secs(60),
        ..big.limits
    };
    let grow = script(
        "exports.handler = async () => { const o = {}; for (let i = 0; i < 1500000; i++) o['p' + i] = 0; return Object.keys(o).length; };",
    );
    assert_eq!(rt.run(&grow, big).await.result.unwrap(), json!(1_500_000));
    // Let the thread free the used context and prepare the next one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..3 {
        let mut small = request(event());
        small.limits.memory_bytes = 4 * 1024 * 1024;
        let out = rt
            .run(&script("exports.handler = async () => 'fine';"), small)
            .await;
        assert_eq!(out.result.unwrap(), json!("fine"));
    }
}

/// Class 5: the module resolver never looks outside its roots, whatever `module.filename`
/// says, and links out of `node_modules` lead nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolver_never_looks_outside_its_roots() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/index.js"), "module.exports = 'pkg';").unwrap();
    std::os::unix::fs::symlink("/etc", dir.path().join("etc-link")).unwrap();
    std::os::unix::fs::symlink("/usr", dir.path().join("usr-link")).unwrap();
    // A file linked out of the mount, and links that stay inside it (as pnpm lays packages
    // out), which work.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.js"), "module.exports = 'outside';").unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.js"), dir.path().join("pkg/out.js")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("pkg"), dir.path().join("alias")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("pkg/index.js"),
        dir.path().join("pkg/in.js"),
    )
    .unwrap();
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(dir.path()));
    // Each probe names a host directory that exists (/etc, /usr/bin) and one that does not;
    // the answers must not tell them apart.
    let out = run(
        &rt,
        r#"exports.handler = async () => {
            const probe = (filename, request) => {
                module.filename = filename;
                try { return 'found ' + require.resolve(request); } catch (e) { return e.message.replace(request, 'REQ').replace(filename, 'FROM'); }
            };
            const pairs = [
                ['/etc/x.js', '/usr/x.js', './passwd'],
                ['/node_modules//etc/x.js', '/node_modules//nope-nope/x.js', 'anything'],
                ['/node_modules/../etc/x.js', '/node_modules/../nope-nope/x.js', './hostname'],
                ['/action/index.js', '/action/index.js', '../../../../etc/passwd'],
            ];
            const out = pairs.map(([a, b, r]) => [probe(a, r), probe(b, r)]);
            module.filename = '/action/index.js';
            let linked;
            try { linked = require('etc-link/passwd'); } catch (e) { linked = e.message; }
            let linkedDir;
            try { linkedDir = require('usr-link'); } catch (e) { linkedDir = e.message; }
            let linkedFile;
            try { linkedFile = require('pkg/out.js'); } catch (e) { linkedFile = e.message; }
            return { out, linked, linkedDir, linkedFile, pkg: require('pkg'), alias: require('alias'),
                     inside: require('pkg/in.js') };
        };"#,
    )
    .await;
    let v = out.result.unwrap();
    for pair in v["out"].as_array().unwrap() {
        assert_eq!(pair[0], pair[1], "{v}");
        assert!(!pair[0].as_str().unwrap().starts_with("found"), "{v}");
    }
    assert!(
        v["linked"].as_str().unwrap().contains("Cannot find module"),
        "{v}"
    );
    assert!(
        v["linkedDir"]
            .as_str()
            .unwrap()
            .contains("Cannot find module"),
        "{v}"
    );
    assert!(
        v["linkedFile"]
            .as_str()
            .unwrap()
            .contains("Cannot find module"),
        "{v}"
    );
    assert_eq!(v["pkg"], json!("pkg"));
    assert_eq!(v["alias"], json!("pkg"));
    assert_eq!(v["inside"], json!("pkg"));
}

/// Class 6: a result JSON cannot carry here is an error of its own type, never `null`
/// with success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unserializable_results_are_errors() {
    let rt = QuickJsRuntime::default();
    let cases = [
        ("exports.handler = async () => { let v = 1; for (let i = 0; i < 200; i++) v = [v]; return v; };", "128"),
        ("exports.handler = async () => ({ s: 'a\\ud800b' });", "surrogate"),
        ("exports.handler = async () => { const o = {}; o.self = o; return o; };", "circular"),
    ];
    for (src, text) in cases {
        match run(&rt, src).await.result {
            Err(RunError::InvalidResult(m)) => assert!(m.contains(text), "{src}: {m}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    // Depths and strings that fit come back whole.
    let out = run(
        &rt,
        "exports.handler = async () => { let v = 'end \\ud83d\\ude00'; for (let i = 0; i < 100; i++) v = [v]; return v; };",
    )
    .await;
    let mut v = &out.result.unwrap();
    for _ in 0..100 {
        v = &v[0];
    }
    assert_eq!(v, &json!("end \u{1F600}"));
}

/// Class 7: the run's error type comes from what the host observed, never from text the
/// script controls; valid JavaScript and odd strings are not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_types_come_from_what_the_host_observed() {
    let rt = QuickJsRuntime::default();
    let thrown = [
        // An Error whose `message` getter throws.
        "exports.handler = async () => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { throw new Error('nope'); } }); throw e; };",
        // A proxy whose every trap throws.
        "exports.handler = async () => { throw new Proxy({}, { get() { throw 1; }, has() { throw 1; }, getPrototypeOf() { throw 1; } }); };",
        // Text that looks like the host's limits.
        "exports.handler = async () => { setTimeout(() => { throw new Error('out of memory'); }, 1); await new Promise(r => setTimeout(r, 50)); };",
        "exports.handler = async () => { const e = new Error('out of memory'); e.name = 'InternalError'; throw e; };",
        "exports.handler = async () => { throw new RangeError('Maximum call stack size exceeded'); };",
        "exports.handler = async () => { const e = new Error('no funds'); e.code = 'INSUFFICIENT_FUNDS'; throw e; };",
        "exports.handler = async () => { const e = new Error('cfg'); e.code = 'RELAYER_CONFIGURATION'; throw e; };",
    ];
    for src in thrown {
        let out = run(&rt, src).await;
        assert!(
            matches!(out.result, Err(RunError::Thrown { .. })),
            "{src}: {:?}",
            out.result
        );
    }
    // A real overflow is one (with the patched QuickJS, which counts its overflows; the
    // published one gives the host no way to tell, and it is the RangeError Node reports).
    let out = run(
        &rt,
        "exports.handler = async () => { const f = (n) => f(n + 1) + 1; return f(0); };",
    )
    .await;
    if cfg!(feature = "quickjs-patches") {
        assert!(
            matches!(out.result, Err(RunError::StackOverflow)),
            "{:?}",
            out.result
        );
    } else {
        assert!(
            matches!(out.result, Err(RunError::Thrown { ref message, .. }) if message == "Maximum call stack size exceeded"),
            "{:?}",
            out.result
        );
    }
    // A lone surrogate in a log line is logged, as Node writes it.
    let out = run(
        &rt,
        "exports.handler = async () => { console.log('a\\ud800b'); return 1; };",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(1));
    assert_eq!(out.logs[0].message, "a\u{FFFD}b");
    // A NUL character in the source text is valid JavaScript, in scripts and ES modules.
    let out = run(&rt, "exports.handler = async () => 'a\u{0}b'.length;").await;
    assert_eq!(out.result.unwrap(), json!(3));
    let out = run(
        &rt,
        "export async function handler() { return 'x\u{0}y'.length; }",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(3));
}

/// Class 9: a bare host in the fetch allowlist opens its scheme's port only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_allowlist_host_opens_only_the_default_port() {
    let addr = big_body_server(2).await;
    let bare = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch("127.0.0.1"));
    let src = format!("exports.handler = async () => (await fetch('http://{addr}/')).status;");
    match run(&bare, &src).await.result {
        Err(RunError::Thrown { message, .. }) => {
            assert!(message.contains("not allowed"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let with_port = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(addr.to_string()));
    assert_eq!(run(&with_port, &src).await.result.unwrap(), json!(200));
}

/// A warm context that holds more than half of the run's memory limit after a run is
/// replaced: the next run starts fresh, with the whole limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_context_that_grew_is_replaced() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(1));
    let code = ActionCode {
        action_id: "grower".into(),
        version: 1,
        source: CodeSource::Script(
            "let runs = 0; let kept = null; exports.handler = async (e) => { runs++; if (e.request) kept = new Uint8Array(40 * 1024 * 1024).fill(1); return runs; };".into(),
        ),
    };
    // A small one stays warm: its module state survives.
    assert_eq!(
        rt.run(&code, request(event())).await.result.unwrap(),
        json!(1)
    );
    assert_eq!(
        rt.run(&code, request(event())).await.result.unwrap(),
        json!(2)
    );
    // One that keeps 40 MB of a 64 MB limit is not reused.
    let mut grow = event();
    grow.request = Some(Default::default());
    assert_eq!(rt.run(&code, request(grow)).await.result.unwrap(), json!(3));
    assert_eq!(
        rt.run(&code, request(event())).await.result.unwrap(),
        json!(1)
    );
}

/// A server on 127.0.0.1 that answers every request with a redirect to `location`.
async fn redirect_server(location: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let location = location.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(head.as_bytes()).await;
            });
        }
    });
    addr
}

/// Outbound HTTP as Defender allowed it, safely: without an allowlist any public address,
/// but never an internal one, whether written in the URL, resolved from a name or reached by
/// a redirect; an allowlist entry may open a local service on purpose; the deny list wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_refuses_internal_addresses_after_dns_and_at_redirects() {
    let target = big_body_server(2).await;
    let fetch_status = |url: String| {
        format!("exports.handler = async () => {{ try {{ return (await fetch('{url}')).status; }} catch (e) {{ return 'refused: ' + e.message + ' ' + (e.cause ? e.cause.message || e.cause : ''); }} }};")
    };
    let refused = |v: &serde_json::Value| {
        v.as_str()
            .is_some_and(|s| s.starts_with("refused") && s.contains("not allowed"))
    };
    // The default: no allowlist.
    let rt = QuickJsRuntime::default();
    for url in [
        format!("http://{target}/"),
        format!("http://localhost:{}/", target.port()),
        format!("http://[::ffff:127.0.0.1]:{}/", target.port()),
        format!("http://2130706433:{}/", target.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let v = run(&rt, &fetch_status(url.clone())).await.result.unwrap();
        assert!(refused(&v), "{url}: {v}");
    }
    // An allowlisted local service is reachable; a redirect from it to another local port is
    // refused at the redirect, and one to itself is followed.
    let elsewhere = redirect_server(format!("http://{target}/")).await;
    let to_itself = redirect_server("/".to_string()).await;
    let rt = QuickJsRuntime::new(
        RuntimeConfig::default()
            .allow_fetch(elsewhere.to_string())
            .allow_fetch(target.to_string()),
    );
    let v = run(&rt, &fetch_status(format!("http://{target}/")))
        .await
        .result
        .unwrap();
    assert_eq!(v, json!(200));
    let v = run(&rt, &fetch_status(format!("http://{elsewhere}/")))
        .await
        .result
        .unwrap();
    // Allowed: the redirect goes to an allowlisted address.
    assert_eq!(v, json!(200));
    let rt = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(elsewhere.to_string()));
    let v = run(&rt, &fetch_status(format!("http://{elsewhere}/")))
        .await
        .result
        .unwrap();
    assert!(refused(&v), "redirect to a host outside the allowlist: {v}");
    let rt = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(to_itself.to_string()));
    let v = run(&rt, &fetch_status(format!("http://{to_itself}/")))
        .await
        .result
        .unwrap();
    assert!(
        v.as_str().is_some_and(|s| s.contains("redirect")),
        "a redirect loop ends: {v}"
    );
    // The deny list wins over the allowlist.
    let rt = QuickJsRuntime::new(
        RuntimeConfig::default()
            .allow_fetch(target.to_string())
            .deny_fetch(target.to_string()),
    );
    let v = run(&rt, &fetch_status(format!("http://{target}/")))
        .await
        .result
        .unwrap();
    assert!(refused(&v), "{v}");
}
