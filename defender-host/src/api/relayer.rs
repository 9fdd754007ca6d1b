//! The relayer API, for services outside the actions: what Defender's relay API served to
//! `@openzeppelin/defender-sdk`'s `Relayer` client (`new Defender({ relayerApiKey,
//! relayerApiSecret })`, or `new Relayer({ apiKey, apiSecret })`), at its paths and in its
//! shapes, authenticated per relayer by its API key and secret (see [`RelayerAccess`]).
//!
//! | operation | path (SDK 2.x) | path (`defender-relay-client`, SDK 1.x) |
//! |---|---|---|
//! | log in (`{ apiKey, secretKey, type: "relay" }`) | `POST /auth/login` | |
//! | refresh (`{ apiKey, secretKey, refreshToken }`) | `POST /auth/refresh-token` | |
//! | `getRelayer()` ([`RelayerProfile`]) | `GET /relayers/self` | `GET /relayer` |
//! | `getRelayerStatus()` (nonce, balance, pending) | `GET /relayers/self/status` | `GET /relayer/status` |
//! | `sendTransaction(tx)` | `POST /relayers/self/txs` | `POST /txs` |
//! | `listTransactions({ status, since, limit, next, sort })` | `GET /relayers/self/txs?usePagination=true` | `GET /txs` |
//! | `getTransaction(id)` | `GET /relayers/self/txs/{id}` | `GET /txs/{id}` |
//! | `getTransactionByNonce(n)` | `GET /relayers/self/txs/{n}?nonce=true` | |
//! | `replaceTransactionById(id, tx)`, `...ByNonce(n, tx)` | `PUT /relayers/self/txs/{id or n}` | `PUT /txs/{id or n}` |
//! | `cancelTransactionById(id)` (`{ message }`) | `DELETE /relayers/self/txs/{id}` | `DELETE /txs/{id}` |
//! | `sign({ message })` | `POST /relayers/self/sign` | `POST /sign` |
//! | `signTypedData({ domainSeparator, hashStructMessage })` | `POST /relayers/self/sign-typed-data` | `POST /sign-typed-data` |
//! | `call({ method, params })` (JSON-RPC) | `POST /relayers/self/jsonrpc` | `POST /relayer/jsonrpc` |
//!
//! `self` may also be the relayer's own id; another relayer's id is 403. A path segment of
//! digits is a nonce (transaction ids are UUIDs). Errors are the host's `{ message, code }`.

mod auth;
mod info;

pub use auth::RelayerAccess;
pub use info::RelayerProfile;

use super::ApiError;
use auth::Caller;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use defender_core::{
    DynRelayer, ListTransactionsQuery, RelayerError, RelayerTransaction, SignMessagePayload,
    SignTypedDataPayload, TxRequest, TxStatus,
};
use defender_relay::RpcRelayer;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest request body: calldata is at most 128 KiB on Ethereum, twice that in hex.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A page of `listTransactions` when the request gives no `limit`.
const DEFAULT_PAGE: usize = 50;

/// Largest page of `listTransactions`.
const MAX_PAGE: usize = 1000;

/// Longest JSON-RPC method name accepted.
const MAX_METHOD_LEN: usize = 128;

