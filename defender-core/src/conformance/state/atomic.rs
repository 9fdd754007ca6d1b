//! Atomic writes: batches with preconditions, compare-and-swap, and racers of which exactly
//! one wins.

use super::b;
use crate::state::{Space, StateError, StateOp, StateStore};
use bytes::Bytes;
use std::sync::Arc;

/// A batch writes all or nothing: a failed precondition or an invalid key anywhere in it
/// leaves every entry as it was; preconditions see the state before the batch; later writes
/// of an entry win.
pub async fn apply_is_all_or_nothing(store: &dyn StateStore) {
    store
        .put(Space::CHECKPOINTS, "m", b("1"))
        .await
        .expect("put");
    store.put(Space::OUTBOX, "old", b("o")).await.expect("put");
    store.apply(Vec::new()).await.expect("an empty batch");

    let moved = vec![
        StateOp::expect(Space::CHECKPOINTS, "m", Some(b("1"))),
        StateOp::expect(Space::OUTBOX, "new", None),
        StateOp::put(Space::OUTBOX, "new", b("owed")),
        StateOp::delete(Space::OUTBOX, "old"),
        StateOp::put(Space::CHECKPOINTS, "m", b("2")),
    ];
    store
        .apply(moved.clone())
        .await
        .expect("a batch whose preconditions hold");
    assert_eq!(
        store.get(Space::CHECKPOINTS, "m").await.expect("get"),
        Some(b("2"))
    );
    assert_eq!(
        store.get(Space::OUTBOX, "new").await.expect("get"),
        Some(b("owed"))
    );
    assert_eq!(store.get(Space::OUTBOX, "old").await.expect("get"), None);

    // A precondition that fails after writes in the batch: nothing is written.
    let stale = vec![
        StateOp::put(Space::OUTBOX, "stale", b("x")),
        StateOp::delete(Space::OUTBOX, "new"),
        StateOp::put(Space::CHECKPOINTS, "m", b("3")),
        StateOp::expect(Space::CHECKPOINTS, "m", Some(b("1"))),
    ];
    match store.apply(stale).await {
        Err(StateError::Conflict { space, key }) => {
            assert_eq!((space, key.as_str()), (Space::CHECKPOINTS, "m"));
        }
        other => panic!("a failed precondition gives Conflict, got {other:?}"),
    }
    assert_eq!(store.get(Space::OUTBOX, "stale").await.expect("get"), None);
    assert_eq!(
        store.get(Space::OUTBOX, "new").await.expect("get"),
        Some(b("owed"))
    );
    assert_eq!(
        store.get(Space::CHECKPOINTS, "m").await.expect("get"),
        Some(b("2"))
    );

    // Expecting absence of a present entry fails too.
    let present = vec![
        StateOp::put(Space::OUTBOX, "x", b("x")),
        StateOp::expect(Space::OUTBOX, "new", None),
    ];
    assert!(matches!(
        store.apply(present).await,
        Err(StateError::Conflict { .. })
    ));
    assert_eq!(store.get(Space::OUTBOX, "x").await.expect("get"), None);

    // An invalid key anywhere: nothing is written.
    let invalid = vec![
        StateOp::put(Space::OUTBOX, "a", b("a")),
        StateOp::delete(Space::OUTBOX, "new"),
        StateOp::put(Space::OUTBOX, "", b("empty key")),
    ];
    assert!(matches!(
        store.apply(invalid).await,
        Err(StateError::InvalidKey { .. })
    ));
    assert_eq!(store.get(Space::OUTBOX, "a").await.expect("get"), None);
    assert_eq!(
        store.get(Space::OUTBOX, "new").await.expect("get"),
        Some(b("owed"))
    );

    // Preconditions see the state before the batch; the last write of an entry wins.
    let ordered = vec![
        StateOp::put(Space::OUTBOX, "seq", b("first")),
        StateOp::expect(Space::OUTBOX, "seq", None),
        StateOp::delete(Space::OUTBOX, "seq"),
        StateOp::put(Space::OUTBOX, "seq", b("last")),
    ];
    store.apply(ordered).await.expect("ordered batch");
    assert_eq!(
        store.get(Space::OUTBOX, "seq").await.expect("get"),
        Some(b("last"))
    );
    let deleted_last = vec![
        StateOp::put(Space::OUTBOX, "seq", b("again")),
        StateOp::delete(Space::OUTBOX, "seq"),
    ];
    store.apply(deleted_last).await.expect("batch");
    assert_eq!(store.get(Space::OUTBOX, "seq").await.expect("get"), None);
}

/// `compare_and_swap` writes only over the expected value (or absence), deletes with `None`,
/// and changes nothing when it returns `false`.
pub async fn compare_and_swap_rules(store: &dyn StateStore) {
    let s = Space::LEASES;
    assert!(store
        .compare_and_swap(s, "l", None, Some(b("a")))
        .await
        .expect("cas"));
    assert!(
        !store
            .compare_and_swap(s, "l", None, Some(b("b")))
            .await
            .expect("cas"),
        "absence was expected but there is an entry"
    );
    assert!(
        !store
            .compare_and_swap(s, "l", Some(b("x")), Some(b("b")))
            .await
            .expect("cas"),
        "another value was expected"
    );
    assert_eq!(store.get(s, "l").await.expect("get"), Some(b("a")));
    assert!(store
        .compare_and_swap(s, "l", Some(b("a")), Some(b("b")))
        .await
        .expect("cas"));
    assert_eq!(store.get(s, "l").await.expect("get"), Some(b("b")));
    assert!(
        !store
            .compare_and_swap(s, "l", Some(Bytes::new()), None)
            .await
            .expect("cas"),
        "an empty expected value is not a wildcard"
    );
    assert!(store
        .compare_and_swap(s, "l", Some(b("b")), None)
        .await
        .expect("cas delete"));
    assert_eq!(store.get(s, "l").await.expect("get"), None);
    assert!(
        !store
            .compare_and_swap(s, "l", Some(b("b")), None)
            .await
            .expect("cas"),
        "nothing to delete"
    );
    store.put(s, "e", Bytes::new()).await.expect("put");
    assert!(
        !store
            .compare_and_swap(s, "e", None, Some(b("x")))
            .await
            .expect("cas"),
        "an empty value is not absence"
    );
    assert!(store
        .compare_and_swap(s, "e", Some(Bytes::new()), Some(b("x")))
        .await
        .expect("cas"));
}

/// Tasks racing to swap the same entry from the same value: exactly one wins each round.
pub async fn cas_race(store: Arc<dyn StateStore>, tasks: usize) {
    let s = Space::LEASES;
    let mut current: Option<Bytes> = None;
    for round in 0..5 {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let store = store.clone();
            let expected = current.clone();
            handles.push(tokio::spawn(async move {
                let mine = Bytes::from(format!("round {round} task {t}"));
                let won = store
                    .compare_and_swap(s, "race", expected, Some(mine.clone()))
                    .await
                    .expect("cas");
                won.then_some(mine)
            }));
        }
        let mut winners = Vec::new();
        for h in handles {
            if let Some(mine) = h.await.expect("a racing task panicked") {
                winners.push(mine);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of {tasks} swaps wins, not {}",
            winners.len()
        );
        let stored = store.get(s, "race").await.expect("get");
        assert_eq!(
            stored.as_ref(),
            winners.first(),
            "the winner's value is stored"
        );
        current = stored;
    }
}
