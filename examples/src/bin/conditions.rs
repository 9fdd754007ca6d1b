//! Calling the condition evaluator from another program: compile Defender conditions once,
//! then evaluate them over your own data through the `Env` trait (no copying), or over JSON.
//!
//! Run with `cargo run -p defender-examples --bin conditions`.

use defender_conditions::{Address, Env, JsonEnv, Program, Schema, Value, U256};

/// A transaction as your program already holds it.
struct Tx {
    from: Address,
    gas_price: u128,
    gas_used: u64,
    value: U256,
    success: bool,
}

/// Variables by name, straight from the struct's fields.
impl Env for Tx {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        Some(match name {
            "from" => Value::Address(self.from),
            "gasPrice" => Value::Uint(U256::from(self.gas_price)),
            "gasUsed" => Value::Uint(U256::from(self.gas_used)),
            "value" => Value::Uint(self.value),
            "status" => Value::Str(if self.success { "success" } else { "failed" }),
            _ => return None,
        })
    }
}

fn main() {
    let tx_schema = Schema::transaction();
    let conditions = [
        r#"status == "failed""#,
        r#"from != "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad""#,
        "gasPrice > 50000000000 and gasUsed > 20000",
    ];
    let tx = Tx {
        from: "0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD"
            .parse()
            .expect("an address"),
        gas_price: 60_000_000_000,
        gas_used: 21_000,
        value: U256::from(10u64).pow(U256::from(18u64)),
        success: true,
    };
    println!("transaction: value = {} wei", tx.value);
    for source in conditions {
        let program = Program::compile(source, Some(&tx_schema)).expect("a valid condition");
        println!("  {source:<55} -> {:?}", program.eval(&tx));
    }

    // Event conditions against the event's signature; values from a JSON match reason.
    let transfer =
        Schema::from_signature("Transfer(address indexed from, address indexed to, uint256 value)")
            .expect("a valid signature");
    let range = Program::compile(
        "value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000",
        Some(&transfer),
    )
    .expect("a valid condition");
    let reason = serde_json::json!({"params": {"value": "2000000000000000000"}, "args": []});
    println!(
        "  Transfer value between 1 and 100 ETH: {:?}",
        range.eval(&JsonEnv::match_reason(&reason))
    );

    // Compile errors carry spans and come all at once.
    match Program::compile(r#"valu > 1 or value > "x""#, Some(&transfer)) {
        Ok(_) => unreachable!("the condition has two errors"),
        Err(errors) => {
            for e in errors {
                println!("  error at {:?}: {}", e.span, e);
            }
        }
    }
}
