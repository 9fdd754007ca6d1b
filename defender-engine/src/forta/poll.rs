//! Polling one Forta monitor's alert stream: the poll loop (under the monitor's lease) and the
//! pure functions that decide which alerts a poll asks for and takes.

use super::*;

/// What one poll did.
enum Poll {
    /// Alerts were read (and those taken dispatched); `more` when the API has more now.
    Read {
        more: bool,
    },
    Stopped,
}

/// The poll task of one Forta monitor.
pub(super) struct FortaLoop {
    pub(super) id: String,
    pub(super) def: Arc<FortaMonitorDefinition>,
    pub(super) notify: Arc<MonitorDefinition>,
    pub(super) client: Arc<FortaClient>,
    pub(super) stages: Weak<Stages>,
    pub(super) stop: watch::Receiver<bool>,
    /// Loaded from the engine state at the first poll (and again on each new lease).
    pub(super) cursor: Option<Cursor>,
    /// This monitor's lease (`forta/<id>`): only its holder polls, among the engines sharing
    /// the state.
    pub(super) lease: crate::lease::Held,
    /// The task holding it, awaited when the loop ends.
    pub(super) holding: Option<JoinHandle<()>>,
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Api(#[from] FortaError),
    #[error("engine state: {0}")]
    State(#[from] StateError),
}

impl FortaLoop {
    pub(super) async fn run(mut self) {
        self.run_until_stopped().await;
        let holding = self.holding.take();
        crate::lease::let_go(self, holding).await;
    }

    async fn run_until_stopped(&mut self) {
        let interval = self.client.api().poll_interval;
        let mut failures: u32 = 0;
        let mut token = None;
        loop {
            // Leadership: on each new lease, resume at the shared cursor and gate state.
            let lease = match crate::lease::current(&self.lease) {
                Some(lease) => lease,
                None => tokio::select! {
                    _ = stopped(&mut self.stop) => return,
                    lease = crate::lease::acquired(&mut self.lease) => match lease {
                        Some(lease) => lease,
                        None => return,
                    },
                },
            };
            if token != Some(lease.token()) {
                token = Some(lease.token());
                self.cursor = None;
                if let Some(stages) = self.stages.upgrade() {
                    if let Err(e) = stages.gate.reload(&self.id).await {
                        tracing::warn!(error = %e, "alert-gate state not reloaded");
                    }
                }
            }
            match self.poll(&lease).await {
                Ok(Poll::Stopped) => return,
                Ok(Poll::Read { more }) => {
                    failures = 0;
                    if more {
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "Forta poll failed; retrying");
                    if matches!(&e, PollError::State(StateError::Conflict { space, .. }) if *space == Space::LEASES)
                    {
                        // Fenced off: another engine holds the lease now.
                        token = None;
                    }
                }
            }
            tokio::select! {
                _ = stopped(&mut self.stop) => return,
                _ = tokio::time::sleep(poll_wait(interval, failures)) => {}
            }
        }
    }

    /// One poll: read, check, dispatch, move the cursor.
    async fn poll(&mut self, lease: &Lease) -> Result<Poll, PollError> {
        let Some(stages) = self.stages.upgrade() else {
            return Ok(Poll::Stopped);
        };
        let state = stages.runner.state.clone();
        let key = forta_checkpoint_key(&self.id);
        let cursor = match self.cursor.clone() {
            Some(c) => c,
            None => {
                let c = state
                    .get_json::<Cursor>(Space::CHECKPOINTS, &key)
                    .await?
                    .unwrap_or_default();
                self.cursor = Some(c.clone());
                c
            }
        };
        let now_ms = stages.runner.clock.now().timestamp_millis();
        let def = self.def.clone();
        let mut input = query_of(&def, &cursor, now_ms);

        // Read every page (within the bound); a stop ends the poll here.
        let mut alerts: Vec<FortaAlert> = Vec::new();
        let mut more = false;
        loop {
            let page = tokio::select! {
                _ = stopped(&mut self.stop) => return Ok(Poll::Stopped),
                page = self.client.page(&input) => page?,
            };
            alerts.extend(page.alerts);
            match page.next {
                Some(next) if alerts.len() < MAX_ALERTS_PER_POLL => input.after = Some(next),
                Some(_) => {
                    tracing::warn!(
                        max = MAX_ALERTS_PER_POLL,
                        "more Forta alerts than one poll reads; the rest at the next polls"
                    );
                    more = true;
                    break;
                }
                None => break,
            }
        }

        let (taken, next_cursor) = take(&def, &cursor, alerts);
        if taken.is_empty() {
            return Ok(Poll::Read { more: false });
        }
        let matches: Vec<MonitorMatch> = taken
            .into_iter()
            .map(|(alert, _)| forta_match(&self.id, &def, alert))
            .collect();
        let group = MonitorMatches {
            id: self.id.clone(),
            def: self.notify.clone(),
            matches,
        };
        let admitted = tokio::select! {
            _ = stopped(&mut self.stop) => return Ok(Poll::Stopped),
            alerts = stages.admit(group) => alerts,
        };
        // From here the alerts are handled to the end, stop or not: owed and the cursor moved
        // in one batch.
        let mut owing = stages.dispatcher.owe(admitted).await?.await?;
        let mut ops = std::mem::take(&mut owing.ops);
        ops.push(StateOp::put_json(Space::CHECKPOINTS, key, &next_cursor)?);
        // Fenced: a former holder's late batch fails.
        ops.push(lease.fence());
        state.apply(ops).await?;
        self.cursor = Some(next_cursor);
        stages.dispatcher.owed(owing);
        Ok(Poll::Read { more })
    }
}

/// The `alerts` query of a monitor from its cursor.
fn query_of(def: &FortaMonitorDefinition, cursor: &Cursor, now_ms: i64) -> AlertsInput {
    let chain_ids = def.chain_ids();
    let min = def.forta_conditions.severity.map(usize::from);
    // Asked a little further back than the floor: clocks differ; `take` drops what is older.
    let since = now_ms
        .saturating_sub(cursor.floor_ms())
        .saturating_add(60_000);
    AlertsInput {
        bots: def.agent_ids.clone(),
        alert_ids: def.forta_conditions.alert_ids.clone(),
        severities: min
            .map(|m| {
                FORTA_SEVERITIES
                    .iter()
                    .skip(m)
                    .map(|s| (*s).to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        addresses: def
            .addresses
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        chain_id: (chain_ids.len() == 1).then(|| chain_ids[0]),
        created_since: u64::try_from(since).unwrap_or(0),
        scan_node_confirmations: (def.forta_conditions.minimum_scanner_count > 1).then(|| {
            ScanNodes {
                gte: def.forta_conditions.minimum_scanner_count,
                lte: u64::from(u32::MAX),
            }
        }),
        first: PAGE_SIZE,
        after: None,
    }
}

/// Whether an alert is one the monitor takes, whatever the API filtered.
fn selected(def: &FortaMonitorDefinition, alert: &FortaAlert) -> bool {
    let c = &def.forta_conditions;
    let bot = alert
        .source
        .bot
        .as_ref()
        .map_or(alert.source.agent.id.as_str(), |b| b.id.as_str());
    if !def.agent_ids.is_empty() && !def.agent_ids.iter().any(|b| b.eq_ignore_ascii_case(bot)) {
        return false;
    }
    if !c.alert_ids.is_empty() && !c.alert_ids.contains(&alert.alert_id) {
        return false;
    }
    if let Some(min) = c.severity {
        if forta_severity_rank(&alert.severity).is_none_or(|rank| rank < min) {
            return false;
        }
    }
    if alert.scan_node_count < c.minimum_scanner_count {
        return false;
    }
    let chains = def.chain_ids();
    if !chains.is_empty() && !chains.contains(&alert.source.block.chain_id) {
        return false;
    }
    if !def.addresses.is_empty()
        && !alert
            .addresses
            .iter()
            .any(|a| def.addresses.iter().any(|w| w.eq_ignore_ascii_case(a)))
    {
        return false;
    }
    true
}

/// The alerts to take, oldest first, each once, and the cursor after them.
fn take(
    def: &FortaMonitorDefinition,
    cursor: &Cursor,
    alerts: Vec<FortaAlert>,
) -> (Vec<(FortaAlert, i64)>, Cursor) {
    let floor = cursor.floor_ms();
    let mut seen: HashSet<String> = cursor.seen.iter().map(|(h, _)| h.clone()).collect();
    let mut taken: Vec<(FortaAlert, i64)> = Vec::new();
    for alert in alerts {
        let Some(created) = iso8601::parse(&alert.created_at)
            .ok()
            .map(|t| t.timestamp_millis())
        else {
            tracing::warn!(hash = %alert.hash, created_at = %alert.created_at, "Forta alert without a readable createdAt skipped");
            continue;
        };
        if created <= floor || !selected(def, &alert) {
            continue;
        }
        let hash = alert.hash.to_ascii_lowercase();
        if !seen.insert(hash) {
            continue;
        }
        taken.push((alert, created));
    }
    taken.sort_by(|(a, ta), (b, tb)| ta.cmp(tb).then_with(|| a.hash.cmp(&b.hash)));
    let newest = taken
        .iter()
        .map(|(_, t)| *t)
        .max()
        .unwrap_or(cursor.newest_ms)
        .max(cursor.newest_ms);
    let mut next = Cursor {
        start_ms: cursor.start_ms,
        newest_ms: newest,
        seen: cursor
            .seen
            .iter()
            .cloned()
            .chain(taken.iter().map(|(a, t)| (a.hash.to_ascii_lowercase(), *t)))
            .collect(),
    };
    let keep_after = next.floor_ms();
    next.seen.retain(|(_, t)| *t > keep_after);
    if next.seen.len() > MAX_SEEN {
        next.seen.sort_by_key(|(_, t)| *t);
        let excess = next.seen.len() - MAX_SEEN;
        next.seen.drain(..excess);
    }
    (taken, next)
}

/// Defender's Forta payload for one alert.
fn forta_match(id: &str, def: &FortaMonitorDefinition, alert: FortaAlert) -> MonitorMatch {
    let c = &def.forta_conditions;
    let mut reasons = Vec::new();
    let reason = |kind, value: &str| MatchReason {
        kind,
        signature: String::new(),
        condition: None,
        address: String::new(),
        args: Vec::new(),
        params: serde_json::Map::new(),
        value: Some(value.to_owned()),
    };
    if !c.alert_ids.is_empty() {
        reasons.push(reason(MatchReasonType::AlertId, &alert.alert_id));
    }
    if c.severity.is_some() {
        reasons.push(reason(MatchReasonType::Severity, &alert.severity));
    }
    let matched: Vec<&String> = def
        .addresses
        .iter()
        .filter(|w| alert.addresses.iter().any(|a| a.eq_ignore_ascii_case(w)))
        .collect();
    let checksummed = |a: &String| {
        a.parse::<alloy_primitives::Address>()
            .map(|a| a.to_checksum(None))
            .unwrap_or_else(|_| a.clone())
    };
    let chain_id = def
        .chain_ids()
        .first()
        .copied()
        .unwrap_or(alert.source.block.chain_id);
    let summary = MonitorSummary {
        id: id.to_owned(),
        name: def.name.clone(),
        network: def.network.clone().unwrap_or_default(),
        chain_id,
        addresses: def.addresses.clone(),
        abi: def
            .abi
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .map(Arc::new),
        confirm_blocks: Default::default(),
        address: None,
        severity_level: def.severity_level,
        risk_category: def.risk_category.clone(),
        agents: def.agent_ids.clone(),
    };
    let legacy = MonitorSummary {
        address: def.addresses.first().cloned(),
        ..summary.clone()
    };
    let block = &alert.source.block;
    let timestamp = block
        .timestamp
        .as_deref()
        .or(Some(alert.created_at.as_str()))
        .and_then(|t| iso8601::parse(t).ok())
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .unwrap_or_default();
    MonitorMatch {
        kind: MonitorType::Forta,
        hash: alert.hash.clone(),
        timestamp,
        block_number: if block.number > 0 {
            format!("{:#x}", block.number)
        } else {
            String::new()
        },
        block_hash: block.hash.clone(),
        transaction: Default::default(),
        alert: Some(Box::new(alert)),
        match_reasons: reasons,
        matched_addresses: matched.iter().map(|a| a.to_ascii_lowercase()).collect(),
        matched_checksum_addresses: matched.into_iter().map(checksummed).collect(),
        monitor: Arc::new(summary),
        sentinel: Arc::new(legacy),
        metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> FortaMonitorDefinition {
        serde_json::from_value(serde_json::json!({
            "type": "FORTA", "name": "f", "network": "mainnet", "agentIDs": ["0xBOT"],
            "fortaConditions": { "alertIDs": ["A"], "minimumScannerCount": 2, "severity": 3 },
            "notificationChannels": ["ops"]
        }))
        .unwrap()
    }

    fn alert(hash: &str, created: &str, severity: &str, scanners: u64) -> FortaAlert {
        serde_json::from_value(serde_json::json!({
            "alertId": "A", "hash": hash, "severity": severity, "createdAt": created,
            "scanNodeCount": scanners,
            "source": { "agent": { "id": "0xbot" }, "block": { "chainId": 1, "number": 3 } }
        }))
        .unwrap()
    }

    #[test]
    fn take_checks_every_condition_and_each_alert_once() {
        let start = iso8601::parse("2026-01-01T00:00:00Z")
            .unwrap()
            .timestamp_millis();
        let cursor = Cursor {
            start_ms: start,
            newest_ms: start,
            seen: Vec::new(),
        };
        let alerts = vec![
            alert("0x2", "2026-01-01T00:00:02Z", "HIGH", 2),
            alert("0x1", "2026-01-01T00:00:01Z", "MEDIUM", 3),
            alert("0x1", "2026-01-01T00:00:01Z", "MEDIUM", 3),
            alert("0x3", "2026-01-01T00:00:03Z", "LOW", 3),
            alert("0x4", "2026-01-01T00:00:04Z", "CRITICAL", 1),
            alert("0x0", "2025-12-31T23:59:59Z", "HIGH", 3),
        ];
        let (taken, next) = take(&def(), &cursor, alerts.clone());
        let hashes: Vec<&str> = taken.iter().map(|(a, _)| a.hash.as_str()).collect();
        assert_eq!(hashes, ["0x1", "0x2"]);
        assert_eq!(next.newest_ms, start + 2000);
        // The same answer again takes nothing.
        let (again, _) = take(&def(), &next, alerts);
        assert!(again.is_empty());
        let m = forta_match("m", &def(), taken[0].0.clone());
        let body = serde_json::to_value(&m).unwrap();
        assert_eq!(body["type"], "FORTA");
        assert!(body.get("transaction").is_none());
        assert_eq!(body["matchReasons"][0]["type"], "alert-id");
        assert_eq!(body["matchReasons"][1]["value"], "MEDIUM");
        assert_eq!(body["sentinel"]["agents"][0], "0xBOT");
        assert_eq!(body["alert"]["source"]["agent"]["id"], "0xbot");
        let back: MonitorMatch = serde_json::from_value(body).unwrap();
        assert_eq!(back, m);
    }
}
