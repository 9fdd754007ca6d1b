//! Defender's pre-installed packages (`preinstalled/package.json`, installed by
//! `scripts/install-preinstalled.sh`) as the runtime's default `node_modules`: found with no
//! configuration, replaced by the embedder's `node_modules`, shadowed by the action bundle's
//! own, never by the built-in `@openzeppelin/*` clients; and a clear `MODULE_NOT_FOUND` when
//! they are not installed.

mod common;

use bytes::Bytes;
use common::*;
use defender_core::{ActionCode, ActionRuntime, CodeSource, RunError};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn preinstalled() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("preinstalled/node_modules");
    if dir.join("axios").is_dir() && dir.join("ethers").is_dir() {
        return Some(dir);
    }
    if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
        eprintln!("pre-installed packages missing; skipped (DEFENDER_SKIP_EXTERNAL=1)");
        return None;
    }
    panic!("run scripts/install-preinstalled.sh first (or set DEFENDER_SKIP_EXTERNAL=1)");
}

fn result(out: defender_core::RunOutcome) -> Value {
    out.result
        .unwrap_or_else(|e| panic!("{e:?}\nlogs: {:?}", out.logs))
}

/// What `require` of each package gives, as Node sees it from the pre-installed directory.
const PROBE: &str = r#"
    const probe = () => ({
      ethers: require('ethers').ethers.version,
      web3: require('web3').version,
      graphql: require('graphql').version,
      axios: typeof require('axios').get,
      axiosRetry: typeof require('axios-retry'),
      graphqlRequest: typeof require('graphql-request').request,
    });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preinstalled_set_is_the_default() {
    let Some(dir) = preinstalled() else { return };
    let config = RuntimeConfig::default();
    // Found without configuration (the directory, or the same one under another name while
    // the environment test runs).
    let found = config.preinstalled.clone().expect("found");
    assert!(
        found == dir || found.starts_with(std::env::temp_dir()),
        "{}",
        found.display()
    );
    assert_eq!(config.node_modules, None);
    let rt = QuickJsRuntime::new(config);
    let v = result(
        run(
            &rt,
            r#"exports.handler = async () => ({
                 ethers: require('ethers').ethers.version,
                 axios: typeof require('axios'),
                 version: require('axios/package.json').version,
               });"#,
        )
        .await,
    );
    assert_eq!(
        v,
        json!({"ethers": "ethers/5.5.3", "axios": "function", "version": "1.12.2"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_preinstalled_package_loads_as_in_node() {
    let Some(dir) = preinstalled() else { return };
    let expected = common::node_json(
        std::process::Command::new("node")
            .arg("-e")
            .arg(format!("{PROBE} console.log(JSON.stringify(probe()))"))
            .current_dir(dir.parent().unwrap()),
    );
    assert_eq!(expected["web3"], "1.9.0");
    let rt = QuickJsRuntime::default();
    let mut req = request(event());
    req.limits.timeout = std::time::Duration::from_secs(60);
    req.limits.memory_bytes = 256 << 20;
    let out = rt
        .run(
            &script(&format!("{PROBE} exports.handler = async () => probe();")),
            req,
        )
        .await;
    assert_eq!(result(out), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_node_modules_replaces_the_default() {
    let Some(_) = preinstalled() else { return };
    if !npm_fixture_ready() {
        return;
    }
    // The fixture holds ethers 5.7.2 and no axios.
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let v = result(
        run(
            &rt,
            r#"exports.handler = async () => {
                 let axios;
                 try { require('axios'); } catch (e) { axios = [e.code, e.message]; }
                 return { ethers: require('ethers').ethers.version, axios };
               };"#,
        )
        .await,
    );
    assert_eq!(v["ethers"], "ethers/5.7.2");
    assert_eq!(v["axios"][0], "MODULE_NOT_FOUND");
    let message = v["axios"][1].as_str().unwrap();
    assert!(
        message.starts_with("Cannot find module 'axios'"),
        "{message}"
    );
    assert!(!message.contains("pre-installed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_and_the_builtin_clients_come_first() {
    let Some(_) = preinstalled() else { return };
    let rt = QuickJsRuntime::default();
    let files: BTreeMap<String, Bytes> = [
        (
            "index.js",
            r#"exports.handler = async (event) => ({
                 axios: require('axios'),
                 relayer: typeof require('defender-relay-client').Relayer,
                 sdk: typeof new (require('@openzeppelin/defender-sdk').Defender)(event).relaySigner.getSigner,
               });"#,
        ),
        ("node_modules/axios/index.js", "module.exports = 'bundled axios';"),
        (
            "node_modules/defender-relay-client/index.js",
            "module.exports = { Relayer: 'shadowed' };",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Bytes::from(v)))
    .collect();
    let code = ActionCode {
        action_id: "bundle".into(),
        version: 1,
        source: CodeSource::Bundle(files),
    };
    let v = result(rt.run(&code, request(event())).await);
    assert_eq!(
        v,
        json!({"axios": "bundled axios", "relayer": "function", "sdk": "function"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_preinstalled_set_says_how_to_install_it() {
    let missing = std::env::temp_dir().join("defender-preinstalled-does-not-exist");
    for config in [
        RuntimeConfig::default().without_preinstalled(),
        RuntimeConfig::default().with_preinstalled(&missing),
    ] {
        let rt = QuickJsRuntime::new(config);
        let v = result(
            run(
                &rt,
                r#"exports.handler = async () => {
                     const out = {};
                     for (const name of ['axios', 'web3', 'left-pad']) {
                       try { require(name); } catch (e) { out[name] = [e.code, e.message]; }
                     }
                     out.sdk = typeof require('@openzeppelin/defender-sdk').Defender;
                     return out;
                   };"#,
            )
            .await,
        );
        for name in ["axios", "web3"] {
            assert_eq!(v[name][0], "MODULE_NOT_FOUND", "{v}");
            let message = v[name][1].as_str().unwrap();
            assert!(
                message.contains("scripts/install-preinstalled.sh")
                    && message.contains("DEFENDER_PREINSTALLED_MODULES")
                    && message.contains(&format!("'{name}' is one of Defender's pre-installed")),
                "{message}"
            );
        }
        assert_eq!(v["left-pad"][0], "MODULE_NOT_FOUND");
        assert!(!v["left-pad"][1].as_str().unwrap().contains("pre-installed"));
        assert_eq!(
            v["sdk"], "function",
            "built-in clients need nothing installed"
        );
    }
    // Uncaught, the run's error says it too.
    let rt = QuickJsRuntime::new(RuntimeConfig::default().without_preinstalled());
    let out = run(
        &rt,
        "const axios = require('axios'); exports.handler = async () => 1;",
    )
    .await;
    match out.result {
        Err(RunError::Thrown { message, .. }) => {
            assert!(
                message.contains("scripts/install-preinstalled.sh"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_environment_variable_names_the_directory() {
    // Another spelling of the real directory, so that runtimes other tests build meanwhile
    // still find the packages.
    let Some(dir) = preinstalled() else { return };
    let link = std::env::temp_dir().join(format!("defender-preinstalled-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    std::env::set_var(RuntimeConfig::PREINSTALLED_MODULES_ENV, &link);
    let found = RuntimeConfig::default_preinstalled();
    std::env::remove_var(RuntimeConfig::PREINSTALLED_MODULES_ENV);
    let _ = std::fs::remove_file(&link);
    assert_eq!(found, Some(link));
    // Without it, this crate's directory.
    assert_eq!(RuntimeConfig::default_preinstalled(), Some(dir));
}
