//! Prefix scans: sorted by key bytes, after a cursor, at most a limit.

use super::{b, OTHER};
use crate::state::{Space, StateStore, StateStoreExt};
use bytes::Bytes;

/// `scan_prefix` returns one space's entries under a prefix, sorted by key bytes, after the
/// cursor, at most `limit`, fewer only at the end.
pub async fn scan_sorted_with_prefix_limit_and_cursor(store: &dyn StateStore) {
    let s = Space::TRANSACTIONS;
    let keys = [
        "relayer-b/0002",
        "relayer-a/0010",
        "relayer-a/0002",
        "relayer-a",
        "relayer-a/é",
        "relayer-a/z",
        "relayer-a0",
        "relayer-a/0001",
        "relayer-",
        "zzz",
        "Relayer-a/0003",
    ];
    for (i, k) in keys.iter().enumerate() {
        store
            .put(s, k, Bytes::from(format!("v{i}")))
            .await
            .expect("put");
    }
    store
        .put(OTHER, "relayer-a/0000", b("other"))
        .await
        .expect("put");
    let all: Vec<String> = store
        .scan_prefix(s, "", None, 100)
        .await
        .expect("scan all")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(all, sorted, "a scan is sorted by key bytes");

    let under: Vec<(String, Bytes)> = store
        .scan_prefix(s, "relayer-a/", None, 100)
        .await
        .expect("scan prefix");
    let under_keys: Vec<&str> = under.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        under_keys,
        [
            "relayer-a/0001",
            "relayer-a/0002",
            "relayer-a/0010",
            "relayer-a/z",
            "relayer-a/é"
        ],
        "only keys under the prefix, sorted, of this space"
    );
    assert_eq!(under[0].1, b("v7"), "a scan returns values");

    let first_two = store
        .scan_prefix(s, "relayer-a/", None, 2)
        .await
        .expect("scan limit");
    assert_eq!(first_two.len(), 2, "limit honoured");
    assert_eq!(first_two[1].0, "relayer-a/0002");
    let next = store
        .scan_prefix(s, "relayer-a/", Some("relayer-a/0002"), 2)
        .await
        .expect("scan after");
    let next_keys: Vec<&str> = next.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        next_keys,
        ["relayer-a/0010", "relayer-a/z"],
        "strictly after the cursor"
    );
    assert!(store
        .scan_prefix(s, "relayer-a/", None, 0)
        .await
        .expect("scan 0")
        .is_empty());
    assert!(store
        .scan_prefix(s, "relayer-a/", Some("relayer-a/é"), 10)
        .await
        .expect("scan past the end")
        .is_empty());
    assert_eq!(
        store
            .scan_prefix(s, "relayer-a/", Some("a"), 1)
            .await
            .expect("cursor before the prefix")[0]
            .0,
        "relayer-a/0001",
        "a cursor before the prefix starts at the prefix"
    );
    assert!(store
        .scan_prefix(s, "nothing", None, 10)
        .await
        .expect("scan")
        .is_empty());

    // Paging with the last key as the cursor visits every entry once.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .scan_prefix(s, "", after.as_deref(), 3)
            .await
            .expect("page");
        let short = page.len() < 3;
        after = page.last().map(|(k, _)| k.clone()).or(after);
        paged.extend(page.into_iter().map(|(k, _)| k));
        if short {
            break;
        }
    }
    assert_eq!(paged, sorted, "paging visits every entry once, in order");
    assert_eq!(
        store
            .scan_all(s, "relayer-a/")
            .await
            .expect("scan_all")
            .len(),
        5
    );
}
