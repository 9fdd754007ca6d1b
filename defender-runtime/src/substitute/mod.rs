//! Host-backed crypto for the pure-JavaScript libraries that actions load, substituted when a
//! module loads.
//!
//! ethers v5 signs with `elliptic` and hashes with `js-sha3`, `hash.js` and `scrypt-js`;
//! ethers v6 with `@noble/curves` and `@noble/hashes`; web3 1.x with `elliptic`, `eth-lib`
//! and the `keccak` package. In QuickJS they are about 40 times slower than in Node. When
//! `require` (or `import`) loads one of their files listed in [`RULES`], of a version in the
//! range its shim was written for, the runtime runs the shim instead (js/shims/): the same
//! exported API, whose heavy operations call the host (src/sandbox/crypto/: `k256`, `sha3`,
//! `sha2`, `scrypt`), and which loads the original file (a second module of the same path)
//! for whatever it does not compute itself. The module keeps its path: `module.filename`,
//! `require.resolve` and the files the original requires are unchanged. A version outside
//! the range, or a file of another name, loads as it is; code that inlines the libraries (a
//! webpack or rollup bundle) is not substituted.
//!
//! One more rule is about load time, not crypto: ethers v5's ENS normalisation
//! (`@ethersproject/hash/lib/ens-normalize/lib.js`) decodes its code point tables when ethers
//! loads, which in QuickJS is most of `require('ethers')` (about 60 of 67 ms in a fresh
//! context) and of a warm ethers context's memory. Its shim builds them, through the original
//! module, on the first call of one of its two functions. And its EIP-712 helpers
//! (`lib/typed-data.js`) reuse the encoders they build from equal types (see the shim).

use crate::files::{self, Files};
use crate::script;
use rquickjs::{Ctx, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One substitution: the file `file` of the package named `package` (by its package.json,
/// so an aliased install such as `ethers5` matches too) whose version is in `versions`.
struct Rule {
    package: &'static str,
    file: &'static str,
    versions: &'static str,
    shim: &'static str,
}

/// The files substituted, and their shim (a script of [`SHIMS`]).
const RULES: &[Rule] = &[
    Rule {
        package: "elliptic",
        file: "lib/elliptic.js",
        versions: ">=6.4.0, <7",
        shim: "elliptic",
    },
    Rule {
        package: "js-sha3",
        file: "src/sha3.js",
        versions: ">=0.8.0, <0.10",
        shim: "js-sha3",
    },
    Rule {
        package: "hash.js",
        file: "lib/hash.js",
        versions: "^1.1.0",
        shim: "hash.js",
    },
    Rule {
        package: "scrypt-js",
        file: "scrypt.js",
        versions: "^3.0.0",
        shim: "scrypt-js",
    },
    Rule {
        package: "@noble/hashes",
        file: "sha3.js",
        versions: "^1.3.0",
        shim: "noble-sha3",
    },
    Rule {
        package: "@noble/hashes",
        file: "scrypt.js",
        versions: "^1.3.0",
        shim: "noble-scrypt",
    },
    Rule {
        package: "@noble/curves",
        file: "secp256k1.js",
        versions: "^1.2.0",
        shim: "noble-secp256k1",
    },
    Rule {
        package: "eth-lib",
        file: "lib/hash.js",
        versions: ">=0.1.26, <0.3",
        shim: "eth-lib-hash",
    },
    Rule {
        package: "@ethersproject/hash",
        file: "lib/ens-normalize/lib.js",
        versions: ">=5.7.0, <6",
        shim: "ens-normalize",
    },
    Rule {
        package: "@ethersproject/hash",
        file: "lib/typed-data.js",
        versions: ">=5.7.0, <6",
        shim: "typed-data",
    },
];

/// The shims, by name: each evaluates to `function (module, require, original, host)`
/// that fills `module.exports` (`original()` returns the original module's exports).
const SHIMS: &[(&str, &str)] = &[
    ("elliptic", include_str!("../../js/shims/elliptic.js")),
    ("js-sha3", include_str!("../../js/shims/js-sha3.js")),
    ("hash.js", include_str!("../../js/shims/hash.js")),
    ("scrypt-js", include_str!("../../js/shims/scrypt-js.js")),
    ("noble-sha3", include_str!("../../js/shims/noble-sha3.js")),
    (
        "noble-scrypt",
        include_str!("../../js/shims/noble-scrypt.js"),
    ),
    (
        "noble-secp256k1",
        include_str!("../../js/shims/noble-secp256k1.js"),
    ),
    (
        "eth-lib-hash",
        include_str!("../../js/shims/eth-lib-hash.js"),
    ),
    (
        "ens-normalize",
        include_str!("../../js/shims/ens-normalize.js"),
    ),
    ("typed-data", include_str!("../../js/shims/typed-data.js")),
];

/// A shim that replaces a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shim(&'static str);

impl Shim {
    /// The shim's name (its file in js/shims/).
    pub(crate) fn name(self) -> &'static str {
        self.0
    }
}

/// The `name` and `version` of a package.json.
fn name_and_version(bytes: &[u8]) -> Option<(String, semver::Version)> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        name: String,
        version: String,
    }
    let m: Manifest = serde_json::from_slice(bytes).ok()?;
    Some((m.name, semver::Version::parse(&m.version).ok()?))
}

