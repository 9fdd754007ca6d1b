//! defender-conditions against evalexpr and cel-interpreter, side by side: compile and eval of
//! Defender's documented example conditions, each engine with its program precompiled.
//!
//! Before the criterion groups run, a quick measurement pass prints a table of medians and
//! ratios (`ns per call`, peer / ours). Peers work on 64-bit integers, so the 1-100 ETH example
//! is given to them scaled to gwei (`value > 1000000000 && value < 100000000000`); ours runs
//! both the verbatim 256-bit condition and the scaled one.
//!
//! Run: `cargo bench -p defender-benches --bench conditions`

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use defender_conditions::{Address, Env, JsonEnv, Program, Value, U256};

/// Decoded event/transaction values, the way an engine holds them.
struct Decoded {
    from: Address,
    value: U256,
    value_gwei: U256,
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
            "valueGwei" => Value::Uint(self.value_gwei),
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

struct Case {
    name: &'static str,
    ours: &'static str,
    evalexpr: Option<&'static str>,
    cel: Option<&'static str>,
}

const HEADLINE: &str = "value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000";

const CASES: [Case; 7] = [
    Case {
        name: "value_1_to_100_eth",
        ours: HEADLINE,
        evalexpr: None,
        cel: None,
    },
    Case {
        name: "value_1_to_100_eth_in_gwei",
        ours: "valueGwei > 1000000000 and valueGwei < 100000000000",
        evalexpr: Some("valueGwei > 1000000000 && valueGwei < 100000000000"),
        cel: Some("valueGwei > 1000000000 && valueGwei < 100000000000"),
    },
    Case {
        name: "status_failed",
        ours: r#"status == "failed""#,
        evalexpr: Some(r#"status == "failed""#),
        cel: Some(r#"status == "failed""#),
    },
    Case {
        name: "from_not_address",
        ours: r#"from != "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad""#,
        evalexpr: Some(r#"from != "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad""#),
        cel: Some(r#"from != "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad""#),
    },
    Case {
        name: "gas_price_and_used",
        ours: "gasPrice > 50000000000 and gasUsed > 20000",
        evalexpr: Some("gasPrice > 50000000000 && gasUsed > 20000"),
        cel: Some("gasPrice > 50000000000 && gasUsed > 20000"),
    },
    Case {
        name: "vals_0_eq_5",
        ours: "vals[0] == 5",
        evalexpr: None,
        cel: Some("vals[0] == 5"),
    },
    Case {
        name: "position_1_hello",
        ours: r#"$1 == "hello""#,
        evalexpr: Some(r#"arg1 == "hello""#),
        cel: Some(r#"arg1 == "hello""#),
    },
];

fn decoded() -> Decoded {
    Decoded {
        from: "0xD5180d374b6D1961ba24d0a4dbf26d696fda4CAD"
            .parse()
            .expect("address"),
        value: U256::from(5_000_000_000_000_000_000u128),
        value_gwei: U256::from(5_000_000_000u64),
        gas_price: U256::from(60_000_000_000u64),
        gas_used: U256::from(21_000u64),
        vals: [Value::from(5u64), Value::from(6u64), Value::from(7u64)],
        greeting: "hello".to_string(),
    }
}

fn evalexpr_context() -> evalexpr::HashMapContext<evalexpr::DefaultNumericTypes> {
    use evalexpr::{ContextWithMutableVariables, Value as V};
    let mut ctx = evalexpr::HashMapContext::<evalexpr::DefaultNumericTypes>::new();
    let set = |ctx: &mut evalexpr::HashMapContext, k: &str, v: V| {
        ctx.set_value(k.into(), v).expect("set");
    };
    set(&mut ctx, "valueGwei", V::from_int(5_000_000_000));
    set(&mut ctx, "status", V::from("failed"));
    set(
        &mut ctx,
        "from",
        V::from("0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad"),
    );
    set(&mut ctx, "gasPrice", V::from_int(60_000_000_000));
    set(&mut ctx, "gasUsed", V::from_int(21_000));
    set(&mut ctx, "arg1", V::from("hello"));
    ctx
}

fn cel_context() -> cel_interpreter::Context<'static> {
    use cel_interpreter::Value as V;
    let mut ctx = cel_interpreter::Context::default();
    let s = |x: &str| V::String(Arc::new(x.to_string()));
    ctx.add_variable_from_value("valueGwei", V::Int(5_000_000_000));
    ctx.add_variable_from_value("status", s("failed"));
    ctx.add_variable_from_value("from", s("0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad"));
    ctx.add_variable_from_value("gasPrice", V::Int(60_000_000_000));
    ctx.add_variable_from_value("gasUsed", V::Int(21_000));
    ctx.add_variable_from_value(
        "vals",
        V::List(Arc::new(vec![V::Int(5), V::Int(6), V::Int(7)])),
    );
    ctx.add_variable_from_value("arg1", s("hello"));
    ctx
}

/// Median nanoseconds per call over 51 samples of about 2 ms each.
fn median_ns(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calibration = 0u64;
    while start.elapsed() < Duration::from_millis(20) {
        f();
        calibration += 1;
    }
    let per_sample = (calibration / 10).max(1);
    let mut samples: Vec<f64> = (0..51)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_sample {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_sample as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn ratio_table() {
    let env = decoded();
    let ee_ctx = evalexpr_context();
    let cel_ctx = cel_context();
    println!();
    println!("defender-conditions vs peers: median ns per call (ratio = peer / ours)");
    println!(
        "{:<28} {:>7} | {:>9} {:>9} {:>7} | {:>9} {:>7}",
        "eval", "", "ours", "evalexpr", "ratio", "cel", "ratio"
    );
    let fmt_peer = |peer: Option<f64>, ours: f64| match peer {
        Some(p) => (format!("{p:.1}"), format!("{:.1}x", p / ours)),
        None => ("n/a".to_string(), "".to_string()),
    };
    for case in &CASES {
        let ours_p = Program::compile(case.ours, None).expect("ours compiles");
        assert!(ours_p.eval(&env).is_ok(), "{}", case.ours);
        let ours = median_ns(|| {
            black_box(ours_p.eval(black_box(&env)).ok());
        });
        let ee = case.evalexpr.map(|src| {
            let node = evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(src)
                .expect("evalexpr compiles");
            assert!(node.eval_boolean_with_context(&ee_ctx).is_ok(), "{src}");
            median_ns(|| {
                black_box(node.eval_boolean_with_context(black_box(&ee_ctx)).ok());
            })
        });
        let cel = case.cel.map(|src| {
            let p = cel_interpreter::Program::compile(src).expect("cel compiles");
            assert!(p.execute(&cel_ctx).is_ok(), "{src}");
            median_ns(|| {
                black_box(p.execute(black_box(&cel_ctx)).ok());
            })
        });
        let (e, er) = fmt_peer(ee, ours);
        let (c, cr) = fmt_peer(cel, ours);
        println!(
            "{:<36} | {:>9.1} {:>9} {:>7} | {:>9} {:>7}",
            case.name, ours, e, er, c, cr
        );
    }
    println!(
        "{:<28} {:>7} | {:>9} {:>9} {:>7} | {:>9} {:>7}",
        "compile", "", "ours", "evalexpr", "ratio", "cel", "ratio"
    );
    for case in &CASES {
        let ours = median_ns(|| {
            black_box(Program::compile(black_box(case.ours), None).ok());
        });
        let ee = case.evalexpr.map(|src| {
            median_ns(|| {
                black_box(
                    evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(black_box(src))
                        .ok(),
                );
            })
        });
        let cel = case.cel.map(|src| {
            median_ns(|| {
                black_box(cel_interpreter::Program::compile(black_box(src)).ok());
            })
        });
        let (e, er) = fmt_peer(ee, ours);
        let (c, cr) = fmt_peer(cel, ours);
        println!(
            "{:<36} | {:>9.1} {:>9} {:>7} | {:>9} {:>7}",
            case.name, ours, e, er, c, cr
        );
    }
    // the same headline condition over JSON as Defender sends it (numbers as decimal strings)
    let json = serde_json::json!({ "params": { "value": "5000000000000000000" } });
    let json_env = JsonEnv::match_reason(&json);
    let p = Program::compile(HEADLINE, None).expect("compile");
    let ns = median_ns(|| {
        black_box(p.eval(black_box(&json_env)).ok());
    });
    println!("{:<36} | {:>9.1}", "value_1_to_100_eth over JsonEnv", ns);
    println!();
}

fn benches(c: &mut Criterion) {
    ratio_table();
    let env = decoded();
    let ee_ctx = evalexpr_context();
    let cel_ctx = cel_context();

    let mut eval = c.benchmark_group("conditions/eval");
    for case in &CASES {
        let p = Program::compile(case.ours, None).expect("compile");
        eval.bench_function(format!("ours/{}", case.name), |b| {
            b.iter(|| p.eval(black_box(&env)))
        });
        if let Some(src) = case.evalexpr {
            let node =
                evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(src).expect("ee");
            eval.bench_function(format!("evalexpr/{}", case.name), |b| {
                b.iter(|| node.eval_boolean_with_context(black_box(&ee_ctx)))
            });
        }
        if let Some(src) = case.cel {
            let p = cel_interpreter::Program::compile(src).expect("cel");
            eval.bench_function(format!("cel/{}", case.name), |b| {
                b.iter(|| p.execute(black_box(&cel_ctx)))
            });
        }
    }
    eval.finish();

    let mut compile = c.benchmark_group("conditions/compile");
    for case in &CASES {
        compile.bench_function(format!("ours/{}", case.name), |b| {
            b.iter(|| Program::compile(black_box(case.ours), None))
        });
        if let Some(src) = case.evalexpr {
            compile.bench_function(format!("evalexpr/{}", case.name), |b| {
                b.iter(|| {
                    evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(black_box(src))
                })
            });
        }
        if let Some(src) = case.cel {
            compile.bench_function(format!("cel/{}", case.name), |b| {
                b.iter(|| cel_interpreter::Program::compile(black_box(src)))
            });
        }
    }
    compile.finish();
}

criterion_group! {
    name = conditions;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = benches
}
criterion_main!(conditions);
