//! Defender's local JSON-file format: reading files its client wrote, writing files it reads.

use defender_kv::{JsonFileKvStore, KvError, KvLimits, KvOptions, KvStore, ManualClock};
use std::sync::Arc;
use std::time::Duration;

/// What `new KeyValueStoreClient({ path })` of `defender-kvstore-client` 1.44.4 wrote for
/// `put('a','x'); put('uni','é🦀\n"q"\u0001'); put('nul', null); put('b','y')` (captured from
/// the package run under node 20).
const WRITTEN_BY_DEFENDER: &str = "{\n  \"a\": \"x\",\n  \"uni\": \"é🦀\\n\\\"q\\\"\\u0001\",\n  \"nul\": null,\n  \"b\": \"y\"\n}\n";

#[tokio::test]
async fn reads_a_file_written_by_defenders_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.json");
    std::fs::write(&path, WRITTEN_BY_DEFENDER).expect("write fixture");
    let store = JsonFileKvStore::open(&path).expect("open");
    assert_eq!(store.get("a").await.expect("get").as_deref(), Some("x"));
    assert_eq!(store.get("b").await.expect("get").as_deref(), Some("y"));
    assert_eq!(
        store.get("uni").await.expect("get").as_deref(),
        Some("é🦀\n\"q\"\u{1}")
    );
    assert_eq!(
        store.get("nul").await.expect("get"),
        None,
        "null reads as missing"
    );
    assert_eq!(store.list("").await.expect("list"), vec!["a", "b", "uni"]);
}

#[tokio::test]
async fn writes_the_format_defenders_client_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/store.json");
    let store = JsonFileKvStore::open(&path).expect("open");
    assert!(!path.exists(), "opening does not create the file");
    store.put("b", "y").await.expect("put");
    store.put("a", "x").await.expect("put");
    store.put("uni", "é🦀\n\"q\"\u{1}").await.expect("put");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        text, "{\n  \"a\": \"x\",\n  \"b\": \"y\",\n  \"uni\": \"é🦀\\n\\\"q\\\"\\u0001\"\n}\n",
        "two-space indentation, final newline, JSON.stringify's escapes"
    );
    store.del("a").await.expect("del");
    store.del("b").await.expect("del");
    store.del("uni").await.expect("del");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "{}\n");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        leftovers.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files are renamed or removed: {leftovers:?}"
    );
}

#[tokio::test]
async fn missing_and_empty_files_are_empty_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = JsonFileKvStore::open(dir.path().join("none.json")).expect("open");
    assert!(missing.list("").await.expect("list").is_empty());
    let empty_path = dir.path().join("empty.json");
    std::fs::write(&empty_path, "  \n").expect("write");
    let empty = JsonFileKvStore::open(&empty_path).expect("open");
    assert!(empty.list("").await.expect("list").is_empty());
}

#[tokio::test]
async fn refuses_a_file_it_cannot_read_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("broken.json", "{\"a\": \"x\""),
        ("array.json", "[\"a\"]"),
        ("number.json", "{\"a\": 1}"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        match JsonFileKvStore::open(&path) {
            Err(KvError::Corrupt { message }) => assert!(message.contains(name), "{message}"),
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            text,
            "{name} untouched"
        );
    }
}

#[tokio::test]
async fn expiry_times_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.json");
    let clock = Arc::new(ManualClock::new(
        "2026-01-01T00:00:00Z".parse().expect("time"),
    ));
    let options = KvOptions::default()
        .with_limits(KvLimits {
            ttl: Duration::from_secs(100),
            ..KvLimits::default()
        })
        .with_clock(clock.clone());
    let store = JsonFileKvStore::open_with(&path, options.clone()).expect("open");
    store.put("old", "1").await.expect("put");
    clock.advance(chrono::Duration::seconds(60));
    store.put("new", "2").await.expect("put");
    drop(store);
    assert!(dir.path().join("store.json.expiry.json").exists());

    clock.advance(chrono::Duration::seconds(50));
    let store = JsonFileKvStore::open_with(&path, options.clone()).expect("reopen");
    assert_eq!(
        store.get("old").await.expect("get"),
        None,
        "expired at 100 s, before the reopen"
    );
    assert_eq!(store.get("new").await.expect("get").as_deref(), Some("2"));
    clock.advance(chrono::Duration::seconds(50));
    assert_eq!(store.get("new").await.expect("get"), None);

    // A key written by Defender's tools (no expiry time) counts as put at open.
    std::fs::write(&path, "{\n  \"imported\": \"v\"\n}\n").expect("write");
    let store = JsonFileKvStore::open_with(&path, options).expect("reopen");
    clock.advance(chrono::Duration::seconds(99));
    assert_eq!(
        store.get("imported").await.expect("get").as_deref(),
        Some("v")
    );
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(store.get("imported").await.expect("get"), None);
}
