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
//!     private-rpc: https://rpc.flashbots.net   # private transactions go here (optional)
//!     trace: trace_block          # internal calls (monitored functions called by contracts):
//!                                 # trace_block or debug_traceBlockByNumber (optional)
//! forta:                          # for `type: FORTA` monitors (optional)
//!   url: https://api.forta.network/graphql   # the default
//!   api-key-env: FORTA_API_KEY    # sent as a bearer token (optional)
//!   poll-interval-ms: 15000       # the default
//! relayers:
//!   relayer-1: { keystore: ./keys/r1.json, password-env: R1_PASSWORD }
//!   relayer-2: { private-key-env: R2_PRIVATE_KEY }
//! relayer-groups:                 # one key per relayer of the group
//!   group-1: [{ private-key-env: G1_KEY_0 }, { private-key-env: G1_KEY_1 }]
//! low-balance-channels: [email-1] # where relayers below their min-balance are reported
//! cluster:                        # several host processes sharing one Redis
//!   redis-url-env: DEFENDER_REDIS_URL   # engine state and key-value store live there
//!   instance-env: HOSTNAME        # this process's unique name (or `instance: host-1`)
//!   lease-ttl-ms: 10000           # a dead process's work is taken over within 4/3 of it
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
    /// Where private transactions are sent (`isPrivate`, the `private-transactions` policy),
    /// such as a Flashbots Protect RPC; they are followed on `rpc` like any other.
    pub private_rpc: Option<String>,
    /// Where internal calls are read from (`trace:`), for monitors whose functions contracts
    /// call; `None`: only the transactions' own calls match.
    pub trace: Option<defender_engine::monitor::TraceMethod>,
}

/// Forta's alert API, for `type: FORTA` monitors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FortaConfig {
    /// The GraphQL endpoint.
    pub url: String,
    /// The API key.
    pub api_key: Option<Secret>,
    /// Time between polls of one monitor, in milliseconds.
    pub poll_interval_ms: Option<u64>,
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
    /// The keys of each relayer group's relayers, by group resource key, one per relayer.
    pub relayer_groups: BTreeMap<String, Vec<RelayerKey>>,
    /// The notification channels (resource keys) low-balance alerts go to (`min-balance`).
    pub low_balance_channels: Vec<String>,
    /// Several processes on one Redis.
    pub cluster: Option<ClusterConfig>,
    /// SMTP for email channels.
    pub smtp: Option<SmtpConfig>,
    /// Values of declared-only secrets.
    pub secrets: Option<SecretsSource>,
    /// Fixed webhook tokens by action resource key.
    pub webhook_tokens: BTreeMap<String, Secret>,
    /// Forta's API (`forta:`).
    pub forta: Option<FortaConfig>,
}

/// Several host processes on one Redis (`cluster:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The Redis server of the engine state and the key-value store (`redis-url-env`, the
    /// variable holding its URL, or `redis-url`).
    pub redis_url: Secret,
    /// This process's name among the processes (`instance`, else `instance-env`'s value;
    /// default: a random one). Unique among live processes; a process restarted under its
    /// former name takes its work back at once.
    pub instance: Option<String>,
    /// How long a lease lasts unrenewed (`lease-ttl-ms`, default 10000): a dead process's
    /// work is taken over within 4/3 of it.
    pub lease_ttl_ms: Option<u64>,
}

