//! A relayer's settings: endpoints, confirmations, resubmission waits, pricing and policies.

use crate::rpc::RetryConfig;
use alloy_primitives::Address;
use defender_core::wire::Speed;
use std::time::Duration;

/// How long an unmined transaction waits before it is resubmitted with higher fees, by speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResubmitAfter {
    /// For `safeLow`.
    pub safe_low: Duration,
    /// For `average`.
    pub average: Duration,
    /// For `fast` and for caller-priced transactions.
    pub fast: Duration,
    /// For `fastest`.
    pub fastest: Duration,
}

impl Default for ResubmitAfter {
    fn default() -> Self {
        ResubmitAfter {
            safe_low: Duration::from_secs(600),
            average: Duration::from_secs(300),
            fast: Duration::from_secs(120),
            fastest: Duration::from_secs(60),
        }
    }
}

impl ResubmitAfter {
    /// The same wait for every speed.
    pub fn all(d: Duration) -> Self {
        ResubmitAfter {
            safe_low: d,
            average: d,
            fast: d,
            fastest: d,
        }
    }

    /// The wait for a transaction priced at `speed` (`None`: caller-priced).
    pub(crate) fn of(&self, speed: Option<Speed>) -> Duration {
        match speed {
            Some(Speed::SafeLow) => self.safe_low,
            Some(Speed::Average) => self.average,
            Some(Speed::Fastest) => self.fastest,
            Some(Speed::Fast) | None => self.fast,
        }
    }
}

/// A relayer's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayerConfig {
    /// The relayer's id (also the namespace of its durable state).
    pub relayer_id: String,
    /// Its name.
    pub name: String,
    /// Its network's name.
    pub network: String,
    /// JSON-RPC URLs of the network, in order of preference.
    pub urls: Vec<String>,
    /// Retries and failover.
    pub retry: RetryConfig,
    /// The chain id; asked from the node when `None`.
    pub chain_id: Option<u64>,
    /// Whether to send EIP-1559 transactions; detected from the latest block when `None`.
    pub eip1559: Option<bool>,
    /// Blocks on top of the mining block before a transaction is `confirmed` (default 12).
    pub confirmations: u64,
    /// How often the background task checks transactions.
    pub poll_interval: Duration,
    /// When unmined transactions are resubmitted.
    pub resubmit_after: ResubmitAfter,
    /// Margin added to estimated gas limits, in percent (default 20).
    pub gas_limit_margin_percent: u64,
    /// Lowest priority fee paid when pricing by speed, in wei.
    pub min_priority_fee: u128,
    /// Highest gas price (or fee cap) paid, in wei; no-op replacements may exceed it.
    pub gas_price_cap: Option<u128>,
    /// When set, only these receivers are allowed.
    pub whitelist: Option<Vec<Address>>,
    /// A paused relayer refuses to send.
    pub paused: bool,
    /// Policy `private-transactions`: every transaction is sent as if `isPrivate` were set.
    pub private_transactions: bool,
    /// The JSON-RPC URL private transactions are broadcast to (`eth_sendRawTransaction` only,
    /// such as a Flashbots Protect RPC); they are followed on [`RelayerConfig::urls`] like any
    /// other. Without it, private transactions are refused.
    pub private_url: Option<String>,
    /// How long a fee estimate is reused.
    pub fee_cache_ttl: Duration,
    /// How long a balance reading is reused by the funds check.
    pub balance_cache_ttl: Duration,
}

impl RelayerConfig {
    /// Defaults for relayer `relayer_id` over `urls`.
    pub fn new(relayer_id: impl Into<String>, urls: Vec<String>) -> Self {
        let relayer_id = relayer_id.into();
        RelayerConfig {
            name: relayer_id.clone(),
            relayer_id,
            network: "unknown".into(),
            urls,
            retry: RetryConfig::default(),
            chain_id: None,
            eip1559: None,
            confirmations: 12,
            poll_interval: Duration::from_secs(2),
            resubmit_after: ResubmitAfter::default(),
            gas_limit_margin_percent: 20,
            min_priority_fee: 1_000_000_000,
            gas_price_cap: None,
            whitelist: None,
            paused: false,
            private_transactions: false,
            private_url: None,
            fee_cache_ttl: Duration::from_secs(1),
            balance_cache_ttl: Duration::from_secs(1),
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the network name.
    pub fn with_network(mut self, network: impl Into<String>) -> Self {
        self.network = network.into();
        self
    }
    /// Sets the retry settings.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }
    /// Sets the number of confirmations.
    pub fn with_confirmations(mut self, n: u64) -> Self {
        self.confirmations = n;
        self
    }
    /// Sets the background poll interval.
    pub fn with_poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }
    /// Sets when transactions are resubmitted.
    pub fn with_resubmit_after(mut self, r: ResubmitAfter) -> Self {
        self.resubmit_after = r;
        self
    }
    /// Sets the gas price cap.
    pub fn with_gas_price_cap(mut self, cap: Option<u128>) -> Self {
        self.gas_price_cap = cap;
        self
    }
    /// Sets the receiver whitelist.
    pub fn with_whitelist(mut self, w: Option<Vec<Address>>) -> Self {
        self.whitelist = w;
        self
    }
    /// Sets whether EIP-1559 is used (`None`: detect).
    pub fn with_eip1559(mut self, e: Option<bool>) -> Self {
        self.eip1559 = e;
        self
    }
    /// Sets the lowest priority fee.
    pub fn with_min_priority_fee(mut self, wei: u128) -> Self {
        self.min_priority_fee = wei;
        self
    }
    /// Pauses or resumes.
    pub fn with_paused(mut self, paused: bool) -> Self {
        self.paused = paused;
        self
    }
    /// Sets the endpoint private transactions are broadcast to.
    pub fn with_private_url(mut self, url: Option<String>) -> Self {
        self.private_url = url;
        self
    }
    /// Sets the `private-transactions` policy.
    pub fn with_private_transactions(mut self, on: bool) -> Self {
        self.private_transactions = on;
        self
    }
}