impl From<RelayerError> for ApiError {
    fn from(e: RelayerError) -> Self {
        let (status, code) = match &e {
            RelayerError::Invalid(_) => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            RelayerError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            RelayerError::InsufficientFunds { .. } => {
                (StatusCode::BAD_REQUEST, "INSUFFICIENT_FUNDS")
            }
            RelayerError::Policy(_) => (StatusCode::BAD_REQUEST, "POLICY_VIOLATION"),
            RelayerError::NotReplaceable { .. } => (StatusCode::CONFLICT, "NOT_REPLACEABLE"),
            RelayerError::Rpc { .. } => (StatusCode::BAD_REQUEST, "RPC_ERROR"),
            RelayerError::Configuration(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "RELAYER_CONFIGURATION")
            }
            RelayerError::Signer { .. } => (StatusCode::BAD_GATEWAY, "SIGNER_ERROR"),
            RelayerError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// What the relayer API reaches in a host: each started relayer and relayer group by each of
/// its API keys (`(label, relayer or group id, secret)`, as the host gives them to the
/// engine), with its profile from the project and the engine state (`state`).
pub(crate) async fn access(
    project: &crate::Project,
    state: &dyn defender_core::state::StateStore,
    relayers: &[(String, Arc<RpcRelayer>)],
    groups: &[(String, Arc<DynRelayer>)],
    keys: &[(String, String, String)],
) -> RelayerAccess {
    let by_id = |wanted: &str| -> Option<Arc<DynRelayer>> {
        relayers
            .iter()
            .find(|(id, _)| id == wanted)
            .map(|(_, r)| r.clone() as Arc<DynRelayer>)
            .or_else(|| {
                groups
                    .iter()
                    .find(|(id, _)| id == wanted)
                    .map(|(_, g)| g.clone())
            })
    };
    let address_of = |id: &str| {
        relayers
            .iter()
            .find(|(r, _)| r == id)
            .map(|(_, r)| r.address().to_checksum(None))
    };
    let profiled = info::profiles(project, state, address_of)
        .await
        .into_iter()
        .fold(RelayerAccess::new(), |access, (id, profile)| {
            access.with_profile(id, profile)
        });
    keys.iter()
        .fold(profiled, |access, (label, relayer_id, secret)| {
            match by_id(relayer_id) {
                Some(r) => access.with_key(relayer_id.clone(), r, label.clone(), secret.clone()),
                None => {
                    tracing::warn!(api_key = %label, relayer = %relayer_id, "relayer API: the key's relayer is not running; the key is refused");
                    access
                }
            }
        })
}

/// The relayer API's router: the login routes are open, the others need a token.
pub(super) fn router(access: RelayerAccess) -> Router {
    let authed = Router::new()
        .route("/relayers/{relayer}", get(get_relayer))
        .route("/relayer", get(get_relayer))
        .route("/relayers/{relayer}/status", get(get_status))
        .route("/relayer/status", get(get_status))
        .route("/relayers/{relayer}/txs", post(send).get(list))
        .route("/txs", post(send).get(list))
        .route(
            "/relayers/{relayer}/txs/{tx}",
            get(get_tx).put(replace).delete(cancel),
        )
        .route("/txs/{tx}", get(get_tx).put(replace).delete(cancel))
        .route("/relayers/{relayer}/sign", post(sign))
        .route("/sign", post(sign))
        .route("/relayers/{relayer}/sign-typed-data", post(sign_typed_data))
        .route("/sign-typed-data", post(sign_typed_data))
        .route("/relayers/{relayer}/jsonrpc", post(jsonrpc))
        .route("/relayer/jsonrpc", post(jsonrpc))
        .route_layer(axum::middleware::from_fn_with_state(
            access.clone(),
            authenticate,
        ));
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh-token", post(refresh))
        .with_state(access)
        .merge(authed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn authenticate(
    State(access): State<RelayerAccess>,
    mut req: Request,
    next: Next,
) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let caller = match access.caller(req.headers(), &path) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let (relayer, api_key) = (caller.relayer_id.clone(), caller.api_key.clone());
    req.extensions_mut().insert(caller);
    let response = next.run(req).await;
    tracing::info!(%method, %path, %relayer, %api_key, status = response.status().as_u16(), "relayer API");
    response
}

async fn login(State(access): State<RelayerAccess>, body: Bytes) -> Result<Json<Value>, ApiError> {
    access.login(&body, false).map(Json)
}

async fn refresh(
    State(access): State<RelayerAccess>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    access.login(&body, true).map(Json)
}

/// The body as `T`; a clear 400 when it is not.
fn body<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("{what}: {e}")))
}

/// A JSON answer of what the relayer returned.
fn reply<T: serde::Serialize>(v: T) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()))
}

/// A transaction as Defender answered it: with the `signature` (`{ r, s, v }`) of its latest
/// submission, which the SDK's ethers v6 signer needs to build its `TransactionResponse`.
/// The relayer keeps only the hash, so the signature is read back from the node; a
/// transaction the node does not know (not yet sent, or dropped) is answered without one.
async fn tx_reply(relayer: &DynRelayer, tx: RelayerTransaction) -> Result<Json<Value>, ApiError> {
    let signature = signature_of(relayer, &tx.hash).await;
    let mut answer = reply(tx)?;
    if let (Some(sig), Some(o)) = (signature, answer.0.as_object_mut()) {
        o.insert("signature".into(), sig);
    }
    Ok(answer)
}

