//! A monitor definition compiled once: addresses parsed, signatures resolved against the ABI,
//! decoders built and conditions compiled.

use super::error::MonitorError;
use super::values::{Arg, Shape};
use alloy_dyn_abi::{DynSolEvent, DynSolType, DynSolValue, Specifier};
use alloy_json_abi::{Event, EventParam, Function, JsonAbi};
use alloy_primitives::{Address, B256, I256, U256};
use defender_conditions::{Env, Param, Program, Schema, Value, TRANSACTION_VARIABLES};
use defender_core::{ConfirmLevel, MonitorDefinition, MonitorSummary};
use defender_core::{Log, Transaction};
use std::sync::Arc;

/// A compiled condition and its source text.
#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) source: String,
    pub(crate) program: Program,
}

impl Condition {
    fn compile(
        monitor: &str,
        source: Option<&String>,
        schema: &Schema,
    ) -> Result<Option<Self>, MonitorError> {
        let Some(source) = source.filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let program = Program::compile(source, Some(schema)).map_err(|errors| {
            MonitorError::InvalidCondition {
                monitor: monitor.to_string(),
                expression: source.clone(),
                errors,
            }
        })?;
        Ok(Some(Condition {
            source: source.clone(),
            program,
        }))
    }

    /// Whether the condition holds; an evaluation error (overflow, a missing value) is no match.
    pub(crate) fn holds<E: Env + ?Sized>(&self, env: &E) -> bool {
        match self.program.eval(env) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(condition = %self.source, error = %e, "condition failed to evaluate");
                false
            }
        }
    }
}

/// A static elementary type decoded straight from its 32-byte word, without alloy's generic
/// decoder (the common case: addresses, `uint256`, `bool`, `bytes32`).
#[derive(Clone, Copy, Debug)]
enum Fast {
    Address,
    Uint,
    Int,
    Bool,
    Word(usize),
}

impl Fast {
    fn of(ty: &DynSolType) -> Option<Fast> {
        match ty {
            DynSolType::Address => Some(Fast::Address),
            DynSolType::Uint(256) => Some(Fast::Uint),
            DynSolType::Int(256) => Some(Fast::Int),
            DynSolType::Bool => Some(Fast::Bool),
            DynSolType::FixedBytes(n) => Some(Fast::Word(*n)),
            _ => None,
        }
    }

    fn plan(types: &[DynSolType]) -> Option<Vec<Fast>> {
        types.iter().map(Fast::of).collect()
    }

    fn decode(self, word: B256) -> DynSolValue {
        match self {
            Fast::Address => DynSolValue::Address(Address::from_word(word)),
            Fast::Uint => DynSolValue::Uint(U256::from_be_bytes(word.0), 256),
            Fast::Int => DynSolValue::Int(I256::from_raw(U256::from_be_bytes(word.0)), 256),
            Fast::Bool => DynSolValue::Bool(!word.is_zero()),
            Fast::Word(n) => DynSolValue::FixedBytes(word, n),
        }
    }
}

fn data_word(data: &[u8], i: usize) -> Option<B256> {
    data.get(i * 32..i * 32 + 32).map(B256::from_slice)
}

/// How to decode one event from a log.
#[derive(Debug)]
struct EventDecoder {
    event: DynSolEvent,
    /// For each input in signature order: whether it is indexed, and its index among the
    /// indexed inputs or the body.
    order: Vec<(bool, usize)>,
    /// Set when every input is a static elementary type.
    fast: Option<Vec<Fast>>,
}

impl EventDecoder {
    fn new(topic0: B256, types: &[DynSolType], indexed: &[bool]) -> Option<Self> {
        let mut idx = Vec::new();
        let mut body = Vec::new();
        let mut order = Vec::with_capacity(types.len());
        for (ty, is_indexed) in types.iter().zip(indexed) {
            if *is_indexed {
                order.push((true, idx.len()));
                idx.push(ty.clone());
            } else {
                order.push((false, body.len()));
                body.push(ty.clone());
            }
        }
        let event = DynSolEvent::new(Some(topic0), idx, DynSolType::Tuple(body))?;
        Some(EventDecoder {
            event,
            order,
            fast: Fast::plan(types),
        })
    }
}

/// A selected event.
#[derive(Debug)]
pub(crate) struct EventSel {
    /// Canonical signature, `Transfer(address,address,uint256)`.
    pub(crate) signature: String,
    pub(crate) topic0: B256,
    /// Decoders by number of topics minus one. From an ABI (or a signature that says which
    /// inputs are indexed) only one slot is set; from a bare signature, every split where the
    /// first inputs are the indexed ones.
    decoders: [Option<EventDecoder>; 4],
    pub(crate) names: Vec<Option<String>>,
    shapes: Vec<Shape>,
    pub(crate) condition: Option<Condition>,
}

