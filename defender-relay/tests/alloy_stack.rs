//! Chain access and signing on alloy's stack, against real anvils and local servers: the
//! WebSocket block source across a dropped connection, private transactions through their own
//! endpoint, and a remote signer over HTTP through alloy's signer traits.

mod common;
mod relay_support;

use alloy::consensus::SignableTransaction;
use alloy::network::EthereumWallet;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy_primitives::{Address, Signature, B256};
use common::servers::*;
use common::*;
use defender_core::wire::{SignMessagePayload, TxRequest, TxStatus};
use defender_core::{BlockRef, BlockSource, BlockTag, Relayer, RelayerError};
use defender_relay::{
    message_bytes, RelayerConfig, RelayerSigner, Signer, TxSigner, WsBlockSource, WsConfig,
};
use relay_support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// This file's relayer: confirmed after one block.
fn stack_config(urls: Vec<String>) -> RelayerConfig {
    config_for("alloy-stack", urls).with_confirmations(1)
}

/// A fast transfer of `value` wei to [`OTHER`], private or not.
fn transfer_with(value: u64, private: bool) -> TxRequest {
    req(json!({
        "to": OTHER, "value": value, "speed": "fast", "gasLimit": 21000, "isPrivate": private
    }))
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy whose connections can be cut and restored on the same port.

struct CutProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CutProxy {
    async fn start(upstream: SocketAddr) -> CutProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = CutProxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes every connection and stops listening.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Listens again on the same port.
    async fn restore(&self) {
        for _ in 0..100 {
            if let Ok(l) = tokio::net::TcpListener::bind(self.addr).await {
                self.serve(l);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("anvil address")
}

async fn next_head(rx: &mut tokio::sync::broadcast::Receiver<BlockRef>) -> BlockRef {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("a head within a minute")
        .expect("subscription open")
}

#[tokio::test]
async fn ws_source_sees_every_block_in_order_across_a_dropped_connection() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let proxy = CutProxy::start(addr_of(&anvil.url)).await;
    let source = WsBlockSource::connect_with(
        &format!("ws://{}", proxy.addr),
        WsConfig {
            reconnect_every: Duration::from_millis(100),
            transport_retries: 3,
            capacity: 1024,
        },
    )
    .await
    .expect("connects");
    assert_eq!(source.chain_id().await.unwrap(), 31337);
    let mut rx = source.subscribe();
    anvil.mine(1).await;
    let mut seen = vec![next_head(&mut rx).await];
    for _ in 0..2 {
        anvil.mine(1).await;
        seen.push(next_head(&mut rx).await);
    }
    assert_eq!(source.head(BlockTag::Latest).await.unwrap(), seen[2].number);
    // The connection drops (long enough for alloy's transport to give up); blocks are mined
    // meanwhile; it comes back on the same port.
    proxy.cut();
    anvil.mine(5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    anvil.mine(2).await;
    proxy.restore().await;
    anvil.mine(1).await;
    let head = u64::from_str_radix(
        anvil
            .call("eth_blockNumber", json!([]))
            .await
            .as_str()
            .unwrap()[2..]
            .as_ref(),
        16,
    )
    .unwrap();
    while seen.last().unwrap().number < head {
        seen.push(next_head(&mut rx).await);
    }
    let numbers: Vec<u64> = seen.iter().map(|b| b.number).collect();
    let first = numbers[0];
    assert_eq!(
        numbers,
        (first..=head).collect::<Vec<_>>(),
        "no block skipped or repeated"
    );
    for pair in seen.windows(2) {
        assert_eq!(pair[1].parent_hash, pair[0].hash, "a chain of blocks");
    }
    // The source reads blocks over the new connection.
    let block = source.block(head).await.unwrap().expect("head block");
    assert_eq!(block.header, *seen.last().unwrap());
    defender_core::conformance::chain::run_all(&source).await;
}

// ---------------------------------------------------------------------------------------------
// Private transactions

#[tokio::test]
async fn private_transactions_go_through_the_private_endpoint_and_are_followed() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    // The public node, and a private relay that forwards to the block builder (here the same
    // anvil, as Flashbots Protect forwards to builders): each behind a counter.
    let (public, public_sends) = counting_proxy(anvil.url.clone(), "eth_sendRawTransaction").await;
    let (private, private_sends) =
        counting_proxy(anvil.url.clone(), "eth_sendRawTransaction").await;
    let relayer =
        start(stack_config(vec![public.clone()]).with_private_url(Some(private.clone()))).await;
    let tx = relayer
        .send_transaction(transfer_with(1, true))
        .await
        .unwrap();
    assert_eq!(tx.is_private, Some(true));
    assert_eq!(private_sends.load(Ordering::SeqCst), 1);
    assert_eq!(
        public_sends.load(Ordering::SeqCst),
        0,
        "never sent publicly"
    );
    anvil.mine(1).await;
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    let receipt = anvil
        .call("eth_getTransactionReceipt", json!([tx.hash]))
        .await;
    assert_eq!(receipt["status"], "0x1");
    // A replacement of a private transaction is private too.
    let second = relayer
        .send_transaction(transfer_with(2, true))
        .await
        .unwrap();
    relayer
        .replace_transaction_by_id(&second.transaction_id, transfer_with(3, true))
        .await
        .unwrap();
    assert_eq!(private_sends.load(Ordering::SeqCst), 3);
    assert_eq!(public_sends.load(Ordering::SeqCst), 0);
    // A public one goes to the public node.
    let public_tx = relayer
        .send_transaction(transfer_with(4, false))
        .await
        .unwrap();
    assert_eq!(public_tx.is_private, None);
    assert_eq!(public_sends.load(Ordering::SeqCst), 1);
    anvil.mine(1).await;
    assert!(wait_status(&relayer, &public_tx.transaction_id, TxStatus::Mined).await);
    assert!(wait_status(&relayer, &second.transaction_id, TxStatus::Mined).await);
    drop(relayer);

    // The `private-transactions` policy makes every transaction private.
    let relayer = start(
        stack_config(vec![public.clone()])
            .with_private_url(Some(private.clone()))
            .with_private_transactions(true),
    )
    .await;
    let tx = relayer
        .send_transaction(transfer_with(5, false))
        .await
        .unwrap();
    assert_eq!(tx.is_private, Some(true));
    assert_eq!(private_sends.load(Ordering::SeqCst), 4);
    assert_eq!(public_sends.load(Ordering::SeqCst), 1);
    anvil.mine(1).await;
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    drop(relayer);

    // Without a private endpoint, a private transaction is refused before it takes a nonce.
    let relayer = start(stack_config(vec![public])).await;
    let nonce = relayer.next_nonce().await;
    assert!(matches!(
        relayer.send_transaction(transfer_with(6, true)).await,
        Err(RelayerError::Configuration(m)) if m.contains("private endpoint")
    ));
    assert_eq!(relayer.next_nonce().await, nonce);
}

// ---------------------------------------------------------------------------------------------
// A remote signer over HTTP: a key server that signs digests, and an alloy signer calling it.

/// Serves `POST /sign {"digest"}` -> `{"signature"}` with `key`; counts signatures.
async fn key_server(key: PrivateKeySigner) -> (String, Arc<AtomicUsize>) {
    let signed = Arc::new(AtomicUsize::new(0));
    let count = signed.clone();
    let app = axum::Router::new().route(
        "/sign",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (key, count) = (key.clone(), count.clone());
            async move {
                let digest: B256 = body["digest"].as_str().unwrap_or_default().parse().unwrap();
                let sig = key.sign_hash_sync(&digest).unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"signature": format!("0x{}", alloy_primitives::hex::encode(sig.as_bytes()))}))
            }
        }),
    );
    (format!("{}/sign", serve(app).await), signed)
}

