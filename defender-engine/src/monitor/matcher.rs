//! The compiled monitor set and block matching.

use super::compiled::{CompiledMonitor, Condition, EventSel, FuncSel, TxEnv};
use super::error::MonitorError;
use super::fasthash::FastMap;
use super::payload::{abi_reason, eth_receipt, hash_hex, lower, qty, tx_reason, Checksums};
use super::trace::{BlockCalls, InternalCall};
use super::values::{Arg, ArgsEnv};
use alloy_primitives::Address;
use defender_core::{Block, Transaction};
use defender_core::{
    ConfirmLevel, EthReceipt, MatchReason, MatchReasonType, MonitorDefinition, MonitorMatch,
    MonitorType,
};
use std::collections::HashMap;
use std::sync::Arc;

type AddressMap<V> = FastMap<Address, V>;

/// A set of compiled monitors that matches blocks.
///
/// Monitors are compiled once when added ([`Matcher::insert`]): addresses parsed, event and
/// function signatures resolved against the ABI, decoders built, conditions compiled. Matching
/// is indexed: address to monitors, then per monitor topic0 to events and selector to
/// functions, so a block costs work proportional to what it touches, not to the number of
/// monitors. Conditions are evaluated over the decoded values directly; the JSON payload is
/// built only for matches.
///
/// Matching follows Defender's Sentinel rules: a transaction whose `to`, `from` or a log's
/// address is watched; then the transaction condition; then, if events or functions are
/// selected, at least one selected event emitted by a watched address (or one selected function
/// called on a watched address: by the transaction itself, or by a contract when the block's
/// internal calls are given, see [`Matcher::match_block_traced`]) whose condition holds. No events or functions
/// selected means every transaction touching a watched address (that passes the transaction
/// condition) matches. A condition that fails to evaluate (an overflow, a missing value) does
/// not match.
///
/// # Payload choices
/// - One [`MonitorMatch`] per monitor and transaction, in transaction order.
/// - `matchReasons`: one `event` reason per matching log, one `function` reason per matching
///   selected function, one `internal-function` reason per matching internal call (its
///   `address` the called contract), then a `transaction` reason when the monitor has a transaction
///   condition or selects no events or functions. `signature` is the canonical signature
///   (`Transfer(address,address,uint256)`); `address` is checksummed.
/// - `args`/`params`: numbers as decimal strings, addresses checksummed (as ethers decoded
///   them for Defender), bytes as lower-case `0x` hex, arrays and tuples as JSON arrays,
///   indexed dynamic values (`string indexed`) as their 32-byte topic.
/// - `matchedAddresses`: the watched addresses the transaction touched, lower case;
///   `matchedChecksumAddresses` the same checksummed.
/// - `monitor.confirmBlocks` is the definition's `confirmLevel`, 1 block when absent.
#[derive(Debug, Default)]
pub struct Matcher {
    slots: Vec<Option<CompiledMonitor>>,
    free: Vec<usize>,
    ids: HashMap<String, usize>,
    by_address: AddressMap<Vec<u32>>,
    /// Kept from block to block: watched contracts recur in every block.
    checksums: std::sync::Mutex<Checksums>,
}

