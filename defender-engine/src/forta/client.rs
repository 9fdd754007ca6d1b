//! A client of Forta's GraphQL alert API: the `alerts` query, page by page, each answer's size
//! bounded.

use alloy::transports::http::reqwest;
use defender_core::FortaAlert;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// Forta's public GraphQL endpoint.
pub const FORTA_API_URL: &str = "https://api.forta.network/graphql";

/// Largest answer read for one page (16 MiB).
pub const MAX_PAGE_BYTES: usize = 16 << 20;

/// Alerts asked for per page.
pub const PAGE_SIZE: u32 = 100;

/// Where Forta alerts are read from, for every Forta monitor of an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FortaApi {
    /// The GraphQL endpoint ([`FORTA_API_URL`] by default).
    pub url: String,
    /// Sent as `Authorization: Bearer <key>` when set (Forta's API keys).
    pub api_key: Option<String>,
    /// Time between two polls of one monitor (15 s by default).
    pub poll_interval: Duration,
    /// How long a request may take (30 s by default).
    pub timeout: Duration,
}

impl Default for FortaApi {
    fn default() -> Self {
        FortaApi {
            url: FORTA_API_URL.to_owned(),
            api_key: None,
            poll_interval: Duration::from_secs(15),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why reading Forta alerts failed; every failure is retried at the next poll.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FortaError {
    /// The API could not be reached, or answered with an HTTP error.
    #[error("Forta API unavailable: {0}")]
    Unavailable(String),
    /// The API answered with GraphQL errors.
    #[error("Forta API error: {0}")]
    Api(String),
    /// The answer is not what the `alerts` query returns, or is too large.
    #[error("bad answer from the Forta API: {0}")]
    Decode(String),
}

/// What one `alerts` query asks for (Forta's `AlertsInput`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlertsInput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) bots: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) alert_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) severities: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) chain_id: Option<u64>,
    /// Alerts created within the last this many milliseconds.
    pub(crate) created_since: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scan_node_confirmations: Option<ScanNodes>,
    pub(crate) first: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) after: Option<EndCursor>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct ScanNodes {
    pub(crate) gte: u64,
    pub(crate) lte: u64,
}

/// Forta's page cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EndCursor {
    #[serde(default)]
    pub(crate) alert_id: String,
    #[serde(default)]
    pub(crate) block_number: u64,
}

/// One page of alerts.
#[derive(Debug, Default)]
pub(crate) struct AlertsPage {
    pub(crate) alerts: Vec<FortaAlert>,
    pub(crate) next: Option<EndCursor>,
}

const QUERY: &str = "query fetchAlerts($input: AlertsInput) {
  alerts(input: $input) {
    alerts {
      alertId addresses createdAt description hash metadata name findingType protocol
      scanNodeCount severity alertDocumentType chainId
      source {
        transactionHash
        bot { id }
        block { number hash timestamp chainId }
      }
    }
    pageInfo { hasNextPage endCursor { alertId blockNumber } }
  }
}";