async fn signature_of(relayer: &DynRelayer, hash: &str) -> Option<Value> {
    let is_hash = hash.len() == 66
        && hash.starts_with("0x")
        && hash.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
    if !is_hash {
        return None;
    }
    let found = relayer
        .call("eth_getTransactionByHash", json!([hash]))
        .await
        .ok()?;
    // A node's quantity (`0x1b`, `0xabc...`), as 32 bytes of hex for `r` and `s`.
    let word = |key: &str, pad: bool| {
        let digits = found.get(key)?.as_str()?.strip_prefix("0x")?;
        if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        Some(if pad {
            format!("0x{digits:0>64}")
        } else {
            format!("0x{digits}")
        })
    };
    Some(json!({ "r": word("r", true)?, "s": word("s", true)?, "v": word("v", false)? }))
}

/// A transaction segment of the path: a nonce when it is all digits, else an id.
enum TxRef<'a> {
    Nonce(u64),
    Id(&'a str),
}

fn tx_ref(segment: &str) -> Result<TxRef<'_>, ApiError> {
    if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
        segment
            .parse()
            .map(TxRef::Nonce)
            .map_err(|_| ApiError::invalid(format!("nonce `{segment}` is out of range")))
    } else {
        Ok(TxRef::Id(segment))
    }
}

fn tx_param(params: &HashMap<String, String>) -> Result<&str, ApiError> {
    params
        .get("tx")
        .map(String::as_str)
        .ok_or_else(|| ApiError::invalid("no transaction in the path"))
}

async fn get_relayer(Extension(c): Extension<Caller>) -> Result<Json<Value>, ApiError> {
    info::relayer_answer(&*c.relayer, &c.profile)
        .await
        .map(Json)
}

async fn get_status(Extension(c): Extension<Caller>) -> Result<Json<Value>, ApiError> {
    reply(c.relayer.get_relayer_status().await?)
}

async fn send(Extension(c): Extension<Caller>, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let tx: TxRequest = body(&bytes, "the transaction")?;
    let sent = c.relayer.send_transaction(tx).await?;
    tracing::info!(relayer = %c.relayer_id, transaction = %sent.transaction_id, nonce = sent.nonce, "relayer API: transaction sent");
    tx_reply(&*c.relayer, sent).await
}

#[derive(Deserialize)]
struct ByNonce {
    nonce: Option<String>,
}

async fn get_tx(
    Extension(c): Extension<Caller>,
    Path(params): Path<HashMap<String, String>>,
    query: Result<Query<ByNonce>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let segment = tx_param(&params)?;
    let by_nonce = q.nonce.as_deref() == Some("true");
    match (by_nonce, tx_ref(segment)?) {
        (true, TxRef::Nonce(n)) => {
            let all = c
                .relayer
                .list_transactions(ListTransactionsQuery::default())
                .await?;
            let found = all.into_iter().find(|t| t.nonce == n).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!("no transaction with nonce {n}"),
                )
            })?;
            tx_reply(&*c.relayer, found).await
        }
        (true, TxRef::Id(_)) => Err(ApiError::invalid(format!(
            "`{segment}` is not a nonce (nonce=true)"
        ))),
        (false, _) => {
            let tx = c.relayer.get_transaction(segment).await?;
            tx_reply(&*c.relayer, tx).await
        }
    }
}

async fn replace(
    Extension(c): Extension<Caller>,
    Path(params): Path<HashMap<String, String>>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let tx: TxRequest = body(&bytes, "the transaction")?;
    let replaced = match tx_ref(tx_param(&params)?)? {
        TxRef::Nonce(n) => c.relayer.replace_transaction_by_nonce(n, tx).await?,
        TxRef::Id(id) => c.relayer.replace_transaction_by_id(id, tx).await?,
    };
    tracing::info!(relayer = %c.relayer_id, transaction = %replaced.transaction_id, nonce = replaced.nonce, "relayer API: transaction replaced");
    tx_reply(&*c.relayer, replaced).await
}

async fn cancel(
    Extension(c): Extension<Caller>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = match tx_ref(tx_param(&params)?)? {
        TxRef::Id(id) => id.to_owned(),
        TxRef::Nonce(n) => {
            let all = c
                .relayer
                .list_transactions(ListTransactionsQuery::default())
                .await?;
            all.into_iter()
                .find(|t| t.nonce == n)
                .map(|t| t.transaction_id)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        format!("no transaction with nonce {n}"),
                    )
                })?
        }
    };
    let cancelled = c.relayer.cancel_transaction_by_id(&id).await?;
    tracing::info!(relayer = %c.relayer_id, transaction = %id, "relayer API: transaction cancelled");
    // Defender's `TransactionDeleteResponse`: a message, not the transaction (which
    // `getTransaction` shows, now a 0-value transfer to the relayer at the same nonce).
    Ok(Json(json!({
        "message": format!(
            "transaction {id} cancelled: replaced at nonce {} by a 0-value transfer to the relayer",
            cancelled.nonce
        )
    })))
}