impl Matcher {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles and adds a monitor, replacing any monitor with the same id. On error the set is
    /// unchanged. Returns whether a monitor was replaced.
    pub fn insert(
        &mut self,
        id: &str,
        def: &MonitorDefinition,
        chain_id: u64,
    ) -> Result<bool, MonitorError> {
        let compiled = CompiledMonitor::compile(id, def, chain_id)?;
        let replaced = self.remove(id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let slot_id = u32::try_from(slot).unwrap_or(u32::MAX);
        for a in &compiled.addresses {
            self.by_address.entry(*a).or_default().push(slot_id);
        }
        self.slots[slot] = Some(compiled);
        self.ids.insert(id.to_string(), slot);
        Ok(replaced)
    }

    /// Removes a monitor; returns whether it was there.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.ids.remove(id) else {
            return false;
        };
        if let Some(m) = self.slots.get_mut(slot).and_then(Option::take) {
            for a in &m.addresses {
                if let Some(list) = self.by_address.get_mut(a) {
                    list.retain(|s| *s as usize != slot);
                    if list.is_empty() {
                        self.by_address.remove(a);
                    }
                }
            }
        }
        self.free.push(slot);
        true
    }

    /// Pauses or resumes a monitor (the `paused` flag of its definition); returns whether it
    /// exists.
    pub fn set_paused(&mut self, id: &str, paused: bool) -> bool {
        match self.ids.get(id).and_then(|s| self.slots.get_mut(*s)) {
            Some(Some(m)) => {
                Arc::make_mut(&mut m.def).paused = paused;
                true
            }
            _ => false,
        }
    }

    /// The definition of a monitor, as inserted (with its current `paused` flag).
    pub fn definition(&self, id: &str) -> Option<Arc<MonitorDefinition>> {
        self.monitor(id).map(|m| m.def.clone())
    }

    /// The ids of the monitors (paused ones included), in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.ids.keys().map(String::as_str)
    }

    fn monitor(&self, id: &str) -> Option<&CompiledMonitor> {
        self.ids
            .get(id)
            .and_then(|s| self.slots.get(*s))
            .and_then(Option::as_ref)
    }

    /// Whether a monitor with this id is in the set.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// Number of monitors (paused ones included).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The confirmation levels of the monitors that are not paused, without duplicates.
    pub fn levels(&self) -> Vec<ConfirmLevel> {
        let mut out: Vec<ConfirmLevel> = Vec::new();
        for m in self.slots.iter().flatten().filter(|m| !m.def.paused) {
            if !out.contains(&m.level) {
                out.push(m.level);
            }
        }
        out
    }

    /// Matches a block against every monitor that is not paused.
    pub fn match_block(&self, block: &Block) -> Vec<MonitorMatch> {
        self.match_inner(block, None, None)
    }

    /// Matches a block against the monitors that wait for `level` confirmations.
    pub fn match_block_at(&self, block: &Block, level: ConfirmLevel) -> Vec<MonitorMatch> {
        self.match_inner(block, Some(level), None)
    }

    /// Matches a block and its internal calls (see [`TraceSource`](super::TraceSource))
    /// against the monitors of `level` (every level when `None`): a selected function called
    /// by a contract on a watched address matches too, with an `internal-function` reason.
    pub fn match_block_traced(
        &self,
        block: &Block,
        level: Option<ConfirmLevel>,
        calls: &BlockCalls,
    ) -> Vec<MonitorMatch> {
        self.match_inner(block, level, Some(calls))
    }

    /// Whether a monitor of `level` that is not paused selects functions: the blocks it sees
    /// need their internal calls.
    pub fn watches_functions(&self, level: ConfirmLevel) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|m| !m.def.paused && m.level == level && !m.functions.is_empty())
    }

    fn match_inner(
        &self,
        block: &Block,
        level: Option<ConfirmLevel>,
        calls: Option<&BlockCalls>,
    ) -> Vec<MonitorMatch> {
        let mut out = Vec::new();
        let mut candidates: Vec<u32> = Vec::new();
        let mut checksums = self
            .checksums
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        checksums.bound();
        for tx in &block.transactions {
            candidates.clear();
            let mut receipt = None;
            let mut add = |a: &Address| {
                if let Some(list) = self.by_address.get(a) {
                    candidates.extend_from_slice(list);
                }
            };
            add(&tx.from);
            if let Some(to) = &tx.to {
                add(to);
            }
            let mut last: Option<&Address> = tx.to.as_ref();
            for log in &tx.receipt.logs {
                if last != Some(&log.address) {
                    add(&log.address);
                    last = Some(&log.address);
                }
            }
            let internal = calls.map_or(&[][..], |c| c.of(tx.index));
            for call in internal {
                if last != Some(&call.to) {
                    add(&call.to);
                    last = Some(&call.to);
                }
            }
            if candidates.is_empty() {
                continue;
            }
            if candidates.len() > 1 {
                candidates.sort_unstable();
                candidates.dedup();
            }
            for slot in &candidates {
                let Some(Some(m)) = self.slots.get(*slot as usize) else {
                    continue;
                };
                if m.def.paused || level.is_some_and(|l| l != m.level) {
                    continue;
                }
                if let Some(found) = match_tx(m, block, tx, internal, &mut receipt, &mut checksums)
                {
                    out.push(found);
                }
            }
        }
        out
    }
}

