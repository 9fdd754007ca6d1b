//! Crash test: a child process writes continuously and is killed with SIGKILL at random
//! moments, 20 times per backend; after each kill the store is reopened and every
//! acknowledged put must be there with its exact value, and no value may be torn.
#![cfg(unix)]

use defender_kv::{JsonFileKvStore, KvStore, RedbKvStore};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const KILLS: usize = 20;

#[path = "../src/crash_value.rs"]
mod crash_value;
use crash_value::value_of;

/// Starts the writer at `first`, kills it with SIGKILL after a random delay, and returns the
/// indexes it acknowledged (complete lines only).
fn run_and_kill(backend: &str, path: &Path, first: u64) -> Vec<u64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_defender-kv-crash-writer"))
        .args([backend, &path.display().to_string(), &first.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut acked = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with(b"\n") => {
                    let text = std::str::from_utf8(&line[..line.len() - 1]).expect("utf-8");
                    acked.push(text.parse::<u64>().expect("an index"));
                }
                Ok(_) => break, // a line cut by the kill was not acknowledged
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(fastrand::u64(20..400)));
    child.kill().expect("SIGKILL the writer"); // Child::kill sends SIGKILL on Unix.
    let status = child.wait().expect("wait for the writer");
    assert!(
        status.code().is_none(),
        "the writer exited by itself: {status}"
    );
    reader.join().expect("reader thread")
}

/// Checks the reopened store against what was acknowledged; returns the next first index.
async fn verify(store: &dyn KvStore, acked_ever: &[u64]) -> u64 {
    for &i in acked_ever {
        let got = store.get(&format!("k{i:08}")).await.expect("get");
        assert!(
            got.as_deref() == Some(value_of(i).as_str()),
            "acknowledged put k{i:08} lost or torn: got {} bytes",
            got.map_or(0, |v| v.len())
        );
    }
    // No torn value anywhere, acknowledged or not.
    let keys = store.list("k").await.expect("list");
    for key in &keys {
        let i: u64 = key[1..].parse().expect("an index key");
        let got = store.get(key).await.expect("get");
        assert!(
            got.as_deref() == Some(value_of(i).as_str()),
            "torn value under {key}"
        );
    }
    let max_acked = acked_ever.iter().copied().max();
    let last = store.get("last").await.expect("get last");
    if let Some(max) = max_acked {
        let last: u64 = last
            .expect("`last` was acknowledged")
            .parse()
            .expect("`last` is an index");
        assert!(last >= max, "`last` went back: {last} < acknowledged {max}");
    }
    keys.len() as u64
}

async fn crash_test(backend: &str, file: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file);
    let mut acked_ever = Vec::new();
    let mut next = 0;
    let mut kills_with_acks = 0;
    for round in 0..KILLS {
        let acked = run_and_kill(backend, &path, next);
        if !acked.is_empty() {
            kills_with_acks += 1;
        }
        acked_ever.extend(acked);
        let store: Box<dyn KvStore> = match backend {
            "redb" => Box::new(RedbKvStore::open(&path).expect("reopen after SIGKILL")),
            _ => Box::new(JsonFileKvStore::open(&path).expect("reopen after SIGKILL")),
        };
        next = verify(store.as_ref(), &acked_ever).await;
        eprintln!(
            "{backend} round {}: {} acknowledged so far, {next} keys on disk",
            round + 1,
            acked_ever.len()
        );
        drop(store);
    }
    assert!(
        next as usize >= acked_ever.len(),
        "fewer keys on disk than acknowledged"
    );
    assert!(
        kills_with_acks >= KILLS / 2,
        "the writer acknowledged writes before only {kills_with_acks} of {KILLS} kills"
    );
}

#[tokio::test]
async fn redb_keeps_every_acknowledged_put_across_20_sigkills() {
    crash_test("redb", "store.redb").await;
}

#[tokio::test]
async fn json_file_keeps_every_acknowledged_put_across_20_sigkills() {
    crash_test("json", "store.json").await;
}
