//! Actions (and legacy autotasks): code, triggers, relayer, environment variables.

use super::{Action, MonitorLink};
use crate::files::confine;
use crate::problem::Problems;
use crate::read::fields;
use crate::refs::Refs;
use crate::yaml::{Node, Value};
use defender_core::CodeSource;
use defender_engine::{ActionSpec, ActionTrigger, ExecutionLimits, QuotaPeriod, Schedule};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The risk categories Defender knew.
pub(crate) const RISK_CATEGORIES: &[&str] = &[
    "NONE",
    "GOVERNANCE",
    "ACCESS-CONTROL",
    "SUSPICIOUS",
    "FINANCIAL",
    "TECHNICAL",
];

pub(crate) fn read(
    key: &str,
    node: &Node,
    path: &str,
    dir: &Path,
    refs: &Refs<'_>,
    p: &mut Problems,
) -> Option<Action> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let code_path = f.req_str("path", p);
    let paused = f.bool("paused", p).unwrap_or(false);
    let relayer = f
        .get("relayer")
        .and_then(|n| refs.relayer(n, &f.key_path("relayer"), p));
    let mut environment_variables = BTreeMap::new();
    if let Some(env) = f.get("environment-variables") {
        let ep = f.key_path("environment-variables");
        if let Some(mut ef) = fields(env, &ep, p) {
            for (k, v) in ef.entries() {
                match v.scalar_text() {
                    Some(s) if !v.is_null() => {
                        environment_variables.insert(k.name.clone(), s);
                    }
                    _ => p.at(
                        &v.pos,
                        &format!("{ep}.{}", k.name),
                        format!("expected a string, found {}", v.kind()),
                    ),
                }
            }
        }
    }
    let risk_category = f.str("risk-category", p);
    if let Some(r) = &risk_category {
        if !RISK_CATEGORIES.contains(&r.as_str()) {
            let n = f.get("risk-category").unwrap_or(node);
            p.at(
                &n.pos,
                &f.key_path("risk-category"),
                format!(
                    "unknown risk category `{r}`: expected one of {}",
                    RISK_CATEGORIES.join(", ")
                ),
            );
        }
    }
    let limits = execution_limits(&mut f, p);
    let (triggers, monitor_link) = match f.get("trigger") {
        Some(t) => trigger(t, &f.key_path("trigger"), p),
        None => {
            p.at(&node.pos, path, "`trigger` is required");
            (Vec::new(), MonitorLink::None)
        }
    };
    f.finish(p, &[]);
    let code_path_str = code_path?;
    let path_node = node.get("path").unwrap_or(node);
    let (code, full) = load_code(&code_path_str, dir, path_node, &format!("{path}.path"), p)?;
    let mut spec = ActionSpec::new(key, name?, "");
    spec.code = code;
    spec.triggers = triggers;
    spec.relayer_id = relayer;
    spec.paused = paused;
    spec.limits = limits;
    Some(Action {
        spec,
        code_path: full,
        environment_variables,
        risk_category,
        monitor_link,
        webhook_token: None,
    })
}

/// An action's execution limits (our keys, in defender-as-code's style): `max-concurrency`
/// (runs in progress at once) and `quotas` (`per-minute`, `per-hour`, `per-day`,
/// `per-month`: runs started per calendar window).
fn execution_limits(f: &mut crate::read::Fields<'_>, p: &mut Problems) -> ExecutionLimits {
    let mut limits = ExecutionLimits::default();
    if let Some(n) = f.uint("max-concurrency", p) {
        match u32::try_from(n) {
            Ok(n) => limits.max_concurrency = Some(n),
            Err(_) => {
                if let Some(node) = f.get("max-concurrency") {
                    let path = f.key_path("max-concurrency");
                    p.at(&node.pos, &path, format!("at most {}", u32::MAX));
                }
            }
        }
    }
    if let Some(node) = f.get("quotas") {
        let path = f.key_path("quotas");
        if let Some(mut q) = crate::read::fields(node, &path, p) {
            for (key, period) in [
                ("per-minute", QuotaPeriod::Minute),
                ("per-hour", QuotaPeriod::Hour),
                ("per-day", QuotaPeriod::Day),
                ("per-month", QuotaPeriod::Month),
            ] {
                if let Some(runs) = q.uint(key, p) {
                    limits = limits.quota(u64::try_from(runs).unwrap_or(u64::MAX), period);
                }
            }
            q.finish(p, &[]);
        }
    }
    limits
}

