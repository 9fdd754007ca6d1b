#![doc = include_str!("../README.md")]

mod chain;
mod hex;
mod relayer;
pub mod rpc;
pub mod signer;
pub mod store;
mod ws;

pub use chain::RpcBlockSource;
pub use relayer::{eip712_digest, message_bytes, RelayerConfig, ResubmitAfter, RpcRelayer};
pub use rpc::{RetryConfig, RpcClient, RpcError};
pub use signer::{LocalSigner, RelayerSigner, Signer, SignerError, TxSigner};
pub use store::{
    InMemoryRelayerStore, KvRelayerStore, RelayerStore, StateRelayerStore, StoreError,
    StoredTransaction,
};
pub use ws::{block_source, WsBlockSource, WsConfig};
