//! ES module actions that import other modules: relative ES modules, CommonJS files, JSON
//! through `createRequire`, packages of `node_modules` and built-in modules, each checked
//! against what Node answers for the same files.

mod common;

use bytes::Bytes;
use common::{event, npm_fixture_ready, request};
use defender_core::{ActionCode, ActionRuntime, CodeSource, RunError};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn bundle(files: &[(&str, &str)]) -> ActionCode {
    ActionCode {
        action_id: "esm-action".into(),
        version: fastrand_version(),
        source: CodeSource::Bundle(
            files
                .iter()
                .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn fastrand_version() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static V: AtomicU64 = AtomicU64::new(1);
    V.fetch_add(1, Ordering::Relaxed)
}

/// What Node answers for `handler({})` of the bundle's `index.js` (an ES module: the bundle
/// has `"type": "module"`), with `node_modules` (if any) linked next to it.
fn node_answer(files: &[(&str, &str)], node_modules: Option<&Path>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    if let Some(nm) = node_modules {
        std::os::unix::fs::symlink(nm, dir.path().join("node_modules")).unwrap();
    }
    let entry = dir.path().join("index.js");
    let script = format!(
        "import({:?}).then(m => m.handler({{}})).then(r => process.stdout.write(JSON.stringify(r === undefined ? null : r)), e => {{ process.stdout.write(JSON.stringify({{ error: e.message }})); }})",
        format!("file://{}", entry.display())
    );
    common::node_json(Command::new("node").args(["--input-type=module", "-e", &script]))
}

async fn ours(rt: &QuickJsRuntime, files: &[(&str, &str)]) -> Result<Value, RunError> {
    rt.run(&bundle(files), request(event())).await.result
}

const PACKAGE_JSON: (&str, &str) = ("package.json", r#"{"type": "module"}"#);

#[tokio::test]
async fn relative_es_modules_import_each_other_as_in_node() {
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            r#"import twice, { label, COUNT } from './lib/util.js';
import * as constants from './lib/constants.js';
export async function handler() {
  return {
    twice: twice(21),
    label: label('x'),
    count: COUNT,
    keys: Object.keys(constants).sort(),
    url: import.meta.url.endsWith('/index.js'),
  };
}"#,
        ),
        (
            "lib/util.js",
            r#"import { PREFIX } from './constants.js';
export default function twice(n) { return n * 2; }
export const label = (s) => PREFIX + s;
export let COUNT = 3;"#,
        ),
        (
            "lib/constants.js",
            "export const PREFIX = 'p-';\nexport const OTHER = 1;",
        ),
    ];
    let expected =
        json!({"twice": 42, "label": "p-x", "count": 3, "keys": ["OTHER", "PREFIX"], "url": true});
    assert_eq!(node_answer(&files, None), expected);
    let rt = QuickJsRuntime::default();
    // The second run loads the modules from the bytecode the first one compiled.
    let code = bundle(&files);
    for _ in 0..2 {
        let out = rt.run(&code, request(event())).await.result;
        assert_eq!(out.unwrap(), expected);
    }
}

#[tokio::test]
async fn commonjs_and_json_load_from_an_es_module_as_in_node() {
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            r#"import legacy from './lib/legacy.cjs';
import { add } from './lib/legacy.cjs';
import { createRequire } from 'node:module';
import { createRequire as cr2 } from 'module';
const require = createRequire(import.meta.url);
const data = require('./data.json');
const again = cr2(import.meta.url)('./lib/legacy.cjs');
export const handler = async () => ({
  sum: add(2, 3),
  name: legacy.name,
  same: again === legacy,
  data,
});"#,
        ),
        (
            "lib/legacy.cjs",
            "exports.add = (a, b) => a + b;\nexports.name = 'legacy';",
        ),
        ("data.json", r#"{"network": "sepolia", "ids": [1, 2]}"#),
    ];
    let expected = json!({"sum": 5, "name": "legacy", "same": true,
                          "data": {"network": "sepolia", "ids": [1, 2]}});
    assert_eq!(node_answer(&files, None), expected);
    let rt = QuickJsRuntime::default();
    assert_eq!(ours(&rt, &files).await.unwrap(), expected);
}

