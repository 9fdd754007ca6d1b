//! Conformance suites: async functions that check an implementation of a core trait against
//! its contract. Every implementation in this workspace runs them; run them against your own
//! backends too.
//!
//! # One shape
//! Every trait's suite has the same entry point, `run_suite`, which takes a **factory**: a
//! closure that builds a fresh implementation (returned by value: the concrete type, or a
//! `Box`/`Arc` of it). `run_suite` runs every check of the suite three times, each time on
//! implementations built for it ([`Via`]):
//!
//! 1. **directly**, on the value the factory built;
//! 2. through **`Box<dyn Trait>`**;
//! 3. through **`Arc<dyn Trait>`** (the forwarding `impl Trait for Arc<T>`, as the engine holds
//!    implementations).
//!
//! The suites, and the factory each takes (every factory returns a future of what it builds):
//! - [`kv::run_suite`] for [`KvStore`](crate::KvStore): `Fn(KvLimits, Arc<dyn Clock>)`, an
//!   empty store with those limits, on that clock;
//! - [`secrets::run_suite`] for [`SecretStore`](crate::SecretStore): `Fn()`, an empty store;
//! - [`runs::run_suite`] for [`RunStore`](crate::RunStore): `Fn()`, an empty store;
//! - [`state::run_suite`] for [`StateStore`](crate::StateStore): `Fn()`, an empty store;
//! - [`chain::run_suite`] for [`BlockSource`](crate::BlockSource): `Fn()`, a source of a chain
//!   of at least two blocks;
//! - [`relayer::run_suite`] for [`Relayer`](crate::Relayer): `Fn()`, a relayer;
//! - [`notify::run_suite`] for [`Notifier`](crate::Notifier): `Fn(FarEnd)`, a channel and the
//!   [`Inbox`](notify::Inbox) of its far end, which accepts or refuses deliveries;
//! - [`runtime::run_suite`] for [`ActionRuntime`](crate::ActionRuntime): `Fn()`, a runtime.
//!
//! Each check is also a public function taking `&dyn Trait` (or `Arc<dyn Trait>` when it
//! needs to share the implementation between tasks), for a test that wants one rule only. The
//! chain, relayer, run-store and secret-store suites also keep `run_all(&dyn Trait)`, which runs
//! every check once on one instance (for an implementation that cannot build fresh ones), and
//! `kv::run_all` is `kv::run_suite` under its first name.
//!
//! `KvStore`, `Relayer` and `StateStore` implement their trait for `Box<T>`: through
//! `Box<dyn Trait>` the calls go through that forwarding impl. The other traits have no such impl, so there the
//! `Box<dyn Trait>` run calls through the box's `Deref`, as code holding a `Box<dyn Trait>`
//! does.
//!
//! Each function panics with a message naming the broken rule, like an assertion in a test,
//! and prints (to the test's captured stderr) which check it is running and how, so that a
//! failure says which of the three runs broke. Run the suites from a multi-threaded tokio
//! runtime (`#[tokio::test(flavor = "multi_thread")]`): some checks run tasks in parallel.

/// How a suite reaches the implementation it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The value the factory built, as `&dyn Trait` pointing at it.
    Direct,
    /// Moved into a `Box<dyn Trait>`.
    Box,
    /// Moved into an `Arc<dyn Trait>`, called through `impl Trait for Arc<T>`.
    Arc,
}

impl Via {
    /// The three ways, in the order every `run_suite` uses them.
    pub const ALL: [Via; 3] = [Via::Direct, Via::Box, Via::Arc];
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Via::Direct => "directly",
            Via::Box => "through Box<dyn _>",
            Via::Arc => "through Arc<dyn _>",
        })
    }
}

/// Runs `$body` with `$s: &dyn $Trait` reaching `$value` as `$via` says.
///
/// `forwarding`: `Box<dyn $Trait>` implements `$Trait`, and the `Box` run calls through that
/// impl. `deref`: it does not, and the `Box` run calls through the box's `Deref`.
macro_rules! reach {
    (forwarding $Trait:ident, $via:expr, $value:expr, |$s:ident| $body:expr) => {{
        let via: $crate::conformance::Via = $via;
        let value = $value;
        eprintln!("conformance: {} {}", stringify!($body), via);
        match via {
            $crate::conformance::Via::Direct => {
                let $s: &dyn $Trait = &value;
                $body
            }
            $crate::conformance::Via::Box => {
                let boxed: ::std::boxed::Box<dyn $Trait> = ::std::boxed::Box::new(value);
                let $s: &dyn $Trait = &boxed;
                $body
            }
            $crate::conformance::Via::Arc => {
                let shared: ::std::sync::Arc<dyn $Trait> = ::std::sync::Arc::new(value);
                let $s: &dyn $Trait = &shared;
                $body
            }
        }
    }};
    (deref $Trait:ident, $via:expr, $value:expr, |$s:ident| $body:expr) => {{
        let via: $crate::conformance::Via = $via;
        let value = $value;
        eprintln!("conformance: {} {}", stringify!($body), via);
        match via {
            $crate::conformance::Via::Direct => {
                let $s: &dyn $Trait = &value;
                $body
            }
            $crate::conformance::Via::Box => {
                let boxed: ::std::boxed::Box<dyn $Trait> = ::std::boxed::Box::new(value);
                let $s: &dyn $Trait = &*boxed;
                $body
            }
            $crate::conformance::Via::Arc => {
                let shared: ::std::sync::Arc<dyn $Trait> = ::std::sync::Arc::new(value);
                let $s: &dyn $Trait = &shared;
                $body
            }
        }
    }};
}

/// `$value` as an `Arc<dyn $Trait>`, for the checks that share it between tasks; for
/// [`Via::Box`] the `Arc` holds the `Box` (`forwarding`) or the boxed value (`deref`).
macro_rules! share {
    (forwarding $Trait:ident, $via:expr, $value:expr) => {
        $crate::conformance::share!(@ ::std::sync::Arc::new, $Trait, $via, $value)
    };
    (deref $Trait:ident, $via:expr, $value:expr) => {
        $crate::conformance::share!(@ ::std::sync::Arc::from, $Trait, $via, $value)
    };
    // `$boxed` turns the `Box<dyn $Trait>` into the `Arc`: `Arc::new` keeps the box (which
    // forwards the trait), `Arc::from` moves the boxed value.
    (@ $boxed:path, $Trait:ident, $via:expr, $value:expr) => {{
        let value = $value;
        let shared: ::std::sync::Arc<dyn $Trait> = match $via {
            $crate::conformance::Via::Direct | $crate::conformance::Via::Arc => {
                ::std::sync::Arc::new(value)
            }
            $crate::conformance::Via::Box => {
                let boxed: ::std::boxed::Box<dyn $Trait> = ::std::boxed::Box::new(value);
                $boxed(boxed)
            }
        };
        shared
    }};
}

pub(crate) use {reach, share};

// After the macros, which the suites use.
pub mod chain;
pub mod leases;
pub mod notify;
pub mod relayer;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod state;

/// The [`KvStore`](crate::KvStore) suite (also at `defender_core::kv::conformance`).
pub use crate::kv::conformance as kv;