impl EventSel {
    /// Decodes a log whose topic0 is this event's, in signature order.
    pub(crate) fn decode(&self, log: &Log) -> Option<Vec<Arg>> {
        let slot = log.topics.len().checked_sub(1)?;
        let dec = self.decoders.get(slot)?.as_ref()?;
        if let Some(plan) = &dec.fast {
            let mut out = Vec::with_capacity(plan.len());
            for (kind, (is_indexed, j)) in plan.iter().zip(&dec.order) {
                let word = if *is_indexed {
                    *log.topics.get(j + 1)?
                } else {
                    data_word(&log.data, *j)?
                };
                out.push(Arg::Plain(kind.decode(word)));
            }
            return Some(out);
        }
        let decoded = dec
            .event
            .decode_log_parts(log.topics.iter().copied(), &log.data)
            .ok()?;
        let mut indexed = decoded.indexed.into_iter().map(Some).collect::<Vec<_>>();
        let mut body = decoded.body.into_iter().map(Some).collect::<Vec<_>>();
        let mut out = Vec::with_capacity(dec.order.len());
        for (i, (is_indexed, j)) in dec.order.iter().enumerate() {
            let v = if *is_indexed {
                indexed.get_mut(*j)?.take()?
            } else {
                body.get_mut(*j)?.take()?
            };
            out.push(Arg::new(v, self.shapes.get(i).unwrap_or(&Shape::Leaf)));
        }
        Some(out)
    }
}

/// A selected function.
#[derive(Debug)]
pub(crate) struct FuncSel {
    /// Canonical signature, `transfer(address,uint256)`.
    pub(crate) signature: String,
    pub(crate) selector: [u8; 4],
    inputs: DynSolType,
    fast: Option<Vec<Fast>>,
    pub(crate) names: Vec<Option<String>>,
    shapes: Vec<Shape>,
    pub(crate) condition: Option<Condition>,
}

impl FuncSel {
    /// Decodes calldata whose selector is this function's.
    pub(crate) fn decode(&self, input: &[u8]) -> Option<Vec<Arg>> {
        if let Some(plan) = &self.fast {
            let args = input.get(4..)?;
            return plan
                .iter()
                .enumerate()
                .map(|(i, kind)| Some(Arg::Plain(kind.decode(data_word(args, i)?))))
                .collect();
        }
        let values = self.inputs.abi_decode_sequence(input.get(4..)?).ok()?;
        let DynSolValueSeq(items) = DynSolValueSeq::from(values)?;
        Some(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| Arg::new(v, self.shapes.get(i).unwrap_or(&Shape::Leaf)))
                .collect(),
        )
    }
}

struct DynSolValueSeq(Vec<DynSolValue>);

impl DynSolValueSeq {
    fn from(v: DynSolValue) -> Option<Self> {
        match v {
            DynSolValue::Tuple(items) => Some(DynSolValueSeq(items)),
            _ => None,
        }
    }
}

/// A compiled monitor.
#[derive(Debug)]
pub(crate) struct CompiledMonitor {
    pub(crate) addresses: Vec<Address>,
    /// The definition as it was given, the one copy the engine keeps (its `paused` flag
    /// included).
    pub(crate) def: Arc<MonitorDefinition>,
    pub(crate) level: ConfirmLevel,
    pub(crate) tx_condition: Option<Condition>,
    /// Sorted by topic0.
    pub(crate) events: Vec<EventSel>,
    /// Sorted by selector.
    pub(crate) functions: Vec<FuncSel>,
    pub(crate) summary: Arc<MonitorSummary>,
    /// The same under its legacy name, with the Sentinel's `address`.
    pub(crate) legacy_summary: Arc<MonitorSummary>,
}

impl CompiledMonitor {
    pub(crate) fn compile(
        id: &str,
        def: &MonitorDefinition,
        chain_id: u64,
    ) -> Result<Self, MonitorError> {
        let mut addresses = Vec::with_capacity(def.addresses.len());
        for a in &def.addresses {
            let parsed = a
                .trim()
                .parse::<Address>()
                .map_err(|_| MonitorError::InvalidAddress {
                    monitor: id.to_string(),
                    address: a.clone(),
                })?;
            if !addresses.contains(&parsed) {
                addresses.push(parsed);
            }
        }
        let invalid_abi = |message: String| MonitorError::InvalidAbi {
            monitor: id.to_string(),
            message,
        };
        let (abi, abi_json) = match def.abi.as_deref().filter(|s| !s.trim().is_empty()) {
            None => (None, None),
            Some(text) => {
                let json: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| invalid_abi(e.to_string()))?;
                let abi: JsonAbi =
                    serde_json::from_value(json.clone()).map_err(|e| invalid_abi(e.to_string()))?;
                (Some(abi), Some(json))
            }
        };

