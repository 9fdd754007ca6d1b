//! Commands that run an engine in this process: `run`, `invoke`, `test-conditions`.

use super::{env, load, ProjectArgs};
use base64::Engine as _;
use defender_core::{RunStatus, Trigger};
use defender_engine::TestScope;
use defender_host::run::{self, Host, RunOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Largest payload file read by `invoke`.
const MAX_PAYLOAD_BYTES: u64 = 6 * 1024 * 1024;

/// `run`: starts the project and serves until SIGINT or SIGTERM.
pub(crate) async fn run(
    dir: &Path,
    config: Option<&Path>,
    stage: Option<&str>,
    listen: Option<SocketAddr>,
    poll_interval: Duration,
) -> ExitCode {
    let env = env();
    let project = match load(dir, config, stage, &env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    tracing::info!(
        project = %dir.display(),
        stage = %project.stage,
        stack = %project.stack_name,
        "starting"
    );
    let mut options = RunOptions::new(env).poll_interval(poll_interval);
    if let Some(addr) = listen {
        options = options.listen(addr);
    }
    let host = match Host::start(&project, options).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            eprintln!("defender-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The line scripts wait for (and the address to reach).
    println!("defender-host listening on {}", host.base_url());
    wait_for_signal().await;
    tracing::info!("stopping");
    host.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn read_payload(path: &Path) -> Result<serde_json::Value, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "{}: over the {MAX_PAYLOAD_BYTES}-byte limit",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// `invoke`: one run of one action in a scratch engine.
pub(crate) async fn invoke(args: &ProjectArgs, action: &str, payload: Option<&Path>) -> ExitCode {
    let env = env();
    let project = match load(
        &args.dir,
        args.config.as_deref(),
        args.stage.as_deref(),
        &env,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(a) = project.actions.get(action) else {
        eprintln!("the project has no action `{action}`");
        return ExitCode::FAILURE;
    };
    let body = match payload.map(read_payload).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (engine, relayers) =
        match run::scratch_engine(&project, a.spec.relayer_id.is_some(), &env).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("defender-host: {e}");
                return ExitCode::FAILURE;
            }
        };
    let mut spec = a.spec.clone();
    spec.triggers.clear();
    spec.paused = false;
    let outcome = match engine.add_action(spec).await {
        Ok(_) => engine.run_action(action, Trigger::Manual, body).await,
        Err(e) => Err(e),
    };
    engine.shutdown_and_wait().await;
    for r in relayers {
        r.shutdown();
    }
    let record = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("defender-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logs = base64::engine::general_purpose::STANDARD
        .decode(&record.encoded_logs)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    for line in logs.lines() {
        println!("log | {line}");
    }
    println!("status: {}", status_name(record.status));
    if let Some(result) = &record.result {
        println!("result: {result}");
    }
    if let Some(message) = &record.message {
        println!("error: {message}");
    }
    if record.status == RunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) fn status_name(s: RunStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{s:?}"))
}

/// `test-conditions`: the monitor's matches on a block, a transaction or recent blocks.
pub(crate) async fn test_conditions(
    args: &ProjectArgs,
    monitor: &str,
    block: Option<u64>,
    tx: Option<String>,
    recent: Option<u64>,
) -> ExitCode {
    let scope = match (block, tx, recent) {
        (Some(n), None, None) => TestScope::Block(n),
        (None, Some(h), None) => match h.parse() {
            Ok(hash) => TestScope::Transaction(hash),
            Err(_) => {
                eprintln!("`{h}` is not a transaction hash (0x and 64 hex digits)");
                return ExitCode::FAILURE;
            }
        },
        (None, None, Some(n)) => TestScope::RecentBlocks(n),
        _ => {
            eprintln!("give one of --block N, --tx HASH, --recent N");
            return ExitCode::FAILURE;
        }
    };
    let env = env();
    let project = match load(
        &args.dir,
        args.config.as_deref(),
        args.stage.as_deref(),
        &env,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(m) = project.monitors.get(monitor) else {
        eprintln!("the project has no monitor `{monitor}`");
        return ExitCode::FAILURE;
    };
    let result = async {
        let (engine, _) = run::scratch_engine(&project, false, &env).await?;
        run::add_network(
            &engine,
            &project,
            &m.definition.network,
            run::DEFAULT_POLL_INTERVAL,
        )
        .await?;
        let matches = engine
            .test_monitor_conditions(&m.definition, scope)
            .await
            .map_err(|source| run::HostError::Monitor {
                id: monitor.to_owned(),
                source: Box::new(source),
            });
        engine.shutdown_and_wait().await;
        matches
    }
    .await;
    match result {
        Ok(matches) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&matches).unwrap_or_default()
            );
            eprintln!("{} match(es)", matches.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("defender-host: {e}");
            ExitCode::FAILURE
        }
    }
}
