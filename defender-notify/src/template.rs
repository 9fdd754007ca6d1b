//! Monitor alert messages: Defender's default text, or the monitor's own subject and body
//! templates rendered by [minijinja](https://docs.rs/minijinja) with the match's variables.
//!
//! # Variables
//! A template sees the whole match as Defender sent it (`hash`, `blockHash`, `transaction`,
//! `matchReasons`, `matchedAddresses`, `matchedChecksumAddresses`, `monitor`, `sentinel`,
//! `metadata`), and also:
//!
//! | variable | value |
//! |---|---|
//! | `monitor.name`, `monitor.network`, `monitor.id`, `monitor.chainId`, `monitor.addresses` | the monitor (`sentinel.*` is the same object) |
//! | `network` | the monitor's network |
//! | `blockNumber` | the block number, decimal (`blockNumberHex` keeps the hex) |
//! | `timestamp` | the block time, seconds since the epoch; `timestampIso` as RFC 3339 |
//! | `transaction.*` | the receipt: `transactionHash`, `from`, `to`, `gasUsed`, `status`, `logs`... |
//! | `transaction.hash` | the same as `transaction.transactionHash` (Defender's name) |
//! | `transaction.link` | the block explorer page of the transaction, when the network has a known explorer |
//! | `matchReasons[i].type`, `.signature`, `.condition`, `.address`, `.args`, `.params.<name>` | why it matched |
//! | `events`, `functions` | the match reasons of type `event`, and `function` |
//! | `matchReasonsFormatted` | every reason as Markdown, as Defender's default message shows them |
//! | `value`, `from`, `to` | shortcuts for the first named `value`/`from`/`to` param, else the transaction's `from`/`to` |
//! | `severity`, `severityLevel`, `monitor.severity`, `monitor.severityLevel` | the monitor's severity: `LOW`, `MEDIUM` or `HIGH`; empty when it has none |
//! | `riskCategory`, `monitor.riskCategory` | the monitor's risk category (`TECHNICAL`, `FINANCIAL`...); empty when it has none |
//!
//! Defender's documentation lists no placeholder for the severity or the risk category; these
//! follow the names of its monitor API (`severityLevel`, `riskCategory`), plus the short
//! `severity`. `sentinel.*` has the same fields as `monitor.*`.
//!
//! Defender's own placeholder spellings work too: `{{ events.0.params.value }}` and
//! `{{ events.[0].params.value }}` (the `.[N]` form is rewritten to `[N]`). A missing variable
//! renders as an empty string, even through a chain of attributes, as it did in Defender.
//! Output is not HTML-escaped: the body is Markdown, converted per channel. minijinja's builtin
//! filters work (`upper`, `default`, `tojson`, ...), plus `telegram_escape`.
//!
//! ```
//! use defender_core::{AlertFormatter, MonitorMatch};
//! use defender_notify::TemplateFormatter;
//! # let alert: MonitorMatch = serde_json::from_value(defender_notify::template::example_match()).unwrap();
//! let f = TemplateFormatter::new();
//! let m = f.format(&alert, Some("{{ monitor.name }} on {{ network }}"),
//!                  Some("Transfer of {{ matchReasons[0].params.value }} in block {{ blockNumber }}, \
//!                        tx {{ transaction.hash }}")).unwrap();
//! assert_eq!(m.subject, "Large transfer on mainnet");
//! assert!(m.body.starts_with("Transfer of 5000 in block 19000000, tx 0x1dc9"));
//! ```

use crate::markdown::telegram_escape;
use defender_core::{AlertFormatter, MonitorMatch, NotifyError, RenderedAlert};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Defender's default subject.
pub const DEFAULT_SUBJECT: &str = "Monitor {{ monitor.name }} triggered";

/// Defender's default alert body (Markdown).
pub const DEFAULT_BODY: &str = "**Monitor Name**\n\n{{ monitor.name }}\n\n**Network**\n\n{{ network }}\n\n\
**Block Hash**\n\n{{ blockHash }}\n\n**Transaction Hash**\n\n{{ transaction.transactionHash }}\n\n\
{% if transaction.link %}**Transaction Link**\n\n[Block Explorer]({{ transaction.link }})\n\n{% endif %}\
{{ matchReasonsFormatted }}";

