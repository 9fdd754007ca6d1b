//! The read-only virtual file system a run sees, and Node's `require` resolution over it.
//!
//! The action's files live under `/action/` (`/action/index.js` is the entry point); the
//! embedder's `node_modules` directory is mounted at `/node_modules/`. Nothing else exists.

use crate::package::{self, Json, PackageJson, Target};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where the action's own files are mounted.
pub(crate) const ACTION_ROOT: &str = "/action";
const NM_ROOT: &str = "/node_modules";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    File,
    Dir,
}

/// The files of one run.
#[derive(Clone, Debug)]
pub(crate) struct Files {
    pub(crate) bundle: Arc<BTreeMap<String, Bytes>>,
    /// The mounted `node_modules` directory.
    pub(crate) node_modules: Option<Arc<Mount>>,
    /// Nothing is mounted because Defender's pre-installed set is not installed: a bare
    /// `require` of one of its packages then says how to install it.
    pub(crate) preinstalled_missing: bool,
}

/// Most directories whose real path a [`Mount`] remembers before it forgets them all.
const MAX_MOUNT_DIRS: usize = 4096;

/// A host directory mounted at `/node_modules`: its canonical path (symbolic links resolved),
/// and the real paths of the directories under it, remembered for the life of the runtime.
/// Resolving one `require` probes a dozen candidate files, and finding a file's real path
/// from scratch takes a `readlink` per component of its path: with the directories
/// remembered, a probe is one `lstat`. (Node remembers what it found too, for the life of
/// the process.)
#[derive(Debug)]
pub(crate) struct Mount {
    root: PathBuf,
    /// Real path of a host directory (`None`: missing, or outside the root once followed).
    dirs: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
}

impl Mount {
    /// Mounts `dir` (canonicalized when it can be).
    pub(crate) fn new(dir: PathBuf) -> Mount {
        Mount {
            root: dir.canonicalize().unwrap_or(dir),
            dirs: Mutex::new(HashMap::new()),
        }
    }

    /// The mounted directory, canonical.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of the host directory `dir` if it is one inside the root.
    fn real_dir(&self, dir: &Path) -> Option<PathBuf> {
        let lock = || self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = lock().get(dir) {
            return known.clone();
        }
        let real = dir
            .canonicalize()
            .ok()
            .filter(|r| r.starts_with(&self.root) && r.is_dir());
        let mut dirs = lock();
        if dirs.len() >= MAX_MOUNT_DIRS {
            dirs.clear();
        }
        dirs.insert(dir.to_path_buf(), real.clone());
        real
    }

    /// The real path of `host` (a path under the root made of plain names) and what it
    /// is, if it exists inside the root once symbolic links are followed.
    fn real(&self, host: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
        if host == self.root {
            return Some((self.root.clone(), std::fs::metadata(&self.root).ok()?));
        }
        let dir = self.real_dir(host.parent()?)?;
        let candidate = dir.join(host.file_name()?);
        let meta = std::fs::symlink_metadata(&candidate).ok()?;
        if !meta.file_type().is_symlink() {
            return Some((candidate, meta));
        }
        let real = candidate.canonicalize().ok()?;
        if !real.starts_with(&self.root) {
            return None;
        }
        let meta = std::fs::metadata(&real).ok()?;
        Some((real, meta))
    }
}

/// The packages of Defender's pre-installed set (the `dependencies` of
/// `preinstalled/package.json`).
fn is_preinstalled(name: &str) -> bool {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            let manifest: serde_json::Value =
                serde_json::from_str(include_str!("../preinstalled/package.json"))
                    .unwrap_or_default();
            manifest["dependencies"]
                .as_object()
                .map(|deps| deps.keys().cloned().collect())
                .unwrap_or_default()
        })
        .iter()
        .any(|n| n == name)
}

