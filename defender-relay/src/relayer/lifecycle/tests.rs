//! Every edge of the lifecycle, one row at least each.

use super::*;
use chrono::Duration;
use std::collections::HashSet;
use std::mem::discriminant;

/// The default waits: safeLow 600 s, average 300 s, fast 120 s, fastest 60 s.
const RULES: Rules = Rules {
    confirmations: 12,
    resubmit_after: ResubmitAfter {
        safe_low: std::time::Duration::from_secs(600),
        average: std::time::Duration::from_secs(300),
        fast: std::time::Duration::from_secs(120),
        fastest: std::time::Duration::from_secs(60),
    },
};

/// Seconds after the transaction was sent.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("a time") + Duration::seconds(secs)
}

/// Sent at `at(0)`, priced `fast`, valid until `at(10_000)`.
fn tx(status: TxStatus) -> TxState {
    TxState {
        status,
        speed: Some(Speed::Fast),
        fixed_fees: false,
        sent_at: Some(at(0)),
        valid_until: at(10_000),
        mined_block: None,
        noop: false,
        settled: false,
    }
}

impl TxState {
    fn noop(mut self) -> Self {
        self.noop = true;
        self
    }
    fn settled(mut self) -> Self {
        self.settled = true;
        self
    }
    fn speed(mut self, speed: Option<Speed>) -> Self {
        self.speed = speed;
        self
    }
    fn fixed(mut self) -> Self {
        self.speed = None;
        self.fixed_fees = true;
        self
    }
    fn mined_in(mut self, block: u64) -> Self {
        self.mined_block = Some(block);
        self
    }
    fn sent_at(mut self, t: Option<DateTime<Utc>>) -> Self {
        self.sent_at = t;
        self
    }
}

/// A poll `secs` after sending, head 100, nothing seen.
fn poll(secs: i64) -> Poll {
    Poll {
        receipt: None,
        checked: false,
        in_mempool: false,
        head: 100,
        now: at(secs),
    }
}

impl Poll {
    fn receipt(mut self, block: Option<u64>, success: bool) -> Self {
        self.receipt = Some(ReceiptSeen {
            hash: "0xaa".into(),
            block,
            success,
        });
        self.checked = true;
        self
    }
    fn checked(mut self) -> Self {
        self.checked = true;
        self
    }
    fn in_mempool(mut self) -> Self {
        self.in_mempool = true;
        self
    }
    fn see(self) -> Observation {
        Observation::Poll(self)
    }
}

fn included(block: u64) -> Option<Inclusion> {
    Some(Inclusion {
        hash: "0xaa".into(),
        block,
    })
}

fn mine(block: u64, confirmed: bool) -> Action {
    Action::Mine {
        inclusion: Inclusion {
            hash: "0xaa".into(),
            block,
        },
        confirmed,
    }
}

const NONCE_USED_ELSEWHERE: Observation = Observation::NonceUsed { ours_mined: false };
const NONCE_USED_BY_US: Observation = Observation::NonceUsed { ours_mined: true };

