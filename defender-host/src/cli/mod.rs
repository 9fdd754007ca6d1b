//! The command line: `run`, `validate`, `invoke`, `test-conditions`, `runs`, `webhooks`.

mod local;
mod stateful;

use clap::{Args, Parser, Subcommand};
use defender_host::Project;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs an OpenZeppelin Defender project (defender-as-code or defender-serverless
/// `serverless.yml`, or Defender's exported JSON) with a `defender-host.yml` beside it.
#[derive(Debug, Parser)]
#[command(name = "defender-host", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the project is and how it is read.
#[derive(Debug, Args)]
pub(crate) struct ProjectArgs {
    /// The project directory (with serverless.yml or defender-export.json).
    #[arg(long = "project", short = 'p', default_value = ".")]
    pub(crate) dir: PathBuf,
    /// The stage (`${opt:stage}`); default provider.stage, else dev.
    #[arg(long)]
    pub(crate) stage: Option<String>,
    /// The self-hosting config; default defender-host.yml in the project.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the project: schedules, webhooks, monitors, the management API.
    Run {
        /// The project directory.
        project: PathBuf,
        /// The stage (`${opt:stage}`); default provider.stage, else dev.
        #[arg(long)]
        stage: Option<String>,
        /// The self-hosting config; default defender-host.yml in the project.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen here rather than at the config's `listen` (`127.0.0.1:0`: any free port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// How often networks are polled for new blocks, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        poll_interval_ms: u64,
    },
    /// Checks the project and its config; prints every problem (`file:line: path: message`)
    /// and exits 1 if there is any.
    Validate {
        /// The project directory.
        project: PathBuf,
        /// The stage (`${opt:stage}`); default provider.stage, else dev.
        #[arg(long)]
        stage: Option<String>,
        /// The self-hosting config; default defender-host.yml in the project.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Runs one action once, here, with a payload as `event.request.body`, and prints its
    /// result and logs (nothing is kept: the key-value store and history are scratch ones).
    Invoke {
        /// The action's resource key.
        action: String,
        /// A JSON file: the payload.
        #[arg(long)]
        payload: Option<PathBuf>,
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Prints the matches a monitor's conditions give on a block, a transaction or recent
    /// blocks of its network (nothing is notified).
    TestConditions {
        /// The monitor's resource key.
        monitor: String,
        /// One block.
        #[arg(long, group = "scope")]
        block: Option<u64>,
        /// One transaction, by hash.
        #[arg(long, group = "scope")]
        tx: Option<String>,
        /// The latest block and this many before it.
        #[arg(long, group = "scope")]
        recent: Option<u64>,
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Prints an action's recent runs from the state directory (or, while `run` holds it,
    /// from the running host's management API).
    Runs {
        /// The action's resource key.
        action: String,
        /// Print each run's logs too.
        #[arg(long)]
        logs: bool,
        /// At most this many runs.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Prints the webhook URL of each webhook action (stable across restarts).
    Webhooks {
        #[command(flatten)]
        project: ProjectArgs,
    },
}

/// The process environment, as `${env:...}` and the config read it.
pub(crate) fn env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// Loads and checks the project; prints its problems when it has some.
pub(crate) fn load(
    dir: &std::path::Path,
    config: Option<&std::path::Path>,
    stage: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Project, ExitCode> {
    defender_host::validate_with_config(dir, config, stage, env).map_err(|problems| {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!("{} problem(s)", problems.len());
        ExitCode::FAILURE
    })
}

fn init_tracing(default: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Called by each async worker thread as it goes idle: gives the memory its allocator holds
/// freed back to the system, at most once a second per thread.
///
/// mimalloc returns a thread's freed memory only when that thread allocates again, so a
/// worker that freed a burst (loading a project, answering a large listing) and went idle
/// kept it: an idle host with 1,000 monitors and 100 actions measured 38 to 44 MB resident,
/// and about 60 MB in 4 runs of 14 (`cargo bench -p defender-benches --bench memory`);
/// collecting here, 36.5 to 37.2 MB in each of 5 runs. The limit bounds the cost for a busy host, whose workers go idle
/// many times a second; a host's workers wake again often enough (chain polling, lease
/// renewals) to collect what the limit skipped.
#[allow(unsafe_code)]
fn return_freed_memory() {
    thread_local! {
        static LAST: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }
    let now = std::time::Instant::now();
    let due = LAST.with(|last| {
        let due = last
            .get()
            .is_none_or(|at| now.duration_since(at) >= std::time::Duration::from_secs(1));
        if due {
            last.set(Some(now));
        }
        due
    });
    if due {
        // SAFETY: mimalloc's collection of the calling thread's heap; no pointer is passed.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

/// Parses the command line and runs the command.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(match cli.command {
        Command::Run { .. } => "info",
        _ => "warn",
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(return_freed_memory)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Run {
                project,
                stage,
                config,
                listen,
                poll_interval_ms,
            } => {
                local::run(
                    &project,
                    config.as_deref(),
                    stage.as_deref(),
                    listen,
                    std::time::Duration::from_millis(poll_interval_ms.max(10)),
                )
                .await
            }
            Command::Validate {
                project,
                stage,
                config,
            } => match load(&project, config.as_deref(), stage.as_deref(), &env()) {
                Ok(p) => {
                    println!(
                        "{}: ok ({} action(s), {} monitor(s), {} channel(s), {} relayer(s))",
                        project.display(),
                        p.actions.len(),
                        p.monitors.len(),
                        p.notifications.len(),
                        p.relayers.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            },
            Command::Invoke {
                action,
                payload,
                project,
            } => local::invoke(&project, &action, payload.as_deref()).await,
            Command::TestConditions {
                monitor,
                block,
                tx,
                recent,
                project,
            } => local::test_conditions(&project, &monitor, block, tx, recent).await,
            Command::Runs {
                action,
                logs,
                limit,
                project,
            } => stateful::runs(&project, &action, logs, limit).await,
            Command::Webhooks { project } => stateful::webhooks(&project).await,
        }
    })
}