/// Block explorers of well-known networks, for `transaction.link`.
const EXPLORERS: &[(&str, &str)] = &[
    ("mainnet", "https://etherscan.io"),
    ("sepolia", "https://sepolia.etherscan.io"),
    ("holesky", "https://holesky.etherscan.io"),
    ("goerli", "https://goerli.etherscan.io"),
    ("optimism", "https://optimistic.etherscan.io"),
    ("arbitrum", "https://arbiscan.io"),
    ("base", "https://basescan.org"),
    ("matic", "https://polygonscan.com"),
    ("polygon", "https://polygonscan.com"),
    ("bsc", "https://bscscan.com"),
    ("avalanche", "https://snowtrace.io"),
    ("xdai", "https://gnosisscan.io"),
    ("linea", "https://lineascan.build"),
    ("scroll", "https://scrollscan.com"),
];

/// An [`AlertFormatter`] rendering templates with minijinja.
#[derive(Debug, Clone)]
pub struct TemplateFormatter {
    env: Arc<Environment<'static>>,
    explorers: HashMap<String, String>,
}

impl Default for TemplateFormatter {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateFormatter {
    /// A formatter with the well-known block explorers.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_keep_trailing_newline(true);
        env.add_filter("telegram_escape", |s: String| telegram_escape(&s));
        TemplateFormatter {
            env: Arc::new(env),
            explorers: EXPLORERS
                .iter()
                .map(|(n, u)| ((*n).to_owned(), (*u).to_owned()))
                .collect(),
        }
    }

    /// Sets the block explorer (`https://...`, no trailing path) of `network`.
    pub fn with_explorer(
        mut self,
        network: impl Into<String>,
        base_url: impl Into<String>,
    ) -> Self {
        self.explorers.insert(network.into(), base_url.into());
        self
    }