        let mut events = Vec::with_capacity(def.event_conditions.len());
        for ec in &def.event_conditions {
            events.push(compile_event(
                id,
                abi.as_ref(),
                &ec.event_signature,
                ec.expression.as_ref(),
            )?);
        }
        events.sort_by_key(|e| e.topic0);
        let mut functions = Vec::with_capacity(def.function_conditions.len());
        for fc in &def.function_conditions {
            functions.push(compile_function(
                id,
                abi.as_ref(),
                &fc.function_signature,
                fc.expression.as_ref(),
            )?);
        }
        functions.sort_by_key(|f| f.selector);
        let tx_condition =
            Condition::compile(id, def.tx_condition.as_ref(), &Schema::transaction())?;
        let level = def.confirm_level.unwrap_or_default();
        let summary = MonitorSummary {
            id: id.to_string(),
            name: def.name.clone(),
            network: def.network.clone(),
            chain_id,
            addresses: def.addresses.clone(),
            abi: abi_json.map(std::sync::Arc::new),
            confirm_blocks: level,
            address: None,
            severity_level: def.severity_level,
            risk_category: def.risk_category.clone(),
            agents: Vec::new(),
        };
        let legacy_summary = MonitorSummary {
            address: summary.addresses.first().cloned(),
            ..summary.clone()
        };
        Ok(CompiledMonitor {
            addresses,
            def: Arc::new(def.clone()),
            level,
            tx_condition,
            events,
            functions,
            summary: Arc::new(summary),
            legacy_summary: Arc::new(legacy_summary),
        })
    }

    /// The selected events with this topic0 (an index range into `events`).
    pub(crate) fn events_for(&self, topic0: &B256) -> &[EventSel] {
        let start = self.events.partition_point(|e| e.topic0 < *topic0);
        let end = start + self.events[start..].partition_point(|e| e.topic0 == *topic0);
        &self.events[start..end]
    }

    /// The selected functions with this selector.
    pub(crate) fn functions_for(&self, selector: &[u8]) -> &[FuncSel] {
        let start = self
            .functions
            .partition_point(|f| f.selector.as_slice() < selector);
        let end =
            start + self.functions[start..].partition_point(|f| f.selector.as_slice() == selector);
        &self.functions[start..end]
    }
}

fn invalid_sig(monitor: &str, signature: &str, message: impl ToString) -> MonitorError {
    MonitorError::InvalidSignature {
        monitor: monitor.to_string(),
        signature: signature.to_string(),
        message: message.to_string(),
    }
}

fn resolve_types<'p>(
    monitor: &str,
    signature: &str,
    params: impl Iterator<Item = (&'p str, &'p [alloy_json_abi::Param], DynSolTypeResult)>,
) -> Result<Resolved, MonitorError> {
    let mut types = Vec::new();
    let mut names = Vec::new();
    let mut shapes = Vec::new();
    let mut schema = Schema::new();
    for (name, components, ty) in params {
        let ty = ty.map_err(|e| invalid_sig(monitor, signature, e))?;
        let (shape, abi_type) = Shape::of(&ty, components);
        let name = (!name.is_empty()).then(|| name.to_string());
        schema.push(Param::new(name.as_deref(), abi_type));
        types.push(ty);
        names.push(name);
        shapes.push(shape);
    }
    Ok((types, names, shapes, schema))
}

type DynSolTypeResult = Result<DynSolType, alloy_dyn_abi::Error>;

/// Resolved inputs: types, names, shapes and the condition schema.
type Resolved = (Vec<DynSolType>, Vec<Option<String>>, Vec<Shape>, Schema);

