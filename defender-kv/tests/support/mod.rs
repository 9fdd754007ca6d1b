//! The child-process harness of the crash tests (`crash.rs`, `state_crash.rs`): a writer
//! binary that prints the index of each write it has made durable is killed with SIGKILL at a
//! random moment, and what it acknowledged is returned for the test to check against the
//! reopened store.
#![cfg(unix)]
#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How many times each crash test kills its writer.
pub const KILLS: usize = 20;

/// The values the writers put, so the tests can tell a whole value from a torn one.
#[path = "../../src/crash_value.rs"]
pub mod crash_value;

/// Starts `writer` with `args`, kills it with SIGKILL after a random delay, and returns the
/// indexes it acknowledged (complete lines of its stdout only).
pub fn run_and_kill(writer: &Path, args: &[&str]) -> Vec<u64> {
    let mut child = Command::new(writer)
        .args(args)
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
