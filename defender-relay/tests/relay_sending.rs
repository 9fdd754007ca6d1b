//! What a relayer's send goes through, against a real anvil: policies, pricing and gas
//! estimation, failover between RPC URLs, and the signers (local, keystore, one that fails).

mod common;
mod relay_support;

use alloy_primitives::{Address, Signature, B256, U256};
use common::servers::*;
use common::*;
use defender_core::relayer::PolicyViolation;
use defender_core::wire::{SignMessagePayload, SignTypedDataPayload, TxStatus};
use defender_core::{Relayer, RelayerError};
use defender_relay::{eip712_digest, message_bytes, LocalSigner, RpcClient, Signer, TxSigner};
use relay_support::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn policies_whitelist_cap_and_funds() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let other: Address = OTHER.parse().unwrap();
    let relayer = start(
        config(vec![anvil.url.clone()])
            .with_whitelist(Some(vec![other]))
            .with_gas_price_cap(Some(5_000_000_000)),
    )
    .await;
    // Whitelist.
    let stranger: Address = ADDRESS3.parse().unwrap();
    let to_stranger = req(json!({"to": stranger, "value": 1}));
    assert!(matches!(
        relayer.send_transaction(to_stranger).await,
        Err(RelayerError::Policy(PolicyViolation::ReceiverNotWhitelisted { to })) if to == stranger
    ));
    let deployment = req(json!({"data": "0x6000", "gasLimit": 60000}));
    assert!(matches!(
        relayer.send_transaction(deployment).await,
        Err(RelayerError::Policy(
            PolicyViolation::DeploymentNotWhitelisted
        ))
    ));
    // An explicit price above the cap is refused; speed pricing is capped.
    let pricey = req(json!({"to": OTHER, "gasPrice": "6000000000", "gasLimit": 21000}));
    assert!(matches!(
        relayer.send_transaction(pricey).await,
        Err(RelayerError::Policy(PolicyViolation::GasPriceAboveCap {
            gas_price: 6_000_000_000,
            cap: 5_000_000_000
        }))
    ));
    let pricey = req(json!({
        "to": OTHER, "gasLimit": 21000,
        "maxFeePerGas": "7000000000", "maxPriorityFeePerGas": "1"
    }));
    assert!(matches!(
        relayer.send_transaction(pricey).await,
        Err(RelayerError::Policy(
            PolicyViolation::MaxFeePerGasAboveCap {
                max_fee_per_gas: 7_000_000_000,
                cap: 5_000_000_000
            }
        ))
    ));
    let capped = relayer
        .send_transaction(req(
            json!({"to": OTHER, "speed": "fastest", "gasLimit": 21000}),
        ))
        .await
        .expect("send");
    assert!(capped.max_fee_per_gas.unwrap() <= 5_000_000_000);
    // The cap never blocks a no-op replacement.
    let cancelled = relayer
        .cancel_transaction_by_id(&capped.transaction_id)
        .await
        .expect("cancel above the cap");
    assert!(cancelled.max_fee_per_gas.unwrap() > capped.max_fee_per_gas.unwrap());
    // Funds: 10 000 ETH; 6 000 in flight; another 6 000 does not fit.
    let eth6k = "6000000000000000000000";
    relayer
        .send_transaction(req(json!({"to": OTHER, "value": eth6k, "gasLimit": 21000})))
        .await
        .expect("first 6000 ETH");
    match relayer
        .send_transaction(req(json!({"to": OTHER, "value": eth6k, "gasLimit": 21000})))
        .await
    {
        Err(RelayerError::InsufficientFunds { pending_cost, .. }) => {
            assert!(pending_cost > eth6k.parse::<U256>().unwrap())
        }
        other => panic!("expected insufficient funds, got {other:?}"),
    }
    // Defender's validation errors.
    defender_core::conformance::relayer::rejects_invalid_requests(&relayer).await;
    defender_core::conformance::relayer::unknown_transactions_are_not_found(&relayer).await;
}

