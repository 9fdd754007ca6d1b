//! A [`BlockSource`] fed by a WebSocket new-heads subscription (alloy's pubsub provider over
//! `alloy-transport-ws`), with reconnection and gap filling; and [`block_source`], which picks it
//! or polling by the network's URL.

use crate::chain::{ChainReader, RpcBlockSource};
use crate::rpc::{RetryConfig, RpcClient};
use alloy::network::AnyNetwork;
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::{ClientBuilder, RpcClient as AlloyClient};
use alloy::transports::ws::WsConnect;
use alloy_primitives::B256;
use async_trait::async_trait;
use defender_core::{Block, BlockRef, BlockSource, BlockTag, ChainError};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Most blocks fetched by number to fill one gap; a longer outage is left to pollers (a
/// watcher reads from its checkpoint anyway).
const MAX_GAP: u64 = 1024;

/// Settings of a [`WsBlockSource`].
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Wait between attempts to connect again after the connection is lost for good (alloy's
    /// transport first retries on its own, [`WsConfig::transport_retries`] times).
    pub reconnect_every: Duration,
    /// Reconnection attempts inside alloy's WebSocket transport before it gives up.
    pub transport_retries: u32,
    /// Heads kept for a slow subscriber before it lags.
    pub capacity: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            reconnect_every: Duration::from_secs(1),
            transport_retries: 10,
            capacity: 1024,
        }
    }
}

/// What the source and its subscription task share.
#[derive(Debug)]
struct WsShared {
    url: String,
    config: WsConfig,
    /// Reads blocks over the current connection.
    reader: RwLock<ChainReader>,
    latest: watch::Sender<Option<u64>>,
    heads: broadcast::Sender<BlockRef>,
}

/// Blocks over a WebSocket: the head comes from an `eth_subscribe("newHeads")` subscription;
/// blocks, receipts and tags are read over the same connection.
///
/// [`WsBlockSource::subscribe`] gives every block in order: heads missed while disconnected
/// (alloy's transport reconnects and subscribes again; when it gives up, the source connects
/// anew) are fetched by number before the next head. After a reorg, the new branch's blocks
/// follow from the fork height.
#[derive(Debug)]
pub struct WsBlockSource {
    shared: Arc<WsShared>,
    task: JoinHandle<()>,
}

impl Drop for WsBlockSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connect(url: &str, config: &WsConfig) -> Result<AlloyClient, ChainError> {
    // wss:// takes rustls' process-wide provider, which rustls cannot choose by itself when a
    // dependency (Google's SDK under `gcp-kms`) also enables aws-lc: ring, unless the embedder
    // installed one.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let ws = WsConnect::new(url)
        .with_max_retries(config.transport_retries)
        .with_retry_interval(config.reconnect_every);
    ClientBuilder::default()
        .ws(ws)
        .await
        .map_err(|e| ChainError::Unavailable {
            source: Box::new(crate::rpc::RpcError::from(e)),
        })
}

