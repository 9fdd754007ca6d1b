#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The vocabulary: Defender's wire types, the traits every part implements, their error
/// enums, in-memory implementations and redaction ([`defender_core`]).
#[doc(inline)]
pub use defender_core as core;

/// Defender's condition language on its own ([`defender_conditions`]).
#[cfg(feature = "conditions")]
#[doc(inline)]
pub use defender_conditions as conditions;

/// The engine: actions by schedule, webhook, monitor or hand, and the monitor path
/// ([`defender_engine`]).
#[cfg(feature = "engine")]
#[doc(inline)]
pub use defender_engine as engine;

/// Key-value store backends (redb, Defender's JSON file, Redis with `redis`) and the
/// engine-state backends (redb, Redis with `redis`) ([`defender_kv`]).
#[cfg(feature = "kv")]
#[doc(inline)]
pub use defender_kv as kv;

/// Chain access over alloy, the Defender-compatible relayer, the RPC block source
/// ([`defender_relay`]).
#[cfg(feature = "relay")]
#[doc(inline)]
pub use defender_relay as relay;

/// Notification channels and alert templates ([`defender_notify`]).
#[cfg(feature = "notify")]
#[doc(inline)]
pub use defender_notify as notify;

/// Defender JavaScript actions in a QuickJS sandbox ([`defender_runtime`]).
#[cfg(feature = "runtime")]
#[doc(inline)]
pub use defender_runtime as runtime;

/// The types a program needs to assemble an engine: `use defender::prelude::*;`.
///
/// Always: the core traits, their in-memory implementations, the wire types an engine's user
/// handles, and engine state (the [`StateStore`](defender_core::state::StateStore) trait, run
/// history and sealed secrets on it). With `engine`: the engine, its builder and the action, network and monitor
/// configuration. With `runtime`, `kv`, `relay`, `notify`: the main implementation each crate
/// offers.
pub mod prelude {
    pub use defender_core::{
        ActionCode, ActionEvent, ActionRuntime, AlertFormatter, Block, BlockSource, Clock,
        CodeSource, InMemoryChain, InMemoryKvStore, InMemoryRunStore, InMemorySecretStore, KvStore,
        KvStoreExt, ManageApi, ManageError, ManualClock, Message, MonitorDefinition, MonitorMatch,
        Notifier, NotifierRegistry, Receipt, RecordingNotifier, Relayer, RunLimits, RunOutcome,
        RunRecord, RunRequest, RunStatus, RunStore, SecretStore, SystemClock, Transaction, Trigger,
    };

    // Engine state: checkpoints, outbox, nonces, run history, sealed secrets.
    pub use defender_core::state::{
        MemoryStateStore, SecretsKey, Space, StateRunStore, StateSecretStore, StateStore,
        StateStoreExt,
    };

    #[cfg(feature = "engine")]
    pub use defender_engine::{
        ActionSpec, ActionTrigger, Engine, EngineBuilder, EngineError, MissedRuns, NetworkSpec,
        Schedule, StartAt, TestScope, WebhookAnswer, WebhookRequest,
    };
    #[cfg(feature = "engine")]
    pub use defender_engine::{
        Approval, Proposal, ProposalError, ProposalRequest, ProposalStatus, ViaType, Workflow,
        WorkflowError, WorkflowItem, WorkflowRun, WorkflowStatus, WorkflowStep,
    };

    #[cfg(feature = "webhook-server")]
    pub use defender_engine::webhook_router;

    #[cfg(feature = "runtime")]
    pub use defender_runtime::{ContextPolicy, QuickJsRuntime, RuntimeConfig};

    #[cfg(feature = "kv")]
    pub use defender_kv::{JsonFileKvStore, RedbKvStore, RedbStateStore};

    #[cfg(feature = "redis")]
    pub use defender_kv::{RedisKvStore, RedisStateStore};

    #[cfg(feature = "relay")]
    pub use defender_relay::{
        RelayerConfig, RelayerSigner, RpcBlockSource, RpcClient, RpcRelayer, StateRelayerStore,
        WsBlockSource,
    };

    #[cfg(feature = "notify")]
    pub use defender_notify::TemplateFormatter;
}
