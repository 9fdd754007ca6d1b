//! Helper of the crash test (`tests/crash.rs`), not a tool: writes to a store without end and
//! prints the index of every acknowledged write, until it is killed.
//!
//! Usage: `defender-kv-crash-writer <redb|json> <path> <first index>`. For each index `i` from
//! the first one it puts `k<i>` (a value of varying length derived from `i`), then overwrites
//! `last` with `i`, then prints `i` on its own line.

use defender_kv::{JsonFileKvStore, KvStore, RedbKvStore};
use std::io::Write;

#[path = "../crash_value.rs"]
mod crash_value;
use crash_value::value_of;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, backend, path, first] = args.as_slice() else {
        return Err("usage: defender-kv-crash-writer <redb|json> <path> <first index>".into());
    };
    let first: u64 = first.parse()?;
    let store: Box<dyn KvStore> = match backend.as_str() {
        "redb" => Box::new(RedbKvStore::open(path)?),
        "json" => Box::new(JsonFileKvStore::open(path)?),
        other => return Err(format!("unknown backend {other}").into()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        for i in first.. {
            store.put(&format!("k{i:08}"), &value_of(i)).await?;
            store.put("last", &i.to_string()).await?;
            writeln!(out, "{i}")?;
            out.flush()?;
        }
        Ok(())
    })
}
