//! Commands that read the state directory: `runs`, `webhooks`. redb lets one process open a
//! file: while `defender-host run` holds it, they ask the running host's management API (at
//! the config's `listen`, with its API key) instead.

use super::local::status_name;
use super::{env, load, ProjectArgs};
use base64::Engine as _;
use defender_core::state::StateRunStore;
use defender_core::{RunRecord, RunStore};
use defender_host::run::{self, HostError};
use defender_host::Project;
use std::process::ExitCode;

fn base_url(project: &Project) -> String {
    let addr = project
        .host
        .listen
        .map(|a| a.to_string())
        .unwrap_or_else(|| run::DEFAULT_LISTEN.to_owned());
    format!("http://{addr}")
}

/// GET `path` of the running host's management API.
async fn api_get(project: &Project, path: &str) -> Result<serde_json::Value, String> {
    let url = format!("{}{path}", base_url(project));
    let mut req = reqwest::Client::new().get(&url);
    if let Some(key) = &project.host.api_key {
        req = req.header("X-Api-Key", key.expose());
    }
    let resp = req.send().await.map_err(|e| {
        format!("the state is in use and the running host does not answer at {url}: {e}")
    })?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{url}: {status}: {}",
            body["message"].as_str().unwrap_or_default()
        ));
    }
    Ok(body)
}

/// The runs, from the state file when it is free, else from the running host.
async fn load_runs(
    project: &Project,
    action: &str,
    limit: usize,
) -> Result<Vec<RunRecord>, String> {
    let dir = run::state_dir(project);
    if !dir.join(run::STATE_FILE).exists() {
        return Ok(Vec::new());
    }
    match run::open_state(&dir) {
        Ok(state) => StateRunStore::new(state)
            .list(action, limit)
            .await
            .map_err(|e| e.to_string()),
        Err(HostError::Store { .. }) => {
            let body = api_get(project, &format!("/actions/{action}/runs?limit={limit}")).await?;
            serde_json::from_value(body["items"].clone()).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `runs`: an action's recent runs, newest first.
pub(crate) async fn runs(args: &ProjectArgs, action: &str, logs: bool, limit: usize) -> ExitCode {
    let project = match load(
        &args.dir,
        args.config.as_deref(),
        args.stage.as_deref(),
        &env(),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !project.actions.contains_key(action) {
        eprintln!("the project has no action `{action}`");
        return ExitCode::FAILURE;
    }
    let runs = match load_runs(&project, action, limit.clamp(1, 100)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("defender-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    if runs.is_empty() {
        println!("no runs of `{action}` yet");
    }
    for r in &runs {
        let trigger = serde_json::to_value(r.trigger)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let outcome = r.result.as_deref().or(r.message.as_deref()).unwrap_or("-");
        println!(
            "{}  {:<9} {:<14} {}  {}",
            r.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            status_name(r.status),
            trigger,
            r.action_run_id,
            outcome
        );
        if logs {
            let text = base64::engine::general_purpose::STANDARD
                .decode(&r.encoded_logs)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            for line in text.lines() {
                println!("    log | {line}");
            }
        }
    }
    ExitCode::SUCCESS
}

/// `webhooks`: each webhook action's URL.
pub(crate) async fn webhooks(args: &ProjectArgs) -> ExitCode {
    let project = match load(
        &args.dir,
        args.config.as_deref(),
        args.stage.as_deref(),
        &env(),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dir = run::state_dir(&project);
    let base = base_url(&project);
    let urls = match run::open_state(&dir) {
        Ok(state) => run::project_webhook_urls(&project, state, &base)
            .await
            .map_err(|e| e.to_string()),
        Err(HostError::Store { .. }) => api_get(&project, "/webhooks").await.map(|body| {
            body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    Some((
                        i["actionId"].as_str()?.to_owned(),
                        i["url"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        }),
        Err(e) => Err(e.to_string()),
    };
    match urls {
        Ok(urls) => {
            if urls.is_empty() {
                println!("no webhook actions");
            }
            for (id, url) in urls {
                println!("{id}  {url}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("defender-host: {e}");
            ExitCode::FAILURE
        }
    }
}
