//! Matching rules over hand-built blocks.

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

#[test]
fn event_condition_on_value_with_every_signature_form() {
    let forms = [
        (Some(ERC20_ABI), "Transfer(address,address,uint256)"),
        (
            Some(ERC20_ABI),
            "Transfer(address indexed from, address indexed to, uint256 value)",
        ),
        (Some(ERC20_ABI), "Transfer"),
        (
            None,
            "Transfer(address indexed from, address indexed to, uint256 value)",
        ),
        (
            None,
            "event Transfer(address indexed from, address indexed to, uint256 value)",
        ),
    ];
    for (abi, sig) in forms {
        let mut d = def(json!({
            "eventConditions": [{"eventSignature": sig, "expression": "value > 1000"}]
        }));
        d.abi = abi.map(str::to_string);
        let found = matcher(&d).match_block(&transfers_block());
        assert_eq!(hashes(&found), [h(2)], "{sig}");
        let r = &found[0].match_reasons[0];
        assert_eq!(r.kind, MatchReasonType::Event);
        assert_eq!(r.signature, "Transfer(address,address,uint256)");
        assert_eq!(r.condition.as_deref(), Some("value > 1000"));
        assert_eq!(r.params["value"], json!("5000"));
        assert_eq!(r.params["from"], json!(ALICE.to_checksum(None)));
        assert_eq!(
            r.args,
            [
                json!(ALICE.to_checksum(None)),
                json!(BOB.to_checksum(None)),
                json!("5000")
            ]
        );
    }
}

#[test]
fn bare_signature_without_abi_uses_positions_and_topic_count() {
    // No names: only `$0..`; which inputs are indexed comes from the log's topics.
    let d = def(json!({
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)",
                             "expression": "$2 > 1000 and $1 == '0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0'"}]
    }));
    let found = matcher(&d).match_block(&transfers_block());
    assert_eq!(hashes(&found), [h(2)]);
    assert!(found[0].match_reasons[0].params.is_empty());
    assert_eq!(found[0].match_reasons[0].args.len(), 3);
    // A name that the bare signature does not have is a compile error.
    let bad = def(json!({
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)", "expression": "value > 1"}]
    }));
    let err = Matcher::new().insert("bad", &bad, 1).unwrap_err();
    assert!(
        matches!(err, MonitorError::InvalidCondition { ref errors, .. } if errors[0].span == (0..5)),
        "{err}"
    );
}

#[test]
fn defender_condition_examples() {
    // Transfer value between 1 and 100 ETH, in hex.
    let d = def(json!({
        "abi": ERC20_ABI,
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)",
            "expression": "value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000"}]
    }));
    let b = block(vec![
        tx(
            1,
            ALICE,
            Some(TOKEN),
            Bytes::new(),
            vec![transfer_log(TOKEN, ALICE, BOB, 10u128.pow(18))],
        ),
        tx(
            2,
            ALICE,
            Some(TOKEN),
            Bytes::new(),
            vec![transfer_log(TOKEN, ALICE, BOB, 2 * 10u128.pow(18))],
        ),
        tx(
            3,
            ALICE,
            Some(TOKEN),
            Bytes::new(),
            vec![transfer_log(TOKEN, ALICE, BOB, 100 * 10u128.pow(18))],
        ),
    ]);
    assert_eq!(hashes(&matcher(&d).match_block(&b)), [h(2)]);

    // ValsEvent(uint256[3] vals): vals[0] == 5.
    let sig = "ValsEvent(uint256[3] vals)";
    let d =
        def(json!({"eventConditions": [{"eventSignature": sig, "expression": "vals[0] == 5"}]}));
    let vals = |a: u64| Log {
        address: TOKEN,
        topics: vec![keccak256("ValsEvent(uint256[3])")],
        data: DynSolValue::FixedArray(vec![
            DynSolValue::Uint(U256::from(a), 256),
            DynSolValue::Uint(U256::from(6u64), 256),
            DynSolValue::Uint(U256::from(7u64), 256),
        ])
        .abi_encode()
        .into(),
        log_index: 0,
    };
    let b = block(vec![
        tx(1, ALICE, Some(TOKEN), Bytes::new(), vec![vals(4)]),
        tx(2, ALICE, Some(TOKEN), Bytes::new(), vec![vals(5)]),
    ]);
    let found = matcher(&d).match_block(&b);
    assert_eq!(hashes(&found), [h(2)]);
    assert_eq!(
        found[0].match_reasons[0].params["vals"],
        json!(["5", "6", "7"])
    );

    // greet(address, string): $1 == "hello".
    let d = def(
        json!({"functionConditions": [{"functionSignature": "greet(address, string)", "expression": "$1 == \"hello\""}]}),
    );
    let greet = |s: &str| {
        call(
            "greet(address,string)",
            &[DynSolValue::Address(BOB), DynSolValue::String(s.into())],
        )
    };
    let b = block(vec![
        tx(1, ALICE, Some(TOKEN), greet("bye"), vec![]),
        tx(2, ALICE, Some(TOKEN), greet("hello"), vec![]),
        // Same call on another contract.
        tx(3, ALICE, Some(OTHER), greet("hello"), vec![]),
    ]);
    let found = matcher(&d).match_block(&b);
    assert_eq!(hashes(&found), [h(2)]);
    let r = &found[0].match_reasons[0];
    assert_eq!(r.kind, MatchReasonType::Function);
    assert_eq!(r.signature, "greet(address,string)");
    assert_eq!(r.args, [json!(BOB.to_checksum(None)), json!("hello")]);
    assert_eq!(r.address, TOKEN.to_checksum(None));
}

