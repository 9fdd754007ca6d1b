//! The [`StateStore`] contract: entries in spaces that never meet; sorted prefix scans with a
//! limit and a cursor; atomic batches with preconditions; compare-and-swap of which exactly
//! one racer wins; atomic counters; large, empty and binary values.
//!
//! ```
//! use defender_core::conformance::state;
//! use defender_core::state::MemoryStateStore;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! state::run_suite(|| async { MemoryStateStore::default() }).await;
//! # });
//! ```

mod atomic;
mod counters;
mod entries;
mod scan;

pub use atomic::{apply_is_all_or_nothing, cas_race, compare_and_swap_rules};
pub use counters::{concurrent_increments, increment_rules};
pub use entries::{
    get_put_delete, invalid_keys_change_nothing, large_empty_and_binary_values,
    spaces_are_isolated, typed_json_values,
};
pub use scan::scan_sorted_with_prefix_limit_and_cursor;

use super::{leases, Via};
use crate::state::{Space, StateStore};
use bytes::Bytes;
use std::future::Future;

/// A space of the suite's own, beside the engine's.
const OTHER: Space = Space::new("conformance-other");

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs every check, each on a fresh store built by `make`, directly, through
/// `Box<dyn StateStore>` and through `Arc<dyn StateStore>`.
///
/// `make` must return an empty store.
pub async fn run_suite<F, Fut, S>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: StateStore,
{
    for via in Via::ALL {
        reach!(forwarding StateStore, via, make().await, |s| get_put_delete(s).await);
        reach!(forwarding StateStore, via, make().await, |s| spaces_are_isolated(s).await);
        reach!(forwarding StateStore, via, make().await, |s| scan_sorted_with_prefix_limit_and_cursor(s).await);
        reach!(forwarding StateStore, via, make().await, |s| apply_is_all_or_nothing(s).await);
        reach!(forwarding StateStore, via, make().await, |s| compare_and_swap_rules(s).await);
        reach!(forwarding StateStore, via, make().await, |s| increment_rules(s).await);
        reach!(forwarding StateStore, via, make().await, |s| large_empty_and_binary_values(s).await);
        reach!(forwarding StateStore, via, make().await, |s| invalid_keys_change_nothing(s).await);
        reach!(forwarding StateStore, via, make().await, |s| typed_json_values(s).await);
        reach!(forwarding StateStore, via, make().await, |s| leases::one_holder_at_a_time(s).await);
        reach!(forwarding StateStore, via, make().await, |s| leases::renewal_and_release(s).await);
        reach!(forwarding StateStore, via, make().await, |s| {
            leases::expiry_hands_over_and_fences_the_former_holder(s).await
        });
        eprintln!("conformance: lease acquisition_race {via}");
        leases::acquisition_race(share!(forwarding StateStore, via, make().await), 8).await;
        eprintln!("conformance: cas_race {via}");
        cas_race(share!(forwarding StateStore, via, make().await), 8).await;
        eprintln!("conformance: concurrent_increments {via}");
        concurrent_increments(share!(forwarding StateStore, via, make().await), 16, 25).await;
    }
}