fn match_tx(
    m: &CompiledMonitor,
    block: &Block,
    tx: &Transaction,
    internal: &[InternalCall],
    receipt: &mut Option<Arc<EthReceipt>>,
    checksums: &mut Checksums,
) -> Option<MonitorMatch> {
    if let Some(c) = &m.tx_condition {
        if !c.holds(&TxEnv(tx)) {
            return None;
        }
    }
    let selects = !m.events.is_empty() || !m.functions.is_empty();
    let mut reasons = Vec::new();
    if !m.events.is_empty() {
        for log in &tx.receipt.logs {
            let Some(topic0) = log.topics.first() else {
                continue;
            };
            if !m.addresses.contains(&log.address) {
                continue;
            }
            push_reasons(
                &mut reasons,
                MatchReasonType::Event,
                &log.address,
                m.events_for(topic0),
                |sel| sel.decode(log),
                checksums,
            );
        }
    }
    // The watched addresses a selected function was called on by a contract.
    let mut called: Vec<Address> = Vec::new();
    if !m.functions.is_empty() {
        if let Some(to) = tx.to.as_ref().filter(|to| m.addresses.contains(to)) {
            let kind = MatchReasonType::Function;
            push_call_reasons(&mut reasons, kind, m, to, &tx.input, checksums);
        }
        for call in internal {
            if !m.addresses.contains(&call.to) {
                continue;
            }
            let kind = MatchReasonType::InternalFunction;
            if push_call_reasons(&mut reasons, kind, m, &call.to, &call.input, checksums)
                && !called.contains(&call.to)
            {
                called.push(call.to);
            }
        }
    }
    if selects && reasons.is_empty() {
        return None;
    }
    let matched: Vec<&Address> = m
        .addresses
        .iter()
        .filter(|a| {
            tx.from == **a
                || tx.to.as_ref() == Some(*a)
                || tx.receipt.logs.iter().any(|l| l.address == **a)
                || called.contains(a)
        })
        .collect();
    let first = matched.first().copied()?;
    if m.tx_condition.is_some() || !selects {
        let cond = m.tx_condition.as_ref().map(|c| c.source.as_str());
        reasons.push(tx_reason(cond, tx.to.as_ref().unwrap_or(first), checksums));
    }
    Some(MonitorMatch {
        kind: MonitorType::Block,
        hash: hash_hex(&tx.hash),
        timestamp: block.timestamp,
        block_number: qty(block.header.number),
        block_hash: hash_hex(&block.header.hash),
        transaction: receipt
            .get_or_insert_with(|| Arc::new(eth_receipt(block, tx)))
            .clone(),
        alert: None,
        match_reasons: reasons,
        matched_addresses: matched.iter().map(|a| lower(a)).collect(),
        matched_checksum_addresses: matched.iter().map(|a| checksums.get(a)).collect(),
        monitor: m.summary.clone(),
        sentinel: m.legacy_summary.clone(),
        metadata: None,
    })
}

/// Pushes a `kind` reason for each selected function of `m` that `input`, a call on the
/// watched `to`, matches; returns whether one did.
fn push_call_reasons(
    reasons: &mut Vec<MatchReason>,
    kind: MatchReasonType,
    m: &CompiledMonitor,
    to: &Address,
    input: &[u8],
    checksums: &mut Checksums,
) -> bool {
    let Some(selector) = input.get(..4) else {
        return false;
    };
    let selected = m.functions_for(selector);
    push_reasons(
        reasons,
        kind,
        to,
        selected,
        |sel| sel.decode(input),
        checksums,
    )
}

/// Pushes a `kind` reason at `address` for each of the `selected` events or functions whose
/// arguments (`decode` of it) decode and satisfy its condition; returns whether one did.
/// Generic so that each caller's decoding is inlined: this is the matcher's inner loop.
fn push_reasons<S: Selected>(
    reasons: &mut Vec<MatchReason>,
    kind: MatchReasonType,
    address: &Address,
    selected: &[S],
    decode: impl Fn(&S) -> Option<Vec<Arg>>,
    checksums: &mut Checksums,
) -> bool {
    let mut any = false;
    for sel in selected {
        let Some(args) = decode(sel) else {
            continue;
        };
        let (signature, names, condition) = sel.parts();
        let env = ArgsEnv { names, args: &args };
        if condition.is_none_or(|c| c.holds(&env)) {
            reasons.push(abi_reason(
                kind,
                signature,
                condition.map(|c| c.source.as_str()),
                address,
                names,
                &args,
                checksums,
            ));
            any = true;
        }
    }
    any
}

/// A selected event or function, as a match reason names it.
trait Selected {
    /// Its canonical signature, argument names and condition.
    fn parts(&self) -> (&str, &[Option<String>], Option<&Condition>);
}

impl Selected for EventSel {
    fn parts(&self) -> (&str, &[Option<String>], Option<&Condition>) {
        (&self.signature, &self.names, self.condition.as_ref())
    }
}

impl Selected for FuncSel {
    fn parts(&self) -> (&str, &[Option<String>], Option<&Condition>) {
        (&self.signature, &self.names, self.condition.as_ref())
    }
}