/// An action's code: a folder (a bundle with `index.js`), a `.zip` bundle, or one `.js` file.
pub(crate) fn load_code(
    raw: &str,
    dir: &Path,
    node: &Node,
    path: &str,
    p: &mut Problems,
) -> Option<(CodeSource, std::path::PathBuf)> {
    let full = match confine(dir, raw) {
        Ok(Some(f)) => f,
        Ok(None) => {
            p.at(&node.pos, path, format!("`{raw}` does not exist"));
            return None;
        }
        Err(e) => {
            p.at(&node.pos, path, e);
            return None;
        }
    };
    let loaded = if full.is_dir() {
        defender_runtime::load_bundle_dir(&full).map_err(|e| e.to_string())
    } else if full
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        crate::files::read_bytes_bounded(&full)
            .and_then(|bytes| defender_runtime::load_bundle_zip(&bytes).map_err(|e| e.to_string()))
    } else {
        crate::files::read_bounded(&full).and_then(|s| {
            let code = CodeSource::Script(s);
            defender_core::check_code_size(&code)
                .map(|_| code)
                .map_err(|e| e.to_string())
        })
    };
    match loaded {
        Ok(code) => Some((code, full)),
        Err(e) => {
            p.at(
                &node.pos,
                path,
                format!("the code at `{raw}` cannot be loaded: {e}"),
            );
            None
        }
    }
}

fn trigger(node: &Node, path: &str, p: &mut Problems) -> (Vec<ActionTrigger>, MonitorLink) {
    let Some(mut f) = fields(node, path, p) else {
        return (Vec::new(), MonitorLink::None);
    };
    let kind = f.req_str("type", p);
    let frequency = f.get("frequency");
    let cron = f.str("cron", p);
    f.finish(p, &[]);
    let schedule_problem = |p: &mut Problems, m: &str| p.at(&node.pos, path, m.to_owned());
    match kind.as_deref() {
        Some("schedule") => {
            let schedule = match (frequency, cron) {
                (Some(_), Some(_)) => {
                    schedule_problem(p, "a schedule has `frequency` or `cron`, not both");
                    return (Vec::new(), MonitorLink::None);
                }
                (Some(freq), None) => match frequency_of(freq) {
                    Ok(d) => Schedule::Interval(d),
                    Err(m) => {
                        p.at(&freq.pos, &format!("{path}.frequency"), m);
                        return (Vec::new(), MonitorLink::None);
                    }
                },
                (None, Some(c)) => Schedule::Cron(c),
                (None, None) => {
                    schedule_problem(p, "a schedule needs `frequency` (minutes) or `cron`");
                    return (Vec::new(), MonitorLink::None);
                }
            };
            if let Err(m) = schedule.validate() {
                let at = node
                    .get("cron")
                    .or_else(|| node.get("frequency"))
                    .unwrap_or(node);
                let key = if node.get("cron").is_some() {
                    "cron"
                } else {
                    "frequency"
                };
                p.at(&at.pos, &format!("{path}.{key}"), m);
                return (Vec::new(), MonitorLink::None);
            }
            (vec![ActionTrigger::Schedule(schedule)], MonitorLink::None)
        }
        Some("webhook") => (vec![ActionTrigger::Webhook], MonitorLink::None),
        Some("sentinel") => (Vec::new(), MonitorLink::Sentinel),
        Some("monitor-filter") => (Vec::new(), MonitorLink::MonitorFilter),
        Some(other) => {
            let at = node.get("type").unwrap_or(node);
            p.at(
                &at.pos,
                &format!("{path}.type"),
                format!("unknown trigger type `{other}`: expected schedule, webhook, sentinel or monitor-filter"),
            );
            (Vec::new(), MonitorLink::None)
        }
        None => (Vec::new(), MonitorLink::None),
    }
}

/// `frequency`: minutes as a number (defender-as-code), or a rate such as `5 minutes`,
/// `1 hour`, `rate(2 days)`.
pub(crate) fn frequency_of(node: &Node) -> Result<Duration, String> {
    let minutes = |m: u64| {
        if m == 0 {
            Err("the frequency is zero".to_owned())
        } else {
            m.checked_mul(60)
                .map(Duration::from_secs)
                .ok_or_else(|| "the frequency is too large".to_owned())
        }
    };
    match &node.value {
        Value::Int(i) => u64::try_from(*i)
            .map_err(|_| format!("the frequency {i} is negative"))
            .and_then(minutes),
        Value::Str(s) => {
            let s = s.trim();
            let s = s
                .strip_prefix("rate(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or(s)
                .trim();
            let (n, unit) = s.split_once(' ').unwrap_or((s, "minutes"));
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a rate such as `5 minutes` or `1 hour`"))?;
            let per = match unit.trim() {
                "minute" | "minutes" => 1,
                "hour" | "hours" => 60,
                "day" | "days" => 24 * 60,
                other => {
                    return Err(format!(
                        "unknown rate unit `{other}`: expected minutes, hours or days"
                    ))
                }
            };
            n.checked_mul(per)
                .ok_or_else(|| "the frequency is too large".to_owned())
                .and_then(minutes)
        }
        _ => Err(format!(
            "expected a number of minutes, found {}",
            node.kind()
        )),
    }
}
