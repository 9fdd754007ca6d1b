//! Monitors and blocks shared by the matcher and pipeline benches: the monitor mix, in thirds,
//! is an ERC-20 `Transfer` event with `value > 1000` (ABI given), a
//! `transfer(address,uint256)` call with `amount > 5000` (signature only), and a transaction
//! condition `gasPrice > 50000000000 and gasUsed > 20000` without events or functions.
//! Monitor `i` of `n` watches contract `i % (n / 2)`, so each watched contract has two
//! monitors. Each transaction of a block calls `transfer` on one of `n` contracts (half of them
//! watched) and that contract emits three `Transfer` logs; about half the values pass the
//! conditions.
#![allow(dead_code)] // each bench uses part of it

use alloy_dyn_abi::{DynSolValue, JsonAbiExt};
use alloy_json_abi::Function;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, U256};
use defender_core::{Block, BlockRef, Log, MonitorDefinition, Receipt, Transaction};

pub(crate) const ERC20_ABI: &str = r#"[{"type":"event","name":"Transfer","anonymous":false,"inputs":[{"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}]},{"type":"function","name":"transfer","stateMutability":"nonpayable","inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]}]"#;

/// The address of contract `i`.
pub(crate) fn contract(i: usize) -> Address {
    let mut b = [0u8; 20];
    b[..8].copy_from_slice(
        &(i as u64 + 1)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .to_be_bytes(),
    );
    b[12..20].copy_from_slice(&(i as u64).to_be_bytes());
    Address::from(b)
}

/// The address of user `i`.
pub(crate) fn user(i: usize) -> Address {
    let mut b = [0x11u8; 20];
    b[12..20].copy_from_slice(&(i as u64).to_be_bytes());
    Address::from(b)
}

/// Monitor `i` of `n` (see the module's documentation for the mix); only one monitor in
/// `low_in` keeps the low thresholds, the others' thresholds are raised (1: all low; 16: the
/// benches' `selective` variants).
pub(crate) fn definition(i: usize, n: usize, low_in: usize) -> MonitorDefinition {
    let contracts = (n / 2).max(1);
    let address = contract(i % contracts).to_checksum(None);
    // Raised: the same conditions with thresholds that few transactions pass.
    let (value, amount, gas) = if i % low_in.max(1) != 0 {
        (
            "value > 1000000",
            "amount > 1000000",
            "gasPrice > 500000000000",
        )
    } else {
        ("value > 1000", "amount > 5000", "gasPrice > 50000000000")
    };
    let json = match i % 3 {
        0 => serde_json::json!({
            "name": format!("m{i}"), "network": "mainnet", "addresses": [address],
            "confirmLevel": 0, "abi": ERC20_ABI,
            "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)", "expression": value}],
            "notificationChannels": ["ops"]
        }),
        1 => serde_json::json!({
            "name": format!("m{i}"), "network": "mainnet", "addresses": [address],
            "confirmLevel": 0,
            "functionConditions": [{"functionSignature": "transfer(address to, uint256 amount)", "expression": amount}],
            "notificationChannels": ["ops"]
        }),
        _ => serde_json::json!({
            "name": format!("m{i}"), "network": "mainnet", "addresses": [address],
            "confirmLevel": 0,
            "txCondition": format!("{gas} and gasUsed > 20000"),
            "notificationChannels": ["ops"]
        }),
    };
    serde_json::from_value(json).expect("definition")
}

/// A block of 200 transactions and 600 logs for `n_monitors` monitors (half the called
/// contracts watched).
pub(crate) fn block(n_monitors: usize) -> Block {
    let contracts = (n_monitors / 2).max(1);
    let transfer = Function::parse("transfer(address,uint256)").expect("signature");
    let topic0 = keccak256("Transfer(address,address,uint256)");
    let mut log_index = 0;
    let transactions = (0..200)
        .map(|t| {
            // Half the called contracts are watched.
            let to = contract((t * 7919) % (2 * contracts));
            let amount = U256::from(if t % 2 == 0 { 10_000u64 } else { 10 });
            let input = transfer
                .abi_encode_input(&[
                    DynSolValue::Address(user(t + 1)),
                    DynSolValue::Uint(amount, 256),
                ])
                .expect("encodes");
            let logs = (0..3)
                .map(|k| {
                    log_index += 1;
                    Log {
                        address: to,
                        topics: vec![topic0, user(t).into_word(), user(t + k + 1).into_word()],
                        data: Bytes::from(
                            U256::from(if (t + k) % 2 == 0 { 5_000u64 } else { 50 })
                                .to_be_bytes::<32>()
                                .to_vec(),
                        ),
                        log_index: log_index - 1,
                    }
                })
                .collect();
            Transaction {
                hash: keccak256((t as u64).to_be_bytes()),
                index: t as u64,
                from: user(t),
                to: Some(to),
                value: U256::ZERO,
                nonce: t as u64,
                gas_limit: 100_000,
                gas_price: Some(if t % 3 == 0 {
                    60_000_000_000
                } else {
                    20_000_000_000
                }),
                max_fee_per_gas: None,
                max_priority_fee_per_gas: None,
                input: input.into(),
                kind: 2,
                receipt: Receipt {
                    success: true,
                    gas_used: 50_000,
                    cumulative_gas_used: 50_000 * (t as u64 + 1),
                    effective_gas_price: 20_000_000_000,
                    contract_address: None,
                    logs,
                    logs_bloom: Bloom::ZERO,
                },
            }
        })
        .collect();
    Block {
        header: BlockRef {
            number: 20_000_000,
            hash: B256::repeat_byte(1),
            parent_hash: B256::repeat_byte(2),
        },
        timestamp: 1_700_000_000,
        transactions,
    }
}
