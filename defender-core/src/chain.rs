//! Blocks as monitors read them, and the source they come from.

use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;

/// Dynamic block source, as the engine holds it.
pub type DynBlockSource = dyn BlockSource;

/// Which head of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockTag {
    /// The newest block.
    Latest,
    /// The newest block the consensus layer calls safe.
    Safe,
    /// The newest finalized block.
    Finalized,
}

/// A block's identity and its parent, for reorg checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Parent's hash.
    pub parent_hash: B256,
}

/// A log in a receipt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// Emitting contract.
    pub address: Address,
    /// Topics, topic0 first.
    pub topics: Vec<B256>,
    /// Non-indexed data.
    pub data: Bytes,
    /// Index in the block.
    pub log_index: u64,
}

/// A transaction with its receipt.
///
/// The default is all zeros, with a default [`Receipt`]: a base for hand-built transactions
/// (`Transaction { from, to: Some(to), ..Default::default() }`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Hash.
    pub hash: B256,
    /// Index in the block.
    pub index: u64,
    /// Sender.
    pub from: Address,
    /// Receiver; `None` for a deployment.
    pub to: Option<Address>,
    /// Wei sent.
    pub value: U256,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Legacy gas price, or the effective price of an EIP-1559 transaction.
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Calldata.
    pub input: Bytes,
    /// Transaction type (0 legacy, 2 EIP-1559, ...).
    pub kind: u8,
    /// The receipt.
    pub receipt: Receipt,
}

/// A receipt.
///
/// The default is all zeros and no logs, with `success: false`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Whether it succeeded.
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
    /// Gas used by the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// Price paid per gas.
    pub effective_gas_price: u128,
    /// Deployed contract.
    pub contract_address: Option<Address>,
    /// Logs.
    pub logs: Vec<Log>,
    /// Bloom filter of the logs.
    pub logs_bloom: Bloom,
}

/// A block with its transactions and their receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Number, hash and parent.
    pub header: BlockRef,
    /// Timestamp in seconds.
    pub timestamp: u64,
    /// Transactions in order.
    pub transactions: Vec<Transaction>,
}

/// Errors of every [`BlockSource`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// Every node failed; may be retried.
    #[error("chain unavailable: {source}")]
    Unavailable {
        /// The last transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The node answered with a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// Code.
        code: i64,
        /// Message.
        message: String,
    },
    /// The node's answer could not be decoded, or was inconsistent.
    #[error("bad answer from the node: {0}")]
    Decode(String),
    /// The chain does not know this head tag (no `safe` before the merge, for example).
    #[error("the chain has no {0:?} head")]
    UnsupportedTag(BlockTag),
}

/// Where monitors read blocks from.
///
/// # Contract
/// - `block(n)` returns the canonical block `n` as the node sees it now, with every transaction
///   and its receipt and logs, or `None` if it does not exist yet.
/// - `block_ref(n)` is the cheap header-only form, used to detect reorgs by comparing parent
///   hashes; it must agree with `block(n)` when both see the same chain.
/// - `head(tag)` returns the number of the newest block with that tag.
/// - [`ChainError::Unavailable`] is transient and the caller retries.
///
/// # Example
/// ```
/// use defender_core::{BlockSource, BlockTag, ChainError};
/// async fn lag(source: &dyn BlockSource, processed: u64) -> Result<u64, ChainError> {
///     Ok(source.head(BlockTag::Latest).await?.saturating_sub(processed))
/// }
/// ```
#[async_trait]
pub trait BlockSource: Debug + Send + Sync + 'static {
    /// The chain id.
    async fn chain_id(&self) -> Result<u64, ChainError>;
    /// The number of the newest block with `tag`.
    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError>;
    /// Block `number`'s header.
    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError>;
    /// Block `number` with transactions, receipts and logs.
    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError>;
    /// The number of the block that holds transaction `hash`, if mined.
    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError>;
}

#[async_trait]
impl<T: BlockSource + ?Sized> BlockSource for Arc<T> {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        (**self).chain_id().await
    }
    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError> {
        (**self).head(tag).await
    }
    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        (**self).block_ref(number).await
    }
    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        (**self).block(number).await
    }
    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        (**self).transaction_block(hash).await
    }
}

