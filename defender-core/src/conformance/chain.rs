//! The [`BlockSource`] contract, against any chain with a few blocks: heads are ordered
//! (`finalized <= safe <= latest`), blocks agree with their refs and link to their parents,
//! transactions are indexed in order and found in their block, and blocks past the head are
//! absent rather than errors.
//!
//! ```
//! use defender_core::conformance::chain;
//! use defender_core::InMemoryChain;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! chain::run_suite(|| async {
//!     let chain = InMemoryChain::new(31337);
//!     chain.mine(vec![]);
//!     chain.mine(vec![]);
//!     chain
//! })
//! .await;
//! # });
//! ```

use super::Via;
use crate::{BlockSource, BlockTag};
use std::future::Future;

/// Runs every check, each on a source built by `make`, directly, through
/// `Box<dyn BlockSource>` and through `Arc<dyn BlockSource>`.
///
/// `make` must return a source whose chain has at least two blocks. The checks only read, so
/// it may hand out the same chain every time (a clone, or an `Arc` of one source).
pub async fn run_suite<F, Fut, B>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = B>,
    B: BlockSource,
{
    for via in Via::ALL {
        reach!(deref BlockSource, via, make().await, |s| heads_are_ordered(s).await);
        reach!(deref BlockSource, via, make().await, |s| {
            blocks_agree_with_their_refs(s).await
        });
        reach!(deref BlockSource, via, make().await, |s| future_blocks_are_absent(s).await);
    }
}

/// Runs every check once, in turn, on one source. The chain must have at least two blocks.
pub async fn run_all(source: &dyn BlockSource) {
    heads_are_ordered(source).await;
    blocks_agree_with_their_refs(source).await;
    future_blocks_are_absent(source).await;
}

/// `finalized <= safe <= latest`, where the chain has them.
pub async fn heads_are_ordered(source: &dyn BlockSource) {
    let latest = source.head(BlockTag::Latest).await.expect("latest head");
    if let Ok(safe) = source.head(BlockTag::Safe).await {
        assert!(safe <= latest, "safe {safe} is above latest {latest}");
        if let Ok(finalized) = source.head(BlockTag::Finalized).await {
            assert!(
                finalized <= safe,
                "finalized {finalized} is above safe {safe}"
            );
        }
    }
}

/// `block(n)` and `block_ref(n)` agree, and each block's parent hash is the previous block's
/// hash; receipts belong to their transactions.
pub async fn blocks_agree_with_their_refs(source: &dyn BlockSource) {
    let latest = source.head(BlockTag::Latest).await.expect("latest head");
    assert!(latest >= 1, "the chain needs two blocks");
    let block = source
        .block(latest)
        .await
        .expect("block")
        .expect("latest block exists");
    let r = source
        .block_ref(latest)
        .await
        .expect("block_ref")
        .expect("latest ref exists");
    assert_eq!(block.header, r, "block and block_ref disagree");
    let parent = source
        .block_ref(latest - 1)
        .await
        .expect("block_ref")
        .expect("parent exists");
    assert_eq!(r.parent_hash, parent.hash, "parent hash chain broken");
    for (i, tx) in block.transactions.iter().enumerate() {
        assert_eq!(tx.index, i as u64, "transactions out of order");
        if let Some(found) = source
            .transaction_block(tx.hash)
            .await
            .expect("transaction_block")
        {
            assert_eq!(found, latest, "transaction_block disagrees with block");
        }
    }
}

/// Blocks past the head are `None`, not errors.
pub async fn future_blocks_are_absent(source: &dyn BlockSource) {
    let latest = source.head(BlockTag::Latest).await.expect("latest head");
    assert!(source
        .block(latest + 1_000_000)
        .await
        .expect("block")
        .is_none());
    assert!(source
        .block_ref(latest + 1_000_000)
        .await
        .expect("block_ref")
        .is_none());
}
