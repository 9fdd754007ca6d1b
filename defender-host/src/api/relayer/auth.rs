//! Who may call the relayer API: a relayer's API key and secret (its `api-keys`, secrets in the
//! keys file), exchanged for a bearer token as `@openzeppelin/defender-sdk` does.
//!
//! Choice: Defender checked keys in AWS Cognito (SRP against a fixed AWS pool, which no local
//! server can stand in for); the SDK since 2.x logs in by default with `POST /auth/login`
//! (`{ apiKey, secretKey, type }` -> `{ accessToken, refreshToken }`) at `DEFENDER_API_URL`,
//! then sends `X-Api-Key` and `Authorization: Bearer <accessToken>`. That flow is served
//! here: tokens are 256 random bits, kept in memory by their keccak-256 hash (a lookup reveals
//! nothing by timing), bound to one API key and so to one relayer, valid for an hour (refresh
//! tokens for a day); a restart forgets them and the SDK logs in again on the 401.

use super::super::ApiError;
use super::info::RelayerProfile;
use alloy_primitives::{keccak256, B256};
use axum::http::{header, HeaderMap, StatusCode};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use defender_core::DynRelayer;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How long an access token is accepted (as Cognito's were).
pub(super) const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How long a refresh token is accepted.
const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Live logins kept per API key; a new one beyond drops the oldest (each SDK client logs in
/// once, so this bounds the memory a leaked key can make the host spend, not normal use).
const MAX_LOGINS_PER_KEY: usize = 64;

/// Longest API key, secret or token read from a request.
const MAX_CREDENTIAL_LEN: usize = 512;

/// A relayer's API key: what it reaches and the secret that proves it.
#[derive(Clone, Debug)]
struct Credential {
    secret: String,
    relayer_id: String,
    relayer: Arc<DynRelayer>,
}

#[derive(Debug, Clone)]
struct Session {
    api_key: String,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Sessions {
    access: HashMap<B256, Session>,
    refresh: HashMap<B256, Session>,
}

impl Sessions {
    fn prune(&mut self, now: Instant) {
        self.access.retain(|_, s| s.expires > now);
        self.refresh.retain(|_, s| s.expires > now);
    }

    /// Keeps at most `MAX_LOGINS_PER_KEY - 1` sessions of `api_key` in `map`, dropping the
    /// ones that expire first, to make room for one more.
    fn make_room(map: &mut HashMap<B256, Session>, api_key: &str) {
        let mut mine: Vec<(Instant, B256)> = map
            .iter()
            .filter(|(_, s)| s.api_key == api_key)
            .map(|(h, s)| (s.expires, *h))
            .collect();
        if mine.len() < MAX_LOGINS_PER_KEY {
            return;
        }
        mine.sort();
        for (_, h) in mine.iter().take(mine.len() + 1 - MAX_LOGINS_PER_KEY) {
            map.remove(h);
        }
    }
}

/// The relayers the API reaches, by API key, and the tokens handed out for them.
#[derive(Clone, Debug, Default)]
pub struct RelayerAccess {
    keys: Arc<BTreeMap<String, Credential>>,
    /// What `getRelayer` adds, by relayer id.
    profiles: Arc<BTreeMap<String, Arc<RelayerProfile>>>,
    sessions: Arc<Mutex<Sessions>>,
}

/// The relayer a request was authenticated for.
#[derive(Clone, Debug)]
pub(super) struct Caller {
    /// The relayer's id (its resource key).
    pub(super) relayer_id: String,
    /// The API key the token was issued for.
    pub(super) api_key: String,
    /// The relayer.
    pub(super) relayer: Arc<DynRelayer>,
    /// Its `createdAt`, `minBalance` and `policies`.
    pub(super) profile: Arc<RelayerProfile>,
}

/// `POST /auth/login` and `/auth/refresh-token`: the SDK sends the fields at the top level;
/// its 1.x versions wrapped them in `body`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginRequest {
    api_key: Option<String>,
    secret_key: Option<String>,
    refresh_token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    body: Option<Box<LoginRequest>>,
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
}

fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("no randomness for a token: {e}"),
        )
    })?;
    Ok(hex::encode(bytes))
}

