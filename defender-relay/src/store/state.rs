//! [`StateRelayerStore`]: a relayer's state in the engine state, shared by the relayer
//! instances of every process on it.

use super::*;

/// Most attempts of one nonce allocation against other relayers sharing the store.
const MAX_ALLOCATION_ATTEMPTS: usize = 1000;

/// Relayers whose legacy key-value state was read (key: the relayer id): from then on it
/// never is again, whatever an action writes there.
const LEGACY_READ: Space = Space::new("relayer-legacy-read");

/// State in the engine state ([`StateStore`]), where no action reaches it:
/// - [`Space::NONCES`], key `<relayer id>`: the next nonce, a counter (its decimal digits);
/// - [`Space::TRANSACTIONS`], key `<length of the relayer id>:<relayer id>/<transaction
///   id>`: each transaction as JSON, so that one relayer's transactions are one prefix and
///   no relayer's prefix is another's.
///
/// Nonces are allocated with a compare-and-swap in the store, so relayers sharing a store
/// (two processes, or two instances of one relayer) never hand out the same nonce.
///
/// With [`with_legacy_kv`](Self::with_legacy_kv), the state an earlier version kept in the
/// actions' key-value store ([`KvRelayerStore`]'s layout) is read when the engine state has
/// none: its nonce until one is stored, and its transactions, copied to the engine state the
/// first time they are listed (entries that do not decode are skipped with a warning). From
/// then on it is never read again, and the key-value store is never written.
///
/// ```
/// use defender_relay::{RelayerStore, StateRelayerStore};
/// use defender_core::state::MemoryStateStore;
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let state = Arc::new(MemoryStateStore::default());
/// let one = StateRelayerStore::new(state.clone(), "main");
/// let two = StateRelayerStore::new(state, "main");
/// assert_eq!(one.allocate_nonce(5).await.unwrap(), 5);
/// assert_eq!(two.allocate_nonce(0).await.unwrap(), 6);
/// assert!(!one.release_nonce(5).await.unwrap(), "6 was allocated after it");
/// assert!(two.release_nonce(6).await.unwrap());
/// assert_eq!(one.next_nonce().await.unwrap(), Some(6));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct StateRelayerStore {
    state: Arc<dyn StateStore>,
    relayer_id: String,
    tx_prefix: String,
    legacy: Option<KvRelayerStore>,
    /// This instance's name in the lifecycle lease.
    instance: String,
    /// The next nonce as this instance last stored or read it ([`NO_HINT`]: unknown), so that
    /// [`RelayerStore::reserve_nonce`] need not read it again: a stale hint only fails the
    /// commit's check (another instance moved it), and the next reservation reads.
    next_hint: Arc<AtomicU64>,
}

/// [`StateRelayerStore`]'s `next_hint` when the stored next nonce is not known.
const NO_HINT: u64 = u64::MAX;

impl StateRelayerStore {
    /// State of relayer `relayer_id` in `state`.
    pub fn new(state: Arc<dyn StateStore>, relayer_id: &str) -> Self {
        StateRelayerStore {
            state,
            relayer_id: relayer_id.to_owned(),
            tx_prefix: format!("{}:{relayer_id}/", relayer_id.len()),
            legacy: None,
            instance: uuid::Uuid::new_v4().to_string(),
            next_hint: Arc::new(AtomicU64::new(NO_HINT)),
        }
    }

