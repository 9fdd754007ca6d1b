//! The HTTP delivery every HTTP channel shares: one request, retried by the [`RetryPolicy`].

use crate::retry::{parse_retry_after, AttemptError, RetryPolicy};
use defender_core::NotifyError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode, Url};
use std::time::Duration;

/// The HTTP client channels use unless given one: rustls with webpki roots, a 5 s connect
/// timeout, no redirects (a webhook that redirects is misconfigured).
pub fn default_client() -> Result<Client, NotifyError> {
    Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("defender-notify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyError::Config(format!("cannot build the HTTP client: {e}")))
}

/// One HTTP request a channel sends, retried as a whole.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl HttpRequest {
    pub(crate) fn post_json(url: Url, body: &serde_json::Value) -> Result<Self, NotifyError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| NotifyError::Config(format!("cannot serialize the request: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(HttpRequest {
            method: Method::POST,
            url,
            headers,
            body,
        })
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Result<Self, NotifyError> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| NotifyError::Config(format!("invalid value for header {name}")))?;
        self.headers.insert(HeaderName::from_static(name), value);
        Ok(self)
    }
}

/// Sends `request` with `client`, retrying per `policy`. `channel` names it in errors.
///
/// 2xx succeeds; 408, 429 (after `Retry-After` when given) and 5xx are retried; other statuses
/// fail at once. Connection errors and timed-out attempts are retried. Error messages never hold
/// the URL, which may carry a token.
pub(crate) async fn deliver(
    client: &Client,
    policy: &RetryPolicy,
    channel: &str,
    request: &HttpRequest,
) -> Result<(), NotifyError> {
    policy
        .run(channel, |_attempt| attempt(client, request))
        .await
}

/// One attempt of `request`, classified for the retry policy.
pub(crate) async fn attempt(client: &Client, request: &HttpRequest) -> Result<(), AttemptError> {
    let response = client
        .request(request.method.clone(), request.url.clone())
        .headers(request.headers.clone())
        .body(request.body.clone())
        .send()
        .await
        .map_err(|e| classify_reqwest(&e))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(());
    }
    let message = format!("HTTP {status}: {}", snippet(&body));
    if status == StatusCode::TOO_MANY_REQUESTS {
        Err(AttemptError::Transient {
            message,
            retry_after,
        })
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Err(AttemptError::transient(message))
    } else {
        Err(AttemptError::Permanent(message))
    }
}

fn classify_reqwest(e: &reqwest::Error) -> AttemptError {
    let e_clean = format!("{}", WithoutUrl(e));
    if e.is_builder() {
        AttemptError::Permanent(e_clean)
    } else {
        AttemptError::transient(e_clean)
    }
}

struct WithoutUrl<'a>(&'a reqwest::Error);

impl std::fmt::Display for WithoutUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.0.is_timeout() {
            "timed out"
        } else if self.0.is_connect() {
            "connection failed"
        } else if self.0.is_request() {
            "request failed"
        } else if self.0.is_body() || self.0.is_decode() {
            "bad response body"
        } else {
            "HTTP error"
        };
        write!(f, "{kind}")?;
        let mut source = std::error::Error::source(self.0);
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

fn snippet(body: &str) -> String {
    const MAX: usize = 300;
    let body = body.trim();
    if body.len() <= MAX {
        return body.to_owned();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &body[..end])
}

/// Parses a configured URL, refusing anything but http(s).
pub(crate) fn parse_url(what: &str, url: &str) -> Result<Url, NotifyError> {
    let parsed = Url::parse(url.trim())
        .map_err(|e| NotifyError::Config(format!("{what} is not a valid URL: {e}")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(NotifyError::Config(format!(
            "{what} must be http or https, not {other}"
        ))),
    }
}

/// `base` (with or without a trailing slash) joined with `path` (starting with `/`).
pub(crate) fn join(what: &str, base: &str, path: &str) -> Result<Url, NotifyError> {
    parse_url(
        what,
        &format!("{}{}", base.trim().trim_end_matches('/'), path),
    )
}
