//! Which transactions a monitor's event, function and transaction conditions select.

use super::*;

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