fn compile_event(
    monitor: &str,
    abi: Option<&JsonAbi>,
    signature: &str,
    expression: Option<&String>,
) -> Result<EventSel, MonitorError> {
    let sig = signature.trim();
    let unknown = || MonitorError::UnknownEvent {
        monitor: monitor.to_string(),
        signature: signature.to_string(),
    };
    let (event, indexed_known): (Event, bool) = if !sig.contains('(') {
        // A bare name: the ABI's only event of that name.
        let abi = abi.ok_or_else(unknown)?;
        let mut found = abi.events().filter(|e| e.name == sig);
        match (found.next(), found.next()) {
            (Some(e), None) => (e.clone(), true),
            _ => return Err(unknown()),
        }
    } else {
        let parsed = Event::parse(sig).map_err(|e| invalid_sig(monitor, signature, e))?;
        match abi {
            Some(abi) => {
                let selector = parsed.selector();
                let e = abi
                    .events()
                    .find(|e| !e.anonymous && e.selector() == selector)
                    .ok_or_else(unknown)?;
                (e.clone(), true)
            }
            None => {
                let known = parsed.inputs.iter().any(|i| i.indexed);
                (parsed, known)
            }
        }
    };
    let topic0 = event.selector();
    let (types, names, shapes, schema) = resolve_types(
        monitor,
        signature,
        event.inputs.iter().map(|p: &EventParam| {
            (
                p.name.as_str(),
                p.components.as_slice(),
                Specifier::<DynSolType>::resolve(p),
            )
        }),
    )?;
    let too_many = || invalid_sig(monitor, signature, "an event has at most 3 indexed inputs");
    let mut decoders: [Option<EventDecoder>; 4] = Default::default();
    if indexed_known {
        let flags: Vec<bool> = event.inputs.iter().map(|p| p.indexed).collect();
        let n = flags.iter().filter(|f| **f).count();
        let slot = decoders.get_mut(n).ok_or_else(too_many)?;
        *slot = Some(EventDecoder::new(topic0, &types, &flags).ok_or_else(too_many)?);
    } else {
        for (k, slot) in decoders.iter_mut().enumerate().take(types.len() + 1) {
            let flags: Vec<bool> = (0..types.len()).map(|i| i < k).collect();
            *slot = EventDecoder::new(topic0, &types, &flags);
        }
    }
    let condition = Condition::compile(monitor, expression, &schema)?;
    Ok(EventSel {
        signature: event.signature(),
        topic0,
        decoders,
        names,
        shapes,
        condition,
    })
}

fn compile_function(
    monitor: &str,
    abi: Option<&JsonAbi>,
    signature: &str,
    expression: Option<&String>,
) -> Result<FuncSel, MonitorError> {
    let sig = signature.trim();
    let unknown = || MonitorError::UnknownFunction {
        monitor: monitor.to_string(),
        signature: signature.to_string(),
    };
    let function: Function = if !sig.contains('(') {
        let abi = abi.ok_or_else(unknown)?;
        let mut found = abi.functions().filter(|f| f.name == sig);
        match (found.next(), found.next()) {
            (Some(f), None) => f.clone(),
            _ => return Err(unknown()),
        }
    } else {
        let parsed = Function::parse(sig).map_err(|e| invalid_sig(monitor, signature, e))?;
        match abi {
            Some(abi) => {
                let selector = parsed.selector();
                abi.functions()
                    .find(|f| f.selector() == selector)
                    .ok_or_else(unknown)?
                    .clone()
            }
            None => parsed,
        }
    };
    let (types, names, shapes, schema) = resolve_types(
        monitor,
        signature,
        function.inputs.iter().map(|p| {
            (
                p.name.as_str(),
                p.components.as_slice(),
                Specifier::<DynSolType>::resolve(p),
            )
        }),
    )?;
    let condition = Condition::compile(monitor, expression, &schema)?;
    Ok(FuncSel {
        signature: function.signature(),
        selector: function.selector().0,
        fast: Fast::plan(&types),
        inputs: DynSolType::Tuple(types),
        names,
        shapes,
        condition,
    })
}

/// A transaction's condition variables, read straight from the typed transaction.
pub(crate) struct TxEnv<'a>(pub(crate) &'a Transaction);

impl Env for TxEnv<'_> {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        let tx = self.0;
        let uint = |v: u128| Value::Uint(U256::from(v));
        Some(match name {
            "to" => tx.to.map_or(Value::Null, Value::Address),
            "from" => Value::Address(tx.from),
            "gasPrice" => uint(tx.gas_price.unwrap_or(tx.receipt.effective_gas_price)),
            "maxFeePerGas" => tx.max_fee_per_gas.map_or(Value::Null, uint),
            "maxPriorityFeePerGas" => tx.max_priority_fee_per_gas.map_or(Value::Null, uint),
            "gasLimit" => Value::from(tx.gas_limit),
            "gasUsed" => Value::from(tx.receipt.gas_used),
            "value" => Value::Uint(tx.value),
            "nonce" => Value::from(tx.nonce),
            "status" => Value::Str(if tx.receipt.success {
                "success"
            } else {
                "failed"
            }),
            _ => return None,
        })
    }

    fn position(&self, index: usize) -> Option<Value<'_>> {
        self.lookup(TRANSACTION_VARIABLES.get(index)?)
    }
}
