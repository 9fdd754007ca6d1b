#![doc = include_str!("../README.md")]

mod chain;
mod hex;
mod relayer;
pub mod rpc;
pub mod signer;
pub mod store;

pub use chain::RpcBlockSource;
pub use relayer::{eip712_digest, message_bytes, RelayerConfig, ResubmitAfter, RpcRelayer};
pub use rpc::{RetryConfig, RpcClient, RpcError};
pub use signer::{LocalSigner, Signer, SignerError};
pub use store::{
    InMemoryRelayerStore, KvRelayerStore, RelayerStore, StoreError, StoredTransaction,
};
