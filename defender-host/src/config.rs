//! The self-hosting config: `defender-host.yml` beside the project, what Defender provided and
//! a self-hosted setup must say. Variables work as in the project (`${env:RPC_KEY}`).
//!
//! ```yaml
//! listen: 127.0.0.1:8080          # webhooks, /metrics, /health, the management API
//! state-dir: ./.defender-host     # engine state (relative to the project directory)
//! api-key-env: DEFENDER_HOST_API_KEY   # the management API key, read from this variable
//! networks:
//!   sepolia:
//!     rpc: [https://rpc-1.example, https://rpc-2.example]   # in order of preference
//! relayers:
//!   relayer-1: { keystore: ./keys/r1.json, password-env: R1_PASSWORD }
//!   relayer-2: { private-key-env: R2_PRIVATE_KEY }
//! smtp:                           # for email channels
//!   host: smtp.example.com
//!   port: 587
//!   security: starttls            # starttls (default), tls or none
//!   username: alerts
//!   password-env: SMTP_PASSWORD
//!   from: Defender <alerts@example.com>
//! secrets:                        # values of secrets the project declares without a value
//!   source: env                   # env (variables named prefix + name) or file
//!   prefix: DEFENDER_SECRET_
//!   # file: ./secrets.json        # with source: file, a JSON or YAML mapping
//! webhooks:                       # fixed webhook tokens, instead of generated ones
//!   action-example-3: { token-env: HOOK_TOKEN }
//! ```

use crate::problem::{child_path, index_path, Pos, Problems};
use crate::read::fields;
use crate::yaml::{Node, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The config file's name, beside `serverless.yml`.
pub const CONFIG_FILE: &str = "defender-host.yml";

/// A secret value: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A network's endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    /// JSON-RPC URLs, in order of preference (failover).
    pub rpc: Vec<String>,
    /// The chain id, when it must not be asked from the node.
    pub chain_id: Option<u64>,
}

/// Where a relayer's key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayerKey {
    /// An encrypted JSON keystore and its password.
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// Its password.
        password: Secret,
    },
    /// A raw private key (hex).
    PrivateKey(Secret),
}

/// SMTP for email channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Host name or address.
    pub host: String,
    /// Port; default by `security`.
    pub port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// Sender.
    pub from: String,
}

/// Where the values of declared-only secrets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretsSource {
    /// Environment variables named `prefix + name`.
    Env {
        /// The prefix.
        prefix: String,
    },
    /// A JSON or YAML mapping of name to value.
    File(PathBuf),
}

/// The self-hosting config.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// Whether a config file was found.
    pub found: bool,
    /// Where to listen; default `127.0.0.1:8080`.
    pub listen: Option<SocketAddr>,
    /// The state directory.
    pub state_dir: Option<PathBuf>,
    /// The management API key.
    pub api_key: Option<Secret>,
    /// Networks by name.
    pub networks: BTreeMap<String, NetworkConfig>,
    /// Relayer keys by relayer resource key.
    pub relayers: BTreeMap<String, RelayerKey>,
    /// SMTP for email channels.
    pub smtp: Option<SmtpConfig>,
    /// Values of declared-only secrets.
    pub secrets: Option<SecretsSource>,
    /// Fixed webhook tokens by action resource key.
    pub webhook_tokens: BTreeMap<String, Secret>,
}