    /// Names this instance among the processes sharing the store (default: random), in the
    /// lease of the relayer's lifecycle (`relayer/<relayer id>` in
    /// [`Space::LEASES`]): a process restarted under its former name takes the lifecycle
    /// back at once instead of waiting for its lease to expire. Must be unique among live
    /// processes.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// Stores `next` as the next nonce, and `tx` if given, in one batch of the engine state,
    /// if the stored next nonce is still `stored` (`None`: none stored); `Ok(false)`, nothing
    /// written, when it is not.
    async fn write_if_unchanged(
        &self,
        stored: Option<Bytes>,
        next: u64,
        tx: Option<&StoredTransaction>,
    ) -> Result<bool, StoreError> {
        let mut batch = vec![
            StateOp::expect(Space::NONCES, self.relayer_id.clone(), stored),
            StateOp::put(Space::NONCES, self.relayer_id.clone(), encode_nonce(next)?),
        ];
        if let Some(tx) = tx {
            batch.push(StateOp::put_json(
                Space::TRANSACTIONS,
                self.tx_key(&tx.tx.transaction_id),
                tx,
            )?);
        }
        self.hint(None);
        match self.state.apply(batch).await {
            Ok(()) => {
                self.hint(Some(next));
                Ok(true)
            }
            Err(StateError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Remembers the stored next nonce (`None`: unknown).
    fn hint(&self, next: Option<u64>) {
        self.next_hint
            .store(next.unwrap_or(NO_HINT), Ordering::Release);
    }

    fn tx_key(&self, id: &str) -> String {
        format!("{}{id}", self.tx_prefix)
    }

    /// State in memory, lost with the store: for tests and short-lived programs.
    pub fn in_memory(relayer_id: &str) -> Self {
        Self::new(Arc::new(MemoryStateStore::default()), relayer_id)
    }

    /// Reads what an earlier version kept for this relayer in `kv` (under
    /// `relayer/<relayer id>/`) when the engine state has none.
    pub fn with_legacy_kv(mut self, kv: Arc<dyn KvStore>) -> Self {
        self.legacy = Some(KvRelayerStore::new(kv, &self.relayer_id));
        self
    }

    /// The stored next nonce as stored (for a compare-and-swap) and as a number.
    async fn stored_nonce(&self) -> Result<(Option<Bytes>, Option<u64>), StoreError> {
        match self.state.get(Space::NONCES, &self.relayer_id).await? {
            Some(bytes) => {
                let n = decode_counter(&bytes).ok_or_else(|| {
                    StoreError::Corrupt(format!("nonce of relayer `{}`", self.relayer_id))
                })?;
                Ok((Some(bytes), Some(n)))
            }
            None => match self.unread_legacy().await? {
                Some(legacy) => Ok((None, legacy.next_nonce().await.ok().flatten())),
                None => Ok((None, None)),
            },
        }
    }

    /// The legacy store, unless there is none or it was read already.
    async fn unread_legacy(&self) -> Result<Option<&KvRelayerStore>, StoreError> {
        match &self.legacy {
            Some(legacy)
                if self
                    .state
                    .get(LEGACY_READ, &self.relayer_id)
                    .await?
                    .is_none() =>
            {
                Ok(Some(legacy))
            }
            _ => Ok(None),
        }
    }

    /// Copies the legacy transactions the engine state does not have, once.
    async fn migrate(
        &self,
        legacy: &KvRelayerStore,
        known: &mut std::collections::HashSet<String>,
        out: &mut Vec<StoredTransaction>,
    ) -> Result<(), StoreError> {
        let prefix = format!("{}tx/", legacy.prefix);
        for key in legacy.kv.list(&prefix).await? {
            let Some(text) = legacy.kv.get(&key).await? else {
                continue;
            };
            match serde_json::from_str::<StoredTransaction>(&text) {
                Ok(tx) if known.insert(tx.tx.transaction_id.clone()) => {
                    self.put_transaction(&tx).await?;
                    out.push(tx);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(key, error = %e, "legacy relayer transaction skipped"),
            }
        }
        if let Ok(Some(nonce)) = legacy.next_nonce().await {
            self.state
                .compare_and_swap(
                    Space::NONCES,
                    &self.relayer_id,
                    None,
                    Some(encode_nonce(nonce)?),
                )
                .await?;
        }
        self.state
            .put(LEGACY_READ, &self.relayer_id, Bytes::from_static(b"1"))
            .await?;
        Ok(())
    }
}

/// A nonce's stored form, refusing what a counter cannot hold.
fn encode_nonce(n: u64) -> Result<Bytes, StoreError> {
    if n > MAX_COUNTER {
        return Err(StoreError::Corrupt(format!("nonce {n} is out of range")));
    }
    Ok(encode_counter(n))
}

#[async_trait]
impl RelayerStore for StateRelayerStore {
    async fn next_nonce(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.stored_nonce().await?.1)
    }

    async fn set_next_nonce(&self, nonce: u64) -> Result<(), StoreError> {
        self.hint(None);
        self.state
            .put(Space::NONCES, &self.relayer_id, encode_nonce(nonce)?)
            .await?;
        self.hint(Some(nonce));
        Ok(())
    }

    async fn allocate_nonce(&self, floor: u64) -> Result<u64, StoreError> {
        for _ in 0..MAX_ALLOCATION_ATTEMPTS {
            let (stored, current) = self.stored_nonce().await?;
            let nonce = current.unwrap_or(0).max(floor);
            let after = encode_nonce(nonce.saturating_add(1))?;
            if self
                .state
                .compare_and_swap(Space::NONCES, &self.relayer_id, stored, Some(after))
                .await?
            {
                self.hint(nonce.checked_add(1));
                return Ok(nonce);
            }
        }
        Err(StoreError::Contended)
    }

    async fn release_nonce(&self, nonce: u64) -> Result<bool, StoreError> {
        let Some(after) = nonce.checked_add(1) else {
            return Ok(false);
        };
        self.hint(None);
        let released = self
            .state
            .compare_and_swap(
                Space::NONCES,
                &self.relayer_id,
                Some(encode_nonce(after)?),
                Some(encode_nonce(nonce)?),
            )
            .await?;
        if released {
            self.hint(Some(nonce));
        }
        Ok(released)
    }

    async fn put_transaction(&self, tx: &StoredTransaction) -> Result<(), StoreError> {
        let key = self.tx_key(&tx.tx.transaction_id);
        Ok(self.state.put_json(Space::TRANSACTIONS, &key, tx).await?)
    }

    async fn transaction(&self, id: &str) -> Result<Option<StoredTransaction>, StoreError> {
        if self.unread_legacy().await?.is_some() {
            return Ok(self
                .transactions()
                .await?
                .into_iter()
                .find(|t| t.tx.transaction_id == id));
        }
        let key = self.tx_key(id);
        match self.state.get(Space::TRANSACTIONS, &key).await? {
            None => Ok(None),
            Some(value) => serde_json::from_slice(&value)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{key}: {e}"))),
        }
    }

    async fn reserve_nonce(&self, floor: u64) -> Result<NonceReservation, StoreError> {
        let hint = self.next_hint.load(Ordering::Acquire);
        if hint != NO_HINT {
            // No read: if another instance moved the nonce, `commit_new` says so.
            return Ok(NonceReservation::IfUnchanged {
                nonce: hint.max(floor),
                stored: Some(encode_nonce(hint)?),
            });
        }
        let (stored, current) = self.stored_nonce().await?;
        Ok(NonceReservation::IfUnchanged {
            nonce: current.unwrap_or(0).max(floor),
            stored,
        })
    }

    /// The nonce and the transaction in one batch of the engine state.
    async fn commit_new(
        &self,
        reservation: &NonceReservation,
        tx: &StoredTransaction,
    ) -> Result<bool, StoreError> {
        let NonceReservation::IfUnchanged { nonce, stored } = reservation else {
            self.put_transaction(tx).await?;
            return Ok(true);
        };
        self.write_if_unchanged(stored.clone(), nonce.saturating_add(1), Some(tx))
            .await
    }

    async fn read_nonce(&self) -> Result<NonceReservation, StoreError> {
        let (stored, current) = self.stored_nonce().await?;
        Ok(NonceReservation::IfUnchanged {
            nonce: current.unwrap_or(0),
            stored,
        })
    }

    /// The next nonce and the transaction in one batch, checked against the nonce read.
    async fn commit_resynced(
        &self,
        read: &NonceReservation,
        next: u64,
        tx: Option<&StoredTransaction>,
    ) -> Result<bool, StoreError> {
        let stored = match read {
            NonceReservation::IfUnchanged { stored, .. } => stored.clone(),
            NonceReservation::Taken(n) => Some(encode_nonce(n.saturating_add(1))?),
        };
        self.write_if_unchanged(stored, next, tx).await
    }

    /// The lease `relayer/<relayer id>` of the engine state, acquired or renewed.
    async fn lifecycle_turn(&self, ttl: Duration) -> Result<bool, StoreError> {
        let name = format!("relayer/{}", self.relayer_id);
        Ok(self
            .state
            .acquire_lease(&name, &self.instance, ttl)
            .await?
            .is_some())
    }

    async fn transactions(&self) -> Result<Vec<StoredTransaction>, StoreError> {
        self.transactions_unknown(&|_| false).await
    }

    /// The key names the transaction: the others are not decoded.
    async fn transactions_unknown(
        &self,
        known: &(dyn for<'k> Fn(&'k str) -> bool + Send + Sync),
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let mut out = Vec::new();
        let legacy = self.unread_legacy().await?;
        // With legacy state to move over: the ids the engine state has, which it keeps.
        let mut seen = std::collections::HashSet::new();
        for (key, value) in self
            .state
            .scan_all(Space::TRANSACTIONS, &self.tx_prefix)
            .await?
        {
            if let Some(id) = key.strip_prefix(&self.tx_prefix) {
                if legacy.is_some() {
                    seen.insert(id.to_owned());
                }
                if known(id) {
                    continue;
                }
            }
            let tx: StoredTransaction = serde_json::from_slice(&value)
                .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
            seen.insert(tx.tx.transaction_id.clone());
            out.push(tx);
        }
        if let Some(legacy) = legacy {
            let mut migrated = Vec::new();
            self.migrate(legacy, &mut seen, &mut migrated).await?;
            out.extend(
                migrated
                    .into_iter()
                    .filter(|t| !known(&t.tx.transaction_id)),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_core::InMemoryKvStore;

    fn tx(id: &str, nonce: u64) -> StoredTransaction {
        let tx: RelayerTransaction = serde_json::from_value(serde_json::json!({
            "transactionId": id, "hash": "0x01", "to": null, "from": "0x02", "value": "0x0",
            "data": "0x", "speed": "fast", "gasLimit": 21000, "nonce": nonce,
            "status": "sent", "chainId": 1, "validUntil": "2026-01-01T00:00:00.000Z",
            "createdAt": "2026-01-01T00:00:00.000Z"
        }))
        .expect("a transaction");
        StoredTransaction {
            tx,
            hashes: vec!["0x01".into()],
            raw: None,
            fixed_fees: false,
            mined_block: None,
            noop: false,
            settled: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn instances_sharing_a_store_never_hand_out_the_same_nonce() {
        let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let tasks = (0..8).map(|i| {
            let store = StateRelayerStore::new(state.clone(), "shared");
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..50 {
                    got.push(store.allocate_nonce(i).await.expect("allocate"));
                }
                got
            })
        });
        let mut all: Vec<u64> = Vec::new();
        for t in futures::future::join_all(tasks).await {
            all.extend(t.expect("task"));
        }
        all.sort_unstable();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
        let store = StateRelayerStore::new(state, "shared");
        assert_eq!(store.next_nonce().await.unwrap(), Some(400));
    }

    #[tokio::test]
    async fn relayers_do_not_share_transactions_and_legacy_state_is_read_once() {
        let kv: Arc<dyn KvStore> = Arc::new(InMemoryKvStore::default());
        let old = KvRelayerStore::new(kv.clone(), "a");
        old.set_next_nonce(7).await.unwrap();
        old.put_transaction(&tx("t1", 6)).await.unwrap();
        let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let a = StateRelayerStore::new(state.clone(), "a").with_legacy_kv(kv.clone());
        let ab = StateRelayerStore::new(state.clone(), "a/b");
        ab.put_transaction(&tx("t2", 0)).await.unwrap();
        assert_eq!(a.next_nonce().await.unwrap(), Some(7));
        let listed = a.transactions().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].tx.transaction_id, "t1");
        assert_eq!(a.allocate_nonce(0).await.unwrap(), 7);
        // From now on the engine state rules: an action rewriting the old keys changes nothing.
        kv.put("relayer/a/nonce", "0").await.unwrap();
        kv.put("relayer/a/tx/t1", "{}").await.unwrap();
        kv.put("relayer/a/tx/t9", "{}").await.unwrap();
        assert_eq!(a.next_nonce().await.unwrap(), Some(8));
        assert_eq!(a.transactions().await.unwrap()[0].tx.nonce, 6);
        assert_eq!(ab.transactions().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_stale_nonce_hint_fails_the_commit_and_the_next_reservation_reads() {
        let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let one = StateRelayerStore::new(state.clone(), "r");
        let two = StateRelayerStore::new(state, "r");
        let first = one.reserve_nonce(3).await.unwrap();
        assert!(one.commit_new(&first, &tx("a", 3)).await.unwrap());
        // `two` takes 4 while `one` believes 4 is still next.
        let other = two.reserve_nonce(0).await.unwrap();
        assert_eq!(other.nonce(), 4);
        assert!(two.commit_new(&other, &tx("b", 4)).await.unwrap());
        let stale = one.reserve_nonce(0).await.unwrap();
        assert_eq!(stale.nonce(), 4, "from the hint, without a read");
        assert!(!one.commit_new(&stale, &tx("c", 4)).await.unwrap());
        let fresh = one.reserve_nonce(0).await.unwrap();
        assert_eq!(fresh.nonce(), 5);
        assert!(one.commit_new(&fresh, &tx("c", 5)).await.unwrap());
        assert_eq!(two.next_nonce().await.unwrap(), Some(6));
        assert_eq!(one.transactions().await.unwrap().len(), 3);
        let unknown = one.transactions_unknown(&|id| id != "c").await.unwrap();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].tx.nonce, 5);
    }

    #[tokio::test]
    async fn a_resynchronisation_moves_the_nonce_only_if_no_one_moved_it_since_the_read() {
        let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        let one = StateRelayerStore::new(state.clone(), "r");
        let two = StateRelayerStore::new(state, "r");
        assert_eq!(one.allocate_nonce(9).await.unwrap(), 9);
        // Down to 4 with a transaction at 3, from a read of 10.
        let read = one.read_nonce().await.unwrap();
        assert_eq!(read.nonce(), 10);
        assert!(one
            .commit_resynced(&read, 4, Some(&tx("a", 3)))
            .await
            .unwrap());
        assert_eq!(two.next_nonce().await.unwrap(), Some(4));
        assert_eq!(two.transactions().await.unwrap().len(), 1);
        // `two` takes 4 after `one` read: `one`'s write changes nothing.
        let read = one.read_nonce().await.unwrap();
        let taken = two.reserve_nonce(0).await.unwrap();
        assert!(two.commit_new(&taken, &tx("b", 4)).await.unwrap());
        assert!(!one
            .commit_resynced(&read, 4, Some(&tx("c", 3)))
            .await
            .unwrap());
        assert_eq!(one.next_nonce().await.unwrap(), Some(5));
        assert_eq!(one.transactions().await.unwrap().len(), 2);
        // Read again, it goes through; with nothing stored yet, too.
        let read = one.read_nonce().await.unwrap();
        assert!(one.commit_resynced(&read, 7, None).await.unwrap());
        assert_eq!(two.next_nonce().await.unwrap(), Some(7));
        let fresh = StateRelayerStore::in_memory("new");
        let read = fresh.read_nonce().await.unwrap();
        assert_eq!(read.nonce(), 0);
        assert!(fresh.commit_resynced(&read, 2, None).await.unwrap());
        assert_eq!(fresh.next_nonce().await.unwrap(), Some(2));
    }

    #[tokio::test]
    async fn a_corrupt_nonce_is_an_error() {
        let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        state
            .put(Space::NONCES, "r", Bytes::from("x"))
            .await
            .unwrap();
        let r = StateRelayerStore::new(state, "r");
        assert!(matches!(r.next_nonce().await, Err(StoreError::Corrupt(_))));
        assert!(matches!(
            r.allocate_nonce(0).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            r.set_next_nonce(u64::MAX).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}
