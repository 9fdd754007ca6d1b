#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod chain;
pub mod clock;
pub mod code_size;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod kv;
pub mod manage;
pub mod notify;
pub mod redact;
pub mod relayer;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod state;
pub mod wire;

pub use chain::{
    Block, BlockRef, BlockSource, BlockSourceExt, BlockTag, ChainError, DynBlockSource,
    InMemoryChain, Log, Receipt, Transaction,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use code_size::{
    check_archive_size, check_code_size, CodeSize, CodeSizeError, MAX_UNCOMPRESSED_CODE_BYTES,
};
pub use kv::{
    DynKvStore, InMemoryKvStore, KvError, KvLimit, KvLimits, KvStore, KvStoreExt, Namespaced,
};
pub use manage::{
    ActionInfo, ActionTriggerInfo, ChannelInfo, DynManageApi, ManageApi, ManageError, MonitorInfo,
    MAX_RUN_NESTING,
};
pub use notify::{
    AlertFormatter, DeliveryReport, DynNotifier, Message, Metric, Notifier, NotifierRegistry,
    NotifyError, RecordingNotifier, RenderedAlert,
};
pub use relayer::{DynRelayer, PolicyViolation, Relayer, RelayerError};
pub use runs::{DynRunStore, InMemoryRunStore, RunStore, RunStoreError, DEFAULT_RUN_HISTORY};
pub use runtime::{
    ActionCode, ActionRuntime, CodeSource, DynActionRuntime, RelayerKeys, RunError, RunLimits,
    RunOutcome, RunRequest, RunServices, MAX_CODE_BYTES,
};
pub use secrets::{DynSecretStore, InMemorySecretStore, SecretError, SecretMap, SecretStore};
pub use state::{
    DynStateStore, MemoryStateStore, SecretsKey, Space, StateError, StateOp, StateRunStore,
    StateSecretStore, StateStore, StateStoreExt,
};
pub use wire::*;
