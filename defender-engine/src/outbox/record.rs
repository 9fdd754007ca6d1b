//! Writing alert records. Most of a record's JSON is its transaction's receipt and its
//! monitor's summary (written twice: `monitor` and `sentinel`). The matches of one
//! transaction share its receipt, and every match of a monitor shares its summaries
//! ([`MonitorMatch`] holds them in `Arc`s), so each is written once: a receipt once per block
//! ([`RecordWriter`]), a monitor's summaries once until the monitor changes ([`Summaries`]),
//! and copied into the records that hold them. The bytes are those of the whole record
//! written at once, up to the order of the match's fields.

use super::AlertRecord;
use defender_core::{
    EthReceipt, FortaAlert, MatchReason, MonitorMatch, MonitorSummary, MonitorType,
};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// JSON of `value` by sonic-rs, which writes the large strings of a match in about three
/// quarters of serde_json's time; serde_json when sonic-rs refuses it (serde_json then gives
/// the error, if any). Everything reads it back with serde_json.
pub(super) fn json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    // sonic-rs reserves room for the worst case of escaping before each string (six bytes
    // per byte): a buffer this size takes an outbox entry's 64-character keys without growing.
    let mut out = Vec::with_capacity(512);
    json_into(&mut out, value)?;
    Ok(out)
}

/// [`json`] into `out`, emptied first: a buffer kept from one value to the next stops
/// growing once it has held the largest.
fn json_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), serde_json::Error> {
    out.clear();
    if sonic_rs::to_writer(&mut *out, value).is_ok() {
        return Ok(());
    }
    out.clear();
    serde_json::to_writer(&mut *out, value)
}

/// The encoded summaries of the monitors that alerted, kept across blocks.
#[derive(Debug, Default)]
pub(crate) struct Summaries {
    by_monitor: HashMap<String, Summary>,
    /// The number of entries after the last pruning.
    kept: usize,
}

/// One monitor's summaries and their JSON.
#[derive(Debug)]
struct Summary {
    monitor: Arc<MonitorSummary>,
    sentinel: Arc<MonitorSummary>,
    /// `,"monitor":{..},"sentinel":{..}`.
    json: Arc<[u8]>,
}

impl Summary {
    /// Whether anything but this entry holds its summaries (a compiled monitor, a match).
    fn held_elsewhere(&self) -> bool {
        let ours = if Arc::ptr_eq(&self.monitor, &self.sentinel) {
            2
        } else {
            1
        };
        Arc::strong_count(&self.monitor) > ours || Arc::strong_count(&self.sentinel) > ours
    }
}

impl Summaries {
    /// The JSON of `alert`'s summaries as fields of the match, written again only when they
    /// are not the ones written last for its monitor. The lock is not held while writing.
    fn fields(this: &Mutex<Self>, alert: &MonitorMatch) -> Result<Arc<[u8]>, serde_json::Error> {
        let id = &alert.monitor.id;
        let current = |s: &Summary| {
            Arc::ptr_eq(&s.monitor, &alert.monitor) && Arc::ptr_eq(&s.sentinel, &alert.sentinel)
        };
        if let Ok(summaries) = this.lock() {
            if let Some(s) = summaries.by_monitor.get(id).filter(|s| current(s)) {
                return Ok(s.json.clone());
            }
        }
        let mut json = b",\"monitor\":".to_vec();
        json.extend(self::json(&*alert.monitor)?);
        json.extend(b",\"sentinel\":");
        json.extend(self::json(&*alert.sentinel)?);
        let json: Arc<[u8]> = json.into();
        // A poisoned lock (a panic while pruning) only costs the caching.
        if let Ok(mut summaries) = this.lock() {
            summaries.prune();
            let summary = Summary {
                monitor: alert.monitor.clone(),
                sentinel: alert.sentinel.clone(),
                json: json.clone(),
            };
            summaries.by_monitor.insert(id.clone(), summary);
        }
        Ok(json)
    }

    /// Once the entries have doubled since the last pruning, drops those of monitors that
    /// nothing else holds any more (removed or changed since): the cache stays within twice
    /// the monitors in use.
    fn prune(&mut self) {
        if self.by_monitor.len() < self.kept.saturating_mul(2).max(64) {
            return;
        }
        self.by_monitor.retain(|_, s| s.held_elsewhere());
        self.kept = self.by_monitor.len();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_monitor.len()
    }
}

/// Writes the alert records of one block.
#[derive(Debug)]
pub(crate) struct RecordWriter<'s> {
    summaries: &'s Mutex<Summaries>,
    /// The block's receipts written so far, by address; holding each `Arc` keeps its address
    /// from being reused while the writer lives.
    receipts: HashMap<usize, (Arc<EthReceipt>, Vec<u8>)>,
    /// Where each record's head and each receipt is written first: kept from one to the next.
    scratch: Vec<u8>,
}