impl RelayerAccess {
    /// No relayer reachable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `api_key` with `api_secret` reach relayer `relayer_id`. Keys are the relayer's
    /// `api-keys` labels; a key given twice keeps its last relayer. A relayer without a
    /// [profile](Self::with_profile) gets one created now, without `minBalance` or policies.
    pub fn with_key(
        mut self,
        relayer_id: impl Into<String>,
        relayer: Arc<DynRelayer>,
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
    ) -> Self {
        let relayer_id = relayer_id.into();
        Arc::make_mut(&mut self.profiles)
            .entry(relayer_id.clone())
            .or_insert_with(|| Arc::new(RelayerProfile::new(0, None)));
        Arc::make_mut(&mut self.keys).insert(
            api_key.into(),
            Credential {
                secret: api_secret.into(),
                relayer_id,
                relayer,
            },
        );
        self
    }

    /// Sets what `getRelayer` answers for relayer `relayer_id` beside its own info.
    pub fn with_profile(mut self, relayer_id: impl Into<String>, profile: RelayerProfile) -> Self {
        Arc::make_mut(&mut self.profiles).insert(relayer_id.into(), Arc::new(profile));
        self
    }

    /// Whether no key is configured (every request is then refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The credential of `api_key` when `secret` is its secret (compared in constant time).
    fn check(&self, api_key: &str, secret: &str) -> Option<&Credential> {
        let c = self.keys.get(api_key)?;
        bool::from(c.secret.as_bytes().ct_eq(secret.as_bytes())).then_some(c)
    }

