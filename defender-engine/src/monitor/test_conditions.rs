//! Defender's "test conditions" tool: run one monitor's conditions over recent blocks, one
//! block, or one transaction.

use super::error::WatchError;
use super::matcher::Matcher;
use alloy_primitives::B256;
use defender_core::{BlockSource, BlockTag};
use defender_core::{MonitorDefinition, MonitorMatch};

/// Most blocks one [`test_conditions`] call searches.
pub const MAX_TEST_BLOCKS: u64 = 1000;

/// Where [`test_conditions`] searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestScope {
    /// The latest block and this many blocks before it (`RecentBlocks(0)` is the latest block).
    RecentBlocks(u64),
    /// One block.
    Block(u64),
    /// One transaction, by hash.
    Transaction(B256),
}

/// Runs a monitor's conditions over blocks of `source` and returns the matches, as a monitor
/// with id `id` would emit them (paused or not, and whatever its confirmation level).
///
/// Errors: the definition does not compile ([`WatchError::Definition`]), the node fails,
/// the block or transaction does not exist, or more than [`MAX_TEST_BLOCKS`] blocks are asked
/// for.
pub async fn test_conditions(
    id: &str,
    def: &MonitorDefinition,
    source: &dyn BlockSource,
    scope: TestScope,
) -> Result<Vec<MonitorMatch>, WatchError> {
    let chain_id = source.chain_id().await?;
    let mut def = def.clone();
    def.paused = false;
    let mut matcher = Matcher::new();
    matcher.insert(id, &def, chain_id)?;
    let (from, to, only_tx) = match scope {
        TestScope::RecentBlocks(n) => {
            if n >= MAX_TEST_BLOCKS {
                return Err(WatchError::TooManyBlocks {
                    asked: n.saturating_add(1),
                    limit: MAX_TEST_BLOCKS,
                });
            }
            let head = source.head(BlockTag::Latest).await?;
            (head.saturating_sub(n), head, None)
        }
        TestScope::Block(n) => (n, n, None),
        TestScope::Transaction(hash) => {
            let n = source
                .transaction_block(hash)
                .await?
                .ok_or_else(|| WatchError::TransactionNotFound(hash.to_string()))?;
            (n, n, Some(hash))
        }
    };
    let mut out = Vec::new();
    for number in from..=to {
        let block = source
            .block(number)
            .await?
            .ok_or(WatchError::BlockNotFound(number))?;
        let mut found = matcher.match_block(&block);
        if let Some(hash) = only_tx {
            let hash = hash.to_string();
            found.retain(|m| m.hash == hash);
        }
        out.extend(found);
    }
    Ok(out)
}