/// Reads a resolved config tree.
pub(crate) fn read(
    root: &Node,
    dir: &Path,
    env: &BTreeMap<String, String>,
    p: &mut Problems,
) -> HostConfig {
    let mut c = HostConfig {
        found: true,
        ..HostConfig::default()
    };
    let Some(mut f) = fields(root, "", p) else {
        return c;
    };
    let env_secret = |node: &Node, path: &str, name: String, p: &mut Problems| -> Option<Secret> {
        match env.get(&name) {
            Some(v) if !v.is_empty() => Some(Secret(v.clone())),
            _ => {
                p.at(
                    &node.pos,
                    path,
                    format!("environment variable {name} is not set"),
                );
                None
            }
        }
    };
    if let Some(l) = f.str("listen", p) {
        match l.parse::<SocketAddr>() {
            Ok(a) => c.listen = Some(a),
            Err(_) => {
                let at = f.get("listen").unwrap_or(root).pos.clone();
                p.at(
                    &at,
                    "listen",
                    format!("`{l}` is not an address and port such as 127.0.0.1:8080"),
                );
            }
        }
    }
    c.state_dir = f.str("state-dir", p).map(|s| dir.join(s));
    if let Some(name) = f.str("api-key-env", p) {
        let at = f.get("api-key-env").unwrap_or(root).clone();
        c.api_key = env_secret(&at, "api-key-env", name, p);
    }
    if let Some(n) = f.get("networks") {
        if let Some(mut nf) = fields(n, "networks", p) {
            for (k, v) in nf.entries() {
                let np = child_path("networks", &k.name);
                if let Some(net) = network(v, &np, p) {
                    c.networks.insert(k.name.clone(), net);
                }
            }
        }
    }
    if let Some(n) = f.get("relayers") {
        if let Some(mut rf) = fields(n, "relayers", p) {
            for (k, v) in rf.entries() {
                let rp = child_path("relayers", &k.name);
                let Some(mut r) = fields(v, &rp, p) else {
                    continue;
                };
                let keystore = r.str("keystore", p);
                let password_env = r.str("password-env", p);
                let pk_env = r.str("private-key-env", p);
                let key = match (keystore, password_env, pk_env) {
                    (Some(ks), Some(pw), None) => {
                        let path = dir.join(&ks);
                        if !path.is_file() {
                            let at = r.get("keystore").unwrap_or(v).pos.clone();
                            p.at(
                                &at,
                                &r.key_path("keystore"),
                                format!("keystore `{ks}` does not exist"),
                            );
                        }
                        env_secret(v, &r.key_path("password-env"), pw, p)
                            .map(|password| RelayerKey::Keystore { path, password })
                    }
                    (None, None, Some(pk)) => env_secret(v, &r.key_path("private-key-env"), pk, p)
                        .and_then(|s| {
                            let hex = s.expose().trim_start_matches("0x");
                            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                Some(RelayerKey::PrivateKey(s))
                            } else {
                                p.at(
                                    &v.pos,
                                    &r.key_path("private-key-env"),
                                    "the private key is not 32 bytes of hex",
                                );
                                None
                            }
                        }),
                    _ => {
                        p.at(
                            &v.pos,
                            &rp,
                            "a relayer key is `keystore` with `password-env`, or `private-key-env`",
                        );
                        None
                    }
                };
                r.finish(p, &[]);
                if let Some(key) = key {
                    c.relayers.insert(k.name.clone(), key);
                }
            }
        }
    }
    if let Some(n) = f.get("smtp") {
        if let Some(mut s) = fields(n, "smtp", p) {
            let host = s.req_str("host", p);
            let port = s.uint("port", p).and_then(|v| u16::try_from(v).ok());
            let security = s
                .str("security", p)
                .unwrap_or_else(|| "starttls".to_owned());
            if !["starttls", "tls", "none"].contains(&security.as_str()) {
                let at = s.get("security").unwrap_or(n).pos.clone();
                p.at(
                    &at,
                    "smtp.security",
                    format!("unknown security `{security}`: expected starttls, tls or none"),
                );
            }
            let username = s.str("username", p);
            let password = s
                .str("password-env", p)
                .and_then(|name| env_secret(n, "smtp.password-env", name, p));
            let from = s.req_str("from", p);
            s.finish(p, &[]);
            if let (Some(host), Some(from)) = (host, from) {
                c.smtp = Some(SmtpConfig {
                    host,
                    port,
                    security,
                    username,
                    password,
                    from,
                });
            }
        }
    }
    if let Some(n) = f.get("secrets") {
        if let Some(mut s) = fields(n, "secrets", p) {
            let source = s.req_str("source", p);
            let prefix = s.str("prefix", p).unwrap_or_default();
            let file = s.str("file", p);
            c.secrets = match source.as_deref() {
                Some("env") => Some(SecretsSource::Env { prefix }),
                Some("file") => match file {
                    Some(f) => Some(SecretsSource::File(dir.join(f))),
                    None => {
                        p.at(&n.pos, "secrets", "`source: file` needs `file`");
                        None
                    }
                },
                Some(other) => {
                    p.at(
                        &n.pos,
                        "secrets.source",
                        format!("unknown secrets source `{other}`: expected env or file"),
                    );
                    None
                }
                None => None,
            };
            s.finish(p, &[]);
        }
    }
    if let Some(n) = f.get("webhooks") {
        if let Some(mut wf) = fields(n, "webhooks", p) {
            for (k, v) in wf.entries() {
                let wp = child_path("webhooks", &k.name);
                let Some(mut w) = fields(v, &wp, p) else {
                    continue;
                };
                if let Some(name) = w.str("token-env", p) {
                    if let Some(s) = env_secret(v, &w.key_path("token-env"), name, p) {
                        if s.expose().len() < 16 {
                            p.at(
                                &v.pos,
                                &wp,
                                "a webhook token must be at least 16 characters",
                            );
                        } else {
                            c.webhook_tokens.insert(k.name.clone(), s);
                        }
                    }
                }
                w.finish(p, &[]);
            }
        }
    }
    f.finish(p, &[]);
    c
}

fn network(node: &Node, path: &str, p: &mut Problems) -> Option<NetworkConfig> {
    let mut f = fields(node, path, p)?;
    let rpc_node = f.get("rpc");
    let mut rpc = Vec::new();
    match rpc_node.map(|n| &n.value) {
        Some(Value::Str(s)) => rpc.push(s.clone()),
        Some(Value::Seq(_)) => rpc = f.strings("rpc", p),
        Some(_) | None => p.at(
            &node.pos,
            path,
            "`rpc` (a URL or a list of URLs) is required",
        ),
    }
    for (i, u) in rpc.iter().enumerate() {
        if !(u.starts_with("http://")
            || u.starts_with("https://")
            || u.starts_with("ws://")
            || u.starts_with("wss://"))
        {
            let at = rpc_node.map_or(&node.pos, |n| &n.pos).clone();
            p.at(
                &at,
                &index_path(&child_path(path, "rpc"), i),
                format!("`{u}` is not an http(s) or ws(s) URL"),
            );
        }
    }
    let chain_id = f.uint("chain-id", p).and_then(|v| u64::try_from(v).ok());
    f.finish(p, &[]);
    Some(NetworkConfig { rpc, chain_id })
}

/// A problem with no line (the config file is missing an entry the project needs).
pub(crate) fn at_file(file: &str) -> Pos {
    Pos::new(&std::sync::Arc::from(file), 0, 0)
}