async fn sign(Extension(c): Extension<Caller>, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let payload: SignMessagePayload = body(&bytes, "`{ message }`")?;
    reply(c.relayer.sign(payload).await?)
}

async fn sign_typed_data(
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let payload: SignTypedDataPayload = body(&bytes, "`{ domainSeparator, hashStructMessage }`")?;
    reply(c.relayer.sign_typed_data(payload).await?)
}

/// `listTransactions`' query, as axios writes it (`since` a `Date`: ISO-8601).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    status: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    next: Option<String>,
    sort: Option<String>,
    use_pagination: Option<String>,
}

async fn list(
    Extension(c): Extension<Caller>,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            serde_json::from_value::<TxStatus>(Value::String(s.to_owned())).map_err(|_| {
                ApiError::invalid(format!(
                    "status `{s}` is not one of pending, sent, submitted, inmempool, mined, confirmed, failed, expired"
                ))
            })
        })
        .transpose()?;
    let mut query: ListTransactionsQuery = match &p.since {
        Some(since) => serde_json::from_value(json!({ "since": since }))
            .map_err(|_| ApiError::invalid(format!("since `{since}` is not an ISO-8601 time")))?,
        None => ListTransactionsQuery::default(),
    };
    query.status = status;
    let limit =
        p.limit
            .as_deref()
            .map(|l| {
                l.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::invalid(format!("limit `{l}` is not a positive integer"))
                })
            })
            .transpose()?;
    let ascending = match p.sort.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(s) => return Err(ApiError::invalid(format!("sort `{s}` is not asc or desc"))),
    };
    let mut all = c.relayer.list_transactions(query).await?;
    if ascending {
        all.reverse();
    }
    let paginated = p.use_pagination.as_deref() == Some("true") || p.next.is_some();
    if !paginated {
        // The 1.x clients' answer: an array, `limit` or everything.
        all.truncate(limit.unwrap_or(usize::MAX));
        return reply(all);
    }
    let start = match &p.next {
        Some(cursor) => {
            all.iter()
                .position(|t| t.transaction_id == *cursor)
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "`next` `{cursor}` is not a transaction of this listing"
                    ))
                })?
                + 1
        }
        None => 0,
    };
    let page_size = limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let rest: Vec<RelayerTransaction> = all.into_iter().skip(start).collect();
    let more = rest.len() > page_size;
    let items: Vec<RelayerTransaction> = rest.into_iter().take(page_size).collect();
    let next = more
        .then(|| items.last().map(|t| t.transaction_id.clone()))
        .flatten();
    let mut answer = json!({ "items": items });
    if let (Some(next), Some(o)) = (next, answer.as_object_mut()) {
        o.insert("next".into(), Value::String(next));
    }
    Ok(Json(answer))
}

/// `call`: a JSON-RPC request to the relayer's network. A node's error is a JSON-RPC error
/// in a 200 answer, as Defender answered and the SDK's providers read it.
#[derive(Deserialize)]
struct JsonRpcRequest {
    #[serde(default)]
    id: Value,
    method: String,
    #[serde(default)]
    params: Option<Value>,
}

async fn jsonrpc(Extension(c): Extension<Caller>, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let req: JsonRpcRequest = body(&bytes, "`{ method, params }` (JSON-RPC)")?;
    if req.method.is_empty() || req.method.len() > MAX_METHOD_LEN {
        return Err(ApiError::invalid(format!(
            "`method` must be 1 to {MAX_METHOD_LEN} characters"
        )));
    }
    let id = match req.id {
        v @ (Value::Number(_) | Value::String(_) | Value::Null) => v,
        _ => return Err(ApiError::invalid("`id` must be a number, a string or null")),
    };
    let params = req.params.unwrap_or_else(|| json!([]));
    match c.relayer.call(&req.method, params).await {
        Ok(result) => Ok(Json(
            json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        )),
        Err(RelayerError::Rpc {
            code,
            message,
            data,
        }) => {
            let mut error = json!({ "code": code, "message": message });
            if let (Some(data), Some(o)) = (data, error.as_object_mut()) {
                o.insert("data".into(), data);
            }
            Ok(Json(json!({ "jsonrpc": "2.0", "id": id, "error": error })))
        }
        Err(e) => Err(e.into()),
    }
}
