//! The `defender-host` binary run as a process on a generated Defender project: 1,000
//! monitors (the matcher bench's mix, `chain.rs`) and 100 actions in a `serverless.yml`,
//! against anvil; its resident memory once idle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The management API key of the generated project.
const API_KEY: &str = "memory-bench-api-key";

/// Kills and reaps the child on drop.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The workspace's `defender-host`, built now in release mode with the patched QuickJS (as
/// the workspace builds it), in the target directory of this bench; or the binary that
/// `DEFENDER_BENCH_HOST_BIN` names, to compare builds.
pub(crate) fn host_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("DEFENDER_BENCH_HOST_BIN") {
        return Some(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().ok()?;
    // <target>/release/deps/memory-<hash>
    let release = exe.parent()?.parent()?.to_path_buf();
    let target = release.parent()?.to_path_buf();
    let status = Command::new(env!("CARGO"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--release", "-p", "defender-host"])
        .args(["--features", "quickjs-patches"])
        .status()
        .ok()?;
    let bin = release.join("defender-host");
    (status.success() && bin.is_file()).then_some(bin)
}

/// Writes the project into `dir`: `monitors` monitors, `actions` webhook actions with
/// `action_source`, one webhook channel, network `local` at `rpc`.
pub(crate) fn write_project(
    dir: &Path,
    monitors: usize,
    actions: usize,
    action_source: impl Fn(usize) -> String,
    rpc: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("abis"))?;
    std::fs::write(dir.join("abis/erc20.json.abi"), super::chain::ERC20_ABI)?;
    let mut yml = String::from(
        "service: memory-bench\nprovider:\n  name: defender\n  stage: dev\n  stackName: memory\n\nresources:\n  actions:\n",
    );
    for i in 0..actions {
        let path = dir.join(format!("actions/a{i}"));
        std::fs::create_dir_all(&path)?;
        std::fs::write(path.join("index.js"), action_source(i))?;
        yml.push_str(&format!(
            "    a{i}:\n      name: 'Action {i}'\n      path: ./actions/a{i}\n      trigger:\n        type: webhook\n      paused: false\n"
        ));
    }
    yml.push_str(
        "\n  notifications:\n    ops:\n      type: webhook\n      name: Ops\n      config:\n        url: 'http://127.0.0.1:9/alert'\n      paused: false\n\n  monitors:\n",
    );
    let contracts = (monitors / 2).max(1);
    for i in 0..monitors {
        let address = super::chain::contract(i % contracts).to_checksum(None);
        let (abi, conditions) = match i % 3 {
            0 => (
                "      abi: ${file(./abis/erc20.json.abi)}\n",
                "        event:\n          - signature: 'Transfer(address,address,uint256)'\n            expression: 'value > 1000'\n",
            ),
            1 => (
                "",
                "        function:\n          - signature: 'transfer(address to, uint256 amount)'\n            expression: 'amount > 5000'\n",
            ),
            _ => (
                "",
                "        transaction: 'gasPrice > 50000000000 and gasUsed > 20000'\n",
            ),
        };
        yml.push_str(&format!(
            "    m{i}:\n      name: m{i}\n      type: BLOCK\n      network: local\n      addresses: ['{address}']\n{abi}      confirm-level: 0\n      paused: false\n      notify-config:\n        channels:\n          - ${{self:resources.notifications.ops}}\n      conditions:\n{conditions}"
        ));
    }
    yml.push_str("\nplugins:\n  - '@openzeppelin/defender-as-code'\n");
    std::fs::write(dir.join("serverless.yml"), yml)?;
    std::fs::write(
        dir.join("defender-host.yml"),
        format!(
            "listen: 127.0.0.1:0\nstate-dir: {}\napi-key-env: MEMORY_BENCH_API_KEY\nnetworks:\n  local:\n    rpc: {rpc}\n",
            dir.join("state").display()
        ),
    )
}

/// `defender-host run dir`, once it listens: the process and the address of its API.
pub(crate) fn start_host(bin: &Path, dir: &Path) -> Option<(KillOnDrop, String)> {
    let mut child = Command::new(bin)
        .arg("run")
        .arg(dir)
        .env("MEMORY_BENCH_API_KEY", API_KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let child = KillOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("defender-host listening on ") {
                let _ = tx.send(addr.trim().trim_start_matches("http://").to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(120)).ok()?;
    Some((child, addr))
}

/// How many items `GET path` of the management API at `addr` lists.
pub(crate) fn count(addr: &str, path: &str) -> Option<usize> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-Api-Key: {API_KEY}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (_, body) = text.split_once("\r\n\r\n")?;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json["items"].as_array().map(Vec::len)
}

/// Field `field` (`VmRSS`, `RssAnon`, `RssFile`...) of process `pid`'s status, in bytes.
pub(crate) fn status_bytes(pid: u32, field: &str) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kb| kb * 1024)
}

/// Waits until `check` holds, up to `limit`.
pub(crate) fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}