/// The shim that replaces the file at the virtual `path`, if any: a file of a package inside
/// a `node_modules` folder, named by a rule, whose package.json gives the rule's package
/// name and a version in its range.
pub(crate) fn find(files: &Files, path: &str) -> Option<Shim> {
    for rule in RULES {
        let Some(dir) = path
            .strip_suffix(rule.file)
            .and_then(|d| d.strip_suffix('/'))
        else {
            continue;
        };
        // The package's own directory, right inside a `node_modules` folder.
        let parent = files::dirname(dir);
        let parent = if rule.package.starts_with('@') {
            files::dirname(parent)
        } else {
            parent
        };
        if !parent.ends_with("/node_modules") {
            continue;
        }
        let Some((name, version)) = files
            .read(&format!("{dir}/package.json"))
            .and_then(|b| name_and_version(&b))
        else {
            continue;
        };
        let fits = semver::VersionReq::parse(rule.versions)
            .map(|req| req.matches(&version))
            .unwrap_or(false);
        if name == rule.package && fits {
            return Some(Shim(rule.shim));
        }
    }
    None
}

/// Bytecode by shim name.
type Compiled = HashMap<&'static str, Arc<[u8]>>;

/// The shims' bytecode, compiled once per process.
static COMPILED: Mutex<Option<Compiled>> = Mutex::new(None);

/// The function a shim's script evaluates to, in `ctx`.
pub(crate) fn load<'js>(ctx: &Ctx<'js>, shim: Shim) -> rquickjs::Result<Value<'js>> {
    let code = {
        let mut slot = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
        let map = slot.get_or_insert_with(HashMap::new);
        match map.get(shim.name()) {
            Some(code) => code.clone(),
            None => {
                let src = SHIMS
                    .iter()
                    .find(|(n, _)| *n == shim.name())
                    .map(|(_, s)| *s)
                    .ok_or_else(|| rquickjs::Exception::throw_internal(ctx, "no such shim"))?;
                let code = script::compile(
                    ctx,
                    &format!("defender:shim/{}", shim.name()),
                    src,
                    script::Mode::Sandbox,
                )?;
                map.insert(shim.name(), code.clone());
                code
            }
        }
    };
    script::eval_shared(ctx, &code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::collections::BTreeMap;

    fn files(list: &[(&str, &str)]) -> Files {
        Files {
            bundle: Arc::new(
                list.iter()
                    .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            node_modules: None,
            preinstalled_missing: false,
        }
    }

    #[test]
    fn matches_package_file_and_version() {
        let f = files(&[
            (
                "node_modules/elliptic/package.json",
                r#"{"name": "elliptic", "version": "6.5.4"}"#,
            ),
            ("node_modules/elliptic/lib/elliptic.js", ""),
            (
                "node_modules/a/node_modules/elliptic/package.json",
                r#"{"name": "elliptic", "version": "5.2.1"}"#,
            ),
            ("node_modules/a/node_modules/elliptic/lib/elliptic.js", ""),
            (
                "node_modules/@noble/hashes/package.json",
                r#"{"name": "@noble/hashes", "version": "1.3.2"}"#,
            ),
            ("node_modules/@noble/hashes/sha3.js", ""),
            (
                "node_modules/fake/package.json",
                r#"{"name": "not-elliptic", "version": "6.5.4"}"#,
            ),
            ("node_modules/fake/lib/elliptic.js", ""),
            ("lib/elliptic.js", ""),
        ]);
        let shim = |p: &str| find(&f, p).map(Shim::name);
        assert_eq!(
            shim("/action/node_modules/elliptic/lib/elliptic.js"),
            Some("elliptic")
        );
        // An unsupported version, another package, a file outside node_modules: no shim.
        assert_eq!(
            shim("/action/node_modules/a/node_modules/elliptic/lib/elliptic.js"),
            None
        );
        assert_eq!(shim("/action/node_modules/fake/lib/elliptic.js"), None);
        assert_eq!(shim("/action/lib/elliptic.js"), None);
        assert_eq!(
            shim("/action/node_modules/@noble/hashes/sha3.js"),
            Some("noble-sha3")
        );
        assert_eq!(shim("/action/node_modules/@noble/hashes/sha256.js"), None);
    }

    #[test]
    fn every_shim_compiles() {
        let rt = rquickjs::Runtime::new().expect("runtime");
        let ctx = rquickjs::Context::full(&rt).expect("context");
        ctx.with(|ctx| {
            for (name, _) in SHIMS {
                let f = load(&ctx, Shim(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(f.is_function(), "{name}");
            }
        });
    }

    #[test]
    fn every_rule_has_a_shim_and_a_valid_range() {
        for rule in RULES {
            assert!(SHIMS.iter().any(|(n, _)| *n == rule.shim), "{}", rule.shim);
            assert!(
                semver::VersionReq::parse(rule.versions).is_ok(),
                "{}",
                rule.versions
            );
        }
    }
}
