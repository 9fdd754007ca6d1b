//! Leases: one holder at a time for a named piece of work shared by several processes (a
//! network's blocks, a schedule, a relayer's lifecycle), with a fencing token.
//!
//! A lease is held for a time to live and renewed by its holder; when the holder dies, it
//! expires and another process acquires it. Each acquisition by a new holder takes a new,
//! larger token, and the lease's *fence* ([`Lease::fence`], an [`StateOp::Expect`] on the
//! entry `fence/<name>` of [`Space::LEASES`]) holds the token and the holder. A holder puts
//! the fence into every batch that records its progress: once another process has acquired
//! the lease, the fence no longer holds and the batch fails with
//! [`StateError::Conflict`](super::StateError::Conflict), so a paused or partitioned former
//! holder can never overwrite its successor's progress.

use super::{Space, StateOp};
use bytes::Bytes;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The entry of [`Space::LEASES`] holding a lease's fence: `fence/<name>`.
pub fn fence_key(name: &str) -> String {
    format!("fence/{name}")
}

/// The entry of [`Space::LEASES`] holding when a lease ends, for stores without expiring
/// keys (the default methods of [`StateStore`](super::StateStore)): `until/<name>`.
pub fn until_key(name: &str) -> String {
    format!("until/{name}")
}

/// A lease held: its name, holder and fencing token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    name: String,
    holder: String,
    token: u64,
}

impl Lease {
    /// A lease of `name` held by `holder` with `token`.
    pub fn new(name: impl Into<String>, holder: impl Into<String>, token: u64) -> Self {
        Lease {
            name: name.into(),
            holder: holder.into(),
            token,
        }
    }

    /// Reads the stored fence of lease `name`; `None` when it is not one.
    pub fn from_fence(name: &str, value: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(value).ok()?;
        let (token, holder) = text.split_once('/')?;
        if token.len() != 20 || !token.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Lease::new(name, holder, token.parse().ok()?))
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who holds it.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Its fencing token: larger for every new holder.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The fence's stored value: the token in 20 digits, `/`, the holder.
    pub fn fence_value(&self) -> Bytes {
        Bytes::from(format!("{:020}/{}", self.token, self.holder))
    }

    /// The precondition that this lease is still held by its holder: put it into a batch
    /// ([`StateStore::apply`](super::StateStore::apply)) so that the batch fails once another
    /// process has acquired the lease.
    pub fn fence(&self) -> StateOp {
        StateOp::expect(
            Space::LEASES,
            fence_key(&self.name),
            Some(self.fence_value()),
        )
    }
}

/// Milliseconds since the Unix epoch by the system clock (lease times of stores without
/// expiring keys: every process sharing such a store must have a synchronised clock).
pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `ttl` in milliseconds, at least 1.
pub fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// What an acquisition finds: the pure decision of the default lease methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Acquire {
    /// Held by the caller already and not expired: keep its token (and renew).
    Keep(Lease),
    /// Free or expired: take it with this new token.
    Take(u64),
    /// Held by someone else until its end.
    Busy,
}

/// Decides an acquisition of a lease by `holder` at `now_ms` from its stored fence and end.
pub(crate) fn decide(current: Option<&Lease>, until_ms: i64, holder: &str, now_ms: i64) -> Acquire {
    match current {
        None => Acquire::Take(1),
        Some(l) if l.holder == holder && until_ms >= now_ms => Acquire::Keep(l.clone()),
        Some(_) if until_ms >= now_ms => Acquire::Busy,
        Some(l) => Acquire::Take(l.token.saturating_add(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_round_trip_and_refuse_other_values() {
        let l = Lease::new("net/1", "p-1/x", 42);
        assert_eq!(
            Lease::from_fence("net/1", &l.fence_value()),
            Some(l.clone())
        );
        for bad in [&b"42/p"[..], b"", b"000000000000000000x1/p", b"\xff"] {
            assert_eq!(Lease::from_fence("n", bad), None);
        }
    }

    #[test]
    fn decisions() {
        let mine = Lease::new("n", "me", 3);
        let theirs = Lease::new("n", "them", 3);
        let table = [
            (None, 0, Acquire::Take(1)),
            (Some(&mine), 100, Acquire::Keep(mine.clone())),
            (Some(&mine), 99, Acquire::Take(4)),
            (Some(&theirs), 100, Acquire::Busy),
            (Some(&theirs), 99, Acquire::Take(4)),
        ];
        for (current, until, want) in table {
            assert_eq!(
                decide(current, until, "me", 100),
                want,
                "{current:?} {until}"
            );
        }
    }
}
