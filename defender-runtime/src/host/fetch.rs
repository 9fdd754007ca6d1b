//! The host operation `fetch`: what the global `fetch` (js/fetch.js) and Node's `http` and
//! `https` (js/node_http.js, `redirect: "manual"`) send, under the run's outbound policy
//! ([`FetchPolicy`]), with the response body bounded and charged to the run as it arrives.

use super::OpError;
use crate::alloc::{Budget, Charge};
use crate::net::FetchPolicy;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Largest `fetch` response body the script receives.
const MAX_FETCH_BODY: usize = 10 * 1024 * 1024;

#[derive(Deserialize)]
pub(super) struct FetchArgs {
    url: String,
    method: String,
    #[serde(default)]
    headers: RequestHeaders,
    body: Option<String>,
    /// `"manual"`: Node's `http`, which follows no redirect, answers the raw headers and
    /// body, and fails with Node's error codes (`ECONNREFUSED`...).
    #[serde(default)]
    redirect: Option<String>,
}

/// The request headers: a map (`fetch`) or name and value pairs, a name possibly repeated
/// (Node's `http`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RequestHeaders {
    Map(BTreeMap<String, String>),
    List(Vec<(String, String)>),
}

impl Default for RequestHeaders {
    fn default() -> Self {
        RequestHeaders::Map(BTreeMap::new())
    }
}

impl RequestHeaders {
    fn pairs(&self) -> Box<dyn Iterator<Item = (&String, &String)> + '_> {
        match self {
            RequestHeaders::Map(m) => Box::new(m.iter()),
            RequestHeaders::List(l) => Box::new(l.iter().map(|(k, v)| (k, v))),
        }
    }
}

/// Sends the request `a` describes, under `policy`; the response as the scripts read it (its
/// body in base64), Node's raw headers and HTTP version too in the `manual` mode.
pub(super) async fn fetch(
    a: FetchArgs,
    policy: &FetchPolicy,
    budget: &Budget,
) -> Result<Value, OpError> {
    let manual = match a.redirect.as_deref() {
        None | Some("follow") => false,
        Some("manual") => true,
        Some(other) => {
            return Err(OpError::invalid_argument(format!(
                "unknown redirect mode {other}"
            )))
        }
    };
    // Node's `http` reports a refusal with its own code (it has no `fetch` to name).
    let refused = |e: OpError| {
        if manual && e.code == "FETCH_NOT_ALLOWED" {
            OpError::new(ADDRESS_NOT_ALLOWED, e.message)
        } else {
            e
        }
    };
    let url =
        reqwest::Url::parse(&a.url).map_err(|e| OpError::new("INVALID_URL", e.to_string()))?;
    policy.check(&url).map_err(refused)?;
    let client = if manual {
        &policy.manual_client
    } else {
        &policy.client
    };
    let client = client
        .as_ref()
        .ok_or_else(|| OpError::new("FETCH_ERROR", "the HTTP client could not be built"))?;
    let method = reqwest::Method::from_bytes(a.method.as_bytes())
        .map_err(|e| OpError::new("INVALID_ARGUMENT", e.to_string()))?;
    let mut req = client.request(method, url.clone());
    for (k, v) in a.headers.pairs() {
        req = req.header(k, v);
    }
    if let Some(b) = a.body {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| OpError::new("INVALID_ARGUMENT", e.to_string()))?;
        req = req.body(bytes);
    }
    let mut res = req.send().await.map_err(|e| {
        if manual {
            node_error(&e)
        } else {
            send_error(e)
        }
    })?;
    // Where the request ended, after redirects.
    let url = res.url().clone();
    let status = res.status();
    let mut headers = BTreeMap::new();
    // Every header line in order, a name repeated as sent (`set-cookie`), for Node's `http`.
    let mut raw_headers = Vec::new();
    for (k, v) in res.headers() {
        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
        if manual {
            raw_headers.push(json!([k.as_str(), value]));
        }
        headers.insert(k.as_str().to_owned(), value);
    }
    // The body is charged to the run as it arrives (parallel fetches add up), and given
    // back when the operation's answer, charged on its own, replaces it.
    let mut charged = Charge::new(budget);
    let mut body = Vec::new();
    loop {
        let chunk = match res.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) if manual => return Err(node_error(&e)),
            Err(e) => return Err(OpError::new("FETCH_ERROR", e.to_string())),
        };
        if body.len().saturating_add(chunk.len()) > MAX_FETCH_BODY {
            let code = if manual {
                "ERR_RESPONSE_TOO_LARGE"
            } else {
                "FETCH_ERROR"
            };
            return Err(OpError::new(
                code,
                format!("response body over {MAX_FETCH_BODY} bytes"),
            ));
        }
        if !charged.add(chunk.len()) {
            return Err(OpError::out_of_memory());
        }
        body.extend_from_slice(&chunk);
    }
    let mut answer = json!({
        "status": status.as_u16(),
        "statusText": status.canonical_reason().unwrap_or(""),
        "headers": headers,
        "url": url.as_str(),
        "body": base64::engine::general_purpose::STANDARD.encode(body),
    });
    if manual {
        answer["rawHeaders"] = Value::Array(raw_headers);
        answer["httpVersion"] = json!(match res.version() {
            reqwest::Version::HTTP_09 => "0.9",
            reqwest::Version::HTTP_10 => "1.0",
            reqwest::Version::HTTP_2 => "2.0",
            reqwest::Version::HTTP_3 => "3.0",
            _ => "1.1",
        });
    }
    Ok(answer)
}

/// The code with which Node's `http` reports a refused address.
const ADDRESS_NOT_ALLOWED: &str = "ERR_ADDRESS_NOT_ALLOWED";

/// A failed request as Node's `http` reports it: the system error's code (`ECONNREFUSED`,
/// `ENOTFOUND`, `ETIMEDOUT`, `ECONNRESET`...), or a refusal by the policy.
fn node_error(e: &reqwest::Error) -> OpError {
    let text = error_text(e);
    if text.contains("is not allowed") {
        return OpError::new(ADDRESS_NOT_ALLOWED, text);
    }
    let mut io_kind = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        source = s.source();
    }
    use std::io::ErrorKind as K;
    let code = match io_kind {
        _ if e.is_timeout() => "ETIMEDOUT",
        Some(K::ConnectionRefused) => "ECONNREFUSED",
        Some(K::ConnectionReset) => "ECONNRESET",
        Some(K::ConnectionAborted) => "ECONNABORTED",
        Some(K::TimedOut) => "ETIMEDOUT",
        Some(K::AddrNotAvailable) => "EADDRNOTAVAIL",
        Some(K::NetworkUnreachable) => "ENETUNREACH",
        Some(K::HostUnreachable) => "EHOSTUNREACH",
        _ if text.contains("failed to lookup address") || text.contains("dns error") => "ENOTFOUND",
        _ if e.is_connect() => "ECONNREFUSED",
        _ => "ECONNRESET",
    };
    OpError::new(code, text)
}

/// An error's text with the causes that say why (a refused address shows only in them).
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A failed request, with the causes that say why (a refused address shows only in them);
/// a refusal by the policy keeps its code.
fn send_error(e: reqwest::Error) -> OpError {
    let text = error_text(&e);
    let code = if text.contains("is not allowed") {
        "FETCH_NOT_ALLOWED"
    } else {
        "FETCH_ERROR"
    };
    OpError::new(code, text)
}
