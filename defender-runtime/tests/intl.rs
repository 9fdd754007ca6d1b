//! `Intl` and the locale-aware methods, computed by the host with ICU4X: each expression of
//! the tables runs in `node` (Node 20 with full ICU, the reference; `LC_ALL=en_US.UTF-8` and
//! `TZ=UTC`, as on Defender's Lambda) and in the sandbox, and the strings must be equal.
//! Where ICU4X's CLDR data differs from Node's ICU in a way that is not our bug, the
//! expression is in `DATA_DIFFERENCES` with our exact answer and the reason.

mod common;

use common::*;
use defender_runtime::QuickJsRuntime;
use std::process::Command;

/// Compared with Node, exactly.
const SAME_AS_NODE: &[&str] = &[
    // The governance alert that failed with `ReferenceError: Intl is not defined`.
    "new Intl.NumberFormat('en-US').format(1234567.891)",
    "typeof Intl",
    "Object.prototype.toString.call(Intl)",
    "Intl[Symbol.toStringTag]",
    "Object.prototype.toString.call(new Intl.NumberFormat())",
    "(1234567.891).toLocaleString()",
    "(1234567.891).toLocaleString('de-DE')",
    "(1234567.891).toLocaleString('fr-FR')",
    "(1234567.891).toLocaleString('en-GB')",
    "(1234567.891).toLocaleString('es')",
    "(1234567.891).toLocaleString('ja')",
    "(1234567.891).toLocaleString('zh-CN')",
    "(1234.5).toLocaleString('es')",
    "(-0).toLocaleString()",
    "(0.000001234).toLocaleString()",
    "(1e21).toLocaleString()",
    "NaN.toLocaleString()",
    "(-Infinity).toLocaleString('de')",
    "(123456789012345678901234567890n).toLocaleString('en-US')",
    "(-123456789012345678901234567890n).toLocaleString('de-DE')",
    "new Intl.NumberFormat('en-US').format(123456789012345678901234567890n)",
    "new Intl.NumberFormat('en-US').format('123456789012345678901234567890.123')",
    "new Intl.NumberFormat('en-US', { maximumFractionDigits: 20 }).format('0.1000000000000000000001')",
    "new Intl.NumberFormat('en-US', { style: 'percent' }).format(0.256)",
    "new Intl.NumberFormat('de-DE', { style: 'percent' }).format(0.256)",
    "new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 2 }).format(-0.12345)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(1234.5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(-1234.5)",
    "new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' }).format(1234.5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' }).format(1234.5)",
    "new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'USD' }).format(1234.5)",
    "new Intl.NumberFormat('ja-JP', { style: 'currency', currency: 'JPY' }).format(1234.5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'usd', maximumFractionDigits: 0 }).format(1234.5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', currencyDisplay: 'code' }).format(1234.5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', currencyDisplay: 'name' }).format(1234.5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', currencySign: 'accounting' }).format(-5)",
    "new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', signDisplay: 'always' }).format(5)",
    "new Intl.NumberFormat('en-US', { minimumFractionDigits: 2 }).format(5)",
    "new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(2.5)",
    "new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(-2.5)",
    "new Intl.NumberFormat('en-US', { minimumIntegerDigits: 3 }).format(7)",
    "new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 }).format(123456)",
    "new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 }).format(0.00123456)",
    "new Intl.NumberFormat('en-US', { minimumSignificantDigits: 3 }).format(1)",
    "new Intl.NumberFormat('en-US', { useGrouping: false }).format(1234567)",
    "new Intl.NumberFormat('es', { useGrouping: 'min2' }).format(1234)",
    "new Intl.NumberFormat('en-US', { signDisplay: 'exceptZero' }).format(0)",
    "new Intl.NumberFormat('en-US', { signDisplay: 'exceptZero' }).format(3)",
    "new Intl.NumberFormat('en-US', { signDisplay: 'never' }).format(-3)",
    "new Intl.NumberFormat('en-US', { notation: 'compact' }).format(1234567)",
    "new Intl.NumberFormat('en-US', { notation: 'compact' }).format(1650)",
    "new Intl.NumberFormat('en-US', { notation: 'compact' }).format(999999)",
    "new Intl.NumberFormat('en-US', { notation: 'compact' }).format(-12345)",
    "new Intl.NumberFormat('en-US', { notation: 'compact' }).format(123)",
    "new Intl.NumberFormat('en-US', { notation: 'compact', compactDisplay: 'long' }).format(2500000)",
    "new Intl.NumberFormat('de-DE', { notation: 'compact' }).format(2500000)",
    "new Intl.NumberFormat('ja', { notation: 'compact' }).format(123456789)",
    "new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 }).format(1234567)",
    "JSON.stringify(new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).formatToParts(-1234.5))",
    "JSON.stringify(new Intl.NumberFormat('de-DE', { style: 'percent' }).formatToParts(0.5))",
    "JSON.stringify(new Intl.NumberFormat('en-US').resolvedOptions())",
    "JSON.stringify(new Intl.NumberFormat('de', { style: 'currency', currency: 'eur' }).resolvedOptions())",
    "JSON.stringify(new Intl.NumberFormat('en', { maximumSignificantDigits: 2 }).resolvedOptions())",
    "[1, 22, 333].map(new Intl.NumberFormat('de').format).join(' ')",
    "new Intl.NumberFormat('xx').resolvedOptions().locale",
    "new Intl.NumberFormat('en-XX').resolvedOptions().locale",
    "new Intl.NumberFormat(['xx', 'de-DE']).resolvedOptions().locale",
    "new Intl.NumberFormat('en-u-nu-arab').format(12)",
    "JSON.stringify(Intl.getCanonicalLocales(['EN-us', 'de-de', 'en-US', 'zh-hans-cn']))",
    "JSON.stringify(Intl.NumberFormat.supportedLocalesOf(['en-US', 'xx', 'de']))",
    // Errors, as Node words them.
    "new Intl.NumberFormat('en', { maximumFractionDigits: 200 })",
    "new Intl.NumberFormat('en', { minimumFractionDigits: 3, maximumFractionDigits: 1 })",
    "new Intl.NumberFormat('en', { style: 'currency' })",
    "new Intl.NumberFormat('en', { style: 'currency', currency: 'US' })",
    "new Intl.NumberFormat('en', { style: 'bogus' })",
    "new Intl.NumberFormat('en', { maximumSignificantDigits: 0 })",
    "new Intl.NumberFormat('en_US')",
    "Intl.getCanonicalLocales([5])",
    "(() => { try { return Intl.NumberFormat.prototype.format; } catch (e) { return e instanceof TypeError; } })()",
    "new Intl.DateTimeFormat('en', { timeZone: 'Mars/Olympus' })",
    "new Intl.DateTimeFormat('en', { dateStyle: 'full', year: 'numeric' })",
    "new Intl.DateTimeFormat('en').format(NaN)",
    "new Intl.PluralRules('en', { type: 'bogus' })",
    // Dates: a fixed instant, in UTC (the default) and in IANA zones.
    "new Date(0).toLocaleString()",
    "new Date(1700000000000).toLocaleString('en-US')",
    "new Date(1700000000000).toLocaleString('en-GB')",
    "new Date(1700000000000).toLocaleString('de-DE')",
    "new Date(1700000000000).toLocaleString('ja-JP')",
    "new Date(1700000000000).toLocaleDateString('fr-FR')",
    "new Date(1700000000000).toLocaleDateString('es')",
    "new Date(1700000000000).toLocaleDateString('zh-CN')",
    "new Date(1700000000000).toLocaleTimeString('en-US')",
    "new Date(1700000000000).toLocaleTimeString('de-DE')",
    "new Date(NaN).toLocaleString()",
    "new Intl.DateTimeFormat('en-US', { timeZone: 'UTC' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', minute: '2-digit' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Tokyo', year: 'numeric', month: 'long', day: 'numeric' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { dateStyle: 'long' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { dateStyle: 'short' }).format(1700000000000)",
    "new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { timeStyle: 'short' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { weekday: 'long' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric' }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', hour12: false }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-GB', { hour: 'numeric', minute: 'numeric', hour12: true }).format(1700000000000)",
    "new Intl.DateTimeFormat('en-US', { year: 'numeric', month: '2-digit', day: '2-digit' }).format(1700000000000)",
    "JSON.stringify(new Intl.DateTimeFormat('en-US', { year: 'numeric', month: 'short', day: 'numeric' }).formatToParts(1700000000000))",
    "new Intl.DateTimeFormat('en', { timeZone: 'america/new_york' }).resolvedOptions().timeZone",
    "JSON.stringify(new Intl.DateTimeFormat('en').resolvedOptions())",
    // Plural rules.
    "[0, 1, 2, 5, 1.5].map((n) => new Intl.PluralRules('en').select(n)).join()",
    "[1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101].map((n) => new Intl.PluralRules('en', { type: 'ordinal' }).select(n)).join()",
    "[0, 1, 2, 3, 11, 100, 102].map((n) => new Intl.PluralRules('ar').select(n)).join()",
    "[1, 2, 5, 21, 22, 25, 1.5].map((n) => new Intl.PluralRules('ru').select(n)).join()",
    "new Intl.PluralRules('en', { minimumFractionDigits: 1 }).select(1)",
    "JSON.stringify(new Intl.PluralRules('en').resolvedOptions())",
    "Intl.PluralRules('en')",
    // Collation.
    "['b', 'a', 'B', 'A', 'ä', 'z'].sort((x, y) => x.localeCompare(y)).join()",
    "['b', 'a', 'ä', 'z'].sort(new Intl.Collator('sv').compare).join()",
    "['b', 'a', 'ä', 'z'].sort(new Intl.Collator('de').compare).join()",
    "['item10', 'item9', 'item1'].sort(new Intl.Collator('en', { numeric: true }).compare).join()",
    "'a'.localeCompare('A', 'en', { sensitivity: 'base' })",
];

