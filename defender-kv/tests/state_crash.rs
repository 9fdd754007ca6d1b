//! Crash test of engine state: a child process applies batches (an outbox item written, an
//! old one deleted, the checkpoint moved) and is killed with SIGKILL at random moments, 20
//! times; after each kill the redb file is reopened, and it must hold every acknowledged batch
//! and never part of one.
#![cfg(unix)]

mod support;

use defender_kv::{RedbStateStore, Space, StateStore, StateStoreExt};
use std::path::Path;
use support::crash_value::value_of;
use support::{run_and_kill, KILLS};

/// Checks that the reopened store holds whole batches up to its checkpoint and nothing of a
/// later one; returns the next first index.
async fn verify(store: &RedbStateStore, max_acked: Option<u64>) -> u64 {
    let cursor = store
        .get(Space::CHECKPOINTS, "cursor")
        .await
        .expect("get cursor")
        .map(|v| {
            std::str::from_utf8(&v)
                .expect("utf-8")
                .parse::<u64>()
                .expect("the cursor is an index")
        });
    if let Some(max) = max_acked {
        let cursor = cursor.expect("an acknowledged batch moved the cursor");
        assert!(
            cursor >= max,
            "acknowledged batch {max} lost: cursor {cursor}"
        );
    }
    let items = store.scan_all(Space::OUTBOX, "item/").await.expect("scan");
    let expected: Vec<u64> = match cursor {
        None => Vec::new(),
        Some(c) => (c.saturating_sub(2)..=c).collect(),
    };
    let found: Vec<u64> = items
        .iter()
        .map(|(k, _)| k["item/".len()..].parse().expect("an item index"))
        .collect();
    assert_eq!(
        found, expected,
        "the outbox does not match the checkpoint {cursor:?}: a batch was half applied"
    );
    for (i, (_, value)) in found.iter().zip(&items) {
        assert!(
            value.as_ref() == value_of(*i).as_bytes(),
            "item {i} is torn: {} bytes",
            value.len()
        );
    }
    cursor.map_or(0, |c| c + 1)
}

#[tokio::test]
async fn redb_state_never_shows_half_a_batch_across_20_sigkills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    let mut max_acked: Option<u64> = None;
    let mut next = 0;
    let mut kills_with_acks = 0;
    for round in 0..KILLS {
        let acked = run_and_kill(
            Path::new(env!("CARGO_BIN_EXE_defender-kv-state-crash-writer")),
            &[&path.display().to_string(), &next.to_string()],
        );
        if !acked.is_empty() {
            kills_with_acks += 1;
        }
        max_acked = acked.iter().copied().max().max(max_acked);
        let store = RedbStateStore::open(&path).expect("reopen after SIGKILL");
        next = verify(&store, max_acked).await;
        eprintln!(
            "round {}: {} batches acknowledged in this round, next batch {next}",
            round + 1,
            acked.len()
        );
        drop(store);
    }
    assert!(
        kills_with_acks >= KILLS / 2,
        "the writer acknowledged batches before only {kills_with_acks} of {KILLS} kills"
    );
}
