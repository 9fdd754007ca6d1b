//! Crash test: a child process writes continuously and is killed with SIGKILL at random
//! moments, 20 times per backend; after each kill the store is reopened and every
//! acknowledged put must be there with its exact value, and no value may be torn.
#![cfg(unix)]

mod support;

use defender_kv::{JsonFileKvStore, KvStore, RedbKvStore};
use std::path::Path;
use support::crash_value::value_of;
use support::{run_and_kill, KILLS};

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
        let acked = run_and_kill(
            Path::new(env!("CARGO_BIN_EXE_defender-kv-crash-writer")),
            &[backend, &path.display().to_string(), &next.to_string()],
        );
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
