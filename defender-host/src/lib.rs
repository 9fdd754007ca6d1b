#![doc = include_str!("../README.md")]

pub mod api;
pub mod config;
mod export;
mod files;
mod problem;
pub mod project;
mod read;
mod refs;
pub mod run;
mod vars;
mod yaml;

pub use config::{HostConfig, CONFIG_FILE};
pub use export::import_export;
pub use problem::{Pos, Problem};
pub use project::{
    Action, Contract, GroupNotificationChannels, Monitor, MonitorLink, Notification, Policy,
    Project, ProjectFormat, Relayer, RelayerGroup, TenantNetwork,
};
pub use yaml::MAX_FILE_BYTES;

use problem::Problems;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use yaml::Value;

/// The project files looked for, in order.
pub const PROJECT_FILES: &[&str] = &["serverless.yml", "serverless.yaml"];

/// The exported-JSON project file looked for when there is no `serverless.yml`.
pub const EXPORT_FILE: &str = "defender-export.json";

/// Loads and checks the project in `project_dir` with the self-hosting config beside it, as
/// `defender-host run` would: every problem at once, each with its file, YAML path and line.
///
/// `stage` is `--stage` (also `${opt:stage}`); without it, `provider.stage`, else `dev`. `env`
/// is what `${env:...}` and the config's `*-env` keys read (pass `std::env::vars()`).
pub fn validate(
    project_dir: &Path,
    stage: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Project, Vec<Problem>> {
    validate_with_config(project_dir, None, stage, env)
}

/// [`validate`] with the self-hosting config read from `config` (`--config FILE`) rather
/// than `defender-host.yml` beside the project; its relative paths (state directory,
/// keystores, `${file(...)}`) are then relative to its own directory.
pub fn validate_with_config(
    project_dir: &Path,
    config: Option<&Path>,
    stage: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Project, Vec<Problem>> {
    let mut p = Problems::default();
    let mut project = match load_project(project_dir, stage, env, &mut p) {
        Some(project) => project,
        None => return Err(p.0),
    };
    project.host = match config {
        None => load_config(project_dir, CONFIG_FILE, stage, env, &mut p),
        Some(file) => {
            let dir = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            match file.file_name().and_then(|n| n.to_str()) {
                Some(name) if dir.join(name).is_file() => {
                    load_config(dir, name, stage, env, &mut p)
                }
                _ => {
                    p.push(Problem {
                        file: file.display().to_string(),
                        path: String::new(),
                        line: 0,
                        message: "the config file does not exist".into(),
                    });
                    HostConfig::default()
                }
            }
        }
    };
    check_against_config(&mut project, env, &mut p);
    if p.0.is_empty() {
        Ok(project)
    } else {
        Err(p.0)
    }
}

fn load_project(
    dir: &Path,
    stage: Option<&str>,
    env: &BTreeMap<String, String>,
    p: &mut Problems,
) -> Option<Project> {
    let Some(file) = PROJECT_FILES.iter().find(|f| dir.join(f).is_file()) else {
        let export = dir.join(EXPORT_FILE);
        if export.is_file() {
            return match files::read_bounded(&export) {
                Ok(text) => match import_export(&text, dir) {
                    Ok(project) => Some(project),
                    Err(problems) => {
                        p.0.extend(problems);
                        None
                    }
                },
                Err(e) => {
                    p.push(Problem {
                        file: EXPORT_FILE.into(),
                        path: String::new(),
                        line: 0,
                        message: e,
                    });
                    None
                }
            };
        }
        p.push(Problem {
            file: dir.display().to_string(),
            path: String::new(),
            line: 0,
            message: format!(
                "no {} (or {EXPORT_FILE}) in the project directory",
                PROJECT_FILES.join(" or ")
            ),
        });
        return None;
    };
    let root = parse_file(dir, file, p)?;
    let mut options = BTreeMap::new();
    if let Some(s) = stage {
        options.insert("stage".to_owned(), s.to_owned());
    }
    let sources = vars::VarSources {
        project_dir: dir,
        options: &options,
        env,
    };
    let resolved = vars::resolve(root, &sources, p);
    let stage = stage.map(str::to_owned).unwrap_or_else(|| {
        resolved
            .get("provider")
            .and_then(|pr| pr.get("stage"))
            .and_then(|s| match &s.value {
                Value::Str(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "dev".to_owned())
    });
    Some(project::read_project(&resolved, dir, &stage, p))
}

fn parse_file(dir: &Path, file: &str, p: &mut Problems) -> Option<yaml::Node> {
    let name: Arc<str> = Arc::from(file);
    let text = match files::read_bounded(&dir.join(file)) {
        Ok(t) => t,
        Err(e) => {
            p.push(Problem {
                file: file.to_owned(),
                path: String::new(),
                line: 0,
                message: e,
            });
            return None;
        }
    };
    match yaml::parse(&text, &name) {
        Ok(n) => Some(n),
        Err(e) => {
            p.push(e);
            None
        }
    }
}

fn load_config(
    dir: &Path,
    file: &str,
    stage: Option<&str>,
    env: &BTreeMap<String, String>,
    p: &mut Problems,
) -> HostConfig {
    if !dir.join(file).is_file() {
        return HostConfig::default();
    }
    let Some(root) = parse_file(dir, file, p) else {
        return HostConfig::default();
    };
    let mut options = BTreeMap::new();
    if let Some(s) = stage {
        options.insert("stage".to_owned(), s.to_owned());
    }
    let sources = vars::VarSources {
        project_dir: dir,
        options: &options,
        env,
    };
    let resolved = vars::resolve(root, &sources, p);
    config::read(&resolved, dir, env, p)
}

/// What running needs from the config: an RPC URL per network, a key per relayer, SMTP for
/// email channels, values for declared-only secrets; and fixed webhook tokens to apply.
fn check_against_config(project: &mut Project, env: &BTreeMap<String, String>, p: &mut Problems) {
    let at = config::at_file(CONFIG_FILE);
    let host = project.host.clone();
    let tenant: Vec<&str> = project
        .private_networks
        .values()
        .chain(project.forked_networks.values())
        .map(|n| n.name.as_str())
        .collect();
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, m) in &project.monitors {
        users
            .entry(m.definition.network.clone())
            .or_default()
            .push(format!("monitor `{k}`"));
    }
    for (k, r) in &project.relayers {
        users
            .entry(r.network.clone())
            .or_default()
            .push(format!("relayer `{k}`"));
    }
    for (k, g) in &project.relayer_groups {
        users
            .entry(g.network.clone())
            .or_default()
            .push(format!("relayer group `{k}`"));
    }
    for (network, used_by) in users {
        if tenant.contains(&network.as_str()) || host.networks.contains_key(&network) {
            continue;
        }
        p.at(&at, &format!("networks.{network}.rpc"), format!(
            "network `{network}` (used by {}) has no RPC URL: add `networks.{network}.rpc` to {CONFIG_FILE}",
            used_by.join(", ")
        ));
    }
    for (k, r) in &project.relayers {
        if r.address_from_relayer.is_none() && !host.relayers.contains_key(k) {
            p.at(&at, &format!("relayers.{k}"), format!(
                "relayer `{k}` has no key: add `relayers.{k}` (`keystore` with `password-env`, or `private-key-env`) to {CONFIG_FILE}"
            ));
        }
    }
    for k in host.relayers.keys() {
        if !project.relayers.contains_key(k) {
            p.at(
                &at,
                &format!("relayers.{k}"),
                format!("the project has no relayer `{k}`"),
            );
        }
    }
    for (k, g) in &project.relayer_groups {
        let have = host.relayer_groups.get(k).map_or(0, Vec::len);
        if have != g.relayers as usize {
            p.at(&at, &format!("relayer-groups.{k}"), format!(
                "relayer group `{k}` has {} relayer(s) and {have} key(s): list one key per relayer under `relayer-groups.{k}` in {CONFIG_FILE}",
                g.relayers
            ));
        }
    }
    for k in host.relayer_groups.keys() {
        if !project.relayer_groups.contains_key(k) {
            p.at(
                &at,
                &format!("relayer-groups.{k}"),
                format!("the project has no relayer group `{k}`"),
            );
        }
    }
    let private = |policy: &Option<String>| {
        policy
            .as_ref()
            .and_then(|k| project.policies.get(k))
            .is_some_and(|p| p.private_transactions)
    };
    let private_users = project
        .relayers
        .iter()
        .map(|(k, r)| (format!("relayer `{k}`"), &r.network, &r.policy))
        .chain(
            project
                .relayer_groups
                .iter()
                .map(|(k, g)| (format!("relayer group `{k}`"), &g.network, &g.policy)),
        );
    for (who, network, policy) in private_users {
        let endpoint = host
            .networks
            .get(network)
            .and_then(|n| n.private_rpc.as_ref());
        if private(policy) && endpoint.is_none() {
            p.at(&at, &format!("networks.{network}.private-rpc"), format!(
                "{who} has the `private-transactions` policy but network `{network}` has no private endpoint: add `networks.{network}.private-rpc` to {CONFIG_FILE}"
            ));
        }
    }
    for c in &host.low_balance_channels {
        if !project.notifications.contains_key(c) {
            p.at(
                &at,
                "low-balance-channels",
                format!("the project has no notification channel `{c}`"),
            );
        }
    }
    for (k, n) in project.notifications.iter_mut() {
        if let defender_notify::ChannelConfig::Email(_) = &n.definition.channel {
            match &host.smtp {
                Some(smtp) => fill_email(n, smtp, &at, k, p),
                None => p.at(&at, "smtp", format!(
                    "email channel `{k}` needs an SMTP server: add `smtp` (host, from) to {CONFIG_FILE}"
                )),
            }
        }
    }
    for (k, token) in &host.webhook_tokens {
        match project.actions.get_mut(k) {
            Some(a)
                if a.spec
                    .triggers
                    .contains(&defender_engine::ActionTrigger::Webhook) =>
            {
                a.webhook_token = Some(token.expose().to_owned());
            }
            Some(_) => p.at(
                &at,
                &format!("webhooks.{k}"),
                format!("action `{k}` has no webhook trigger"),
            ),
            None => p.at(
                &at,
                &format!("webhooks.{k}"),
                format!("the project has no action `{k}`"),
            ),
        }
    }
    let missing: Vec<String> = project
        .secrets
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    if !missing.is_empty() {
        let values = match &host.secrets {
            Some(config::SecretsSource::Env { prefix }) => missing
                .iter()
                .filter_map(|k| {
                    env.get(&format!("{prefix}{k}"))
                        .map(|v| (k.clone(), v.clone()))
                })
                .collect::<BTreeMap<_, _>>(),
            Some(config::SecretsSource::File(path)) => secrets_file(path, p),
            None => BTreeMap::new(),
        };
        for k in missing {
            match values.get(&k) {
                Some(v) => {
                    project.secrets.insert(k, Some(v.clone()));
                }
                None => p.at(&at, "secrets", format!(
                    "secret `{k}` has no value in the project and none from {CONFIG_FILE}'s `secrets` source"
                )),
            }
        }
    }
}

fn fill_email(
    n: &mut Notification,
    smtp: &config::SmtpConfig,
    at: &Pos,
    key: &str,
    p: &mut Problems,
) {
    let mut json = match serde_json::to_value(&n.definition.channel) {
        Ok(j) => j,
        Err(_) => return,
    };
    if let Some(c) = json.get_mut("config").and_then(|c| c.as_object_mut()) {
        c.insert("host".into(), smtp.host.clone().into());
        c.insert("from".into(), smtp.from.clone().into());
        c.insert("security".into(), smtp.security.clone().into());
        if let Some(port) = smtp.port {
            c.insert("port".into(), port.into());
        }
        if let Some(u) = &smtp.username {
            c.insert("username".into(), u.clone().into());
        }
        if let Some(pw) = &smtp.password {
            c.insert("password".into(), pw.expose().into());
        }
    }
    match serde_json::from_value(json) {
        Ok(c) => n.definition.channel = c,
        Err(e) => p.at(at, "smtp", format!("email channel `{key}`: {e}")),
    }
}

fn secrets_file(path: &Path, p: &mut Problems) -> BTreeMap<String, String> {
    let name: Arc<str> = Arc::from(path.display().to_string().as_str());
    let text = match files::read_bounded(path) {
        Ok(t) => t,
        Err(e) => {
            p.at(&config::at_file(CONFIG_FILE), "secrets.file", e);
            return BTreeMap::new();
        }
    };
    match yaml::parse(&text, &name) {
        Ok(node) => match node.value {
            Value::Map(entries) => entries
                .into_iter()
                .filter_map(|(k, v)| v.scalar_text().map(|s| (k.name, s)))
                .collect(),
            _ => {
                p.at(
                    &node.pos,
                    "",
                    "the secrets file must be a mapping of name to value",
                );
                BTreeMap::new()
            }
        },
        Err(e) => {
            p.push(e);
            BTreeMap::new()
        }
    }
}