fn cluster(node: &Node, env: &BTreeMap<String, String>, p: &mut Problems) -> Option<ClusterConfig> {
    let mut f = fields(node, "cluster", p)?;
    let redis_url = match (f.str("redis-url-env", p), f.str("redis-url", p)) {
        (Some(name), None) => {
            let at = f.get("redis-url-env").unwrap_or(node).clone();
            env_secret(env, &at, "cluster.redis-url-env", name, p)
        }
        (None, Some(url)) => Some(Secret(url)),
        _ => {
            p.at(
                &node.pos,
                "cluster",
                "exactly one of `redis-url-env` (the variable holding the URL) and `redis-url` is required",
            );
            None
        }
    };
    if let Some(url) = &redis_url {
        if !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://")) {
            p.at(
                &node.pos,
                "cluster",
                "the Redis URL must start with redis:// or rediss://",
            );
        }
    }
    let instance = match (f.str("instance", p), f.str("instance-env", p)) {
        (Some(name), _) => Some(name),
        (None, Some(var)) => match env.get(&var) {
            Some(v) if !v.is_empty() => Some(v.clone()),
            _ => {
                let at = f.get("instance-env").unwrap_or(node).pos.clone();
                p.at(
                    &at,
                    "cluster.instance-env",
                    format!("the variable `{var}` is not set"),
                );
                None
            }
        },
        (None, None) => None,
    };
    let lease_ttl_ms = f
        .uint("lease-ttl-ms", p)
        .map(|v| u64::try_from(v).unwrap_or(u64::MAX).max(100));
    f.finish(p, &[]);
    Some(ClusterConfig {
        redis_url: redis_url?,
        instance,
        lease_ttl_ms,
    })
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
    let env_secret = |node: &Node, path: &str, name: String, p: &mut Problems| {
        env_secret(env, node, path, name, p)
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
                let key = relayer_key(&mut r, v, &rp, dir, env, p);
                r.finish(p, &[]);
                if let Some(key) = key {
                    c.relayers.insert(k.name.clone(), key);
                }
            }
        }
    }
    if let Some(n) = f.get("relayer-groups") {
        if let Some(mut gf) = fields(n, "relayer-groups", p) {
            for (k, v) in gf.entries() {
                let gp = child_path("relayer-groups", &k.name);
                let Value::Seq(items) = &v.value else {
                    p.at(
                        &v.pos,
                        &gp,
                        "a relayer group's keys are a list, one key per relayer of the group",
                    );
                    continue;
                };
                let mut keys = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ip = index_path(&gp, i);
                    let Some(mut r) = fields(item, &ip, p) else {
                        continue;
                    };
                    if let Some(key) = relayer_key(&mut r, item, &ip, dir, env, p) {
                        keys.push(key);
                    }
                    r.finish(p, &[]);
                }
                c.relayer_groups.insert(k.name.clone(), keys);
            }
        }
    }
    c.low_balance_channels = f.strings("low-balance-channels", p);
    if let Some(n) = f.get("cluster") {
        c.cluster = cluster(n, env, p);
    }
    if let Some(n) = f.get("forta") {
        if let Some(mut s) = fields(n, "forta", p) {
            let url = s
                .str("url", p)
                .unwrap_or_else(|| defender_engine::forta::FORTA_API_URL.to_owned());
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                let at = s.get("url").unwrap_or(n).pos.clone();
                p.at(&at, "forta.url", format!("`{url}` is not an http(s) URL"));
            }
            let api_key = match (s.str("api-key-env", p), s.get("api-key-env")) {
                (Some(name), Some(at)) => env_secret(at, "forta.api-key-env", name, p),
                _ => None,
            };
            let poll_interval_ms = s
                .uint("poll-interval-ms", p)
                .map(|v| u64::try_from(v).unwrap_or(u64::MAX).max(100));
            s.finish(p, &[]);
            c.forta = Some(FortaConfig {
                url,
                api_key,
                poll_interval_ms,
            });
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

/// A relayer key: `keystore` with `password-env`, or `private-key-env`.
fn relayer_key(
    r: &mut crate::read::Fields<'_>,
    v: &Node,
    rp: &str,
    dir: &Path,
    env: &BTreeMap<String, String>,
    p: &mut Problems,
) -> Option<RelayerKey> {
    let keystore = r.str("keystore", p);
    let password_env = r.str("password-env", p);
    let pk_env = r.str("private-key-env", p);
    match (keystore, password_env, pk_env) {
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
            env_secret(env, v, &r.key_path("password-env"), pw, p)
                .map(|password| RelayerKey::Keystore { path, password })
        }
        (None, None, Some(pk)) => env_secret(env, v, &r.key_path("private-key-env"), pk, p)
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
                rp,
                "a relayer key is `keystore` with `password-env`, or `private-key-env`",
            );
            None
        }
    }
}

/// The value of environment variable `name`; a problem when it is unset or empty.
fn env_secret(
    env: &BTreeMap<String, String>,
    node: &Node,
    path: &str,
    name: String,
    p: &mut Problems,
) -> Option<Secret> {
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
    let private_rpc = f.str("private-rpc", p);
    if let Some(u) = &private_rpc {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            let at = f.get("private-rpc").unwrap_or(node).pos.clone();
            p.at(
                &at,
                &child_path(path, "private-rpc"),
                format!("`{u}` is not an http(s) URL"),
            );
        }
    }
    let trace = f.str("trace", p).and_then(|t| {
        let method = defender_engine::monitor::TraceMethod::from_rpc_name(&t);
        if method.is_none() {
            let at = f.get("trace").unwrap_or(node).pos.clone();
            p.at(
                &at,
                &child_path(path, "trace"),
                format!(
                    "unknown trace method `{t}`: expected trace_block or debug_traceBlockByNumber"
                ),
            );
        }
        method
    });
    f.finish(p, &[]);
    Some(NetworkConfig {
        rpc,
        chain_id,
        private_rpc,
        trace,
    })
}

/// A problem with no line (the config file is missing an entry the project needs).
pub(crate) fn at_file(file: &str) -> Pos {
    Pos::new(&std::sync::Arc::from(file), 0, 0)
}