    /// The variables a template of `alert` sees (see the module docs).
    pub fn context(&self, alert: &MonitorMatch) -> Value {
        let mut ctx = match serde_json::to_value(alert) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let network = alert.monitor.network.clone();
        let tx_hash = alert.transaction.transaction_hash.clone();
        if let Some(Value::Object(tx)) = ctx.get_mut("transaction") {
            tx.insert("hash".into(), Value::String(tx_hash.clone()));
            if let Some(base) = self.explorers.get(&network) {
                let link = format!("{}/tx/{}", base.trim_end_matches('/'), tx_hash);
                tx.insert("link".into(), Value::String(link));
            }
        }
        let block = parse_hex_u64(&alert.block_number);
        ctx.insert(
            "blockNumberHex".into(),
            Value::String(alert.block_number.clone()),
        );
        ctx.insert(
            "blockNumber".into(),
            block.map_or_else(|| Value::String(alert.block_number.clone()), Value::from),
        );
        ctx.insert("network".into(), Value::String(network));
        insert_severity(&mut ctx, alert);
        let iso = i64::try_from(alert.timestamp)
            .ok()
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        ctx.insert("timestampIso".into(), Value::String(iso));
        let reasons = ctx.get("matchReasons").cloned().unwrap_or(json!([]));
        let of_type = |t: &str| -> Value {
            Value::Array(
                reasons
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter(|r| r.get("type").and_then(Value::as_str) == Some(t))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        };
        ctx.insert("events".into(), of_type("event"));
        ctx.insert("functions".into(), of_type("function"));
        ctx.insert(
            "matchReasonsFormatted".into(),
            Value::String(format_match_reasons(alert)),
        );
        for key in ["value", "from", "to"] {
            let from_params = alert
                .match_reasons
                .iter()
                .find_map(|r| r.params.get(key).cloned());
            let fallback = match key {
                "from" => Some(Value::String(alert.transaction.from.clone())),
                "to" => alert.transaction.to.clone().map(Value::String),
                _ => None,
            };
            if let Some(v) = from_params.or(fallback) {
                ctx.insert(key.into(), v);
            }
        }
        Value::Object(ctx)
    }

    /// Renders one template with `ctx`.
    pub fn render(&self, template: &str, ctx: &Value) -> Result<String, NotifyError> {
        let source = defender_placeholders(template);
        self.env
            .render_str(&source, ctx)
            .map_err(|e| NotifyError::Template(describe(&e)))
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

impl AlertFormatter for TemplateFormatter {
    fn render_alert(
        &self,
        alert: &MonitorMatch,
        subject_template: Option<&str>,
        body_template: Option<&str>,
    ) -> Result<RenderedAlert, NotifyError> {
        let ctx = self.context(alert);
        let pick = |t: Option<&str>, default: &'static str| match t {
            Some(t) if !t.trim().is_empty() => t.to_owned(),
            _ => default.to_owned(),
        };
        let subject = self.render(&pick(subject_template, DEFAULT_SUBJECT), &ctx)?;
        let body = self.render(&pick(body_template, DEFAULT_BODY), &ctx)?;
        Ok(RenderedAlert {
            subject: subject.trim().replace(['\r', '\n'], " "),
            body: body.trim_end().to_owned(),
        })
    }
}

/// The monitor's severity and risk category: at the top (`severity`, `severityLevel`,
/// `riskCategory`) and in `monitor`/`sentinel` (where `severityLevel` and `riskCategory`
/// already are when set, `severity` is added). Unset ones are absent, so they render empty.
fn insert_severity(ctx: &mut Map<String, Value>, alert: &MonitorMatch) {
    let severity = alert
        .monitor
        .severity_level
        .and_then(|s| serde_json::to_value(s).ok());
    let risk = alert.monitor.risk_category.clone().map(Value::String);
    if let Some(s) = &severity {
        ctx.insert("severity".into(), s.clone());
        ctx.insert("severityLevel".into(), s.clone());
        for key in ["monitor", "sentinel"] {
            if let Some(Value::Object(m)) = ctx.get_mut(key) {
                m.insert("severity".into(), s.clone());
            }
        }
    }
    if let Some(r) = risk {
        ctx.insert("riskCategory".into(), r);
    }
}

/// Rewrites Defender's `.[N]` index spelling to `[N]` inside `{{ }}` and `{% %}`.
fn defender_placeholders(template: &str) -> String {
    if !template.contains(".[") {
        return template.to_owned();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let close = if tail.starts_with("{{") {
            "}}"
        } else if tail.starts_with("{%") {
            "%}"
        } else {
            out.push('{');
            rest = &tail[1..];
            continue;
        };
        match tail.find(close) {
            Some(end) => {
                out.push_str(&tail[..end].replace(".[", "["));
                rest = &tail[end..];
                out.push_str(close);
                rest = &rest[close.len()..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_hex_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every match reason as Markdown, as Defender's default alert lists them.
pub fn format_match_reasons(alert: &MonitorMatch) -> String {
    let mut out = String::new();
    for (i, r) in alert.match_reasons.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        let kind = match r.kind {
            defender_core::MatchReasonType::Event => "Event",
            defender_core::MatchReasonType::Function => "Function",
            defender_core::MatchReasonType::Transaction => "Transaction",
            defender_core::MatchReasonType::InternalFunction => "Internal Function",
            defender_core::MatchReasonType::AlertId => "Alert ID",
            defender_core::MatchReasonType::Severity => "Severity",
        };
        out.push_str(&format!("**Match Reason {}**\n\n_Type:_ {kind}", i + 1));
        if !r.address.is_empty() {
            out.push_str(&format!("\n\n_Matched Address:_ {}", r.address));
        }
        if !r.signature.is_empty() {
            out.push_str(&format!("\n\n_Signature:_ {}", r.signature));
        }
        if let Some(c) = &r.condition {
            out.push_str(&format!("\n\n_Condition:_ {c}"));
        }
        if let Some(v) = &r.value {
            out.push_str(&format!("\n\n_Value:_ {v}"));
        }
        if !r.params.is_empty() {
            out.push_str("\n\n_Params:_\n");
            for (k, v) in &r.params {
                out.push_str(&format!("\n{k}: {}", value_text(v)));
            }
        }
    }
    out
}

/// A sample monitor match (a `Transfer` on mainnet), for examples and tests.
pub fn example_match() -> Value {
    let monitor = json!({
        "id": "44a7d5f0-31df5", "name": "Large transfer", "network": "mainnet", "chainId": 1,
        "addresses": ["0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"], "confirmBlocks": 1
    });
    json!({
        "type": "BLOCK",
        "hash": "0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50",
        "timestamp": 1_700_000_000u64,
        "blockNumber": "0x121eac0",
        "blockHash": "0x22407d00e953e5f8dabea57673b9109dad31acfc15d07126b9dc22c33521af52",
        "transaction": {
            "blockHash": "0x22407d00e953e5f8dabea57673b9109dad31acfc15d07126b9dc22c33521af52",
            "blockNumber": "0x121eac0", "contractAddress": null, "cumulativeGasUsed": "0x5208",
            "from": "0x1111111111111111111111111111111111111111", "gasUsed": "0x5208", "logs": [],
            "logsBloom": "0x00", "status": "0x1",
            "to": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
            "transactionHash": "0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50",
            "transactionIndex": "0x0"
        },
        "matchReasons": [{
            "type": "event", "signature": "Transfer(address,address,uint256)",
            "condition": "value > 1000", "address": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
            "args": ["0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222", "5000"],
            "params": { "from": "0x1111111111111111111111111111111111111111",
                        "to": "0x2222222222222222222222222222222222222222", "value": "5000" }
        }],
        "matchedAddresses": ["0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"],
        "matchedChecksumAddresses": ["0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"],
        "monitor": monitor, "sentinel": monitor
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> MonitorMatch {
        serde_json::from_value(example_match()).expect("example match")
    }

    #[test]
    fn default_message_is_defenders() {
        let m = TemplateFormatter::new()
            .format(&alert(), None, None)
            .expect("format");
        assert_eq!(m.subject, "Monitor Large transfer triggered");
        let expected = "**Monitor Name**\n\nLarge transfer\n\n**Network**\n\nmainnet\n\n\
**Block Hash**\n\n0x22407d00e953e5f8dabea57673b9109dad31acfc15d07126b9dc22c33521af52\n\n\
**Transaction Hash**\n\n0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50\n\n\
**Transaction Link**\n\n[Block Explorer](https://etherscan.io/tx/0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50)\n\n\
**Match Reason 1**\n\n_Type:_ Event\n\n_Matched Address:_ 0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48\n\n\
_Signature:_ Transfer(address,address,uint256)\n\n_Condition:_ value > 1000\n\n_Params:_\n\n\
from: 0x1111111111111111111111111111111111111111\nto: 0x2222222222222222222222222222222222222222\nvalue: 5000";
        assert_eq!(m.body, expected);
        assert!(m.alert.is_some());
    }

    #[test]
    fn a_message_is_the_rendered_text_with_the_alert() {
        let f = TemplateFormatter::new();
        let a = alert();
        let subject = Some("{{ monitor.name }} on {{ network }}");
        let rendered = f.render_alert(&a, subject, None).expect("render");
        assert_eq!(rendered.subject, "Large transfer on mainnet");
        let m = f.format(&a, subject, None).expect("format");
        assert_eq!((&m.subject, &m.body), (&rendered.subject, &rendered.body));
        assert_eq!(m.alert.as_deref(), Some(&a));
        assert_eq!(m.idempotency_key, None);
    }

    #[test]
    fn every_documented_variable_renders() {
        let f = TemplateFormatter::new();
        let ctx = f.context(&alert());
        let r = |t: &str| f.render(t, &ctx).expect(t);
        assert_eq!(
            r("{{ monitor.name }}|{{ sentinel.name }}|{{ network }}"),
            "Large transfer|Large transfer|mainnet"
        );
        assert_eq!(
            r("{{ blockNumber }} {{ blockNumberHex }}"),
            "19000000 0x121eac0"
        );
        assert_eq!(
            r("{{ timestamp }} {{ timestampIso }}"),
            "1700000000 2023-11-14T22:13:20Z"
        );
        assert_eq!(
            r("{{ transaction.hash == transaction.transactionHash }}"),
            "True"
        );
        assert_eq!(r("{{ matchReasons[0].params.value }}"), "5000");
        assert_eq!(
            r("{{ events.0.params.value }}/{{ events.[0].params.to }}"),
            "5000/0x2222222222222222222222222222222222222222"
        );
        assert_eq!(
            r("{{ events[0].signature }}"),
            "Transfer(address,address,uint256)"
        );
        assert_eq!(r("[{{ functions[0].signature }}]"), "[]");
        assert_eq!(
            r("{{ value }} {{ from }}"),
            "5000 0x1111111111111111111111111111111111111111"
        );
        assert_eq!(r("{{ nothing.at.all }}|{{ monitor.missing }}"), "|");
        assert_eq!(
            r("{% for r in matchReasons %}{{ r.type }}{% endfor %}"),
            "event"
        );
        assert_eq!(r("{{ monitor.name | upper }}"), "LARGE TRANSFER");
        assert_eq!(r("{{ '1.5' | telegram_escape }}"), r"1\.5");
    }

    #[test]
    fn severity_and_risk_category_render_and_are_empty_when_unset() {
        let f = TemplateFormatter::new();
        let t = "{{ severity }}|{{ severityLevel }}|{{ monitor.severity }}|\
{{ monitor.severityLevel }}|{{ sentinel.severity }}|{{ riskCategory }}|{{ monitor.riskCategory }}";
        assert_eq!(f.render(t, &f.context(&alert())).expect("r"), "||||||");
        let mut a = alert();
        for m in [&mut a.monitor, &mut a.sentinel] {
            let m = std::sync::Arc::make_mut(m);
            m.severity_level = Some(defender_core::Severity::High);
            m.risk_category = Some("FINANCIAL".into());
        }
        assert_eq!(
            f.render(t, &f.context(&a)).expect("r"),
            "HIGH|HIGH|HIGH|HIGH|HIGH|FINANCIAL|FINANCIAL"
        );
        let m = f
            .format(&a, Some("[{{ severity }}] {{ monitor.name }}"), None)
            .expect("format");
        assert_eq!(m.subject, "[HIGH] Large transfer");
    }

    #[test]
    fn unknown_network_has_no_link_and_custom_explorers_apply() {
        let mut a = alert();
        std::sync::Arc::make_mut(&mut a.monitor).network = "devnet".into();
        let f = TemplateFormatter::new();
        assert_eq!(
            f.render("{{ transaction.link }}", &f.context(&a))
                .expect("r"),
            ""
        );
        let m = f.format(&a, None, None).expect("format");
        assert!(!m.body.contains("Transaction Link"));
        let f = f.with_explorer("devnet", "http://127.0.0.1:4000/");
        assert_eq!(
            f.render("{{ transaction.link }}", &f.context(&a)).expect("r"),
            "http://127.0.0.1:4000/tx/0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50"
        );
    }

    #[test]
    fn broken_templates_are_template_errors() {
        let f = TemplateFormatter::new();
        let e = f
            .format(&alert(), Some("{{ monitor.name "), None)
            .expect_err("syntax");
        assert!(matches!(e, NotifyError::Template(_)), "{e:?}");
        let e = f
            .format(&alert(), None, Some("{% for %}"))
            .expect_err("syntax");
        assert!(matches!(e, NotifyError::Template(_)), "{e:?}");
    }

    #[test]
    fn placeholder_rewrite_only_touches_tags() {
        assert_eq!(
            defender_placeholders("a.[0] {{ x.[1].y }} {% if z.[2] %}"),
            "a.[0] {{ x[1].y }} {% if z[2] %}"
        );
        assert_eq!(defender_placeholders("{ {{ a.[0] "), "{ {{ a.[0] ");
    }
}
