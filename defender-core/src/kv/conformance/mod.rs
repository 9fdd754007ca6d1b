//! The [`KvStore`] contract, as a suite that every backend runs (feature `conformance`).
//!
//! Most checks are plain async functions taking `&dyn KvStore` on an **empty** store; the ones
//! that need a particular configuration say which [`KvLimits`] and clock the store must have.
//! [`run_suite`] takes a factory that builds a fresh, empty store from limits and a
//! [`ManualClock`], and runs every check three times: on the store itself, through
//! `Box<dyn KvStore>` and through `Arc<dyn KvStore>` (see [`crate::conformance`]).
//!
//! Each function panics with a message naming the broken rule, like an assertion in a test.
//! Run it from a multi-threaded tokio runtime (`#[tokio::test(flavor = "multi_thread")]`) so
//! that the concurrency checks really run in parallel.
//!
//! ```
//! use defender_core::kv::conformance;
//! use defender_core::InMemoryKvStore;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! conformance::run_suite(|limits, clock| async move { InMemoryKvStore::new(limits, clock) })
//!     .await;
//! # });
//! ```

mod entries;
mod limits;
mod shared;

pub use entries::{
    empty_key, empty_values, get_put_del, list_by_prefix, missing_keys, overwrite, unicode,
};
pub use limits::{default_ttl_is_90_days, defender_limits_at_the_boundary, expiry, quota};
pub use shared::{concurrent_writers, namespacing, quota_under_contention};

use super::{KvError, KvLimit, KvLimits, KvStore};
use crate::clock::{Clock, ManualClock};
use crate::conformance::{reach, share, Via};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The time every [`run_suite`] clock starts at: a whole second, so that backends that keep
/// milliseconds lose nothing.
pub fn start_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

/// The limits [`run_suite`] uses for its quota checks: Defender's, capped at `max` entries.
pub fn quota_limits(max: usize) -> KvLimits {
    KvLimits {
        max_entries: Some(max),
        ..KvLimits::default()
    }
}

/// The limits [`run_suite`] uses for its expiry checks: Defender's, with this time to live.
pub fn ttl_limits(ttl: Duration) -> KvLimits {
    KvLimits {
        ttl,
        ..KvLimits::default()
    }
}

/// Runs every check, each on a fresh store built by `make` from limits and a clock stopped at
/// [`start_time`], once directly, once through `Box<dyn KvStore>`, once through
/// `Arc<dyn KvStore>`.
///
/// `make` must return an empty store that honours the limits and reads the time from the
/// clock. A backend that shares one database between calls gives each call its own key space.
/// Return the concrete store so that the direct run calls it without a forwarding layer (a
/// `Box<dyn KvStore>` is accepted too).
pub async fn run_suite<F, Fut, S>(make: F)
where
    F: Fn(KvLimits, Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = S>,
    S: KvStore,
{
    for via in Via::ALL {
        run_suite_via(&make, via).await;
    }
}

/// The same as [`run_suite`], under the name the first backends used.
pub async fn run_all<F, Fut, S>(make: F)
where
    F: Fn(KvLimits, Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = S>,
    S: KvStore,
{
    run_suite(make).await;
}

async fn run_suite_via<F, Fut, S>(make: &F, via: Via)
where
    F: Fn(KvLimits, Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = S>,
    S: KvStore,
{
    let fresh = |limits: KvLimits| async move {
        let clock = Arc::new(ManualClock::new(start_time()));
        let store = make(limits, clock.clone()).await;
        (store, clock)
    };

    macro_rules! check {
        ($limits:expr, |$s:ident, $c:ident| $body:expr) => {{
            let (store, clock) = fresh($limits).await;
            let $c: &ManualClock = &clock;
            let _ = $c;
            reach!(forwarding KvStore, via, store, |$s| $body);
        }};
    }

    check!(KvLimits::default(), |s, _c| get_put_del(s).await);
    check!(KvLimits::default(), |s, _c| missing_keys(s).await);
    check!(KvLimits::default(), |s, _c| overwrite(s).await);
    check!(KvLimits::default(), |s, _c| empty_values(s).await);
    check!(KvLimits::default(), |s, _c| unicode(s).await);
    check!(KvLimits::default(), |s, _c| empty_key(s).await);
    check!(KvLimits::default(), |s, _c| {
        defender_limits_at_the_boundary(s).await
    });
    check!(KvLimits::default(), |s, _c| list_by_prefix(s).await);
    check!(ttl_limits(Duration::from_secs(3600)), |s, c| {
        expiry(s, c, Duration::from_secs(3600)).await
    });
    check!(KvLimits::default(), |s, c| default_ttl_is_90_days(s, c)
        .await);
    check!(quota_limits(3), |s, c| quota(s, c, 3).await);

    // The checks that need an owned, shareable store; through `Box`, the `Arc` holds the
    // `Box`, so calls go through both forwarding impls.
    let (store, _clock) = fresh(KvLimits::default()).await;
    eprintln!("conformance: namespacing {via}");
    namespacing(share!(forwarding KvStore, via, store)).await;
    let (store, _clock) = fresh(KvLimits::default()).await;
    eprintln!("conformance: concurrent_writers {via}");
    concurrent_writers(share!(forwarding KvStore, via, store), 8, 16).await;
    let (store, _clock) = fresh(quota_limits(10)).await;
    eprintln!("conformance: quota_under_contention {via}");
    quota_under_contention(share!(forwarding KvStore, via, store), 10, 8).await;
}

fn assert_limit<T: std::fmt::Debug>(
    got: Result<T, KvError>,
    what: KvLimit,
    actual: usize,
    limit: usize,
    context: &str,
) {
    match got {
        Err(KvError::LimitExceeded {
            what: w,
            actual: a,
            limit: l,
        }) => {
            assert_eq!(w, what, "{context}: wrong limit named");
            assert_eq!(a, actual, "{context}: wrong actual size in the error");
            assert_eq!(l, limit, "{context}: wrong limit in the error");
        }
        other => panic!("{context}: expected LimitExceeded({what}), got {other:?}"),
    }
}
