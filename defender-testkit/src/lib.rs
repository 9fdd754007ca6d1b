//! Fixtures shared by the workspace's tests, benches and examples: finding the `anvil` binary
//! and starting it on a port of its own, and a real `redis-server` ([`RedisServer`]).
//!
//! Each crate keeps its own small `Anvil` wrapper (with the RPC client it tests); what they
//! share is here, so that every test node is started the same, race-free way.
//!
//! ```no_run
//! let bin = defender_testkit::anvil_binary().expect("anvil installed");
//! let (mut child, addr) = defender_testkit::spawn_anvil(&bin, &["--block-time", "1"]).unwrap();
//! println!("anvil listens on http://{}", addr.expect("anvil started"));
//! child.kill().unwrap();
//! ```

mod redis;

pub use redis::RedisServer;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The anvil binary: `$DEFENDER_ANVIL`, then `PATH`, then the project's `.tools/bin` (where
/// `scripts/install-anvil.sh` puts it), then the usual install locations.
pub fn anvil_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DEFENDER_ANVIL") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("anvil"))
        .chain([
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/anvil"),
            PathBuf::from(format!("{home}/.foundry/bin/anvil")),
            PathBuf::from(format!("{home}/.local/bin/anvil")),
            PathBuf::from("/usr/lib/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"),
            PathBuf::from("/usr/local/lib/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"),
        ])
        .find(|p| p.is_file())
}

/// Starts anvil on 127.0.0.1 with `args`, on a port of its choosing, and returns it with the
/// address (`127.0.0.1:<port>`) of its "Listening on" line, or `None` if it did not print one
/// within 30 s (it failed to start).
///
/// Letting anvil choose (`--port 0`) is what keeps parallel tests apart: when each test picked
/// a free port and then started anvil on it, two could pick the same one, and the second
/// test's readiness probe reached the first test's node. Anvil's output is drained for as
/// long as it runs, so that it never blocks on a full pipe. The caller owns the child: kill
/// and wait for it on drop.
pub fn spawn_anvil(bin: &Path, args: &[&str]) -> std::io::Result<(Child, Option<String>)> {
    let mut child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let Some(stdout) = child.stdout.take() else {
        return Ok((child, None));
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.strip_prefix("Listening on ") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    Ok((child, rx.recv_timeout(Duration::from_secs(30)).ok()))
}
