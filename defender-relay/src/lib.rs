#![doc = include_str!("../README.md")]

mod chain;
mod hex;
mod relayer;
pub mod rpc;
pub mod signer;
pub mod store;
mod ws;

pub use chain::RpcBlockSource;
pub use relayer::{
    balance_change, eip712_digest, low_balance_message, message_bytes, pick_member, BalanceChange,
    BalanceWatch, BalanceWatchConfig, GroupMember, GroupNotifications, MemberLoad, RelayerConfig,
    RelayerGroup, ResubmitAfter, RpcRelayer,
};
pub use rpc::{RetryConfig, RpcClient, RpcError};
pub use signer::{LocalSigner, RelayerSigner, Signer, SignerError, TxSigner};
pub use store::{
    InMemoryRelayerStore, KvRelayerStore, NonceReservation, RelayerStore, StateRelayerStore,
    StoreError, StoredTransaction,
};
pub use ws::{block_source, WsBlockSource, WsConfig};