/// Where ICU4X's data differs from Node 20's ICU 73 (not our bug): the expression, our exact
/// answer, and why.
/// None so far: V8's own substitution (U+202F before AM/PM written as a space) is
/// reproduced, so the date strings are Node's.
const DATA_DIFFERENCES: &[(&str, &str, &str)] = &[];

/// The handler that evaluates each expression, as a string (or the error's class and
/// message), in a JSON array.
fn program(exprs: &[&str]) -> String {
    let mut body = String::from("const out = [];\n");
    for e in exprs {
        body.push_str(&format!(
            "out.push((() => {{ try {{ return String({e}); }} catch (e) {{ return e.constructor.name + ': ' + e.message; }} }})());\n"
        ));
    }
    body
}

fn node_answers(exprs: &[&str]) -> Option<Vec<String>> {
    let src = format!(
        "{}process.stdout.write(JSON.stringify(out));",
        program(exprs)
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(src)
        .env("LC_ALL", "en_US.UTF-8")
        .env("TZ", "UTC")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("node's answer"))
}

async fn sandbox_answers(exprs: &[&str]) -> Vec<String> {
    let rt = QuickJsRuntime::default();
    let src = format!(
        "exports.handler = async () => {{\n{}return out;\n}};",
        program(exprs)
    );
    let outcome = run(&rt, &src).await;
    let v = outcome
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", outcome.logs));
    serde_json::from_value(v).expect("an array of strings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_answers_as_node_does() {
    let ours = sandbox_answers(SAME_AS_NODE).await;
    let Some(node) = node_answers(SAME_AS_NODE) else {
        panic!("node is required to run this test");
    };
    let mut wrong = Vec::new();
    for ((expr, ours), node) in SAME_AS_NODE.iter().zip(&ours).zip(&node) {
        if ours != node {
            wrong.push(format!("{expr}\n  node:    {node:?}\n  sandbox: {ours:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} differences:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_data_differences_are_stable() {
    let exprs: Vec<&str> = DATA_DIFFERENCES.iter().map(|(e, _, _)| *e).collect();
    if exprs.is_empty() {
        return;
    }
    let ours = sandbox_answers(&exprs).await;
    for ((expr, want, _why), got) in DATA_DIFFERENCES.iter().zip(&ours) {
        assert_eq!(got, want, "{expr}");
    }
}