#[test]
fn transaction_conditions() {
    let mut failed = tx(2, ALICE, Some(TOKEN), Bytes::new(), vec![]);
    failed.receipt.success = false;
    let mut cheap = tx(3, BOB, Some(TOKEN), Bytes::new(), vec![]);
    cheap.gas_price = Some(1_000_000_000);
    let b = block(vec![
        tx(1, ALICE, Some(TOKEN), Bytes::new(), vec![]),
        failed,
        cheap,
    ]);
    let cases = [
        ("status == \"failed\"", vec![h(2)]),
        ("status == 'success'", vec![h(1), h(3)]),
        (
            "from != \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\"",
            vec![h(3)],
        ),
        ("gasPrice > 50000000000 and gasUsed > 20000", vec![h(1), h(2)]),
        ("value == 7 and nonce == 3 and gasLimit == 100000 and to == '0x5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f'", vec![h(1), h(2), h(3)]),
        // A legacy field that is absent is null.
        ("maxFeePerGas == 1", vec![]),
    ];
    for (cond, want) in cases {
        let d = def(json!({ "txCondition": cond }));
        let found = matcher(&d).match_block(&b);
        assert_eq!(hashes(&found), want, "{cond}");
        for f in &found {
            let r = f.match_reasons.last().unwrap();
            assert_eq!(r.kind, MatchReasonType::Transaction);
            assert_eq!(r.condition.as_deref(), Some(cond));
        }
    }
}

#[test]
fn no_selection_matches_every_transaction_touching_the_address() {
    let b = block(vec![
        tx(1, ALICE, Some(TOKEN), Bytes::new(), vec![]),
        tx(2, TOKEN, Some(BOB), Bytes::new(), vec![]),
        tx(
            3,
            ALICE,
            Some(OTHER),
            Bytes::new(),
            vec![transfer_log(TOKEN, ALICE, BOB, 1)],
        ),
        tx(
            4,
            ALICE,
            Some(OTHER),
            Bytes::new(),
            vec![transfer_log(OTHER, ALICE, BOB, 1)],
        ),
        tx(5, ALICE, None, Bytes::new(), vec![]),
    ]);
    let d = def(json!({}));
    let found = matcher(&d).match_block(&b);
    assert_eq!(hashes(&found), [h(1), h(2), h(3)]);
    for f in &found {
        assert_eq!(f.matched_addresses, [format!("{:#x}", TOKEN)]);
        assert_eq!(f.matched_checksum_addresses, [TOKEN.to_checksum(None)]);
        assert_eq!(f.match_reasons.len(), 1);
        assert_eq!(f.match_reasons[0].kind, MatchReasonType::Transaction);
        assert_eq!(f.match_reasons[0].condition, None);
    }
}

