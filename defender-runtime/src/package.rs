//! Node's package `exports` and `imports` resolution, as `require()` does it: the
//! PACKAGE_EXPORTS_RESOLVE, PACKAGE_IMPORTS_RESOLVE and PACKAGE_TARGET_RESOLVE steps of
//! Node's resolution algorithm, with the conditions `require`, `node`, `node-addons` and
//! `default`, matched in the order the package lists them.
//!
//! The order of an object's keys decides which condition wins, so `package.json` is read into
//! [`Json`], which keeps it (a `serde_json::Map` sorts keys).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The conditions of `require()` (Node 20).
const CONDITIONS: [&str; 4] = ["require", "node", "node-addons", "default"];

/// A JSON value whose objects keep their keys in file order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    /// Numbers and booleans (never a valid target).
    Other,
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Json, E> {
                Ok(Json::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
                Ok(Json::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Json, E> {
                Ok(Json::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
                Ok(Json::Other)
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    // A repeated key keeps its first place and its last value, as in
                    // JavaScript's JSON.parse.
                    match entries.iter_mut().find(|(key, _)| *key == k) {
                        Some(entry) => entry.1 = v,
                        None => entries.push((k, v)),
                    }
                }
                Ok(Json::Obj(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of `package.json` that resolution reads.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct PackageJson {
    #[serde(default)]
    pub(crate) name: Option<Json>,
    #[serde(default)]
    pub(crate) main: Option<Json>,
    #[serde(default)]
    pub(crate) exports: Option<Json>,
    #[serde(default)]
    pub(crate) imports: Option<Json>,
}

impl PackageJson {
    /// `package.json`'s fields, or `None` when it is not JSON.
    pub(crate) fn parse(bytes: &[u8]) -> Option<PackageJson> {
        serde_json::from_slice(bytes).ok()
    }

    pub(crate) fn name(&self) -> Option<&str> {
        match &self.name {
            Some(Json::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn main(&self) -> Option<&str> {
        match &self.main {
            Some(Json::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// `exports`, unless absent or `null`.
    pub(crate) fn exports(&self) -> Option<&Json> {
        self.exports.as_ref().filter(|e| **e != Json::Null)
    }
}

/// What a target resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A path relative to the package's directory, starting with `./`.
    Relative(String),
    /// A bare package specifier (only an `imports` target may be one).
    Package(String),
}

/// The three answers of PACKAGE_TARGET_RESOLVE: a target, `null` (the subpath is excluded),
/// or `undefined` (no condition matched: the caller tries its next option).
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    Found(Target),
    Null,
    Undefined,
}

/// Whether `path` (after `./`) holds a segment Node refuses in a target: empty, `.`, `..` or
/// `node_modules` (in any case), or a percent-encoded slash.
fn invalid_segments(path: &str) -> bool {
    path.split(['/', '\\']).any(|seg| {
        let lower = seg.to_ascii_lowercase();
        seg.is_empty()
            || seg == "."
            || seg == ".."
            || lower == "node_modules"
            || lower.contains("%2f")
            || lower.contains("%5c")
    })
}

fn is_url(s: &str) -> bool {
    s.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

fn invalid_target(target: &str, internal: bool) -> String {
    let field = if internal { "imports" } else { "exports" };
    format!("Invalid \"{field}\" target \"{target}\"")
}

/// PACKAGE_TARGET_RESOLVE.
fn target_resolve(
    target: &Json,
    pattern: Option<&str>,
    internal: bool,
) -> Result<Resolved, String> {
    match target {
        Json::Str(t) => {
            let Some(rest) = t.strip_prefix("./") else {
                if internal && !t.starts_with("../") && !t.starts_with('/') && !is_url(t) {
                    let t = match pattern {
                        Some(m) => t.replace('*', m),
                        None => t.clone(),
                    };
                    return Ok(Resolved::Found(Target::Package(t)));
                }
                return Err(invalid_target(t, internal));
            };
            if !rest.is_empty() && invalid_segments(rest) {
                return Err(invalid_target(t, internal));
            }
            let resolved = match pattern {
                Some(m) => {
                    if invalid_segments(m) {
                        return Err(invalid_target(t, internal));
                    }
                    t.replace('*', m)
                }
                None => t.clone(),
            };
            Ok(Resolved::Found(Target::Relative(resolved)))
        }
        Json::Obj(entries) => {
            // Keys that look like array indices are invalid in a conditions object.
            if entries.iter().any(|(k, _)| k.parse::<u32>().is_ok()) {
                return Err("Invalid package config: numeric condition keys".into());
            }
            for (k, v) in entries {
                if CONDITIONS.contains(&k.as_str()) {
                    match target_resolve(v, pattern, internal)? {
                        Resolved::Undefined => continue,
                        other => return Ok(other),
                    }
                }
            }
            Ok(Resolved::Undefined)
        }
        Json::Arr(items) => {
            let mut last_error = None;
            for item in items {
                match target_resolve(item, pattern, internal) {
                    Ok(Resolved::Undefined) => continue,
                    Ok(found) => return Ok(found),
                    Err(e) => last_error = Some(e),
                }
            }
            match last_error {
                Some(e) => Err(e),
                None => Ok(Resolved::Null),
            }
        }
        Json::Null => Ok(Resolved::Null),
        Json::Other => Err(invalid_target("(not a string)", internal)),
    }
}

/// Node's PATTERN_KEY_COMPARE: the longer part before `*` first, then the longer key.
fn pattern_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    let base = |k: &str| k.find('*').map_or(k.len(), |i| i + 1);
    base(b).cmp(&base(a)).then(b.len().cmp(&a.len()))
}

/// PACKAGE_IMPORTS_EXPORTS_RESOLVE: an exact key, else the best `*` pattern.
fn imports_exports_resolve(
    key: &str,
    entries: &[(String, Json)],
    internal: bool,
) -> Result<Resolved, String> {
    if !key.contains('*') {
        if let Some((_, target)) = entries.iter().find(|(k, _)| k == key) {
            return target_resolve(target, None, internal);
        }
    }
    let mut patterns: Vec<&(String, Json)> = entries
        .iter()
        .filter(|(k, _)| k.matches('*').count() == 1)
        .collect();
    patterns.sort_by(|a, b| pattern_key_order(&a.0, &b.0));
    for (pattern_key, target) in patterns {
        let Some((base, trailer)) = pattern_key.split_once('*') else {
            continue;
        };
        if key.starts_with(base)
            && key != base
            && (trailer.is_empty() || (key.ends_with(trailer) && key.len() >= pattern_key.len()))
        {
            let matched = &key[base.len()..key.len() - trailer.len()];
            return target_resolve(target, Some(matched), internal);
        }
    }
    Ok(Resolved::Null)
}

fn found(r: Resolved) -> Option<Target> {
    match r {
        Resolved::Found(t) => Some(t),
        Resolved::Null | Resolved::Undefined => None,
    }
}

/// PACKAGE_EXPORTS_RESOLVE for `subpath` (`.` or `./x`): the target, `None` when the package
/// does not export it, or an error for an invalid `exports` field.
pub(crate) fn exports_resolve(exports: &Json, subpath: &str) -> Result<Option<Target>, String> {
    let dotted = match exports {
        Json::Obj(entries) => {
            let dots = entries.iter().filter(|(k, _)| k.starts_with('.')).count();
            if dots != 0 && dots != entries.len() {
                return Err(
                    "Invalid package config: \"exports\" cannot mix subpaths and conditions".into(),
                );
            }
            dots != 0
        }
        _ => false,
    };
    if subpath == "." {
        let main = if dotted {
            match exports {
                Json::Obj(entries) => entries.iter().find(|(k, _)| k == ".").map(|(_, v)| v),
                _ => None,
            }
        } else {
            Some(exports)
        };
        return match main {
            Some(m) => target_resolve(m, None, false).map(found),
            None => Ok(None),
        };
    }
    match exports {
        Json::Obj(entries) if dotted => imports_exports_resolve(subpath, entries, false).map(found),
        _ => Ok(None),
    }
}

/// PACKAGE_IMPORTS_RESOLVE for a `#specifier` in a package's `imports` field.
pub(crate) fn imports_resolve(imports: &Json, specifier: &str) -> Result<Option<Target>, String> {
    if specifier == "#" || specifier.starts_with("#/") {
        return Err(format!("Invalid module specifier \"{specifier}\""));
    }
    match imports {
        Json::Obj(entries) => imports_exports_resolve(specifier, entries, true).map(found),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Json {
        serde_json::from_str(s).unwrap()
    }

    fn exp(exports: &str, subpath: &str) -> Result<Option<String>, String> {
        exports_resolve(&json(exports), subpath).map(|t| {
            t.map(|t| match t {
                Target::Relative(p) | Target::Package(p) => p,
            })
        })
    }

    /// Cases from Node's documentation of packages (modules/packages.md), with the
    /// conditions of `require()`.
    #[test]
    fn exports_as_node_documents_them() {
        let ok = |e: &str, s: &str| exp(e, s).unwrap();
        let table: &[(&str, &str, Option<&str>)] = &[
            // "main" sugar.
            (r#""./index.js""#, ".", Some("./index.js")),
            (r#""./index.js""#, "./index.js", None),
            // Conditions in key order: the first that matches wins.
            (
                r#"{"import": "./index-module.mjs", "require": "./index-require.cjs"}"#,
                ".",
                Some("./index-require.cjs"),
            ),
            (
                r#"{"default": "./a.js", "require": "./b.js"}"#,
                ".",
                Some("./a.js"),
            ),
            (
                r#"{"require": "./b.js", "default": "./a.js"}"#,
                ".",
                Some("./b.js"),
            ),
            (
                r#"{"browser": "./browser.js", "node": "./node.js", "default": "./x.js"}"#,
                ".",
                Some("./node.js"),
            ),
            // Nested conditions: axios 1.x.
            (
                r#"{".": {"types": {"require": "./index.d.cts", "default": "./index.d.ts"},
                          "browser": {"require": "./dist/browser/axios.cjs", "default": "./index.js"},
                          "default": {"require": "./dist/node/axios.cjs", "default": "./index.js"}},
                    "./package.json": "./package.json"}"#,
                ".",
                Some("./dist/node/axios.cjs"),
            ),
            // A nested object that matches nothing falls through to the next condition.
            (
                r#"{"node": {"import": "./feature-node.mjs"}, "default": "./feature.js"}"#,
                ".",
                Some("./feature.js"),
            ),
            // Subpaths.
            (
                r#"{".": "./index.js", "./submodule.js": "./src/submodule.js"}"#,
                "./submodule.js",
                Some("./src/submodule.js"),
            ),
            (
                r#"{".": "./index.js", "./submodule.js": "./src/submodule.js"}"#,
                "./missing.js",
                None,
            ),
            // Subpath patterns, `*` replaced everywhere, the longest prefix first.
            (
                r#"{"./features/*.js": "./src/features/*.js"}"#,
                "./features/x.js",
                Some("./src/features/x.js"),
            ),
            (
                r#"{"./features/*.js": "./src/features/*.js"}"#,
                "./features/y/y.js",
                Some("./src/features/y/y.js"),
            ),
            (
                r#"{"./features/*": "./src/features/*/*.js"}"#,
                "./features/a",
                Some("./src/features/a/a.js"),
            ),
            (
                r#"{"./features/*.js": "./src/features/*.js", "./features/internal/*": null}"#,
                "./features/internal/x.js",
                None,
            ),
            (
                r#"{"./*": "./lib/*", "./lib/special/*": "./special/*"}"#,
                "./lib/special/x.js",
                Some("./special/x.js"),
            ),
            // Arrays: the first valid target.
            (
                r#"{".": ["invalid:x", "./fallback.js"]}"#,
                ".",
                Some("./fallback.js"),
            ),
            (
                r#"{"./a": [{"import": "./a.mjs"}, "./a.js"]}"#,
                "./a",
                Some("./a.js"),
            ),
            // `null` excludes.
            (r#"{".": null}"#, ".", None),
        ];
        for (exports, subpath, expect) in table {
            assert_eq!(
                ok(exports, subpath).as_deref(),
                *expect,
                "{exports} {subpath}"
            );
        }
    }

    #[test]
    fn invalid_exports_are_errors() {
        for (exports, subpath) in [
            (r#"{".": "./a.js", "require": "./b.js"}"#, "."),
            (r#""../outside.js""#, "."),
            (r#""/abs.js""#, "."),
            (r#""dep""#, "."),
            (r#"{"./x/*": "./lib/*"}"#, "./x/../../secret"),
            (r#"{".": "./node_modules/dep/index.js"}"#, "."),
            (r#"{".": "./lib/../../x.js"}"#, "."),
            (r#"{".": ["../bad.js"]}"#, "."),
        ] {
            assert!(exp(exports, subpath).is_err(), "{exports} {subpath}");
        }
    }

    #[test]
    fn imports_as_node_documents_them() {
        let imports = json(
            r##"{"#dep": {"node": "dep-node-native", "default": "./dep-polyfill.js"},
                "#internal/*.js": "./src/internal/*.js", "#up": "../x.js"}"##,
        );
        assert_eq!(
            imports_resolve(&imports, "#dep").unwrap(),
            Some(Target::Package("dep-node-native".into()))
        );
        assert_eq!(
            imports_resolve(&imports, "#internal/z.js").unwrap(),
            Some(Target::Relative("./src/internal/z.js".into()))
        );
        assert_eq!(imports_resolve(&imports, "#missing").unwrap(), None);
        assert!(imports_resolve(&imports, "#up").is_err());
        assert!(imports_resolve(&imports, "#").is_err());
        assert!(imports_resolve(&imports, "#/x").is_err());
    }

    #[test]
    fn keys_keep_their_order_and_last_value() {
        assert_eq!(
            json(r#"{"b": 1, "a": "x", "b": "y"}"#),
            Json::Obj(vec![
                ("b".into(), Json::Str("y".into())),
                ("a".into(), Json::Str("x".into()))
            ])
        );
    }
}
