//! The [`Relayer`] contract, for checks that need no particular chain state: validation,
//! lookups, identity and signature shapes. Sending, resubmission and expiry need a node and are
//! tested by each implementation against one.
//!
//! [`run_suite`] takes a factory; an implementation that needs a node can build its relayer
//! once and hand out clones (or an `Arc`), since no check changes the relayer's state:
//!
//! ```no_run
//! use defender_core::conformance::relayer;
//! use defender_core::Relayer;
//! use std::sync::Arc;
//! # async fn example(mine: Arc<dyn Relayer>) {
//! relayer::run_suite(|| {
//!     let mine = mine.clone();
//!     async move { mine }
//! })
//! .await;
//! # }
//! ```

use super::Via;
use crate::wire::{SignMessagePayload, TxRequest};
use crate::{Relayer, RelayerError};
use std::future::Future;

/// Runs every check, each on a relayer built by `make`, directly, through
/// `Box<dyn Relayer>` and through `Arc<dyn Relayer>`.
///
/// The checks send nothing that a relayer accepts, so `make` may return the same relayer
/// every time.
pub async fn run_suite<F, Fut, R>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = R>,
    R: Relayer,
{
    for via in Via::ALL {
        reach!(forwarding Relayer, via, make().await, |r| rejects_invalid_requests(r).await);
        reach!(forwarding Relayer, via, make().await, |r| {
            unknown_transactions_are_not_found(r).await
        });
        reach!(forwarding Relayer, via, make().await, |r| identity_is_consistent(r).await);
        reach!(forwarding Relayer, via, make().await, |r| {
            signatures_have_defender_shape(r).await
        });
    }
}

/// Runs every check once, in turn, on one relayer.
pub async fn run_all(relayer: &dyn Relayer) {
    rejects_invalid_requests(relayer).await;
    unknown_transactions_are_not_found(relayer).await;
    identity_is_consistent(relayer).await;
    signatures_have_defender_shape(relayer).await;
}

/// Requests Defender refused come back as [`RelayerError::Invalid`] and send nothing.
pub async fn rejects_invalid_requests(relayer: &dyn Relayer) {
    let to = "0xc7464dbcA260A8faF033460622B23467Df5AEA42";
    let bad = [
        serde_json::json!({}),
        serde_json::json!({"to": to, "speed": "fast", "gasPrice": 1}),
        serde_json::json!({"to": to, "maxFeePerGas": 1, "maxPriorityFeePerGas": 2}),
        serde_json::json!({"to": to, "validUntil": "2000-01-01T00:00:00Z"}),
    ];
    for req in bad {
        let tx: TxRequest = serde_json::from_value(req.clone()).expect("parses");
        assert!(
            matches!(
                relayer.send_transaction(tx).await,
                Err(RelayerError::Invalid(_))
            ),
            "{req} was not rejected as invalid"
        );
    }
}

/// An unknown transaction id is [`RelayerError::NotFound`].
pub async fn unknown_transactions_are_not_found(relayer: &dyn Relayer) {
    let id = "00000000-0000-0000-0000-000000000000";
    assert!(
        matches!(
            relayer.get_transaction(id).await,
            Err(RelayerError::NotFound(_))
        ),
        "get_transaction of an unknown id"
    );
    assert!(
        matches!(
            relayer.cancel_transaction_by_id(id).await,
            Err(RelayerError::NotFound(_))
        ),
        "cancel_transaction_by_id of an unknown id"
    );
}

/// `getRelayer` and `getRelayerStatus` agree on id and address.
pub async fn identity_is_consistent(relayer: &dyn Relayer) {
    let info = relayer.get_relayer().await.expect("get_relayer");
    let status = relayer
        .get_relayer_status()
        .await
        .expect("get_relayer_status");
    assert_eq!(info.relayer_id, status.relayer_id);
    assert!(info.address.eq_ignore_ascii_case(&status.address));
    assert!(
        info.address.parse::<alloy_primitives::Address>().is_ok(),
        "relayer address {} is not an address",
        info.address
    );
}

/// `sign` returns `{ sig, r, s, v }` with `sig = r ‖ s ‖ v` and `v` 27 or 28.
pub async fn signatures_have_defender_shape(relayer: &dyn Relayer) {
    let signed = relayer
        .sign(SignMessagePayload {
            message: "0x68656c6c6f".into(),
        })
        .await
        .expect("sign");
    assert!(signed.v == 27 || signed.v == 28, "v is {}", signed.v);
    let strip = |s: &str| s.trim_start_matches("0x").to_ascii_lowercase();
    assert_eq!(strip(&signed.sig).len(), 130, "sig is 65 bytes");
    assert_eq!(strip(&signed.r).len(), 64);
    assert_eq!(strip(&signed.s).len(), 64);
    assert_eq!(
        strip(&signed.sig),
        format!("{}{}{:02x}", strip(&signed.r), strip(&signed.s), signed.v),
        "sig is r, s and v"
    );
}