#[test]
fn events_or_functions_and_the_tx_condition_must_all_hold() {
    let d = def(json!({
        "abi": ERC20_ABI,
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)", "expression": "value > 1000"}],
        "functionConditions": [{"functionSignature": "transfer(address,uint256)", "expression": "amount == 42"}],
        "txCondition": "status == 'success'"
    }));
    let transfer = |n: u64| {
        call(
            "transfer(address,uint256)",
            &[
                DynSolValue::Address(BOB),
                DynSolValue::Uint(U256::from(n), 256),
            ],
        )
    };
    let mut failed = tx(
        4,
        ALICE,
        Some(TOKEN),
        transfer(42),
        vec![transfer_log(TOKEN, ALICE, BOB, 5000)],
    );
    failed.receipt.success = false;
    let b = block(vec![
        // Function matches, event does not.
        tx(
            1,
            ALICE,
            Some(TOKEN),
            transfer(42),
            vec![transfer_log(TOKEN, ALICE, BOB, 42)],
        ),
        // Both match.
        tx(
            2,
            ALICE,
            Some(TOKEN),
            transfer(5000),
            vec![transfer_log(TOKEN, ALICE, BOB, 5000)],
        ),
        // Neither.
        tx(
            3,
            ALICE,
            Some(TOKEN),
            transfer(7),
            vec![transfer_log(TOKEN, ALICE, BOB, 7)],
        ),
        failed,
        // A call to another contract that makes the token emit a large transfer.
        tx(
            5,
            ALICE,
            Some(OTHER),
            transfer(42),
            vec![transfer_log(TOKEN, ALICE, BOB, 9999)],
        ),
    ]);
    let found = matcher(&d).match_block(&b);
    assert_eq!(hashes(&found), [h(1), h(2), h(5)]);
    let kinds = |m: &MonitorMatch| m.match_reasons.iter().map(|r| r.kind).collect::<Vec<_>>();
    use MatchReasonType::*;
    assert_eq!(kinds(&found[0]), [Function, Transaction]);
    assert_eq!(kinds(&found[1]), [Event, Transaction]);
    assert_eq!(kinds(&found[2]), [Event, Transaction]);
    assert_eq!(found[0].match_reasons[0].params["amount"], json!("42"));
}

#[test]
fn erc721_transfer_does_not_decode_as_erc20() {
    let d = def(
        json!({"abi": ERC20_ABI, "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)"}]}),
    );
    let mut nft = transfer_log(TOKEN, ALICE, BOB, 0);
    nft.topics.push(B256::with_last_byte(9));
    nft.data = Bytes::new();
    let b = block(vec![tx(1, ALICE, Some(TOKEN), Bytes::new(), vec![nft])]);
    assert!(matcher(&d).match_block(&b).is_empty());
}

#[test]
fn add_replace_pause_remove_and_levels() {
    let mut m = Matcher::new();
    let d = def(
        json!({"eventConditions": [{"eventSignature": "Transfer(address indexed from, address indexed to, uint256 value)", "expression": "value > 1000"}]}),
    );
    m.insert("a", &d, 1).unwrap();
    let mut other = def(json!({"confirmLevel": "finalized"}));
    other.addresses = vec![OTHER.to_string()];
    m.insert("b", &other, 1).unwrap();
    let b = transfers_block();
    let ids = |ms: Vec<MonitorMatch>| {
        ms.into_iter()
            .map(|m| (m.monitor.id, m.hash))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(m.match_block(&b)),
        [("a".to_string(), h(2)), ("b".to_string(), h(3))]
    );
    assert_eq!(
        ids(m.match_block_at(&b, ConfirmLevel::Finalized)),
        [("b".to_string(), h(3))]
    );
    assert_eq!(
        m.levels(),
        [ConfirmLevel::Blocks(1), ConfirmLevel::Finalized]
    );

    // A failed replacement keeps the old monitor.
    let mut broken = d.clone();
    broken.tx_condition = Some("gasPrice >".into());
    assert!(m.insert("a", &broken, 1).is_err());
    assert_eq!(m.len(), 2);
    // A successful one replaces it.
    let mut lower = d.clone();
    lower.event_conditions[0].expression = Some("value > 1".into());
    assert!(m.insert("a", &lower, 1).unwrap());
    assert_eq!(
        ids(m.match_block_at(&b, ConfirmLevel::Blocks(1))),
        [("a".to_string(), h(1)), ("a".to_string(), h(2))]
    );

    assert!(m.set_paused("a", true));
    assert_eq!(ids(m.match_block(&b)), [("b".to_string(), h(3))]);
    assert!(m.set_paused("a", false));
    assert!(m.remove("b"));
    assert!(!m.remove("b"));
    assert!(!m.set_paused("b", true));
    assert_eq!(m.match_block(&b).len(), 2);
    assert_eq!(m.len(), 1);
}