#[tokio::test]
async fn legacy_pricing_estimated_gas_and_pass_through() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()]).with_eip1559(Some(false))).await;
    let tx = relayer
        .send_transaction(req(json!({"to": OTHER, "value": 3, "speed": "safeLow"})))
        .await
        .expect("send");
    assert!(tx.gas_price.is_some() && tx.max_fee_per_gas.is_none());
    assert_eq!(tx.gas_limit, 21_000 * 120 / 100, "estimate plus 20%");
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    let onchain = chain_tx(&anvil, &tx.hash).await;
    assert_eq!(onchain["type"], "0x0");
    // JSON-RPC pass-through.
    let chain_id = relayer.call("eth_chainId", json!([])).await.unwrap();
    assert_eq!(chain_id, "0x7a69");
    assert!(matches!(
        relayer.call("no_suchMethod", json!([])).await,
        Err(RelayerError::Rpc { .. })
    ));
    // Explicit EIP-1559 fees are used as given.
    let fixed = relayer
        .send_transaction(req(json!({
            "to": OTHER, "gasLimit": 21000,
            "maxFeePerGas": "30000000000", "maxPriorityFeePerGas": "2000000000"
        })))
        .await
        .expect("send");
    assert_eq!(fixed.max_fee_per_gas, Some(30_000_000_000));
    assert!(wait_status(&relayer, &fixed.transaction_id, TxStatus::Mined).await);
}

#[tokio::test]
async fn failover_when_the_first_url_is_dead() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let dead = format!("http://127.0.0.1:{}", free_port());
    let relayer = start(config(vec![dead.clone(), anvil.url.clone()])).await;
    let tx = relayer.send_transaction(transfer(1)).await.expect("send");
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    assert_eq!(relayer.rpc().preferred_url(), anvil.url);
    let info = relayer.get_relayer().await.unwrap();
    assert_eq!(info.network, "anvil");
}

#[tokio::test]
async fn failover_on_429_5xx_and_jsonrpc_errors_with_http_200() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let internal =
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "internal error"}});
    let servers = [
        failing_server(429, json!({"error": "slow down"})).await,
        failing_server(503, json!({})).await,
        failing_server(500, internal.clone()).await,
        failing_server(200, internal).await,
    ];
    for (bad, hits) in &servers {
        let client = RpcClient::new(vec![bad.clone(), anvil.url.clone()], quick_retry()).unwrap();
        assert_eq!(
            client.request("eth_chainId", json!([])).await.unwrap(),
            "0x7a69"
        );
        let batch = client
            .batch(&[("eth_chainId", json!([])), ("eth_blockNumber", json!([]))])
            .await
            .unwrap();
        assert_eq!(batch[0].as_ref().unwrap(), "0x7a69");
        assert!(batch[1].is_ok());
        assert!(
            hits.load(std::sync::atomic::Ordering::SeqCst) >= 1,
            "{bad} was tried first"
        );
    }
    // Only bad URLs: an error after the retries, with every URL tried each round.
    let (a, ha) = &servers[0];
    let (b, hb) = &servers[3];
    let before = (
        ha.load(std::sync::atomic::Ordering::SeqCst),
        hb.load(std::sync::atomic::Ordering::SeqCst),
    );
    let client = RpcClient::new(vec![a.clone(), b.clone()], quick_retry()).unwrap();
    assert!(client.request("eth_chainId", json!([])).await.is_err());
    assert_eq!(ha.load(std::sync::atomic::Ordering::SeqCst) - before.0, 2);
    assert_eq!(hb.load(std::sync::atomic::Ordering::SeqCst) - before.1, 2);
    // A dead URL is not dropped: when the good one dies, it is tried again.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let client = RpcClient::new(vec![dead, anvil.url.clone()], quick_retry()).unwrap();
    client.request("eth_chainId", json!([])).await.unwrap();
    assert_eq!(client.preferred_url(), anvil.url);
    // A deterministic JSON-RPC error (a revert) is returned without failover.
    let reverting = json!([{"to": null, "data": "0x60006000fd"}]);
    let err = client.request("eth_call", reverting).await.unwrap_err();
    assert!(
        matches!(err, defender_relay::RpcError::Rpc { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn signatures_recover_to_the_relayer_address() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()])).await;
    let me = relayer.address();
    for message in ["0x68656c6c6f", "hello world"] {
        let signed = relayer
            .sign(SignMessagePayload {
                message: message.into(),
            })
            .await
            .unwrap();
        let sig = signature(&signed.sig);
        assert_eq!(
            sig.recover_address_from_msg(message_bytes(message))
                .unwrap(),
            me
        );
    }
    let domain = B256::repeat_byte(0x11);
    let hs = B256::repeat_byte(0x22);
    let signed = relayer
        .sign_typed_data(SignTypedDataPayload {
            domain_separator: format!("{domain}"),
            hash_struct_message: format!("{hs}"),
        })
        .await
        .unwrap();
    let sig = signature(&signed.sig);
    assert_eq!(
        sig.recover_address_from_prehash(&eip712_digest(domain, hs))
            .unwrap(),
        me
    );
    assert!(matches!(
        relayer
            .sign_typed_data(SignTypedDataPayload {
                domain_separator: "0x12".into(),
                hash_struct_message: format!("{hs}"),
            })
            .await,
        Err(RelayerError::Invalid(_))
    ));
    // The node agrees: anvil's personal_sign with the same key gives the same signature.
    let node_sig = anvil.call("eth_sign", json!([me, "0x68656c6c6f"])).await;
    let ours = relayer
        .sign(SignMessagePayload {
            message: "0x68656c6c6f".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        node_sig.as_str().unwrap().to_lowercase()[..130],
        ours.sig.to_lowercase()[..130]
    );
    defender_core::conformance::relayer::run_all(&relayer).await;
}