impl<'s> RecordWriter<'s> {
    /// A writer for one block's records, with the summaries written for earlier blocks.
    pub(crate) fn new(summaries: &'s Mutex<Summaries>) -> Self {
        RecordWriter {
            summaries,
            receipts: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    /// The JSON of `record`.
    pub(crate) fn write(&mut self, record: &AlertRecord) -> Result<Vec<u8>, serde_json::Error> {
        let alert = &record.alert;
        let receipt = if alert.transaction.is_empty() {
            &[][..]
        } else {
            let key = Arc::as_ptr(&alert.transaction) as usize;
            match self.receipts.entry(key) {
                Entry::Occupied(written) => &written.into_mut().1[..],
                Entry::Vacant(slot) => {
                    json_into(&mut self.scratch, &*alert.transaction)?;
                    let field = b",\"transaction\":";
                    let mut json = Vec::with_capacity(field.len() + self.scratch.len());
                    json.extend_from_slice(field);
                    json.extend_from_slice(&self.scratch);
                    &slot.insert((alert.transaction.clone(), json)).1[..]
                }
            }
        };
        let summaries = Summaries::fields(self.summaries, alert)?;
        json_into(&mut self.scratch, &RecordHead(record))?;
        // The head ends with the match's `}` and the record's: the shared fields go before
        // them. (Both serializers write no whitespace.)
        let Some(open) = self.scratch.strip_suffix(b"}}") else {
            return json(record);
        };
        let mut out = Vec::with_capacity(open.len() + receipt.len() + summaries.len() + 2);
        out.extend_from_slice(open);
        out.extend_from_slice(receipt);
        out.extend_from_slice(&summaries);
        out.extend_from_slice(b"}}");
        Ok(out)
    }
}

/// An alert record without its match's receipt and summaries.
struct RecordHead<'a>(&'a AlertRecord);

impl Serialize for RecordHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut st = s.serialize_struct("AlertRecord", 5)?;
        st.serialize_field("monitorId", &r.monitor_id)?;
        st.serialize_field("createdMs", &r.created_ms)?;
        st.serialize_field("subject", &r.subject)?;
        st.serialize_field("body", &r.body)?;
        // Last, so that the record's JSON ends with the match's.
        st.serialize_field("alert", &MatchHead(&r.alert))?;
        st.end()
    }
}

/// A match without its receipt and summaries, written as `MonitorMatch` writes them.
struct MatchHead<'a>(&'a MonitorMatch);

