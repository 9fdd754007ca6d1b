//! A counting global allocator proves that evaluating the Defender examples allocates nothing,
//! over a typed environment and over JSON.
#![allow(unsafe_code)]
#![cfg(feature = "json")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use defender_conditions::{Address, Env, JsonEnv, Program, Schema, Value, U256};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// A typed event/transaction the way an engine holds decoded values.
struct Decoded {
    from: Address,
    value: U256,
    gas_price: U256,
    gas_used: U256,
    vals: [Value<'static>; 3],
    greeting: String,
}

impl Env for Decoded {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        Some(match name {
            "from" => Value::Address(self.from),
            "value" => Value::Uint(self.value),
            "gasPrice" => Value::Uint(self.gas_price),
            "gasUsed" => Value::Uint(self.gas_used),
            "status" => Value::Str("failed"),
            "vals" => Value::List(&self.vals),
            _ => return None,
        })
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        match index {
            0 => Some(Value::Address(self.from)),
            1 => Some(Value::Str(&self.greeting)),
            _ => None,
        }
    }
}

const EXAMPLES: [&str; 6] = [
    r#"status == "failed""#,
    r#"from != "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad""#,
    "gasPrice > 50000000000 and gasUsed > 20000",
    "value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000",
    "vals[0] == 5",
    r#"$1 == "hello""#,
];

#[test]
fn eval_does_not_allocate() {
    let programs: Vec<Program> = EXAMPLES
        .iter()
        .map(|s| Program::compile(s, None).expect("compile"))
        .collect();
    let decoded = Decoded {
        from: "0xD5180d374b6D1961ba24d0a4dbf26d696fda4CAD"
            .parse()
            .expect("address"),
        value: U256::from(5_000_000_000_000_000_000u128),
        gas_price: U256::from(60_000_000_000u64),
        gas_used: U256::from(21_000u64),
        vals: [Value::from(5u64), Value::from(6u64), Value::from(7u64)],
        greeting: "hello".to_string(),
    };
    let json = serde_json::json!({
        "params": {
            "from": "0xD5180d374b6D1961ba24d0a4dbf26d696fda4CAD",
            "value": "5000000000000000000",
            "gasPrice": "60000000000",
            "gasUsed": "21000",
            "status": "failed",
            "vals": ["5", "6", "7"]
        },
        "args": ["0xD5180d374b6D1961ba24d0a4dbf26d696fda4CAD", "hello"]
    });
    let json_env = JsonEnv::match_reason(&json);
    let expected = [true, false, true, true, true, true];

    // warm up (lazy statics, thread-locals)
    for p in &programs {
        let _ = p.eval(&decoded);
        let _ = p.eval(&json_env);
    }
    for ((p, src), want) in programs.iter().zip(EXAMPLES).zip(expected) {
        let mut got = Ok(false);
        let n = allocations_during(|| got = p.eval(&decoded));
        assert_eq!(got, Ok(want), "{src}");
        assert_eq!(n, 0, "typed env: `{src}` allocated {n} times");
        let n = allocations_during(|| got = p.eval(&json_env));
        assert_eq!(got, Ok(want), "{src}");
        assert_eq!(n, 0, "JSON env: `{src}` allocated {n} times");
    }

    // with a schema too (variables resolved to positions as a fallback)
    let schema = Schema::from_signature("Transfer(address from, address to, uint256 value)")
        .expect("schema");
    let p = Program::compile(EXAMPLES[3], Some(&schema)).expect("compile");
    let mut got = Ok(false);
    assert_eq!(allocations_during(|| got = p.eval(&decoded)), 0);
    assert_eq!(got, Ok(true));

    // the counter does count: compiling allocates
    assert!(allocations_during(|| drop(Program::compile(EXAMPLES[0], None))) > 0);
}
