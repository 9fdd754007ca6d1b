//! Matching rules over hand-built blocks: the blocks, transactions and definitions the tests
//! share; the rules themselves are in the submodules.

mod conditions;
mod lifecycle;
mod payload;

use super::*;
use alloy_dyn_abi::{DynSolValue, JsonAbiExt};
use alloy_json_abi::Function;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, U256};
use defender_core::{Block, BlockRef, Log, Receipt, Transaction};
use defender_core::{ConfirmLevel, MatchReasonType, MonitorDefinition, MonitorMatch};
use serde_json::json;

const TOKEN: Address = Address::repeat_byte(0x5f);
const OTHER: Address = Address::repeat_byte(0x77);
const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);

const ERC20_ABI: &str = r#"[
 {"type":"event","name":"Transfer","anonymous":false,"inputs":[
   {"name":"from","type":"address","indexed":true},
   {"name":"to","type":"address","indexed":true},
   {"name":"value","type":"uint256","indexed":false}]},
 {"type":"function","name":"transfer","stateMutability":"nonpayable",
  "inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],
  "outputs":[{"name":"","type":"bool"}]}
]"#;

fn word(a: Address) -> B256 {
    a.into_word()
}

fn transfer_log(token: Address, from: Address, to: Address, value: u128) -> Log {
    Log {
        address: token,
        topics: vec![
            keccak256("Transfer(address,address,uint256)"),
            word(from),
            word(to),
        ],
        data: Bytes::from(U256::from(value).to_be_bytes::<32>().to_vec()),
        log_index: 0,
    }
}

fn call(sig: &str, args: &[DynSolValue]) -> Bytes {
    Function::parse(sig)
        .unwrap()
        .abi_encode_input(args)
        .unwrap()
        .into()
}

fn tx(n: u8, from: Address, to: Option<Address>, input: Bytes, logs: Vec<Log>) -> Transaction {
    Transaction {
        hash: B256::repeat_byte(n),
        index: u64::from(n),
        from,
        to,
        value: U256::from(7u64),
        nonce: 3,
        gas_limit: 100_000,
        gas_price: Some(60_000_000_000),
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        input,
        kind: 2,
        receipt: Receipt {
            success: true,
            gas_used: 30_000,
            cumulative_gas_used: 50_000,
            effective_gas_price: 60_000_000_000,
            contract_address: None,
            logs,
            logs_bloom: Bloom::ZERO,
        },
    }
}

fn block(txs: Vec<Transaction>) -> Block {
    let mut txs = txs;
    let mut log_index = 0;
    for (i, t) in txs.iter_mut().enumerate() {
        t.index = i as u64;
        for l in &mut t.receipt.logs {
            l.log_index = log_index;
            log_index += 1;
        }
    }
    Block {
        header: BlockRef {
            number: 123,
            hash: B256::repeat_byte(0xab),
            parent_hash: B256::repeat_byte(0xaa),
        },
        timestamp: 1_612_809_138,
        transactions: txs,
    }
}

fn def(extra: serde_json::Value) -> MonitorDefinition {
    let mut base = json!({
        "name": "Test", "network": "mainnet",
        "addresses": [TOKEN.to_checksum(None)],
        "notificationChannels": ["ops"]
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn matcher(d: &MonitorDefinition) -> Matcher {
    let mut m = Matcher::new();
    m.insert("m1", d, 1).unwrap();
    m
}

fn hashes(ms: &[MonitorMatch]) -> Vec<String> {
    ms.iter().map(|m| m.hash.clone()).collect()
}

fn h(n: u8) -> String {
    B256::repeat_byte(n).to_string()
}

fn transfers_block() -> Block {
    block(vec![
        tx(
            1,
            ALICE,
            Some(TOKEN),
            Bytes::new(),
            vec![transfer_log(TOKEN, ALICE, BOB, 5)],
        ),
        tx(
            2,
            ALICE,
            Some(TOKEN),
            Bytes::new(),
            vec![transfer_log(TOKEN, ALICE, BOB, 5000)],
        ),
        // Same event from a contract that is not watched.
        tx(
            3,
            ALICE,
            Some(OTHER),
            Bytes::new(),
            vec![transfer_log(OTHER, ALICE, BOB, 9000)],
        ),
    ])
}
