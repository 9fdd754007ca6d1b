//! A [`BlockSource`] over JSON-RPC, for monitors.

use crate::hex::{address_of, b256_of, bytes_of, field, quantity, u128_of, u256_of, u64_of};
use crate::rpc::{RpcClient, RpcError};
use alloy_primitives::{Bloom, B256};
use async_trait::async_trait;
use defender_core::{
    Block, BlockRef, BlockSource, BlockTag, ChainError, Log, Receipt, Transaction,
};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Blocks, receipts and heads read over JSON-RPC (with the client's failover and retries).
///
/// A block is read with `eth_getBlockByNumber` and `eth_getBlockReceipts` in one batch; when the
/// node lacks `eth_getBlockReceipts`, the receipts are fetched in one batch of
/// `eth_getTransactionReceipt`.
#[derive(Debug, Clone)]
pub struct RpcBlockSource {
    rpc: RpcClient,
}

impl RpcBlockSource {
    /// A source over this client.
    pub fn new(rpc: RpcClient) -> Self {
        RpcBlockSource { rpc }
    }

    /// The client.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// Several block headers in one batch; `None` for blocks that do not exist yet.
    pub async fn block_refs(&self, numbers: &[u64]) -> Result<Vec<Option<BlockRef>>, ChainError> {
        let calls: Vec<(&str, Value)> = numbers
            .iter()
            .map(|n| ("eth_getBlockByNumber", json!([quantity(*n), false])))
            .collect();
        let answers = self.rpc.batch(&calls).await.map_err(chain_error)?;
        answers
            .into_iter()
            .map(|a| {
                let v = a.map_err(chain_error)?;
                if v.is_null() {
                    Ok(None)
                } else {
                    block_ref_of(&v).map(Some)
                }
            })
            .collect()
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

fn bad(what: &str) -> ChainError {
    ChainError::Decode(format!("missing or invalid {what}"))
}

fn block_ref_of(v: &Value) -> Result<BlockRef, ChainError> {
    Ok(BlockRef {
        number: field(v, "number")
            .and_then(u64_of)
            .ok_or_else(|| bad("block number"))?,
        hash: field(v, "hash")
            .and_then(b256_of)
            .ok_or_else(|| bad("block hash"))?,
        parent_hash: field(v, "parentHash")
            .and_then(b256_of)
            .ok_or_else(|| bad("parent hash"))?,
    })
}

fn receipt_of(r: &Value) -> Result<Receipt, ChainError> {
    let logs = field(r, "logs")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    Ok(Log {
                        address: field(l, "address")
                            .and_then(address_of)
                            .ok_or_else(|| bad("log address"))?,
                        topics: field(l, "topics")
                            .and_then(Value::as_array)
                            .map(|ts| ts.iter().filter_map(b256_of).collect())
                            .unwrap_or_default(),
                        data: field(l, "data").and_then(bytes_of).unwrap_or_default(),
                        log_index: field(l, "logIndex").and_then(u64_of).unwrap_or_default(),
                    })
                })
                .collect::<Result<Vec<_>, ChainError>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Receipt {
        success: field(r, "status")
            .and_then(u64_of)
            .map(|s| s == 1)
            .unwrap_or(true),
        gas_used: field(r, "gasUsed").and_then(u64_of).unwrap_or_default(),
        cumulative_gas_used: field(r, "cumulativeGasUsed")
            .and_then(u64_of)
            .unwrap_or_default(),
        effective_gas_price: field(r, "effectiveGasPrice")
            .and_then(u128_of)
            .unwrap_or_default(),
        contract_address: field(r, "contractAddress").and_then(address_of),
        logs,
        logs_bloom: field(r, "logsBloom")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Bloom>().ok())
            .unwrap_or_default(),
    })
}

fn transaction_of(t: &Value, receipt: Receipt) -> Result<Transaction, ChainError> {
    Ok(Transaction {
        hash: field(t, "hash")
            .and_then(b256_of)
            .ok_or_else(|| bad("tx hash"))?,
        index: field(t, "transactionIndex")
            .and_then(u64_of)
            .unwrap_or_default(),
        from: field(t, "from")
            .and_then(address_of)
            .ok_or_else(|| bad("tx from"))?,
        to: field(t, "to").and_then(address_of),
        value: field(t, "value").and_then(u256_of).unwrap_or_default(),
        nonce: field(t, "nonce").and_then(u64_of).unwrap_or_default(),
        gas_limit: field(t, "gas").and_then(u64_of).unwrap_or_default(),
        gas_price: field(t, "gasPrice")
            .and_then(u128_of)
            .or(Some(receipt.effective_gas_price)),
        max_fee_per_gas: field(t, "maxFeePerGas").and_then(u128_of),
        max_priority_fee_per_gas: field(t, "maxPriorityFeePerGas").and_then(u128_of),
        input: field(t, "input").and_then(bytes_of).unwrap_or_default(),
        kind: field(t, "type").and_then(u64_of).unwrap_or_default() as u8,
        receipt,
    })
}

