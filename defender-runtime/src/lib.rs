#![doc = include_str!("../README.md")]

mod alloc;
mod bundle;
mod files;
mod host;
mod net;
mod package;
mod pool;
mod runtime;
mod sandbox;
mod script;
mod substitute;

pub use bundle::{load_bundle_dir, load_bundle_zip, BundleError};
pub use defender_core::redact::{MIN_REDACTED_LEN, REDACTED};
pub use runtime::{ContextPolicy, QuickJsRuntime, RuntimeConfig};
pub use sandbox::{MAX_LOG_BYTES, MAX_LOG_ENTRIES};

/// Whether this build uses the patched QuickJS (the `quickjs-patches` feature).
pub const QUICKJS_PATCHED: bool = cfg!(feature = "quickjs-patches");
