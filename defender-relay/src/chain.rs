//! A polling [`BlockSource`] over JSON-RPC, for monitors, read into alloy's RPC types.

use crate::rpc::{RpcClient, RpcError};
use alloy::consensus::Transaction as _;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::network::{
    AnyNetwork, AnyRpcBlock, AnyRpcTransaction, AnyTransactionReceipt, ReceiptResponse,
    TransactionResponse,
};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient as AlloyClient;
use alloy_primitives::B256;
use async_trait::async_trait;
use defender_core::{
    Block, BlockRef, BlockSource, BlockTag, ChainError, Log, Receipt, Transaction,
};
use std::collections::HashMap;

/// Blocks, receipts and heads read over JSON-RPC (with the client's failover and retries).
///
/// A block is read with `eth_getBlockByNumber` and `eth_getBlockReceipts` in one batch; when the
/// node lacks `eth_getBlockReceipts`, the receipts are fetched in one batch of
/// `eth_getTransactionReceipt`. Blocks are read as alloy's `AnyNetwork` types, so chains with
/// transaction types of their own (deposits on OP chains...) read too.
#[derive(Debug, Clone)]
pub struct RpcBlockSource {
    rpc: Option<RpcClient>,
    reader: ChainReader,
}

impl RpcBlockSource {
    /// A source over this client.
    pub fn new(rpc: RpcClient) -> Self {
        let reader = ChainReader::new(rpc.client().clone());
        RpcBlockSource {
            rpc: Some(rpc),
            reader,
        }
    }

    /// A source over any alloy RPC client (a WebSocket one, for instance).
    pub fn from_client(client: AlloyClient) -> Self {
        RpcBlockSource {
            rpc: None,
            reader: ChainReader::new(client),
        }
    }

    /// The client, when built from one of ours.
    pub fn rpc(&self) -> Option<&RpcClient> {
        self.rpc.as_ref()
    }

    /// Several block headers in one batch; `None` for blocks that do not exist yet.
    pub async fn block_refs(&self, numbers: &[u64]) -> Result<Vec<Option<BlockRef>>, ChainError> {
        self.reader.block_refs(numbers).await
    }
}

pub(crate) fn chain_error(e: RpcError) -> ChainError {
    match e {
        RpcError::Rpc { code, message, .. } => ChainError::Rpc { code, message },
        RpcError::Decode(m) => ChainError::Decode(m),
        other => ChainError::Unavailable {
            source: Box::new(other),
        },
    }
}

fn transport(e: alloy::transports::TransportError) -> ChainError {
    chain_error(RpcError::from(e))
}

/// Reads blocks over an alloy client: what [`RpcBlockSource`] and the WebSocket source share.
#[derive(Debug, Clone)]
pub(crate) struct ChainReader {
    client: AlloyClient,
    provider: RootProvider<AnyNetwork>,
}

fn block_ref_of(b: &AnyRpcBlock) -> BlockRef {
    BlockRef {
        number: b.header.number,
        hash: b.header.hash,
        parent_hash: b.header.parent_hash,
    }
}

fn receipt_of(r: &AnyTransactionReceipt) -> Receipt {
    let envelope = &r.inner.inner;
    Receipt {
        success: r.status(),
        gas_used: r.gas_used(),
        cumulative_gas_used: r.cumulative_gas_used(),
        effective_gas_price: r.effective_gas_price(),
        contract_address: r.contract_address(),
        logs: envelope
            .logs()
            .iter()
            .map(|l| Log {
                address: l.address(),
                topics: l.topics().to_vec(),
                data: l.data().data.clone(),
                log_index: l.log_index.unwrap_or_default(),
            })
            .collect(),
        logs_bloom: envelope.bloom(),
    }
}

fn transaction_of(t: &AnyRpcTransaction, receipt: Receipt) -> Transaction {
    Transaction {
        hash: t.tx_hash(),
        index: t.transaction_index().unwrap_or_default(),
        from: t.from(),
        to: t.to(),
        value: t.value(),
        nonce: t.nonce(),
        gas_limit: t.gas_limit(),
        gas_price: TransactionResponse::gas_price(t)
            .or(t.0.inner.effective_gas_price)
            .or(Some(receipt.effective_gas_price)),
        max_fee_per_gas: TransactionResponse::max_fee_per_gas(t),
        max_priority_fee_per_gas: t.max_priority_fee_per_gas(),
        input: t.input().clone(),
        kind: alloy::eips::Typed2718::ty(t),
        receipt,
    }
}

impl ChainReader {
    pub(crate) fn new(client: AlloyClient) -> Self {
        ChainReader {
            provider: RootProvider::new(client.clone()),
            client,
        }
    }

