//! Signatures of outgoing webhook notifications, as Defender sent them.
//!
//! Every request of a [`WebhookChannel`](crate::WebhookChannel) with a secret carries two
//! headers:
//! - `Defender-Timestamp`: the time of sending, in milliseconds since the Unix epoch, as decimal
//!   digits;
//! - `Defender-Signature`: `hex(HMAC-SHA256(secret, timestamp + body))`, lower-case hex, where
//!   the signed bytes are the `Defender-Timestamp` value (its ASCII digits) immediately followed
//!   by the raw request body bytes, with no separator.
//!
//! A receiver recomputes the HMAC with [`verify_signature`] and rejects stale timestamps to stop
//! replays:
//! ```
//! use defender_notify::signature::{sign, verify_signature, SignatureError};
//! use std::time::Duration;
//! let body = br#"{"subject":"hi"}"#;
//! let now_ms = 1_700_000_000_000u64;
//! let sig = sign(b"s3cret", &now_ms.to_string(), body);
//! assert_eq!(verify_signature(b"s3cret", &now_ms.to_string(), body, &sig, None), Ok(()));
//! assert_eq!(verify_signature(b"other", &now_ms.to_string(), body, &sig, None),
//!            Err(SignatureError::Mismatch));
//! // Five minutes of tolerance: a timestamp from 2023 is too old now.
//! assert_eq!(verify_signature(b"s3cret", &now_ms.to_string(), body, &sig,
//!                             Some(Duration::from_secs(300))),
//!            Err(SignatureError::Stale));
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "Defender-Signature";
/// The header holding the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "Defender-Timestamp";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // `new_from_slice` only fails for fixed-size-key MACs; HMAC takes any key. Use an empty key
    // rather than panic, so that verification simply fails.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// `hex(HMAC-SHA256(secret, timestamp + body))`, lower-case.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature is not hex of 32 bytes, or the timestamp not a number.
    #[error("malformed signature or timestamp")]
    Malformed,
    /// The signature does not match the body and timestamp.
    #[error("signature mismatch")]
    Mismatch,
    /// The timestamp is older (or further in the future) than the tolerance.
    #[error("timestamp outside the allowed window")]
    Stale,
}

/// Checks a request's `Defender-Signature` against its `Defender-Timestamp` and raw body, in
/// constant time. With `max_age`, also refuses a timestamp further than that from now.
pub fn verify_signature(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    max_age: Option<Duration>,
) -> Result<(), SignatureError> {
    let ts: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    let given = hex::decode(signature.trim()).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    mac(secret, timestamp.trim(), body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)?;
    if let Some(max_age) = max_age {
        let now = now_ms();
        let skew = now.abs_diff(ts);
        if u128::from(skew) > max_age.as_millis() {
            return Err(SignatureError::Stale);
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" split into a
        // "timestamp" prefix and a body.
        assert_eq!(
            sign(b"Jefe", "what do ya ", b"want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rejects_malformed_and_tampered() {
        let sig = sign(b"k", "1", b"body");
        assert_eq!(verify_signature(b"k", "1", b"body", &sig, None), Ok(()));
        assert_eq!(
            verify_signature(b"k", "1", b"bodx", &sig, None),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"k", "2", b"body", &sig, None),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"k", "x", b"body", &sig, None),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(b"k", "1", b"body", "zz", None),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(b"k", "1", b"body", "abcd", None),
            Err(SignatureError::Malformed)
        );
        let now = now_ms().to_string();
        let fresh = sign(b"k", &now, b"b");
        assert_eq!(
            verify_signature(b"k", &now, b"b", &fresh, Some(Duration::from_secs(60))),
            Ok(())
        );
    }
}
