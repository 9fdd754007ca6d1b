//! The `aws-kms` feature end to end: alloy's `AwsSigner` over the AWS SDK's KMS client, against
//! a KMS endpoint on 127.0.0.1, signs the relayer's transactions on anvil and its messages.
//!
//! No KMS emulator that signs a `DIGEST` installs from the package registries reachable here
//! (moto's KMS hashes the digest again), so the endpoint is written here: the two operations of
//! KMS's JSON protocol that the signer uses, `GetPublicKey` and `Sign`, over one secp256k1 key.

#![cfg(feature = "aws-kms")]

mod common;
mod relay_support;

use base64::Engine as _;
use common::servers::*;
use common::*;
use defender_core::wire::{SignMessagePayload, TxStatus};
use defender_core::Relayer;
use defender_relay::signer::kms::aws::{aws_sdk_kms, AwsSigner};
use defender_relay::{message_bytes, RelayerConfig, RelayerSigner};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::pkcs8::EncodePublicKey;
use relay_support::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY_ID: &str = "alias/relayer";

/// A KMS endpoint holding one `ECC_SECG_P256K1` key; returns its URL and the operations it
/// served with their `MessageType`.
async fn kms_endpoint(key: k256::ecdsa::SigningKey) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = calls.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (key, log) = (key.clone(), log.clone());
                async move {
                    let target = headers
                        .get("x-amz-target")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    log.lock()
                        .unwrap()
                        .push((target.clone(), req["MessageType"].clone()));
                    let answer = match target.as_str() {
                        "TrentService.GetPublicKey" => {
                            let der = key.verifying_key().to_public_key_der().unwrap();
                            json!({
                                "KeyId": req["KeyId"], "PublicKey": b64.encode(der.as_bytes()),
                                "KeySpec": "ECC_SECG_P256K1", "KeyUsage": "SIGN_VERIFY",
                                "SigningAlgorithms": ["ECDSA_SHA_256"]
                            })
                        }
                        "TrentService.Sign" if req["MessageType"] == "DIGEST" => {
                            let digest = b64
                                .decode(req["Message"].as_str().unwrap_or_default())
                                .unwrap();
                            let sig: k256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
                            json!({
                                "KeyId": req["KeyId"], "SigningAlgorithm": "ECDSA_SHA_256",
                                "Signature": b64.encode(sig.to_der().as_bytes())
                            })
                        }
                        _ => {
                            return (
                                axum::http::StatusCode::BAD_REQUEST,
                                [("content-type", "application/x-amz-json-1.1")],
                                json!({"__type": "ValidationException", "message": target})
                                    .to_string(),
                            )
                        }
                    };
                    (
                        axum::http::StatusCode::OK,
                        [("content-type", "application/x-amz-json-1.1")],
                        answer.to_string(),
                    )
                }
            },
        ),
    );
    (serve(app).await, calls)
}

#[tokio::test]
async fn aws_kms_key_signs_the_relayers_transactions_and_messages() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    // The KMS key is anvil's third default account: funded.
    let secret = alloy_primitives::hex::decode(KEY3.trim_start_matches("0x")).unwrap();
    let key = k256::ecdsa::SigningKey::from_slice(&secret).unwrap();
    let expected = alloy::signers::local::PrivateKeySigner::from_slice(&secret)
        .unwrap()
        .address();
    let (endpoint, calls) = kms_endpoint(key).await;
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(endpoint)
        .build();
    let client = aws_sdk_kms::Client::from_conf(config);
    let signer = AwsSigner::new(client, KEY_ID.into(), None)
        .await
        .expect("the KMS key's public key");
    assert_eq!(alloy::signers::Signer::address(&signer), expected);
    let relayer = start_signed(
        RelayerConfig::new("kms", vec![anvil.url.clone()])
            .with_retry(quick_retry())
            .with_poll_interval(Duration::from_millis(100))
            .with_confirmations(1),
        RelayerSigner::new(signer),
    )
    .await;
    assert_eq!(relayer.address(), expected);
    let tx = relayer.send_transaction(transfer(9)).await.unwrap();
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    assert_eq!(
        sender_of(&anvil, &tx.hash).await,
        expected,
        "sent from the KMS key's account"
    );
    let signed = relayer
        .sign(SignMessagePayload {
            message: "from the key manager".into(),
        })
        .await
        .unwrap();
    let sig = signature(&signed.sig);
    assert_eq!(
        sig.recover_address_from_msg(message_bytes("from the key manager"))
            .unwrap(),
        expected
    );
    let calls = calls.lock().unwrap().clone();
    let signs: Vec<&Value> = calls
        .iter()
        .filter(|(t, _)| t == "TrentService.Sign")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(calls[0].0, "TrentService.GetPublicKey");
    assert_eq!(signs.len(), 2, "one transaction, one message: {calls:?}");
    assert!(signs.iter().all(|m| *m == "DIGEST"));
}
