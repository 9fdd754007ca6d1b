//! Helper of the state crash test (`tests/state_crash.rs`), not a tool: applies batches to a
//! redb state store without end and prints the index of every acknowledged batch, until it is
//! killed.
//!
//! Usage: `defender-kv-state-crash-writer <path> <first index>`. Batch `i` puts the outbox
//! item `item/<i>` (a value of varying length derived from `i`), deletes `item/<i - 3>` and
//! moves the checkpoint `cursor` to `i`, in one `apply`; then it prints `i` on its own line.

use defender_kv::{RedbStateStore, Space, StateOp, StateStore};
use std::io::Write;

#[path = "../crash_value.rs"]
mod crash_value;
use crash_value::value_of;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, first] = args.as_slice() else {
        return Err("usage: defender-kv-state-crash-writer <path> <first index>".into());
    };
    let first: u64 = first.parse()?;
    let store = RedbStateStore::open(path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        for i in first.. {
            let mut batch = vec![StateOp::put(
                Space::OUTBOX,
                format!("item/{i:08}"),
                value_of(i),
            )];
            if let Some(old) = i.checked_sub(3) {
                batch.push(StateOp::delete(Space::OUTBOX, format!("item/{old:08}")));
            }
            batch.push(StateOp::put(Space::CHECKPOINTS, "cursor", i.to_string()));
            store.apply(batch).await?;
            writeln!(out, "{i}")?;
            out.flush()?;
        }
        Ok(())
    })
}
