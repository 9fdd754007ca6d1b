//! Building the match payload (`wire-formats.md`, "Monitor match") from typed blocks.

use super::fasthash::FastMap;
use super::values::Arg;
use alloy_primitives::{hex, Address, B256};
use defender_core::{Block, Transaction};
use defender_core::{EthLog, EthReceipt, MatchReason, MatchReasonType};
use serde_json::{Map, Value as Json};

/// A JSON-RPC quantity: `0x` and the hex digits of `n` without leading zeros (as `{:#x}`
/// writes it, without the formatting machinery: a receipt holds several per log).
pub(crate) fn qty(n: impl Into<u128>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let n: u128 = n.into();
    let len = (128 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    let mut out = String::with_capacity(2 + len);
    out.push_str("0x");
    for i in (0..len).rev() {
        out.push(char::from(DIGITS[((n >> (i * 4)) & 0xf) as usize]));
    }
    out
}

/// Checksummed addresses, each computed once (each costs a keccak), up to
/// [`CHECKSUMS_KEPT`] of them.
#[derive(Debug, Default)]
pub(crate) struct Checksums(FastMap<Address, String>);

/// Most checksummed addresses a [`Checksums`] keeps (about 100 bytes each).
const CHECKSUMS_KEPT: usize = 16_384;

impl Checksums {
    /// Forgets them all once there are more than [`CHECKSUMS_KEPT`]: called between blocks.
    pub(crate) fn bound(&mut self) {
        if self.0.len() > CHECKSUMS_KEPT {
            self.0 = FastMap::default();
        }
    }

    /// The checksummed form of `a`.
    pub(crate) fn get(&mut self, a: &Address) -> String {
        self.0
            .entry(*a)
            .or_insert_with(|| a.to_checksum(None))
            .clone()
    }
}

/// Lower-case `0x` hex of an address, as JSON-RPC writes it.
pub(crate) fn lower(a: &Address) -> String {
    hex::encode_prefixed(a.as_slice())
}

/// Lower-case `0x` hex of a hash (as its `Display` writes it, without the formatting
/// machinery: a match holds several).
pub(crate) fn hash_hex(h: &B256) -> String {
    hex::encode_prefixed(h.as_slice())
}

/// The transaction's receipt as `eth_getTransactionReceipt` returns it.
pub fn eth_receipt(block: &Block, tx: &Transaction) -> EthReceipt {
    let block_hash = hash_hex(&block.header.hash);
    let block_number = qty(block.header.number);
    let tx_hash = hash_hex(&tx.hash);
    let tx_index = qty(tx.index);
    EthReceipt {
        block_hash: block_hash.clone(),
        block_number: block_number.clone(),
        contract_address: tx.receipt.contract_address.as_ref().map(lower),
        cumulative_gas_used: qty(tx.receipt.cumulative_gas_used),
        effective_gas_price: Some(qty(tx.receipt.effective_gas_price)),
        from: lower(&tx.from),
        gas_used: qty(tx.receipt.gas_used),
        logs: tx
            .receipt
            .logs
            .iter()
            .map(|l| EthLog {
                address: lower(&l.address),
                topics: l.topics.iter().map(hash_hex).collect(),
                data: hex::encode_prefixed(&l.data),
                block_number: block_number.clone(),
                transaction_hash: tx_hash.clone(),
                transaction_index: tx_index.clone(),
                block_hash: block_hash.clone(),
                log_index: qty(l.log_index),
                removed: false,
            })
            .collect(),
        logs_bloom: hex::encode_prefixed(tx.receipt.logs_bloom.as_slice()),
        status: if tx.receipt.success { "0x1" } else { "0x0" }.to_string(),
        to: tx.to.as_ref().map(lower),
        transaction_hash: tx_hash,
        transaction_index: tx_index,
        kind: Some(qty(tx.kind)),
    }
}

/// A match reason for an event or a function call: `args` by position, `params` by name.
pub(crate) fn abi_reason(
    kind: MatchReasonType,
    signature: &str,
    condition: Option<&str>,
    address: &Address,
    names: &[Option<String>],
    args: &[Arg],
    checksums: &mut Checksums,
) -> MatchReason {
    let values: Vec<Json> = args.iter().map(|a| a.json(checksums)).collect();
    let mut params = Map::new();
    for (name, v) in names.iter().zip(&values) {
        if let Some(name) = name {
            params.insert(name.clone(), v.clone());
        }
    }
    MatchReason {
        kind,
        signature: signature.to_string(),
        condition: condition.map(str::to_string),
        address: checksums.get(address),
        args: values,
        params,
        value: None,
    }
}

/// The match reason of the transaction condition (or of a monitor without events or functions).
pub(crate) fn tx_reason(
    condition: Option<&str>,
    address: &Address,
    checksums: &mut Checksums,
) -> MatchReason {
    MatchReason {
        kind: MatchReasonType::Transaction,
        signature: String::new(),
        condition: condition.map(str::to_string),
        address: checksums.get(address),
        args: Vec::new(),
        params: Map::new(),
        value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_alloys_and_their_cache_is_bounded() {
        let mut sums = Checksums::default();
        let a = Address::repeat_byte(0xab);
        assert_eq!(sums.get(&a), a.to_checksum(None));
        assert_eq!(sums.get(&a), a.to_checksum(None), "from the cache");
        for i in 0..=CHECKSUMS_KEPT as u64 {
            let mut bytes = [0u8; 20];
            bytes[..8].copy_from_slice(&i.to_be_bytes());
            let b = Address::from(bytes);
            assert_eq!(sums.get(&b), b.to_checksum(None));
        }
        assert_eq!(sums.0.len(), CHECKSUMS_KEPT + 2);
        sums.bound();
        assert!(sums.0.is_empty(), "forgotten past the bound");
        sums.get(&a);
        sums.bound();
        assert_eq!(sums.0.len(), 1, "kept under it");
    }

    #[test]
    fn quantities_are_written_as_lower_hex_writes_them() {
        for n in [
            0u128,
            1,
            9,
            10,
            15,
            16,
            255,
            256,
            20_000_000,
            u64::MAX as u128,
            u128::MAX,
        ] {
            assert_eq!(qty(n), format!("{n:#x}"));
        }
    }

    #[test]
    fn hashes_are_written_as_display_writes_them() {
        for h in [
            B256::ZERO,
            B256::repeat_byte(0xab),
            alloy_primitives::keccak256("x"),
        ] {
            assert_eq!(hash_hex(&h), h.to_string());
            assert_eq!(hash_hex(&h).len(), 66);
        }
    }
}