impl Serialize for MatchHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Destructured, so that a field added to the match fails to compile here.
        let MonitorMatch {
            kind,
            hash,
            timestamp,
            block_number,
            block_hash,
            transaction: _,
            alert,
            match_reasons,
            matched_addresses,
            matched_checksum_addresses,
            monitor: _,
            sentinel: _,
            metadata,
        } = self.0;
        let mut st = s.serialize_struct("MonitorMatch", 10)?;
        // First: the record's JSON relies on the match having a field before the shared ones.
        st.serialize_field::<MonitorType>("type", kind)?;
        st.serialize_field("hash", hash)?;
        st.serialize_field("timestamp", timestamp)?;
        if !block_number.is_empty() {
            st.serialize_field("blockNumber", block_number)?;
        }
        if !block_hash.is_empty() {
            st.serialize_field("blockHash", block_hash)?;
        }
        if let Some(alert) = alert {
            st.serialize_field::<FortaAlert>("alert", alert)?;
        }
        st.serialize_field::<[MatchReason]>("matchReasons", match_reasons)?;
        st.serialize_field("matchedAddresses", matched_addresses)?;
        st.serialize_field("matchedChecksumAddresses", matched_checksum_addresses)?;
        if let Some(metadata) = metadata {
            st.serialize_field::<Value>("metadata", metadata)?;
        }
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(id: &str, name: &str) -> Arc<MonitorSummary> {
        Arc::new(
            serde_json::from_value(json!({
                "id": id, "name": name, "network": "mainnet", "chainId": 1,
                "addresses": ["0x00000000000000000000000000000000000000aa"], "confirmBlocks": 1,
                "abi": "[{\"type\":\"event\",\"name\":\"E\",\"inputs\":[]}]"
            }))
            .unwrap(),
        )
    }

    fn receipt(hash: &str) -> Arc<EthReceipt> {
        Arc::new(
            serde_json::from_value(json!({
                "blockHash": "0x01", "blockNumber": "0x2", "cumulativeGasUsed": "0x5",
                "from": "0xaa", "gasUsed": "0x5", "logs": [{
                    "address": "0xbb", "topics": ["0x03"], "data": "0x\"quoted\"",
                    "blockNumber": "0x2", "transactionHash": hash, "transactionIndex": "0x0",
                    "blockHash": "0x01", "logIndex": "0x0", "removed": false
                }],
                "logsBloom": "0x00", "status": "0x1", "to": "0xbb",
                "transactionHash": hash, "transactionIndex": "0x0"
            }))
            .unwrap(),
        )
    }

    fn record(monitor: &Arc<MonitorSummary>, tx: &Arc<EthReceipt>) -> AlertRecord {
        let mut alert: MonitorMatch = serde_json::from_value(json!({
            "hash": tx.transaction_hash, "timestamp": 7, "blockNumber": "0x2",
            "blockHash": "0x01", "monitor": {"id": "x", "name": "x", "network": "n", "chainId": 1,
            "addresses": [], "confirmBlocks": 0},
            "matchReasons": [{"type": "event", "signature": "E()", "address": "0xBB",
                "args": [], "params": {}}],
            "matchedAddresses": ["0xbb"], "matchedChecksumAddresses": ["0xBB"],
            "metadata": {"note": "line\nbreak \u{1F600}"}
        }))
        .unwrap();
        alert.transaction = tx.clone();
        alert.monitor = monitor.clone();
        alert.sentinel = monitor.clone();
        AlertRecord {
            monitor_id: monitor.id.clone(),
            created_ms: 42,
            subject: "Alert \"s\"".into(),
            body: "**b**\n".into(),
            alert: Arc::new(alert),
        }
    }

    /// What `bytes` decode to, as JSON.
    fn decoded(bytes: &[u8]) -> Value {
        let record: AlertRecord = serde_json::from_slice(bytes).expect("decodes");
        serde_json::to_value(record).unwrap()
    }

    #[test]
    fn records_read_back_as_the_records_written() {
        let (m1, m2) = (summary("m1", "one"), summary("m2", "two"));
        let (t1, t2) = (receipt("0xt1"), receipt("0xt2"));
        let summaries = Mutex::new(Summaries::default());
        let mut writer = RecordWriter::new(&summaries);
        // The shared parts written once are copied into later records unchanged.
        for (m, t) in [(&m1, &t1), (&m2, &t1), (&m1, &t2), (&m1, &t1)] {
            let r = record(m, t);
            let bytes = writer.write(&r).unwrap();
            assert_eq!(decoded(&bytes), serde_json::to_value(&r).unwrap());
            assert_eq!(
                decoded(&bytes)["alert"]["transaction"]["transactionHash"],
                t.transaction_hash
            );
            assert_eq!(decoded(&bytes)["alert"]["sentinel"]["name"], m.name);
        }
    }

    #[test]
    fn a_match_without_receipt_or_metadata_reads_back_without_them() {
        let summaries = Mutex::new(Summaries::default());
        let mut r = record(&summary("f", "forta"), &Arc::default());
        let alert = Arc::make_mut(&mut r.alert);
        alert.kind = MonitorType::Forta;
        alert.metadata = None;
        alert.block_number.clear();
        let bytes = RecordWriter::new(&summaries).write(&r).unwrap();
        let json = decoded(&bytes);
        assert_eq!(json, serde_json::to_value(&r).unwrap());
        assert!(json["alert"].get("transaction").is_none());
        assert!(json["alert"].get("metadata").is_none());
        assert!(json["alert"].get("blockNumber").is_none());
    }

    #[test]
    fn a_changed_monitor_has_its_new_summary_written() {
        let summaries = Mutex::new(Summaries::default());
        let tx = receipt("0xt");
        let before = summary("m", "before");
        let after = summary("m", "after");
        let first = RecordWriter::new(&summaries)
            .write(&record(&before, &tx))
            .unwrap();
        let second = RecordWriter::new(&summaries)
            .write(&record(&after, &tx))
            .unwrap();
        assert_eq!(decoded(&first)["alert"]["monitor"]["name"], "before");
        assert_eq!(decoded(&second)["alert"]["monitor"]["name"], "after");
        assert_eq!(decoded(&second)["alert"]["sentinel"]["name"], "after");
    }

    #[test]
    fn summaries_of_monitors_nothing_holds_are_dropped() {
        let summaries = Mutex::new(Summaries::default());
        let tx = receipt("0xt");
        let held: Vec<_> = (0..10).map(|i| summary(&format!("held{i}"), "h")).collect();
        for m in &held {
            RecordWriter::new(&summaries)
                .write(&record(m, &tx))
                .unwrap();
        }
        // Monitors removed: their summaries are held by nothing but the cache (as the
        // matcher makes them, half with a sentinel summary of their own).
        for i in 0..200 {
            let gone = summary(&format!("gone{i}"), "g");
            let mut r = record(&gone, &tx);
            if i % 2 == 0 {
                Arc::make_mut(&mut r.alert).sentinel = summary(&gone.id, "legacy");
            }
            RecordWriter::new(&summaries).write(&r).unwrap();
        }
        assert!(
            summaries.lock().unwrap().len() < 130,
            "{} entries",
            summaries.lock().unwrap().len()
        );
        assert!(held
            .iter()
            .all(|m| summaries.lock().unwrap().by_monitor.contains_key(&m.id)));
    }
}
