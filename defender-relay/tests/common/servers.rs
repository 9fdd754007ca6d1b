//! Local HTTP servers on 127.0.0.1 that tests put in place of a node (one that always fails) or
//! in front of one (a JSON-RPC proxy that sees, and may answer, every request).

use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Serves `app` on a free 127.0.0.1 port for the rest of the test; returns its `http://` URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// A JSON-RPC server on 127.0.0.1 that always answers with `status` and `body`; returns its
/// URL and a counter of requests it received.
pub async fn failing_server(status: u16, body: Value) -> (String, Arc<AtomicUsize>) {
    use axum::http::StatusCode;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let h = h.clone();
            let body = body.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body.to_string(),
                )
            }
        }),
    );
    (serve(app).await, hits)
}

/// A JSON-RPC proxy on 127.0.0.1 in front of `upstream`; returns its URL. `intercept` sees
/// every request first (a batch as an array, a body that is not JSON as `null`): what it
/// returns is the answer, and `None` forwards the request as is.
pub async fn rpc_proxy<F>(upstream: String, intercept: F) -> String
where
    F: Fn(&Value) -> Option<Value> + Clone + Send + Sync + 'static,
{
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (http, upstream, intercept) = (http.clone(), upstream.clone(), intercept.clone());
            async move {
                let json = [("content-type", "application/json")];
                let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if let Some(answer) = intercept(&req) {
                    return (json, answer.to_string().into_bytes());
                }
                let answer = http
                    .post(&upstream)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("upstream")
                    .bytes()
                    .await
                    .expect("upstream body");
                (json, answer.to_vec())
            }
        }),
    );
    serve(app).await
}

/// A JSON-RPC proxy on 127.0.0.1 that forwards everything to `upstream` and counts the
/// requests for `method` (batched ones included); returns its URL and the count.
pub async fn counting_proxy(upstream: String, method: &'static str) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let url = rpc_proxy(upstream, move |req| {
        let n = match req {
            Value::Array(items) => items.iter().filter(|r| r["method"] == method).count(),
            one => usize::from(one["method"] == method),
        };
        counter.fetch_add(n, Ordering::SeqCst);
        None
    })
    .await;
    (url, count)
}