/// Normalizes an absolute virtual path (`/a/./b/../c` to `/a/c`).
pub(crate) fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// The directory of an absolute virtual path.
pub(crate) fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl Files {
    /// The host path of a virtual `/node_modules/...` path, before symbolic links are
    /// followed; `None` outside the mount or for a path with anything but plain names.
    fn host_path(&self, vpath: &str) -> Option<PathBuf> {
        let root = &self.node_modules.as_ref()?.root;
        let rel = vpath.strip_prefix(NM_ROOT)?;
        if rel.is_empty() {
            return Some(root.to_path_buf());
        }
        let rel = rel.strip_prefix('/')?;
        let plain = Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        (plain && !rel.is_empty()).then(|| root.join(rel))
    }

    /// The real host path of a virtual `/node_modules/...` path, if it exists inside the
    /// mounted directory once symbolic links are followed (the mount root is canonical).
    pub(crate) fn real_path(&self, vpath: &str) -> Option<PathBuf> {
        self.real(vpath).map(|(path, _)| path)
    }

    /// [`Files::real_path`] and what is there.
    fn real(&self, vpath: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        self.node_modules.as_ref()?.real(&self.host_path(vpath)?)
    }

    fn kind(&self, vpath: &str) -> Option<Kind> {
        if let Some(rel) = vpath.strip_prefix(ACTION_ROOT) {
            let rel = rel.strip_prefix('/').unwrap_or(rel);
            if rel.is_empty() {
                return Some(Kind::Dir);
            }
            if self.bundle.contains_key(rel) {
                return Some(Kind::File);
            }
            let prefix = format!("{rel}/");
            return self
                .bundle
                .range(prefix.clone()..)
                .next()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|_| Kind::Dir);
        }
        // Nothing outside the mounted directory exists, not even through a link.
        let (_, meta) = self.real(vpath)?;
        if meta.is_file() {
            Some(Kind::File)
        } else if meta.is_dir() {
            Some(Kind::Dir)
        } else {
            None
        }
    }

    /// The content of a file, if it exists.
    pub(crate) fn read(&self, vpath: &str) -> Option<Bytes> {
        if let Some(rel) = vpath.strip_prefix(ACTION_ROOT) {
            let rel = rel.strip_prefix('/').unwrap_or(rel);
            return self.bundle.get(rel).cloned();
        }
        std::fs::read(self.real_path(vpath)?).ok().map(Bytes::from)
    }

    fn is_file(&self, p: &str) -> bool {
        self.kind(p) == Some(Kind::File)
    }

    fn load_as_file(&self, p: &str) -> Option<String> {
        if self.is_file(p) {
            return Some(p.to_owned());
        }
        for ext in [".js", ".json", ".cjs"] {
            let c = format!("{p}{ext}");
            if self.is_file(&c) {
                return Some(c);
            }
        }
        None
    }

    fn load_index(&self, p: &str) -> Option<String> {
        for f in ["index.js", "index.json", "index.cjs"] {
            let c = format!("{p}/{f}");
            if self.is_file(&c) {
                return Some(c);
            }
        }
        None
    }

    fn package_json(&self, dir: &str) -> Option<PackageJson> {
        let bytes = self.read(&format!("{dir}/package.json"))?;
        PackageJson::parse(&bytes)
    }

    /// The nearest directory at or above `dir` with a `package.json` (Node's package
    /// scope), not above a `node_modules` folder nor outside the roots.
    fn package_scope(&self, dir: &str) -> Option<(String, PackageJson)> {
        let mut d = dir.to_owned();
        loop {
            if d == "/" || d.ends_with("/node_modules") {
                return None;
            }
            if let Some(pj) = self.package_json(&d) {
                return Some((d, pj));
            }
            d = dirname(&d).to_owned();
        }
    }

    /// The file a resolved `exports`/`imports` target names: exactly that file, as Node
    /// does not add extensions to such targets.
    fn target_file(&self, pkg: &str, target: &str, field: &str) -> Result<String, String> {
        let path = normalize(&format!("{pkg}/{target}"));
        if self.is_file(&path) {
            Ok(path)
        } else {
            Err(format!(
                "Cannot find module '{path}' (\"{field}\" of {pkg}/package.json)"
            ))
        }
    }

    /// A subpath through a package's `exports`.
    fn through_exports(
        &self,
        pkg: &str,
        exports: &Json,
        sub: Option<&str>,
    ) -> Result<String, String> {
        let subpath = match sub {
            Some(s) => format!("./{s}"),
            None => ".".to_owned(),
        };
        match package::exports_resolve(exports, &subpath)
            .map_err(|e| format!("{e} in {pkg}/package.json"))?
        {
            Some(Target::Relative(t)) => self.target_file(pkg, &t, "exports"),
            _ => Err(format!(
                "Package subpath '{subpath}' is not defined by \"exports\" in {pkg}/package.json"
            )),
        }
    }

    fn load_as_directory(&self, p: &str) -> Option<String> {
        if self.kind(p) != Some(Kind::Dir) {
            return None;
        }
        if let Some(main) = self
            .package_json(p)
            .and_then(|pj| pj.main().map(str::to_owned))
        {
            let m = normalize(&format!("{p}/{main}"));
            if let Some(f) = self.load_as_file(&m).or_else(|| self.load_index(&m)) {
                return Some(f);
            }
        }
        self.load_index(p)
    }

    fn load_path(&self, p: &str) -> Option<String> {
        self.load_as_file(p).or_else(|| self.load_as_directory(p))
    }

    /// Resolves `request` as `require` called from the file `from` would.
    pub(crate) fn resolve(&self, from: &str, request: &str) -> Result<String, String> {
        let not_found = || format!("Cannot find module '{request}' from '{from}'");
        // Resolution starts only from a file inside the roots (a script can set
        // `module.filename` to anything).
        let from = normalize(from);
        let inside = |root: &str| {
            from.strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        };
        let allowed = inside(ACTION_ROOT) || (inside(NM_ROOT) && self.node_modules.is_some());
        if !allowed {
            return Err(not_found());
        }
        let from = from.as_str();
        let dir = dirname(from);
        if request.starts_with("./")
            || request.starts_with("../")
            || request.starts_with('/')
            || request == "."
            || request == ".."
        {
            let p = if request.starts_with('/') {
                normalize(request)
            } else {
                normalize(&format!("{dir}/{request}"))
            };
            return self.load_path(&p).ok_or_else(not_found);
        }
        if request.is_empty() {
            return Err(not_found());
        }
        // `#name`: the `imports` of the requiring file's package.
        if request.starts_with('#') {
            let (scope, pj) = self.package_scope(dir).ok_or_else(not_found)?;
            let imports = pj.imports.as_ref().ok_or_else(not_found)?;
            return match package::imports_resolve(imports, request)
                .map_err(|e| format!("{e} in {scope}/package.json"))?
            {
                Some(Target::Relative(t)) => self.target_file(&scope, &t, "imports"),
                Some(Target::Package(p)) => self.resolve(&format!("{scope}/package.json"), &p),
                None => Err(format!(
                    "Package import specifier \"{request}\" is not defined in {scope}/package.json"
                )),
            };
        }
        // Bare specifier: package name and subpath.
        let mut segs = request.splitn(3, '/');
        let first = segs.next().unwrap_or_default();
        let (name, sub) = if first.starts_with('@') {
            let second = segs.next().ok_or_else(not_found)?;
            let rest = segs.next();
            (format!("{first}/{second}"), rest.map(str::to_owned))
        } else {
            let rest = request.split_once('/').map(|(_, r)| r.to_owned());
            (first.to_owned(), rest)
        };
        // A package may require itself by its name, through its own `exports`.
        if let Some((scope, pj)) = self.package_scope(dir) {
            if pj.name() == Some(name.as_str()) {
                if let Some(exports) = pj.exports() {
                    return self.through_exports(&scope, exports, sub.as_deref());
                }
            }
        }
        let mut d = dir.to_owned();
        loop {
            if !d.ends_with("/node_modules") {
                let nm = if d == "/" {
                    NM_ROOT.to_owned()
                } else {
                    format!("{d}/node_modules")
                };
                let pkg = format!("{nm}/{name}");
                if self.kind(&pkg) == Some(Kind::Dir) {
                    if let Some(exports) = self.package_json(&pkg).and_then(|pj| pj.exports) {
                        if exports != Json::Null {
                            return self.through_exports(&pkg, &exports, sub.as_deref());
                        }
                    }
                    let target = match &sub {
                        Some(s) => normalize(&format!("{pkg}/{s}")),
                        None => pkg.clone(),
                    };
                    if let Some(f) = self.load_path(&target) {
                        return Ok(f);
                    }
                }
            }
            if d == "/" {
                break;
            }
            d = dirname(&d).to_owned();
        }
        if self.preinstalled_missing && is_preinstalled(&name) {
            return Err(format!(
                "{}: '{name}' is one of Defender's pre-installed packages, which are not \
                 installed here; install them with scripts/install-preinstalled.sh, or set \
                 DEFENDER_PREINSTALLED_MODULES to their node_modules directory",
                not_found()
            ));
        }
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Files {
        Files {
            bundle: Arc::new(
                list.iter()
                    .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
                    .collect(),
            ),
            node_modules: None,
            preinstalled_missing: false,
        }
    }

    #[test]
    fn relative_and_index_and_main() {
        let f = files(&[
            ("index.js", ""),
            ("lib/a.js", ""),
            ("lib/data.json", "{}"),
            ("dir/index.js", ""),
            ("node_modules/pkg/package.json", r#"{"main":"./src/main"}"#),
            ("node_modules/pkg/src/main.js", ""),
            ("node_modules/@s/p/index.js", ""),
        ]);
        let from = "/action/index.js";
        assert_eq!(f.resolve(from, "./lib/a").unwrap(), "/action/lib/a.js");
        assert_eq!(
            f.resolve(from, "./lib/data.json").unwrap(),
            "/action/lib/data.json"
        );
        assert_eq!(
            f.resolve(from, "./lib/data").unwrap(),
            "/action/lib/data.json"
        );
        assert_eq!(f.resolve(from, "./dir").unwrap(), "/action/dir/index.js");
        assert_eq!(
            f.resolve("/action/lib/a.js", "pkg").unwrap(),
            "/action/node_modules/pkg/src/main.js"
        );
        assert_eq!(
            f.resolve(from, "@s/p").unwrap(),
            "/action/node_modules/@s/p/index.js"
        );
        assert!(f.resolve(from, "./missing").is_err());
        assert!(f.resolve(from, "nothing").is_err());
    }

    #[test]
    fn exports_imports_and_self_reference() {
        let axios = r#"{"name": "axios", "main": "index.js",
            "exports": {".": {"types": {"require": "./index.d.cts", "default": "./index.d.ts"},
                              "browser": {"require": "./dist/browser/axios.cjs", "default": "./index.js"},
                              "default": {"require": "./dist/node/axios.cjs", "default": "./index.js"}},
                        "./lib/*": "./lib/*", "./package.json": "./package.json"}}"#;
        let app = r##"{"name": "my-action", "exports": {".": "./index.js", "./util": "./lib/util.js"},
            "imports": {"#db": {"node": "./lib/db-node.js", "default": "./lib/db.js"},
                        "#fetch": "axios"}}"##;
        let f = files(&[
            ("index.js", ""),
            ("package.json", app),
            ("lib/util.js", ""),
            ("lib/db-node.js", ""),
            ("node_modules/axios/package.json", axios),
            ("node_modules/axios/index.js", "export default 1"),
            ("node_modules/axios/dist/node/axios.cjs", ""),
            ("node_modules/axios/lib/core.js", ""),
            ("node_modules/plain/package.json", r#"{"main": "./main"}"#),
            ("node_modules/plain/main.js", ""),
            ("node_modules/plain/other.js", ""),
        ]);
        let from = "/action/index.js";
        // `require` takes the first matching condition in the package's key order.
        assert_eq!(
            f.resolve(from, "axios").unwrap(),
            "/action/node_modules/axios/dist/node/axios.cjs"
        );
        assert_eq!(
            f.resolve(from, "axios/lib/core.js").unwrap(),
            "/action/node_modules/axios/lib/core.js"
        );
        let e = f.resolve(from, "axios/dist/node/axios.cjs").unwrap_err();
        assert!(e.contains("is not defined by \"exports\""), "{e}");
        // Targets are exact files: no extension is added.
        assert!(f.resolve(from, "axios/lib/core").is_err());
        // Without `exports`, any file of the package.
        assert_eq!(
            f.resolve(from, "plain/other").unwrap(),
            "/action/node_modules/plain/other.js"
        );
        // `imports`, with conditions and a bare package target.
        assert_eq!(
            f.resolve("/action/lib/util.js", "#db").unwrap(),
            "/action/lib/db-node.js"
        );
        assert_eq!(
            f.resolve(from, "#fetch").unwrap(),
            "/action/node_modules/axios/dist/node/axios.cjs"
        );
        assert!(f
            .resolve(from, "#nope")
            .unwrap_err()
            .contains("not defined"));
        // A package requires itself by its name, through its `exports`.
        assert_eq!(
            f.resolve("/action/lib/util.js", "my-action/util").unwrap(),
            "/action/lib/util.js"
        );
        assert!(f.resolve(from, "my-action/lib/db.js").is_err());
    }

    #[test]
    fn a_missing_preinstalled_package_says_how_to_install_it() {
        let mut f = files(&[("index.js", "")]);
        f.preinstalled_missing = true;
        let e = f.resolve("/action/index.js", "axios").unwrap_err();
        assert!(
            e.starts_with("Cannot find module 'axios' from '/action/index.js'"),
            "{e}"
        );
        assert!(e.contains("scripts/install-preinstalled.sh"), "{e}");
        assert!(e.contains("DEFENDER_PREINSTALLED_MODULES"), "{e}");
        let e = f
            .resolve("/action/index.js", "@datadog/datadog-api-client")
            .unwrap_err();
        assert!(e.contains("pre-installed"), "{e}");
        // A package Defender never installed is simply not found.
        let e = f.resolve("/action/index.js", "left-pad").unwrap_err();
        assert!(!e.contains("pre-installed"), "{e}");
        f.preinstalled_missing = false;
        let e = f.resolve("/action/index.js", "axios").unwrap_err();
        assert!(!e.contains("pre-installed"), "{e}");
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(normalize("/../x"), "/x");
    }
}