#[test]
fn lifecycle_transition_table() {
    use Action::*;
    use TxStatus::*;
    #[rustfmt::skip]
    let rows: Vec<(&str, TxState, Observation, Action)> = vec![
        // A settled no-op is done, whatever happens.
        ("settled no-op, receipt", tx(Expired).noop().settled(), poll(5).receipt(Some(90), true).see(), Wait),
        ("settled no-op, stuck", tx(Expired).noop().settled(), poll(9_000).see(), Wait),
        ("settled no-op, nonce used", tx(Expired).noop().settled(), NONCE_USED_ELSEWHERE, Wait),
        // Receipts.
        ("no-op mined", tx(Expired).noop(), poll(5).receipt(Some(90), true).see(), Settle { inclusion: included(90) }),
        ("no-op mined, receipt without block", tx(Expired).noop(), poll(5).receipt(None, true).see(), Settle { inclusion: included(100) }),
        ("refused tx's no-op mined", tx(Failed).noop(), poll(5).receipt(Some(90), false).see(), Settle { inclusion: included(90) }),
        ("submitted mined", tx(Submitted), poll(5).receipt(Some(95), true).see(), mine(95, false)),
        ("sent mined deep at once", tx(Sent), poll(5).receipt(Some(80), true).see(), mine(80, true)),
        ("inmempool mined at exactly N confirmations", tx(Inmempool), poll(5).receipt(Some(88), true).see(), mine(88, true)),
        ("inmempool mined one block short", tx(Inmempool), poll(5).receipt(Some(89), true).see(), mine(89, false)),
        ("pending mined, receipt without block", tx(Pending), poll(5).receipt(None, true).see(), mine(100, false)),
        ("submitted reverted", tx(Submitted), poll(5).receipt(Some(95), false).see(), Fail { inclusion: included(95) }),
        ("sent reverted deep", tx(Sent), poll(5).receipt(Some(10), false).see(), Fail { inclusion: included(10) }),
        ("mined, deep enough", tx(Mined).mined_in(88), poll(5).receipt(Some(88), true).see(), Confirm),
        ("mined, not deep enough", tx(Mined).mined_in(89), poll(5).receipt(Some(89), true).see(), Wait),
        ("mined, block unknown, receipt deep", tx(Mined), poll(5).receipt(Some(50), true).see(), Confirm),
        ("mined, recorded block wins over receipt", tx(Mined).mined_in(95), poll(5).receipt(Some(50), true).see(), Wait),
        ("confirmed, receipt again", tx(Confirmed), poll(5).receipt(Some(50), true).see(), Wait),
        ("failed, receipt again", tx(Failed), poll(5).receipt(Some(50), false).see(), Wait),
        // Mined without a receipt.
        ("mined, checked, receipt gone", tx(Mined).mined_in(95), poll(5).checked().see(), Reorg),
        ("mined, not due for a check", tx(Mined).mined_in(95), poll(5).see(), Wait),
        ("mined past validUntil, not due", tx(Mined).mined_in(95), poll(20_000).see(), Wait),
        // Final transactions that are not no-ops.
        ("confirmed, old", tx(Confirmed), poll(20_000).checked().see(), Wait),
        ("failed, old", tx(Failed), poll(20_000).in_mempool().see(), Wait),
        // Expiry.
        ("submitted past validUntil", tx(Submitted), poll(10_001).see(), Expire),
        ("sent past validUntil", tx(Sent), poll(10_001).see(), Expire),
        ("inmempool past validUntil", tx(Inmempool), poll(10_001).in_mempool().see(), Expire),
        ("caller-priced past validUntil", tx(Submitted).fixed(), poll(10_001).see(), Expire),
        ("submitted at validUntil exactly", tx(Submitted), poll(10_000).see(), Resubmit),
        ("young, at validUntil exactly", tx(Submitted).sent_at(Some(at(9_990))), poll(10_000).see(), Wait),
        // No-op replacements still unmined.
        ("no-op stuck for the fast wait", tx(Expired).noop(), poll(120).see(), BumpNoop),
        ("no-op of a safeLow tx uses the fast wait", tx(Expired).noop().speed(Some(Speed::SafeLow)), poll(120).see(), BumpNoop),
        ("no-op young", tx(Expired).noop(), poll(119).see(), Wait),
        ("no-op past validUntil is not expired again", tx(Expired).noop(), poll(10_001).see(), BumpNoop),
        ("refused tx's no-op stuck", tx(Failed).noop(), poll(120).see(), BumpNoop),
        // Not yet accepted by a node.
        ("sent", tx(Sent), poll(1).see(), Rebroadcast),
        ("pending", tx(Pending), poll(1).see(), Rebroadcast),
        ("sent, old", tx(Sent), poll(5_000).see(), Rebroadcast),
        ("sent, nonce checked but no receipt", tx(Sent), poll(1).checked().see(), Rebroadcast),
        // Resubmission by speed.
        ("fast, at its wait", tx(Submitted), poll(120).see(), Resubmit),
        ("fast, before its wait", tx(Submitted), poll(119).see(), Wait),
        ("safeLow, at its wait", tx(Inmempool).speed(Some(Speed::SafeLow)), poll(600).see(), Resubmit),
        ("safeLow, before its wait", tx(Inmempool).speed(Some(Speed::SafeLow)), poll(599).see(), Wait),
        ("average, at its wait", tx(Submitted).speed(Some(Speed::Average)), poll(300).see(), Resubmit),
        ("average, before its wait", tx(Submitted).speed(Some(Speed::Average)), poll(299).see(), Wait),
        ("fastest, at its wait", tx(Submitted).speed(Some(Speed::Fastest)), poll(60).see(), Resubmit),
        ("fastest, before its wait", tx(Submitted).speed(Some(Speed::Fastest)), poll(59).see(), Wait),
        ("stuck beats inmempool", tx(Submitted), poll(120).in_mempool().see(), Resubmit),
        ("caller-priced, at the fast wait", tx(Submitted).fixed(), poll(120).see(), RebroadcastAsIs),
        ("caller-priced inmempool, at the fast wait", tx(Inmempool).fixed(), poll(120).in_mempool().see(), RebroadcastAsIs),
        ("caller-priced, before the wait", tx(Submitted).fixed(), poll(119).see(), Wait),
        ("never sent: no age", tx(Submitted).sent_at(None), poll(5_000).see(), Wait),
        ("sent in the future: no age", tx(Submitted).sent_at(Some(at(50))), poll(10).see(), Wait),
        // Mempool.
        ("submitted, node knows it", tx(Submitted), poll(5).in_mempool().see(), MarkInMempool),
        ("submitted, node does not know it", tx(Submitted), poll(5).see(), Wait),
        ("inmempool, still there", tx(Inmempool), poll(5).in_mempool().see(), Wait),
        ("inmempool, gone from the mempool", tx(Inmempool), poll(5).see(), Wait),
        // A resubmission refused with "nonce too low".
        ("nonce used elsewhere", tx(Submitted), NONCE_USED_ELSEWHERE, Fail { inclusion: None }),
        ("no-op's nonce used elsewhere", tx(Expired).noop(), NONCE_USED_ELSEWHERE, Settle { inclusion: None }),
        ("nonce used by one of our hashes", tx(Submitted), NONCE_USED_BY_US, Wait),
        ("no-op's nonce used by one of our hashes", tx(Expired).noop(), NONCE_USED_BY_US, Wait),
    ];
    let mut failures = Vec::new();
    for (name, state, observation, want) in &rows {
        let got = next(state, observation, &RULES);
        if &got != want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every action is some row's answer.
    let every = [
        Wait,
        Settle { inclusion: None },
        mine(0, false),
        Fail { inclusion: None },
        Confirm,
        Reorg,
        Expire,
        BumpNoop,
        Rebroadcast,
        RebroadcastAsIs,
        Resubmit,
        MarkInMempool,
    ];
    let covered: HashSet<_> = rows.iter().map(|r| discriminant(&r.3)).collect();
    for a in &every {
        assert!(covered.contains(&discriminant(a)), "no row ends in {a:?}");
    }
    assert_eq!(rows.len(), 61);
}

#[test]
fn state_of_a_stored_transaction() {
    let rec: StoredTransaction = serde_json::from_value(serde_json::json!({
        "tx": {
            "transactionId": "t", "hash": "0xaa", "from": "0x", "value": "0", "data": "0x",
            "speed": "average", "gasLimit": 21000, "nonce": 3, "status": "inmempool",
            "chainId": 1, "validUntil": "2030-01-01T00:00:00.000Z",
            "createdAt": "2029-12-31T00:00:00.000Z", "sentAt": "2029-12-31T01:00:00.000Z"
        },
        "hashes": ["0xaa"], "fixedFees": true, "minedBlock": 7, "noop": true, "settled": false
    }))
    .expect("a stored transaction");
    let s = TxState::of(&rec);
    assert_eq!(s.status, TxStatus::Inmempool);
    assert_eq!(s.speed, Some(Speed::Average));
    assert!(s.fixed_fees && s.noop && !s.settled);
    assert_eq!(s.mined_block, Some(7));
    assert_eq!(s.sent_at, rec.tx.sent_at);
    assert_eq!(s.valid_until, rec.tx.valid_until);
    let r = Rules::of(&RelayerConfig::new("r", vec![]).with_confirmations(3));
    assert_eq!(r.confirmations, 3);
    assert_eq!(r.resubmit_after, ResubmitAfter::default());
}
