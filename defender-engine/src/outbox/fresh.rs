//! The alert records this process owed lately, kept in memory for their first delivery
//! attempt: reading a record back from the engine state means decoding a match of several
//! kilobytes, the largest cost of a delivery. The stored record stays the reference (a record
//! never changes once written): an attempt that finds no copy here reads it.

use super::AlertRecord;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most records kept; past it, later records are read from the engine state.
const MAX_RECORDS: usize = 4096;

/// Recently owed alert records by item, each taken by the first attempt of a delivery of its
/// item.
#[derive(Debug, Default)]
pub(crate) struct FreshRecords {
    by_item: Mutex<HashMap<String, AlertRecord>>,
}

impl FreshRecords {
    /// Keeps the records of items just written (as many as there is room for).
    pub(crate) fn keep(&self, records: Vec<(String, AlertRecord)>) {
        let Ok(mut by_item) = self.by_item.lock() else {
            return;
        };
        let room = MAX_RECORDS.saturating_sub(by_item.len());
        by_item.extend(records.into_iter().take(room));
    }

    /// The record of `item`, if kept; it is kept no longer.
    pub(crate) fn take(&self, item: &str) -> Option<AlertRecord> {
        let mut by_item = self.by_item.lock().ok()?;
        let record = by_item.remove(item);
        // An idle engine gives back the memory of a burst.
        if by_item.is_empty() && by_item.capacity() > 256 {
            by_item.shrink_to_fit();
        }
        record
    }

    /// Whether more than half the room is taken: first attempts fall behind what is owed.
    pub(crate) fn filling(&self) -> bool {
        self.by_item.lock().is_ok_and(|m| m.len() > MAX_RECORDS / 2)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_item.lock().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(n: usize) -> (String, AlertRecord) {
        let alert = serde_json::from_value(json!({
            "hash": format!("0x{n:x}"),
            "monitor": {"id": "m", "name": "m", "network": "mainnet", "chainId": 1,
                "addresses": [], "confirmBlocks": 0}
        }))
        .unwrap();
        let record = AlertRecord {
            monitor_id: "m".into(),
            created_ms: 0,
            subject: format!("s{n}"),
            body: String::new(),
            alert: std::sync::Arc::new(alert),
        };
        (format!("{n:020}"), record)
    }

    #[test]
    fn a_record_is_taken_once() {
        let fresh = FreshRecords::default();
        fresh.keep(vec![record(1), record(2)]);
        assert_eq!(
            fresh.take(&record(2).0).map(|r| r.subject),
            Some("s2".into())
        );
        assert!(fresh.take(&record(2).0).is_none());
        assert_eq!(fresh.len(), 1);
    }

    #[test]
    fn records_past_the_bound_are_not_kept() {
        let fresh = FreshRecords::default();
        fresh.keep((0..MAX_RECORDS / 2).map(record).collect());
        assert!(!fresh.filling());
        fresh.keep((MAX_RECORDS / 2..MAX_RECORDS + 10).map(record).collect());
        assert!(fresh.filling());
        assert_eq!(fresh.len(), MAX_RECORDS);
        assert!(fresh.take(&record(MAX_RECORDS + 5).0).is_none());
        assert!(fresh.take(&record(0).0).is_some());
        // Room again for one.
        fresh.keep(vec![record(MAX_RECORDS + 5)]);
        assert!(fresh.take(&record(MAX_RECORDS + 5).0).is_some());
    }
}