impl WsBlockSource {
    /// Connects to `url` (`ws://` or `wss://`) with default settings and starts following heads.
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        Self::connect_with(url, WsConfig::default()).await
    }

    /// [`WsBlockSource::connect`] with settings.
    pub async fn connect_with(url: &str, config: WsConfig) -> Result<Self, ChainError> {
        let client = connect(url, &config).await?;
        let (heads, _) = broadcast::channel(config.capacity.max(1));
        let shared = Arc::new(WsShared {
            url: url.to_string(),
            reader: RwLock::new(ChainReader::new(client.clone())),
            latest: watch::channel(None).0,
            heads,
            config,
        });
        let task = tokio::spawn(follow(shared.clone(), client));
        Ok(WsBlockSource { shared, task })
    }

    /// Every block from now on, in order, gaps filled.
    pub fn subscribe(&self) -> broadcast::Receiver<BlockRef> {
        self.shared.heads.subscribe()
    }

    /// The newest head the subscription delivered.
    pub fn latest(&self) -> Option<u64> {
        *self.shared.latest.borrow()
    }

    fn reader(&self) -> ChainReader {
        match self.shared.reader.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Follows heads for as long as the source lives, connecting again when the connection is
/// lost for good.
async fn follow(shared: Arc<WsShared>, mut client: AlloyClient) {
    let mut last: Option<u64> = None;
    loop {
        if let Err(e) = follow_connection(&shared, &client, &mut last).await {
            tracing::warn!(url = %shared.url, error = %e, "WebSocket block subscription lost");
        }
        loop {
            tokio::time::sleep(shared.config.reconnect_every).await;
            match connect(&shared.url, &shared.config).await {
                Ok(c) => {
                    client = c;
                    if let Ok(mut r) = shared.reader.write() {
                        *r = ChainReader::new(client.clone());
                    }
                    break;
                }
                Err(e) => tracing::debug!(url = %shared.url, error = %e, "WebSocket reconnect"),
            }
        }
    }
}

/// Follows heads over one connection until its subscription ends.
async fn follow_connection(
    shared: &WsShared,
    client: &AlloyClient,
    last: &mut Option<u64>,
) -> Result<(), ChainError> {
    let provider = RootProvider::<AnyNetwork>::new(client.clone());
    let unavailable = |e: alloy::transports::TransportError| ChainError::Unavailable {
        source: Box::new(crate::rpc::RpcError::from(e)),
    };
    let mut sub = provider.subscribe_blocks().await.map_err(unavailable)?;
    let reader = ChainReader::new(client.clone());
    // Blocks mined while no subscription was open.
    if last.is_some() {
        let head = provider.get_block_number().await.map_err(unavailable)?;
        fill(shared, &reader, last, head).await?;
    }
    loop {
        let header = match sub.recv().await {
            Ok(h) => h,
            // Missed some: the next head's gap is filled.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        let head = BlockRef {
            number: header.number,
            hash: header.hash,
            parent_hash: header.parent_hash,
        };
        if let Some(n) = head.number.checked_sub(1) {
            fill(shared, &reader, last, n).await?;
        }
        emit(shared, last, head);
    }
}

/// Fetches and emits the blocks after `last` up to `to`.
async fn fill(
    shared: &WsShared,
    reader: &ChainReader,
    last: &mut Option<u64>,
    to: u64,
) -> Result<(), ChainError> {
    let Some(from) = last.and_then(|l| l.checked_add(1)) else {
        return Ok(());
    };
    if from > to {
        return Ok(());
    }
    let from = from.max(to.saturating_sub(MAX_GAP - 1));
    let numbers: Vec<u64> = (from..=to).collect();
    for r in reader.block_refs(&numbers).await?.into_iter().flatten() {
        emit(shared, last, r);
    }
    Ok(())
}

fn emit(shared: &WsShared, last: &mut Option<u64>, head: BlockRef) {
    *last = Some(head.number);
    shared.latest.send_replace(Some(head.number));
    // No subscriber is fine.
    let _ = shared.heads.send(head);
}

#[async_trait]
impl BlockSource for WsBlockSource {
    async fn chain_id(&self) -> Result<u64, ChainError> {
        self.reader().chain_id().await
    }

    async fn head(&self, tag: BlockTag) -> Result<u64, ChainError> {
        match (tag, self.latest()) {
            (BlockTag::Latest, Some(n)) => Ok(n),
            _ => self.reader().head(tag).await,
        }
    }

    async fn block_ref(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        self.reader().block_ref(number).await
    }

    async fn block(&self, number: u64) -> Result<Option<Block>, ChainError> {
        self.reader().block(number).await
    }

    async fn transaction_block(&self, hash: B256) -> Result<Option<u64>, ChainError> {
        self.reader().transaction_block(hash).await
    }
}

/// The block source for a network's URLs: a [`WsBlockSource`] when the first is `ws://` or
/// `wss://`, else an [`RpcBlockSource`] polled over every (HTTP) URL with failover.
pub async fn block_source(
    urls: Vec<String>,
    retry: RetryConfig,
) -> Result<Arc<dyn BlockSource>, ChainError> {
    let configuration = |m: String| ChainError::Unavailable {
        source: Box::new(crate::rpc::RpcError::Configuration(m)),
    };
    match urls.first() {
        Some(u) if u.starts_with("ws://") || u.starts_with("wss://") => {
            Ok(Arc::new(WsBlockSource::connect(u).await?))
        }
        _ => {
            let rpc = RpcClient::new(urls, retry).map_err(|e| configuration(e.to_string()))?;
            Ok(Arc::new(RpcBlockSource::new(rpc)))
        }
    }
}