    /// `POST /auth/login` (with `refresh`: `/auth/refresh-token`, which also needs a refresh
    /// token issued to the same key): a new access token, and on login a refresh token.
    pub(super) fn login(&self, body: &[u8], refresh: bool) -> Result<Value, ApiError> {
        let mut req: LoginRequest = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid(format!(
                "the body is not `{{ apiKey, secretKey, type }}` JSON: {e}"
            ))
        })?;
        if let Some(inner) = req.body.take() {
            req = *inner;
        }
        let (Some(api_key), Some(secret)) = (&req.api_key, &req.secret_key) else {
            return Err(ApiError::invalid("`apiKey` and `secretKey` are required"));
        };
        if api_key.len() > MAX_CREDENTIAL_LEN || secret.len() > MAX_CREDENTIAL_LEN {
            return Err(unauthorized("invalid API key or secret"));
        }
        if let Some(kind) = req.kind.as_deref().filter(|k| *k != "relay") {
            return Err(unauthorized(format!(
                "only relayer API keys (type `relay`) log in here, not type `{kind}`: the management API takes its key in X-Api-Key"
            )));
        }
        let Some(credential) = self.check(api_key, secret) else {
            tracing::warn!(api_key = ?api_key, "relayer API: login refused (unknown key or wrong secret)");
            return Err(unauthorized("invalid API key or secret"));
        };
        let now = Instant::now();
        let access_token = random_token()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.prune(now);
        let refresh_token = if refresh {
            let given = req
                .refresh_token
                .as_deref()
                .filter(|t| t.len() <= MAX_CREDENTIAL_LEN)
                .ok_or_else(|| unauthorized("`refreshToken` is required"))?;
            let ok = sessions
                .refresh
                .get(&keccak256(given.as_bytes()))
                .is_some_and(|s| s.api_key == *api_key);
            if !ok {
                return Err(unauthorized("unknown or expired refresh token"));
            }
            given.to_owned()
        } else {
            let token = random_token()?;
            Sessions::make_room(&mut sessions.refresh, api_key);
            sessions.refresh.insert(
                keccak256(token.as_bytes()),
                Session {
                    api_key: api_key.clone(),
                    expires: now + REFRESH_TOKEN_TTL,
                },
            );
            token
        };
        Sessions::make_room(&mut sessions.access, api_key);
        sessions.access.insert(
            keccak256(access_token.as_bytes()),
            Session {
                api_key: api_key.clone(),
                expires: now + ACCESS_TOKEN_TTL,
            },
        );
        tracing::info!(api_key = %api_key, relayer = %credential.relayer_id, refresh, "relayer API: token issued");
        Ok(json!({
            "accessToken": access_token,
            "refreshToken": refresh_token,
            "expiresIn": ACCESS_TOKEN_TTL.as_secs(),
            "tokenType": "Bearer",
        }))
    }

    /// The caller of a request: its bearer token must be live and, when the request names a
    /// relayer (`/relayers/{id}/...`), be for that relayer (or `self`). A missing, unknown or
    /// expired token is 401 (the SDK then logs in again); another relayer's is 403.
    pub(super) fn caller(&self, headers: &HeaderMap, path: &str) -> Result<Caller, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .and_then(|v| {
                let (scheme, rest) = v.split_at(v.len().min(7));
                scheme
                    .eq_ignore_ascii_case(b"bearer ")
                    .then(|| rest.trim_ascii())
            })
            .filter(|t| !t.is_empty() && t.len() <= MAX_CREDENTIAL_LEN)
            .ok_or_else(|| {
                unauthorized(
                    "log in at POST /auth/login, then send Authorization: Bearer <accessToken>",
                )
            })?;
        let session = {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.access.get(&keccak256(token)).cloned()
        };
        let session = session
            .filter(|s| s.expires > Instant::now())
            .ok_or_else(|| unauthorized("unknown or expired access token: log in again"))?;
        if let Some(key) = headers.get("x-api-key") {
            if key.as_bytes() != session.api_key.as_bytes() {
                return Err(unauthorized("the token was not issued for this X-Api-Key"));
            }
        }
        let credential = self
            .keys
            .get(&session.api_key)
            .ok_or_else(|| unauthorized("the API key is no longer configured"))?;
        if let Some(named) = path
            .strip_prefix("/relayers/")
            .and_then(|rest| rest.split('/').next())
        {
            if named != "self" && named != credential.relayer_id {
                tracing::warn!(api_key = %session.api_key, relayer = %named, "relayer API: refused (another relayer's key)");
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN",
                    format!(
                        "API key `{}` reaches relayer `{}`, not `{named}`",
                        session.api_key, credential.relayer_id
                    ),
                ));
            }
        }
        let profile = self
            .profiles
            .get(&credential.relayer_id)
            .cloned()
            .unwrap_or_else(|| Arc::new(RelayerProfile::new(0, None)));
        Ok(Caller {
            relayer_id: credential.relayer_id.clone(),
            api_key: session.api_key,
            relayer: credential.relayer.clone(),
            profile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(key: &str, secs: u64) -> Session {
        Session {
            api_key: key.to_owned(),
            expires: Instant::now() + Duration::from_secs(secs),
        }
    }

    #[test]
    fn logins_per_key_are_bounded_and_the_oldest_go_first() {
        let mut map = HashMap::new();
        map.insert(keccak256(b"other"), session("other", 1));
        for i in 0..(MAX_LOGINS_PER_KEY as u64 + 10) {
            Sessions::make_room(&mut map, "k");
            map.insert(keccak256(i.to_be_bytes()), session("k", 100 + i));
        }
        let mine: Vec<&Session> = map.values().filter(|s| s.api_key == "k").collect();
        assert_eq!(mine.len(), MAX_LOGINS_PER_KEY);
        // The newest login is kept; the first ones (expiring first) were dropped.
        assert!(map.contains_key(&keccak256((MAX_LOGINS_PER_KEY as u64 + 9).to_be_bytes())));
        assert!(!map.contains_key(&keccak256(0u64.to_be_bytes())));
        // Another key's session is untouched.
        assert!(map.contains_key(&keccak256(b"other")));
    }

    #[test]
    fn login_without_keys_is_refused_and_bad_bodies_are_400() {
        let access = RelayerAccess::new();
        let refused = access
            .login(br#"{"apiKey":"k","secretKey":"s","type":"relay"}"#, false)
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        let long = format!(r#"{{"apiKey":"{}","secretKey":"s"}}"#, "k".repeat(10_000));
        assert_eq!(
            access.login(long.as_bytes(), false).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        for bad in [&b"{"[..], b"[]", br#"{"apiKey":"k"}"#] {
            assert_eq!(
                access.login(bad, false).unwrap_err().status,
                StatusCode::BAD_REQUEST
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(
            access
                .caller(&headers, "/relayers/self")
                .unwrap_err()
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
}