    pub(crate) async fn block_refs(
        &self,
        numbers: &[u64],
    ) -> Result<Vec<Option<BlockRef>>, ChainError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = self.client.new_batch();
        let mut waiters = Vec::with_capacity(numbers.len());
        for n in numbers {
            let params = (BlockNumberOrTag::Number(*n), false);
            waiters.push(
                batch
                    .add_call::<_, Option<AnyRpcBlock>>("eth_getBlockByNumber", &params)
                    .map_err(transport)?,
            );
        }
        batch.send().await.map_err(transport)?;
        let mut out = Vec::with_capacity(waiters.len());
        for w in waiters {
            out.push(w.await.map_err(transport)?.as_ref().map(block_ref_of));
        }
        Ok(out)
    }

    /// Receipts of `hashes` in one batch of `eth_getTransactionReceipt`.
    async fn receipts_by_hash(
        &self,
        hashes: &[B256],
    ) -> Result<Vec<AnyTransactionReceipt>, ChainError> {
        let mut batch = self.client.new_batch();
        let mut waiters = Vec::with_capacity(hashes.len());
        for h in hashes {
            waiters.push(
                batch
                    .add_call::<_, Option<AnyTransactionReceipt>>(
                        "eth_getTransactionReceipt",
                        &(h,),
                    )
                    .map_err(transport)?,
            );
        }
        batch.send().await.map_err(transport)?;
        let mut out = Vec::with_capacity(waiters.len());
        for (w, h) in waiters.into_iter().zip(hashes) {
            match w.await.map_err(transport)? {
                Some(r) => out.push(r),
                None => return Err(ChainError::Decode(format!("no receipt for {h}"))),
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl BlockSource for ChainReader {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        self.provider.get_chain_id().await.map_err(transport)
    }

    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError> {
        let tag_number = match tag {
            BlockTag::Latest => return self.provider.get_block_number().await.map_err(transport),
            BlockTag::Safe => BlockNumberOrTag::Safe,
            BlockTag::Finalized => BlockNumberOrTag::Finalized,
        };
        match self.provider.get_block_by_number(tag_number).await {
            Ok(Some(b)) => Ok(b.header.number),
            Ok(None) => Err(ChainError::UnsupportedTag(tag)),
            Err(e) => match RpcError::from(e) {
                RpcError::Rpc { .. } => Err(ChainError::UnsupportedTag(tag)),
                other => Err(chain_error(other)),
            },
        }
    }

    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        let b = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(transport)?;
        Ok(b.as_ref().map(block_ref_of))
    }

    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        let tag = BlockNumberOrTag::Number(number);
        let mut batch = self.client.new_batch();
        let block = batch
            .add_call::<_, Option<AnyRpcBlock>>("eth_getBlockByNumber", &(tag, true))
            .map_err(transport)?;
        let receipts = batch
            .add_call::<_, Option<Vec<AnyTransactionReceipt>>>(
                "eth_getBlockReceipts",
                &(BlockId::Number(tag),),
            )
            .map_err(transport)?;
        batch.send().await.map_err(transport)?;
        let Some(block) = block.await.map_err(transport)? else {
            return Ok(None);
        };
        let txs: Vec<&AnyRpcTransaction> = block.transactions.txns().collect();
        let receipts = match receipts.await {
            Ok(Some(rs)) if rs.len() == txs.len() => rs,
            // No eth_getBlockReceipts (or a partial answer): one batch of receipts by hash.
            _ => {
                let hashes: Vec<B256> = txs.iter().map(|t| t.tx_hash()).collect();
                self.receipts_by_hash(&hashes).await?
            }
        };
        let by_hash: HashMap<B256, &AnyTransactionReceipt> =
            receipts.iter().map(|r| (r.transaction_hash, r)).collect();
        let mut transactions = Vec::with_capacity(txs.len());
        for t in txs {
            let hash = t.tx_hash();
            let r = by_hash
                .get(&hash)
                .ok_or_else(|| ChainError::Decode(format!("no receipt for {hash}")))?;
            transactions.push(transaction_of(t, receipt_of(r)));
        }
        Ok(Some(Block {
            header: block_ref_of(&block),
            timestamp: block.header.timestamp,
            transactions,
        }))
    }

    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        let r = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(transport)?;
        Ok(r.and_then(|r| r.block_number))
    }
}

#[async_trait]
impl BlockSource for RpcBlockSource {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        self.reader.chain_id().await
    }

    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError> {
        self.reader.head(tag).await
    }

    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        self.reader.block_ref(number).await
    }

    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        self.reader.block(number).await
    }

    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        self.reader.transaction_block(hash).await
    }
}