#[tokio::test]
async fn packages_of_the_bundle_and_node_core_modules_import_as_in_node() {
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            r#"import pkg, { version } from 'cjs-pkg';
import { shout } from 'esm-pkg';
import fs from 'node:fs';
import { EventEmitter } from 'events';
import path from 'path';
export async function handler() {
  const e = new EventEmitter();
  let heard = null;
  e.on('x', (v) => { heard = v; });
  e.emit('x', 7);
  return { version, also: pkg.version, shout: shout('hi'), fs: typeof fs.readFileSync,
           heard, joined: path.join('/a', 'b') };
}"#,
        ),
        (
            "node_modules/cjs-pkg/package.json",
            r#"{"name": "cjs-pkg", "main": "main.js"}"#,
        ),
        ("node_modules/cjs-pkg/main.js", "exports.version = '1.2.3';"),
        (
            "node_modules/esm-pkg/package.json",
            r#"{"name": "esm-pkg", "type": "module", "exports": {".": "./index.js"}}"#,
        ),
        (
            "node_modules/esm-pkg/index.js",
            "import { suffix } from './suffix.js';\nexport const shout = (s) => s.toUpperCase() + suffix;",
        ),
        ("node_modules/esm-pkg/suffix.js", "export const suffix = '!';"),
    ];
    let expected = json!({"version": "1.2.3", "also": "1.2.3", "shout": "HI!", "fs": "function",
                          "heard": 7, "joined": "/a/b"});
    assert_eq!(node_answer(&files, None), expected);
    let rt = QuickJsRuntime::default();
    assert_eq!(ours(&rt, &files).await.unwrap(), expected);
}

#[tokio::test]
async fn ethers_imports_into_an_es_module_as_in_node() {
    if !npm_fixture_ready() {
        return;
    }
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            r#"import { ethers } from 'ethers';
import * as v6 from 'ethers6';
export async function handler() {
  return { v5: ethers.utils.id('transfer(address,uint256)').slice(0, 10),
           v6: v6.id('approve(address,uint256)').slice(0, 10) };
}"#,
        ),
    ];
    let nm = common::node_modules();
    let expected = json!({"v5": "0xa9059cbb", "v6": "0x095ea7b3"});
    assert_eq!(node_answer(&files, Some(&nm)), expected);
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(nm));
    assert_eq!(ours(&rt, &files).await.unwrap(), expected);
}

#[tokio::test]
async fn defenders_clients_import_into_an_es_module() {
    let rt = QuickJsRuntime::default();
    let files = [(
        "index.js",
        r#"import { Defender } from '@openzeppelin/defender-sdk';
import { KeyValueStoreClient } from 'defender-kvstore-client';
export async function handler(event) {
  const store = new KeyValueStoreClient(event);
  await store.put('k', 'v');
  return { defender: typeof Defender, value: await store.get('k') };
}"#,
    )];
    assert_eq!(
        ours(&rt, &files).await.unwrap(),
        json!({"defender": "function", "value": "v"})
    );
}

#[tokio::test]
async fn a_missing_import_fails_with_nodes_message() {
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            "import { x } from './missing.js';\nexport async function handler() { return x; }",
        ),
    ];
    let rt = QuickJsRuntime::default();
    match ours(&rt, &files).await {
        Err(RunError::Thrown { message, .. }) => {
            assert!(message.contains("Cannot find module"), "{message}")
        }
        other => panic!("expected a thrown error, got {other:?}"),
    }
    // A name the module does not export is a SyntaxError at link time, in Node too.
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            "import { nope } from './lib.js';\nexport async function handler() { return nope; }",
        ),
        ("lib.js", "export const yes = 1;"),
    ];
    let node = node_answer(&files, None);
    assert!(node["error"].as_str().unwrap().contains("nope"), "{node}");
    match ours(&rt, &files).await {
        Err(e) => assert!(e.to_string().contains("nope"), "{e}"),
        Ok(v) => panic!("expected an error, got {v}"),
    }
}

#[tokio::test]
async fn import_from_a_commonjs_file_required_by_an_es_module_nests() {
    // index (ESM) imports a CommonJS file that requires another ES module, which imports too.
    let files = [
        PACKAGE_JSON,
        (
            "index.js",
            "import mid from './mid.cjs';\nexport async function handler() { return mid.value; }",
        ),
        (
            "mid.cjs",
            "module.exports = { value: require('./inner.js').value + 1 };",
        ),
        (
            "inner.js",
            "import { base } from './base.js';\nexport const value = base * 10;",
        ),
        ("base.js", "export const base = 4;"),
    ];
    let rt = QuickJsRuntime::default();
    assert_eq!(ours(&rt, &files).await.unwrap(), json!(41));
}