/// An alloy signer whose key is on a remote server, as a KMS key is.
#[derive(Debug, Clone)]
struct RemoteSigner {
    url: String,
    address: Address,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
#[error("remote signer: {0}")]
struct RemoteError(String);

impl RemoteSigner {
    async fn sign_digest(&self, digest: &B256) -> alloy::signers::Result<Signature> {
        let other = |e: String| alloy::signers::Error::other(RemoteError(e));
        let body = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(json!({ "digest": digest }).to_string())
            .send()
            .await
            .map_err(|e| other(e.to_string()))?
            .bytes()
            .await
            .map_err(|e| other(e.to_string()))?;
        let answer: Value = serde_json::from_slice(&body).map_err(|e| other(e.to_string()))?;
        let bytes: alloy_primitives::Bytes = answer["signature"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|_| other("bad signature".into()))?;
        Signature::try_from(&bytes[..]).map_err(|e| other(e.to_string()))
    }
}

#[async_trait::async_trait]
impl Signer for RemoteSigner {
    async fn sign_hash(&self, hash: &B256) -> alloy::signers::Result<Signature> {
        self.sign_digest(hash).await
    }
    fn address(&self) -> Address {
        self.address
    }
    fn chain_id(&self) -> Option<u64> {
        None
    }
    fn set_chain_id(&mut self, _chain_id: Option<u64>) {}
}

#[async_trait::async_trait]
impl TxSigner<Signature> for RemoteSigner {
    fn address(&self) -> Address {
        self.address
    }
    async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> alloy::signers::Result<Signature> {
        self.sign_digest(&tx.signature_hash()).await
    }
}

#[tokio::test]
async fn a_remote_signer_over_http_signs_transactions_and_messages() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let key: PrivateKeySigner = KEY2.parse().unwrap();
    let address = key.address();
    let (url, signed) = key_server(key).await;
    let remote = RemoteSigner {
        url,
        address,
        http: reqwest::Client::new(),
    };
    // As an alloy wallet (transactions) with the same signer for messages.
    let wallet = EthereumWallet::from(remote.clone());
    let signer = RelayerSigner::from_wallet(&wallet, Arc::new(remote.clone())).unwrap();
    assert_eq!(signer.address(), address);
    let relayer = start_signed(stack_config(vec![anvil.url.clone()]), signer).await;
    assert_eq!(relayer.address(), address);
    let tx = relayer
        .send_transaction(transfer_with(7, false))
        .await
        .unwrap();
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    assert_eq!(
        sender_of(&anvil, &tx.hash).await,
        address,
        "sent from the remote key's account"
    );
    let message = "hello from afar";
    let signed_message = relayer
        .sign(SignMessagePayload {
            message: message.into(),
        })
        .await
        .unwrap();
    let sig = signature(&signed_message.sig);
    assert_eq!(
        sig.recover_address_from_msg(message_bytes(message))
            .unwrap(),
        address
    );
    assert_eq!(
        signed.load(Ordering::SeqCst),
        2,
        "one transaction, one message"
    );
    // A transaction signer and a message signer of different accounts are refused.
    let other = Arc::new(defender_relay::LocalSigner::from_private_key(KEY).unwrap());
    assert!(RelayerSigner::from_parts(Arc::new(remote), other).is_err());
}

#[tokio::test]
async fn the_url_scheme_picks_the_block_source() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let ws_url = anvil.url.replacen("http://", "ws://", 1);
    let ws = defender_relay::block_source(vec![ws_url], quick_retry())
        .await
        .expect("WebSocket source");
    assert!(format!("{ws:?}").contains("WsBlockSource"));
    let http = defender_relay::block_source(vec![anvil.url.clone()], quick_retry())
        .await
        .expect("polling source");
    assert!(format!("{http:?}").contains("RpcBlockSource"));
    anvil.mine(2).await;
    for source in [ws, http] {
        assert_eq!(source.chain_id().await.unwrap(), 31337);
        let head = source.block_ref(2).await.unwrap().expect("block 2");
        assert_eq!(
            source.block_ref(1).await.unwrap().unwrap().hash,
            head.parent_hash
        );
    }
    // A WebSocket URL is not one for the polling client.
    assert!(
        defender_relay::RpcClient::new(vec!["ws://127.0.0.1:1".into()], quick_retry()).is_err()
    );
}
