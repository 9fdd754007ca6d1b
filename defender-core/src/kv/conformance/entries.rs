//! Reads and writes of single entries: get, put, delete, overwrite, empty and Unicode keys
//! and values, and listing by prefix.

use crate::kv::{KvError, KvStore};

/// A value is written, read back, deleted, and gone.
pub async fn get_put_del(store: &dyn KvStore) {
    store.put("myKey", "myValue").await.expect("put");
    assert_eq!(
        store.get("myKey").await.expect("get").as_deref(),
        Some("myValue"),
        "get returns what put wrote"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["myKey".to_string()]
    );
    store.del("myKey").await.expect("del");
    assert_eq!(
        store.get("myKey").await.expect("get"),
        None,
        "del removes the key"
    );
    assert!(
        store.list("").await.expect("list").is_empty(),
        "del removes the key from list"
    );
}

/// Missing keys read as `None`, deleting them succeeds, and keys are case-sensitive.
pub async fn missing_keys(store: &dyn KvStore) {
    assert_eq!(
        store.get("nope").await.expect("get"),
        None,
        "a missing key is None"
    );
    store
        .del("nope")
        .await
        .expect("del of a missing key succeeds");
    store.put("Case", "1").await.expect("put");
    assert_eq!(
        store.get("case").await.expect("get"),
        None,
        "keys are case-sensitive"
    );
    assert_eq!(
        store.get("Case ").await.expect("get"),
        None,
        "keys are not trimmed"
    );
    store.del("Case").await.expect("del");
    store.del("Case").await.expect("a second del succeeds");
}

/// A put overwrites: one key, the newest value.
pub async fn overwrite(store: &dyn KvStore) {
    store.put("k", "first").await.expect("put");
    store.put("k", "second").await.expect("overwrite");
    store
        .put("k", "third, longer than the others")
        .await
        .expect("overwrite");
    store
        .put("k", "4")
        .await
        .expect("overwrite with a shorter value");
    assert_eq!(
        store.get("k").await.expect("get").as_deref(),
        Some("4"),
        "the last put wins"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["k".to_string()],
        "no duplicate key"
    );
}

/// An empty value is a value, not a missing key.
pub async fn empty_values(store: &dyn KvStore) {
    store.put("empty", "").await.expect("put of an empty value");
    assert_eq!(
        store.get("empty").await.expect("get").as_deref(),
        Some(""),
        "an empty value reads back as Some(\"\")"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["empty".to_string()]
    );
    store.put("empty", "now set").await.expect("overwrite");
    store.put("empty", "").await.expect("overwrite with empty");
    assert_eq!(store.get("empty").await.expect("get").as_deref(), Some(""));
}

/// Unicode keys and values, and characters that need escaping in many formats, round-trip
/// exactly.
pub async fn unicode(store: &dyn KvStore) {
    let pairs = [
        ("clé", "valeur à l'été"),
        ("ключ", "значение"),
        ("鍵/🔑", "值 🦀 \u{1F600}"),
        ("quotes\"and\\slashes", "{\"json\": [1, 2]}\n\ttabbed\r\n"),
        ("colon:key:1", "12:34:not-a-timestamp"),
        ("nul\u{0}inside", "a\u{0}b"),
        ("combining e\u{301}", "\u{FEFF}bom and \u{200B}zero width"),
    ];
    for (k, v) in pairs {
        store.put(k, v).await.expect("put unicode");
    }
    for (k, v) in pairs {
        assert_eq!(
            store.get(k).await.expect("get unicode").as_deref(),
            Some(v),
            "unicode key {k:?} round-trips"
        );
    }
    let mut keys: Vec<String> = pairs.iter().map(|(k, _)| (*k).to_string()).collect();
    keys.sort();
    assert_eq!(
        store.list("").await.expect("list"),
        keys,
        "list is sorted by bytes"
    );
    assert_eq!(
        store.list("鍵").await.expect("list"),
        vec!["鍵/🔑".to_string()]
    );
    // "e" followed by a combining accent is not the precomposed "é": no normalisation.
    assert_eq!(
        store.get("combining \u{e9}").await.expect("get"),
        None,
        "no normalisation"
    );
}

/// The empty key is refused by every operation.
pub async fn empty_key(store: &dyn KvStore) {
    assert!(
        matches!(store.put("", "v").await, Err(KvError::EmptyKey)),
        "put(\"\")"
    );
    assert!(
        matches!(store.get("").await, Err(KvError::EmptyKey)),
        "get(\"\")"
    );
    assert!(
        matches!(store.del("").await, Err(KvError::EmptyKey)),
        "del(\"\")"
    );
    assert!(
        store.list("").await.expect("list").is_empty(),
        "a refused put stores nothing"
    );
}

/// `list(prefix)` returns the live keys starting with `prefix`, sorted by bytes.
pub async fn list_by_prefix(store: &dyn KvStore) {
    for k in ["b", "a", "ab", "abc", "a/1", "a/2", "b/1", "ä", "A"] {
        store.put(k, "x").await.expect("put");
    }
    let s = |v: &[&str]| v.iter().map(|k| (*k).to_string()).collect::<Vec<_>>();
    assert_eq!(
        store.list("").await.expect("list"),
        s(&["A", "a", "a/1", "a/2", "ab", "abc", "b", "b/1", "ä"]),
        "the empty prefix lists every key, sorted"
    );
    assert_eq!(
        store.list("a").await.expect("list"),
        s(&["a", "a/1", "a/2", "ab", "abc"])
    );
    assert_eq!(store.list("a/").await.expect("list"), s(&["a/1", "a/2"]));
    assert_eq!(
        store.list("abc").await.expect("list"),
        s(&["abc"]),
        "a prefix may be a whole key"
    );
    assert_eq!(store.list("abcd").await.expect("list"), s(&[]));
    assert_eq!(store.list("c").await.expect("list"), s(&[]));
    assert_eq!(store.list("ä").await.expect("list"), s(&["ä"]));
    store.del("a/1").await.expect("del");
    assert_eq!(
        store.list("a/").await.expect("list"),
        s(&["a/2"]),
        "deleted keys are not listed"
    );
}
