//! Conformance suites: plain async functions that check an implementation of a core trait
//! against its contract. Every implementation in this workspace runs them, directly and through
//! `Box<dyn _>` and `Arc<dyn _>`; run them against your own backends too.
//!
//! Each function panics with a message naming the broken rule, like an assertion in a test.

pub mod chain;
pub mod relayer;
pub mod runs;
pub mod secrets;

/// The [`KvStore`](crate::KvStore) suite (also at `defender_core::kv::conformance`).
pub use crate::kv::conformance as kv;