/// A remote signer that cannot be reached.
#[derive(Debug)]
struct UnreachableSigner(Address);

#[derive(Debug, thiserror::Error)]
#[error("KMS unreachable")]
struct Unreachable;

#[async_trait::async_trait]
impl Signer for UnreachableSigner {
    fn address(&self) -> Address {
        self.0
    }
    fn chain_id(&self) -> Option<u64> {
        None
    }
    fn set_chain_id(&mut self, _chain_id: Option<u64>) {}
    async fn sign_hash(&self, _hash: &B256) -> alloy::signers::Result<Signature> {
        Err(alloy::signers::Error::other(Unreachable))
    }
}

#[async_trait::async_trait]
impl TxSigner<Signature> for UnreachableSigner {
    fn address(&self) -> Address {
        self.0
    }
    async fn sign_transaction(
        &self,
        _tx: &mut dyn alloy::consensus::SignableTransaction<Signature>,
    ) -> alloy::signers::Result<Signature> {
        Err(alloy::signers::Error::other(Unreachable))
    }
}

#[tokio::test]
async fn signer_failures_name_the_key_and_keep_the_source() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let me = LocalSigner::from_private_key(KEY).unwrap().address();
    let relayer = start_signed(
        config(vec![anvil.url.clone()]),
        Arc::new(UnreachableSigner(me)),
    )
    .await;
    let check = |e: RelayerError| match e {
        RelayerError::Signer {
            address,
            ref source,
        } => {
            assert_eq!(address, me);
            assert!(matches!(
                source.downcast_ref::<alloy::signers::Error>(),
                Some(e) if e.to_string().contains("KMS unreachable")
            ));
            let text = e.to_string();
            assert!(text.contains(&me.to_string()) && text.contains("KMS unreachable"));
            assert!(std::error::Error::source(&e).is_some());
        }
        other => panic!("expected a signer error, got {other:?}"),
    };
    let nonce = relayer.next_nonce().await;
    check(relayer.send_transaction(transfer(1)).await.unwrap_err());
    assert_eq!(relayer.next_nonce().await, nonce, "no nonce used");
    let message = SignMessagePayload {
        message: "hi".into(),
    };
    check(relayer.sign(message).await.unwrap_err());
    let typed = SignTypedDataPayload {
        domain_separator: format!("{}", B256::ZERO),
        hash_struct_message: format!("{}", B256::ZERO),
    };
    check(relayer.sign_typed_data(typed).await.unwrap_err());
}

#[tokio::test]
async fn keystore_signer_sends_and_signs() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = alloy_primitives::hex::decode(KEY2.trim_start_matches("0x")).unwrap();
    alloy::signers::local::PrivateKeySigner::encrypt_keystore(
        dir.path(),
        &mut rand::thread_rng(),
        &key,
        "correct horse",
        Some("key.json"),
    )
    .unwrap();
    let path = dir.path().join("key.json");
    assert!(LocalSigner::from_keystore(&path, "wrong").is_err());
    let signer = LocalSigner::from_keystore(&path, "correct horse").unwrap();
    let expected = LocalSigner::from_private_key(KEY2).unwrap().address();
    assert_eq!(signer.address(), expected);
    let relayer = start_signed(config(vec![anvil.url.clone()]), Arc::new(signer)).await;
    let tx = relayer.send_transaction(transfer(11)).await.expect("send");
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    assert_eq!(sender_of(&anvil, &tx.hash).await, expected);
}