/// Conveniences on every [`BlockSource`].
#[async_trait]
pub trait BlockSourceExt: BlockSource {
    /// Blocks `from..=to`, fetched concurrently, in order; stops at the first missing block.
    async fn blocks(&self, from: u64, to: u64) -> Result<Vec<Block>, ChainError> {
        let fetches = (from..=to).map(|n| self.block(n));
        let mut out = Vec::new();
        for b in futures::future::try_join_all(fetches).await? {
            match b {
                Some(b) => out.push(b),
                None => break,
            }
        }
        Ok(out)
    }
}

impl<T: BlockSource + ?Sized> BlockSourceExt for T {}

/// A [`BlockSource`] over blocks held in memory, for tests and doctests: push blocks, reorg by
/// replacing the tail, and move the safe and finalized heads.
///
/// ```
/// use defender_core::{Block, BlockSource, BlockTag, InMemoryChain};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let chain = InMemoryChain::new(31337);
/// chain.mine(vec![]);
/// chain.mine(vec![]);
/// assert_eq!(chain.head(BlockTag::Latest).await.unwrap(), 1);
/// let b1 = chain.block(1).await.unwrap().unwrap();
/// assert_eq!(b1.header.parent_hash, chain.block_ref(0).await.unwrap().unwrap().hash);
/// # });
/// ```
#[derive(Debug)]
pub struct InMemoryChain {
    chain_id: u64,
    state: std::sync::Mutex<ChainState>,
}

#[derive(Debug, Default)]
struct ChainState {
    blocks: Vec<Block>,
    safe: Option<u64>,
    finalized: Option<u64>,
    salt: u64,
}

impl InMemoryChain {
    /// An empty chain.
    pub fn new(chain_id: u64) -> Self {
        InMemoryChain {
            chain_id,
            state: std::sync::Mutex::new(ChainState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChainState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a block with these transactions (their `index` is set, hashes are kept) and
    /// returns its number. Block hashes are derived from the number and a reorg counter.
    pub fn mine(&self, transactions: Vec<Transaction>) -> u64 {
        let mut st = self.lock();
        let number = st.blocks.len() as u64;
        let parent_hash = st.blocks.last().map(|b| b.header.hash).unwrap_or_default();
        let hash =
            alloy_primitives::keccak256([number.to_be_bytes(), st.salt.to_be_bytes()].concat());
        let transactions = transactions
            .into_iter()
            .enumerate()
            .map(|(i, mut t)| {
                t.index = i as u64;
                t
            })
            .collect();
        st.blocks.push(Block {
            header: BlockRef {
                number,
                hash,
                parent_hash,
            },
            timestamp: 1_700_000_000 + number * 12,
            transactions,
        });
        number
    }

    /// Drops every block from `from` on, as a reorg does; mine the new branch next.
    pub fn reorg(&self, from: u64) {
        let mut st = self.lock();
        st.salt += 1;
        let keep = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(st.blocks.len());
        st.blocks.truncate(keep);
    }

    /// Sets the safe and finalized heads (`None`: the chain has no such head).
    pub fn set_heads(&self, safe: Option<u64>, finalized: Option<u64>) {
        let mut st = self.lock();
        st.safe = safe;
        st.finalized = finalized;
    }
}

#[async_trait]
impl BlockSource for InMemoryChain {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        Ok(self.chain_id)
    }

    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError> {
        let st = self.lock();
        let latest = (st.blocks.len() as u64)
            .checked_sub(1)
            .ok_or_else(|| ChainError::Decode("the chain has no block".into()))?;
        match tag {
            BlockTag::Latest => Ok(latest),
            BlockTag::Safe => st
                .safe
                .map(|s| s.min(latest))
                .ok_or(ChainError::UnsupportedTag(tag)),
            BlockTag::Finalized => st
                .finalized
                .map(|f| f.min(latest))
                .ok_or(ChainError::UnsupportedTag(tag)),
        }
    }

    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        Ok(self
            .lock()
            .blocks
            .get(usize::try_from(number).unwrap_or(usize::MAX))
            .map(|b| b.header))
    }

    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        Ok(self
            .lock()
            .blocks
            .get(usize::try_from(number).unwrap_or(usize::MAX))
            .cloned())
    }

    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        Ok(self
            .lock()
            .blocks
            .iter()
            .find(|b| b.transactions.iter().any(|t| t.hash == hash))
            .map(|b| b.header.number))
    }
}
