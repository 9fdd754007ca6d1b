//! The lease part of the [`StateStore`] contract: one holder at a time, larger tokens for new
//! holders, fences that fail once a lease has passed on, expiry, renewal and release. Run by
//! [`state::run_suite`](super::state::run_suite).

use crate::state::{Lease, Space, StateError, StateOp, StateStore};
use std::sync::Arc;
use std::time::Duration;

/// Long enough never to expire during a check.
const LONG: Duration = Duration::from_secs(60);
/// Short enough to expire after [`EXPIRED`].
const SHORT: Duration = Duration::from_millis(150);
const EXPIRED: Duration = Duration::from_millis(400);

fn put(key: &str) -> StateOp {
    StateOp::put(Space::CHECKPOINTS, key, "progress")
}

/// A free lease is acquired; another holder is refused while it lasts; the holder acquiring
/// it again keeps its token; a fence holds while the lease is its holder's.
pub async fn one_holder_at_a_time(store: &dyn StateStore) {
    let a = store
        .acquire_lease("net/1", "a", LONG)
        .await
        .expect("acquire")
        .expect("a free lease is acquired");
    assert_eq!((a.name(), a.holder()), ("net/1", "a"));
    assert_eq!(
        store
            .acquire_lease("net/1", "b", LONG)
            .await
            .expect("acquire"),
        None,
        "a lease held by another is refused"
    );
    let again = store
        .acquire_lease("net/1", "a", LONG)
        .await
        .expect("acquire")
        .expect("the holder acquires its own lease again");
    assert_eq!(again.token(), a.token(), "and keeps its token");
    store
        .apply(vec![a.fence(), put("k")])
        .await
        .expect("a batch fenced by a held lease is written");
    let other = store
        .acquire_lease("net/2", "b", LONG)
        .await
        .expect("acquire");
    assert!(other.is_some(), "leases of other names are independent");
}

/// An expired lease passes to the next holder with a larger token, and the former holder's
/// fence and renewal then fail and change nothing.
pub async fn expiry_hands_over_and_fences_the_former_holder(store: &dyn StateStore) {
    let a = store
        .acquire_lease("sched", "a", SHORT)
        .await
        .expect("acquire")
        .expect("free");
    tokio::time::sleep(EXPIRED).await;
    let b = store
        .acquire_lease("sched", "b", LONG)
        .await
        .expect("acquire")
        .expect("an expired lease is acquired by another holder");
    assert!(b.token() > a.token(), "{} > {}", b.token(), a.token());
    match store.apply(vec![a.fence(), put("stale")]).await {
        Err(StateError::Conflict { space, .. }) => assert_eq!(space, Space::LEASES),
        other => panic!("the former holder's fence must fail, got {other:?}"),
    }
    assert_eq!(
        store.get(Space::CHECKPOINTS, "stale").await.expect("get"),
        None,
        "a failed fenced batch writes nothing"
    );
    assert!(
        !store.renew_lease(&a, LONG).await.expect("renew"),
        "the former holder cannot renew"
    );
    store
        .apply(vec![b.fence(), put("fresh")])
        .await
        .expect("the new holder's fence holds");
}

/// Renewal keeps a lease past its first time to live; release hands it on at once.
pub async fn renewal_and_release(store: &dyn StateStore) {
    let a = store
        .acquire_lease("relayer", "a", SHORT)
        .await
        .expect("acquire")
        .expect("free");
    assert!(store.renew_lease(&a, LONG).await.expect("renew"));
    tokio::time::sleep(EXPIRED).await;
    assert_eq!(
        store
            .acquire_lease("relayer", "b", LONG)
            .await
            .expect("acquire"),
        None,
        "a renewed lease is still held"
    );
    store.release_lease(&a).await.expect("release");
    let b = store
        .acquire_lease("relayer", "b", LONG)
        .await
        .expect("acquire")
        .expect("a released lease is acquired at once");
    assert!(b.token() > a.token());
    store
        .release_lease(&a)
        .await
        .expect("releasing a lease held by another is a no-op");
    assert_eq!(
        store
            .acquire_lease("relayer", "c", LONG)
            .await
            .expect("acquire"),
        None,
        "and does not end the other's lease"
    );
}

/// Of many tasks acquiring one free lease at once, exactly one gets it.
pub async fn acquisition_race(store: Arc<dyn StateStore>, tasks: usize) {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .acquire_lease("race", &format!("task-{t}"), LONG)
                .await
                .expect("acquire")
        }));
    }
    let mut winners: Vec<Lease> = Vec::new();
    for h in handles {
        if let Some(l) = h.await.expect("a racing task panicked") {
            winners.push(l);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one holder: {winners:?}");
}