#[derive(Deserialize)]
struct GraphqlAnswer {
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    errors: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct Data {
    alerts: Option<Alerts>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alerts {
    #[serde(default)]
    alerts: Vec<Value>,
    #[serde(default)]
    page_info: Option<PageInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    #[serde(default)]
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<EndCursor>,
}

/// A client of one Forta API.
#[derive(Debug, Clone)]
pub(crate) struct FortaClient {
    api: FortaApi,
    http: reqwest::Client,
}

impl FortaClient {
    pub(crate) fn new(api: FortaApi) -> Self {
        let http = reqwest::Client::builder()
            .timeout(api.timeout)
            .build()
            .unwrap_or_default();
        FortaClient { api, http }
    }

    pub(crate) fn api(&self) -> &FortaApi {
        &self.api
    }

    /// One page of the `alerts` query.
    pub(crate) async fn page(&self, input: &AlertsInput) -> Result<AlertsPage, FortaError> {
        let body = json!({
            "operationName": "fetchAlerts",
            "query": QUERY,
            "variables": { "input": input },
        });
        let mut request = self.http.post(&self.api.url).json(&body);
        if let Some(key) = &self.api.api_key {
            request = request.bearer_auth(key);
        }
        let unavailable = |e: reqwest::Error| FortaError::Unavailable(e.to_string());
        let mut response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if bytes.len().saturating_add(chunk.len()) > MAX_PAGE_BYTES {
                return Err(FortaError::Decode(format!(
                    "a page of alerts is over {MAX_PAGE_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
            return Err(FortaError::Unavailable(format!("HTTP {status}: {text}")));
        }
        decode_page(&bytes)
    }
}

/// Reads one answer of the `alerts` query.
pub(crate) fn decode_page(bytes: &[u8]) -> Result<AlertsPage, FortaError> {
    let answer: GraphqlAnswer =
        serde_json::from_slice(bytes).map_err(|e| FortaError::Decode(e.to_string()))?;
    if let Some(errors) = answer.errors.filter(|e| !e.is_empty()) {
        let text = Value::Array(errors).to_string();
        return Err(FortaError::Api(text.chars().take(1024).collect()));
    }
    let alerts = answer
        .data
        .and_then(|d| d.alerts)
        .ok_or_else(|| FortaError::Decode("no `data.alerts` in the answer".into()))?;
    let mut out = Vec::with_capacity(alerts.alerts.len());
    for raw in alerts.alerts {
        // One unreadable alert must not hold up the others.
        match alert_of(raw) {
            Ok(alert) => out.push(alert),
            Err(e) => tracing::warn!(error = %e, "Forta alert skipped"),
        }
    }
    let next = alerts
        .page_info
        .filter(|p| p.has_next_page)
        .and_then(|p| p.end_cursor);
    Ok(AlertsPage { alerts: out, next })
}

/// An alert as the API returns it, in the shape Defender handed to actions: the bot under
/// `source.agent` (and `source.bot`), the transaction also under `source.tx_hash`, and
/// `alertType` `TX` or `BLOCK`.
fn alert_of(mut raw: Value) -> Result<FortaAlert, FortaError> {
    let bad = |e: serde_json::Error| FortaError::Decode(format!("an alert: {e}"));
    if let Some(source) = raw.get_mut("source").and_then(Value::as_object_mut) {
        if let Some(bot) = source.get("bot").cloned() {
            source.entry("agent").or_insert(bot);
        }
    }
    let mut alert: FortaAlert = serde_json::from_value(raw).map_err(bad)?;
    if alert.hash.is_empty() {
        return Err(FortaError::Decode("an alert without a hash".into()));
    }
    let tx = alert
        .source
        .transaction_hash
        .clone()
        .filter(|h| !h.is_empty());
    alert.alert_type = Some(if tx.is_some() { "TX" } else { "BLOCK" }.to_owned());
    alert.source.tx_hash = tx;
    if alert.source.bot.is_none() && !alert.source.agent.id.is_empty() {
        alert.source.bot = Some(alert.source.agent.clone());
    }
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_alerts_in_defenders_shape_and_errors_are_typed() {
        let page = decode_page(
            br#"{"data":{"alerts":{"alerts":[{"alertId":"A-1","hash":"0xh1","severity":"HIGH",
            "createdAt":"2026-01-01T00:00:00.5Z","scanNodeCount":2,
            "source":{"transactionHash":"0xt","bot":{"id":"0xbot"},"block":{"number":5,"hash":"0xb","chainId":1}},
            "labels":[]}],
            "pageInfo":{"hasNextPage":true,"endCursor":{"alertId":"A-1","blockNumber":5}}}}}"#,
        )
        .unwrap();
        let a = &page.alerts[0];
        assert_eq!(a.source.agent.id, "0xbot");
        assert_eq!(a.source.tx_hash.as_deref(), Some("0xt"));
        assert_eq!(a.alert_type.as_deref(), Some("TX"));
        assert!(a.extra.contains_key("labels"));
        assert_eq!(page.next.unwrap().block_number, 5);
        let err = decode_page(br#"{"errors":[{"message":"bad input"}]}"#).unwrap_err();
        assert!(
            matches!(err, FortaError::Api(ref m) if m.contains("bad input")),
            "{err}"
        );
        let err = decode_page(br#"{"data":{}}"#).unwrap_err();
        assert!(matches!(err, FortaError::Decode(_)), "{err}");
        // An alert without a hash is skipped, the others are kept.
        let page = decode_page(
            br#"{"data":{"alerts":{"alerts":[{"alertId":"x"},{"alertId":"y","hash":"0xh"}]}}}"#,
        )
        .unwrap();
        assert_eq!(page.alerts.len(), 1);
        assert!(page.next.is_none());
    }
}