#[test]
fn definition_errors_name_the_monitor_and_the_expression() {
    let cases = [
        (json!({"abi": "[{not json"}), "InvalidAbi"),
        (
            json!({"abi": ERC20_ABI, "eventConditions": [{"eventSignature": "Approval(address,address,uint256)"}]}),
            "UnknownEvent",
        ),
        (
            json!({"abi": ERC20_ABI, "functionConditions": [{"functionSignature": "mint(address,uint256)"}]}),
            "UnknownFunction",
        ),
        (
            json!({"eventConditions": [{"eventSignature": "Transfer(address,"}]}),
            "InvalidSignature",
        ),
        (json!({"addresses": ["0x1234"]}), "InvalidAddress"),
        (
            json!({"txCondition": "gasPrise > 1 or status > 'x'"}),
            "InvalidCondition",
        ),
    ];
    for (extra, kind) in cases {
        let err = Matcher::new().insert("mon-7", &def(extra), 1).unwrap_err();
        assert!(format!("{err:?}").starts_with(kind), "{err:?}");
        assert!(err.to_string().contains("mon-7"), "{err}");
    }
    let err = Matcher::new()
        .insert(
            "mon-7",
            &def(json!({"txCondition": "gasPrise > 1 or status > 'x'"})),
            1,
        )
        .unwrap_err();
    let MonitorError::InvalidCondition {
        expression, errors, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(expression, "gasPrise > 1 or status > 'x'");
    assert!(errors.len() >= 2, "{errors:?}");
    assert_eq!(errors[0].span, 0..8);
}

#[test]
fn payload_has_the_wire_format_shape() {
    let d = def(json!({
        "abi": ERC20_ABI,
        "confirmLevel": 0,
        "eventConditions": [{"eventSignature": "Transfer(address,address,uint256)", "expression": "value > 5"}],
        "txCondition": "status == \"success\""
    }));
    let mut t = tx(
        1,
        ALICE,
        Some(TOKEN),
        Bytes::new(),
        vec![transfer_log(TOKEN, ALICE, BOB, 2 * 10u128.pow(18))],
    );
    t.receipt.gas_used = 0xcf08;
    t.receipt.cumulative_gas_used = 0xcf08;
    t.receipt.effective_gas_price = 1_000_000_000;
    let found = matcher(&d).match_block(&block(vec![t]));
    assert_eq!(found.len(), 1);
    let got = serde_json::to_value(&found[0]).unwrap();
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/monitor_match.json")).unwrap();
    // Same keys, recursively (arrays compared by their first element).
    fn keys(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut kx: Vec<_> = x.keys().filter(|k| *k != "metadata").collect();
                let mut ky: Vec<_> = y.keys().filter(|k| *k != "metadata").collect();
                kx.sort();
                ky.sort();
                assert_eq!(kx, ky, "keys at {path}");
                for k in kx {
                    if path.ends_with("params") {
                        continue;
                    }
                    keys(&x[k], &y[k], &format!("{path}.{k}"));
                }
            }
            (serde_json::Value::Array(x), serde_json::Value::Array(y)) => {
                if let (Some(x0), Some(y0)) = (x.first(), y.first()) {
                    keys(x0, y0, &format!("{path}[0]"));
                }
            }
            _ => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "type at {path}: {a} vs {b}"
            ),
        }
    }
    keys(&got, &fixture, "");
    assert_eq!(got["blockNumber"], "0x7b");
    assert_eq!(got["timestamp"], 1_612_809_138);
    assert_eq!(got["hash"], h(1));
    assert_eq!(got["transaction"]["status"], "0x1");
    assert_eq!(got["transaction"]["gasUsed"], "0xcf08");
    assert_eq!(got["transaction"]["effectiveGasPrice"], "0x3b9aca00");
    assert_eq!(got["transaction"]["from"], format!("{:#x}", ALICE));
    assert_eq!(got["transaction"]["type"], "0x2");
    assert_eq!(
        got["transaction"]["logs"][0]["topics"][0],
        fixture["transaction"]["logs"][0]["topics"][0]
    );
    assert_eq!(
        got["transaction"]["logs"][0]["blockHash"],
        B256::repeat_byte(0xab).to_string()
    );
    assert_eq!(
        got["matchReasons"][0]["params"]["value"],
        "2000000000000000000"
    );
    assert_eq!(
        got["matchReasons"][1],
        json!({
            "type": "transaction", "signature": "", "condition": "status == \"success\"",
            "address": TOKEN.to_checksum(None), "args": [], "params": {}
        })
    );
    // The legacy `sentinel` is the monitor plus the Sentinel's single `address`.
    let mut legacy = got["monitor"].clone();
    legacy["address"] = got["monitor"]["addresses"][0].clone();
    assert_eq!(got["sentinel"], legacy);
    assert!(legacy["address"].is_string());
    assert!(got["monitor"].get("address").is_none());
    assert_eq!(got["monitor"]["confirmBlocks"], 0);
    assert_eq!(got["monitor"]["chainId"], 1);
    assert_eq!(got["monitor"]["abi"][0]["name"], "Transfer");
    // Round trip through the wire type.
    let back: MonitorMatch = serde_json::from_value(got).unwrap();
    assert_eq!(back, found[0]);
}

#[test]
fn default_confirmations_are_one_block() {
    let found = matcher(&def(json!({}))).match_block(&transfers_block());
    assert_eq!(found[0].monitor.confirm_blocks, ConfirmLevel::Blocks(1));
    assert_eq!(
        serde_json::to_value(&found[0].monitor).unwrap()["confirmBlocks"],
        1
    );
}
