//! Holding leases: which engine process works on what when several share one engine state.
//!
//! Work that must happen once across the processes sharing a [`StateStore`] (a network's
//! blocks at one confirmation level, one schedule, one relayer's lifecycle) is done by the
//! holder of its lease ([`StateStore::acquire_lease`]). [`hold`] starts a task that keeps
//! trying to acquire a lease and, once it has it, renews it every third of its time to live;
//! the work's loop reads a [`Held`] to know whether it may go on, and puts the lease's fence
//! into the batches that record its progress, so that a former holder's late write fails.
//!
//! When the holder dies, its lease expires after its time to live and another process's
//! task acquires it within a third of that: the takeover takes at most 4/3 of the time to
//! live ([`Cluster::lease_ttl`]). A holder that cannot renew (the store is unreachable) stops
//! working once its time to live has passed since its last renewal, as the others may then
//! take over.

use defender_core::state::{Lease, StateStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How this engine shares work with other engine processes on the same state.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// This engine's name among the processes sharing the state: the holder of its leases
    /// and claims. Must be unique among the live processes; a process restarted under the
    /// name it had takes its leases back at once instead of waiting for them to expire.
    pub instance: String,
    /// How long a lease lasts without renewal: a dead holder's work is taken over within
    /// 4/3 of it.
    pub lease_ttl: Duration,
}

impl Default for Cluster {
    /// A random instance name and a 10-second lease.
    fn default() -> Self {
        Cluster {
            instance: uuid::Uuid::new_v4().to_string(),
            lease_ttl: Duration::from_secs(10),
        }
    }
}

/// The lease a [`hold`] task holds now: `None` while another process has it.
pub(crate) type Held = watch::Receiver<Option<Lease>>;

/// Starts a task that acquires lease `name` whenever it is free and renews it while held,
/// until `stop` turns true (or its sender is dropped) or the returned [`Held`] is dropped;
/// then it releases the lease and ends (await the handle to know the store is let go).
pub(crate) fn hold(
    state: Arc<dyn StateStore>,
    name: String,
    cluster: &Cluster,
    mut stop: watch::Receiver<bool>,
) -> (Held, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    let holder = cluster.instance.clone();
    let ttl = cluster.lease_ttl;
    let every = (ttl / 3).max(Duration::from_millis(10));
    let task = tokio::spawn(async move {
        let mut held: Option<(Lease, Instant)> = None;
        loop {
            let next = match held.take() {
                None => match state.acquire_lease(&name, &holder, ttl).await {
                    Ok(Some(lease)) => {
                        tracing::info!(lease = %name, token = lease.token(), "lease acquired");
                        let _ = tx.send(Some(lease.clone()));
                        Some((lease, Instant::now()))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(lease = %name, error = %e, "lease not acquired");
                        None
                    }
                },
                Some((lease, renewed)) => match state.renew_lease(&lease, ttl).await {
                    Ok(true) => Some((lease, Instant::now())),
                    Ok(false) => {
                        tracing::warn!(lease = %name, "lease lost to another process");
                        let _ = tx.send(None);
                        None
                    }
                    Err(e) if renewed.elapsed() < ttl => {
                        tracing::warn!(lease = %name, error = %e, "lease not renewed; retrying");
                        Some((lease, renewed))
                    }
                    Err(e) => {
                        tracing::warn!(lease = %name, error = %e, "lease expired unrenewed");
                        let _ = tx.send(None);
                        None
                    }
                },
            };
            held = next;
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tx.closed() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
        if let Some((lease, _)) = held {
            let _ = tx.send(None);
            if let Err(e) = state.release_lease(&lease).await {
                tracing::warn!(lease = %name, error = %e, "lease not released");
            }
        }
    });
    (rx, task)
}

/// Waits until `held` holds a lease; `None` once the [`hold`] task has ended.
pub(crate) async fn acquired(held: &mut Held) -> Option<Lease> {
    held.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|l| l.clone())
}

/// The lease held now, if any.
pub(crate) fn current(held: &Held) -> Option<Lease> {
    held.borrow().clone()
}

/// Ends a loop that held a lease: drops `owner` (the loop, whose [`Held`] receiver going
/// ends the [`hold`] task, which releases the lease), then waits for that task.
pub(crate) async fn let_go<T>(owner: T, holding: Option<tokio::task::JoinHandle<()>>) {
    drop(owner);
    if let Some(h) = holding {
        let _ = h.await;
    }
}
