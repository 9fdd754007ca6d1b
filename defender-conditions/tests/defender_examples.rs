//! Every example of "What are Conditions?" in Defender's Sentinel docs, verbatim, evaluated on the
//! transaction and event contexts it describes (JSON as Defender sends it: numbers as decimal
//! strings, addresses as `0x` strings in any letter case).
#![cfg(feature = "json")]

use defender_conditions::{JsonEnv, Program, Schema};
use serde_json::json;

fn tx(status: &str, from: &str, gas_price: &str, gas_used: &str) -> serde_json::Value {
    json!({
        "to": "0x9a1a2c0e3b6d3b2b8b8c1b2f3c4d5e6f7a8b9c0d",
        "from": from,
        "gasPrice": gas_price,
        "maxFeePerGas": "60000000000",
        "maxPriorityFeePerGas": "1000000000",
        "gasLimit": "100000",
        "gasUsed": gas_used,
        "value": "0",
        "nonce": "7",
        "status": status
    })
}

fn check(condition: &str, schema: &Schema, env: &JsonEnv<'_>, expected: bool) {
    // with the schema and without it: both must agree
    for s in [Some(schema), None] {
        let program =
            Program::compile(condition, s).unwrap_or_else(|e| panic!("{condition}: {e:?}"));
        assert_eq!(
            program.eval(env),
            Ok(expected),
            "{condition} (schema: {})",
            s.is_some()
        );
    }
}

const EXCLUDED: &str = "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad";
const EXCLUDED_CHECKSUM: &str = "0xD5180d374b6D1961ba24d0a4dbf26d696fda4CAD";
const OTHER: &str = "0x1111111111111111111111111111111111111111";

#[test]
fn transactions_that_are_reverted() {
    let schema = Schema::transaction();
    let c = r#"status == "failed""#;
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("failed", OTHER, "1", "1")),
        true,
    );
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", OTHER, "1", "1")),
        false,
    );
}

#[test]
fn transactions_excluding_those_from_an_address() {
    let schema = Schema::transaction();
    let c = r#"from != "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad""#;
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", EXCLUDED, "1", "1")),
        false,
    );
    // checksummed or upper-case in the data: still the same address
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", EXCLUDED_CHECKSUM, "1", "1")),
        false,
    );
    check(
        c,
        &schema,
        &JsonEnv::new(&tx(
            "success",
            &EXCLUDED.to_uppercase().replace("0X", "0x"),
            "1",
            "1",
        )),
        false,
    );
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", OTHER, "1", "1")),
        true,
    );
}

#[test]
fn gas_price_above_50_gwei_and_gas_used_above_20000() {
    let schema = Schema::transaction();
    let c = "gasPrice > 50000000000 and gasUsed > 20000";
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", OTHER, "50000000001", "20001")),
        true,
    );
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", OTHER, "50000000000", "20001")),
        false,
    );
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", OTHER, "60000000000", "20000")),
        false,
    );
    // hex quantities as in eth_getTransactionReceipt also compare numerically
    check(
        c,
        &schema,
        &JsonEnv::new(&tx("success", OTHER, "0xba43b7401", "0x4e21")),
        true,
    );
}

fn transfer_reason(value: &str) -> serde_json::Value {
    json!({
        "type": "event",
        "signature": "Transfer(address,address,uint256)",
        "address": "0x6b175474e89094c44da98b954eedeac495271d0f",
        "args": [OTHER, EXCLUDED, value],
        "params": { "to": OTHER, "from": EXCLUDED, "value": value }
    })
}

#[test]
fn transfer_value_between_1_and_100_eth_in_hex() {
    // Event Signature: Transfer(address to, address from, uint256 value)
    let schema = Schema::from_signature("Transfer(address to, address from, uint256 value)")
        .expect("schema");
    let c = "value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000";
    for (value, expected) in [
        ("1000000000000000000", false),
        ("1000000000000000001", true),
        ("50000000000000000000", true),
        ("99999999999999999999", true),
        ("100000000000000000000", false),
        ("0", false),
    ] {
        let reason = transfer_reason(value);
        check(c, &schema, &JsonEnv::match_reason(&reason), expected);
        // positional access agrees: $2 is value
        let p = Program::compile(
            "$2 > 0xde0b6b3a7640000 and $2 < 0x56bc75e2d63100000",
            Some(&schema),
        )
        .expect("compile");
        assert_eq!(
            p.eval(&JsonEnv::match_reason(&reason)),
            Ok(expected),
            "{value}"
        );
    }
}

#[test]
fn vals_event_first_element_equal_to_5() {
    // Event Signature: ValsEvent(uint256[3] vals)
    let schema = Schema::from_signature("ValsEvent(uint256[3] vals)").expect("schema");
    let c = "vals[0] == 5";
    let yes = json!({ "args": [["5", "6", "7"]], "params": { "vals": ["5", "6", "7"] } });
    let no = json!({ "args": [["4", "5", "6"]], "params": { "vals": ["4", "5", "6"] } });
    check(c, &schema, &JsonEnv::match_reason(&yes), true);
    check(c, &schema, &JsonEnv::match_reason(&no), false);
    // JSON numbers work as well as decimal strings
    let numbers = json!({ "params": { "vals": [5, 6, 7] } });
    check(c, &schema, &JsonEnv::match_reason(&numbers), true);
}

#[test]
fn greet_with_an_unnamed_string_hello() {
    // Function Signature: greet(address, string)
    let schema = Schema::from_signature("greet(address, string)").expect("schema");
    let c = r#"$1 == "hello""#;
    let yes = json!({ "type": "function", "args": [OTHER, "hello"], "params": {} });
    let no = json!({ "type": "function", "args": [OTHER, "Hello"], "params": {} });
    check(c, &schema, &JsonEnv::match_reason(&yes), true);
    check(c, &schema, &JsonEnv::match_reason(&no), false);
}

#[test]
fn documented_operators_in_upper_case_and_math() {
    // "Conditions can use AND, OR, NOT and ()", "basic math operators: +, -, *, /, ^"
    let schema = Schema::transaction();
    let env_data = tx("success", OTHER, "50000000000", "21000");
    let env = JsonEnv::new(&env_data);
    check(
        "NOT (status == \"failed\") AND (gasUsed > 20000 OR gasPrice > 10 ^ 12)",
        &schema,
        &env,
        true,
    );
    check(
        "gasPrice * gasUsed / 10 ^ 9 == 1050000",
        &schema,
        &env,
        true,
    );
    check("gasPrice - 50 * 10 ^ 9 + 1 >= 1", &schema, &env, true);
    check("gasUsed >= 21000 and gasUsed <= 21000", &schema, &env, true);
}