fn tag_name(tag: BlockTag) -> &'static str {
    match tag {
        BlockTag::Latest => "latest",
        BlockTag::Safe => "safe",
        BlockTag::Finalized => "finalized",
    }
}

#[async_trait]
impl BlockSource for RpcBlockSource {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        let v = self
            .rpc
            .request("eth_chainId", json!([]))
            .await
            .map_err(chain_error)?;
        u64_of(&v).ok_or_else(|| bad("chain id"))
    }

    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError> {
        if tag == BlockTag::Latest {
            let v = self
                .rpc
                .request("eth_blockNumber", json!([]))
                .await
                .map_err(chain_error)?;
            return u64_of(&v).ok_or_else(|| bad("block number"));
        }
        let v = match self
            .rpc
            .request("eth_getBlockByNumber", json!([tag_name(tag), false]))
            .await
        {
            Ok(v) => v,
            Err(RpcError::Rpc { .. }) => return Err(ChainError::UnsupportedTag(tag)),
            Err(e) => return Err(chain_error(e)),
        };
        if v.is_null() {
            return Err(ChainError::UnsupportedTag(tag));
        }
        Ok(block_ref_of(&v)?.number)
    }

    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        let v = self
            .rpc
            .request("eth_getBlockByNumber", json!([quantity(number), false]))
            .await
            .map_err(chain_error)?;
        if v.is_null() {
            return Ok(None);
        }
        block_ref_of(&v).map(Some)
    }

    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        let calls = [
            ("eth_getBlockByNumber", json!([quantity(number), true])),
            ("eth_getBlockReceipts", json!([quantity(number)])),
        ];
        let mut answers = self
            .rpc
            .batch(&calls)
            .await
            .map_err(chain_error)?
            .into_iter();
        let block = answers
            .next()
            .ok_or_else(|| bad("block"))?
            .map_err(chain_error)?;
        if block.is_null() {
            return Ok(None);
        }
        let header = block_ref_of(&block)?;
        let txs = field(&block, "transactions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let receipts = match answers.next() {
            Some(Ok(Value::Array(rs))) if rs.len() == txs.len() => rs,
            _ => {
                // No eth_getBlockReceipts: one batch of receipts by hash.
                let calls: Vec<(&str, Value)> = txs
                    .iter()
                    .map(|t| {
                        (
                            "eth_getTransactionReceipt",
                            json!([field(t, "hash").cloned().unwrap_or(Value::Null)]),
                        )
                    })
                    .collect();
                self.rpc
                    .batch(&calls)
                    .await
                    .map_err(chain_error)?
                    .into_iter()
                    .map(|r| r.map_err(chain_error))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut by_hash: HashMap<B256, &Value> = HashMap::new();
        for r in &receipts {
            if let Some(h) = field(r, "transactionHash").and_then(b256_of) {
                by_hash.insert(h, r);
            }
        }
        let mut transactions = Vec::with_capacity(txs.len());
        for t in &txs {
            let hash = field(t, "hash")
                .and_then(b256_of)
                .ok_or_else(|| bad("tx hash"))?;
            let r = by_hash
                .get(&hash)
                .ok_or_else(|| ChainError::Decode(format!("no receipt for {hash}")))?;
            transactions.push(transaction_of(t, receipt_of(r)?)?);
        }
        Ok(Some(Block {
            header,
            timestamp: field(&block, "timestamp")
                .and_then(u64_of)
                .unwrap_or_default(),
            transactions,
        }))
    }

    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        let v = self
            .rpc
            .request("eth_getTransactionReceipt", json!([hash]))
            .await
            .map_err(chain_error)?;
        if v.is_null() {
            return Ok(None);
        }
        Ok(field(&v, "blockNumber").and_then(u64_of))
    }
}
