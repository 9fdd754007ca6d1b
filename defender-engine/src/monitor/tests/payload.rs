//! The match payload: Defender's wire format, and its defaults.

use super::*;

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
        serde_json::from_str(include_str!("../../../tests/fixtures/monitor_match.json")).unwrap();
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
