//! Round trips of every shape in `wire-formats.md` against fixtures written from Defender's
//! documentation, and the invalid inputs Defender rejected.

use chrono::{TimeZone, Utc};
use defender_core::*;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Deserializes, serializes again, and returns the result for comparison.
fn round_trip<T: Serialize + DeserializeOwned>(v: &Value) -> (T, Value) {
    let typed: T = serde_json::from_value(v.clone()).expect("fixture deserializes");
    let back = serde_json::to_value(&typed).expect("serializes");
    (typed, back)
}

#[test]
fn action_event_round_trips_exactly() {
    let v = fixture("action_event.json");
    let (event, back) = round_trip::<ActionEvent>(&v);
    assert_eq!(back, v);
    assert_eq!(event.action_id, event.autotask_id);
    let prev = event.previous_run.as_ref().unwrap();
    assert_eq!(prev.trigger, Trigger::Webhook);
    assert_eq!(prev.status, RunStatus::Error);
    let req = event.request.as_ref().unwrap();
    assert_eq!(req.body.as_ref().unwrap()["value"], "42");
    assert_eq!(req.query_parameters.as_ref().unwrap()["source"], "ci");
    assert_eq!(event.relayer_arn.as_deref(), Some("relayer:local:main"));
}

#[test]
fn legacy_action_event_gains_current_names() {
    let (event, back) = round_trip::<ActionEvent>(&fixture("action_event_legacy.json"));
    assert_eq!(event.action_id, "a-1");
    assert_eq!(back["actionName"], "legacy task");
    assert_eq!(back["actionRunId"], "run-1");
    assert_eq!(back["autotaskRunId"], "run-1");
    // The legacy trigger name is read and written under its current name.
    assert_eq!(back["previousRun"]["trigger"], "monitor");
    assert_eq!(back["previousRun"]["createdAt"], "2022-01-01T00:00:00.000Z");
    // Absent optional fields stay absent.
    assert!(back.get("secrets").is_none() && back.get("request").is_none());
}

#[test]
fn new_event_writes_both_names() {
    let json = serde_json::to_value(ActionEvent::new("id", "name", "run")).unwrap();
    assert_eq!(
        json,
        json!({"actionId":"id","actionName":"name","actionRunId":"run",
               "autotaskId":"id","autotaskName":"name","autotaskRunId":"run"})
    );
}

#[test]
fn triggers_statuses_and_error_types_use_defender_names() {
    let cases = [
        (Trigger::Schedule, "schedule"),
        (Trigger::Webhook, "webhook"),
        (Trigger::Monitor, "monitor"),
        (Trigger::MonitorFilter, "monitor-filter"),
        (Trigger::Manual, "manual"),
        (Trigger::ManualApi, "manual-api"),
    ];
    for (t, name) in cases {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<Trigger>(json!(name)).unwrap(), t);
    }
    assert_eq!(
        serde_json::from_value::<Trigger>(json!("sentinel")).unwrap(),
        Trigger::Monitor
    );
    assert!(serde_json::from_value::<Trigger>(json!("cron")).is_err());
    for (s, name) in [
        (RunStatus::Pending, "pending"),
        (RunStatus::Throttled, "throttled"),
        (RunStatus::Error, "error"),
        (RunStatus::Success, "success"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(name));
    }
    for (e, name) in [
        (ErrorType::Timeout, "TIMEOUT"),
        (ErrorType::InsufficientFunds, "INSUFFICIENT_FUNDS"),
        (ErrorType::RelayerConfiguration, "RELAYER_CONFIGURATION"),
        (ErrorType::Internal, "INTERNAL"),
        (ErrorType::Program, "PROGRAM"),
    ] {
        assert_eq!(serde_json::to_value(e).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<ErrorType>(json!(name)).unwrap(), e);
    }
    assert!(serde_json::from_value::<ErrorType>(json!("timeout")).is_err());
}

#[test]
fn webhook_response_round_trips_and_comes_from_run_records() {
    let v = fixture("webhook_response.json");
    let (resp, back) = round_trip::<WebhookResponse>(&v);
    assert_eq!(back, v);
    assert_eq!(resp.status, RunStatus::Success);

    let record = RunRecord {
        action_run_id: "r".into(),
        action_id: "a".into(),
        trigger: Trigger::Webhook,
        status: RunStatus::Pending,
        created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        finished_at: None,
        result: None,
        message: None,
        error_type: None,
        encoded_logs: String::new(),
        request_id: Some("req".into()),
    };
    let pending = serde_json::to_value(record.to_webhook_response()).unwrap();
    assert_eq!(
        pending,
        json!({"autotaskRunId":"r","autotaskId":"a","trigger":"webhook","status":"pending",
               "createdAt":"2026-01-02T03:04:05.000Z","requestId":"req"})
    );
}

#[test]
fn logs_encode_as_base64_lines() {
    let logs = vec![
        LogEntry {
            level: LogLevel::Info,
            timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            message: "hello".into(),
        },
        LogEntry {
            level: LogLevel::Error,
            timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap(),
            message: "boom".into(),
        },
    ];
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encode_logs(&logs))
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "2026-01-01T00:00:00.000Z\tINFO\thello\n2026-01-01T00:00:01.000Z\tERROR\tboom\n"
    );
}

#[test]
fn monitor_match_round_trips_exactly() {
    let v = fixture("monitor_match.json");
    let (m, back) = round_trip::<MonitorMatch>(&v);
    assert_eq!(back, v);
    assert_eq!(m.monitor, m.sentinel);
    assert_eq!(m.match_reasons[0].kind, MatchReasonType::Event);
    assert_eq!(m.match_reasons[0].params["value"], "2000000000000000000");
    assert_eq!(m.match_reasons[1].kind, MatchReasonType::Transaction);
    assert_eq!(m.transaction.logs[0].topics.len(), 3);
    assert_eq!(m.monitor.confirm_blocks, ConfirmLevel::Blocks(0));
}

#[test]
fn monitor_match_accepts_either_monitor_name() {
    let mut v = fixture("monitor_match.json");
    let obj = v.as_object_mut().unwrap();
    let summary = obj.remove("monitor").unwrap();
    let (m, back) = round_trip::<MonitorMatch>(&v);
    assert_eq!(back["monitor"], summary);
    assert_eq!(m.monitor, m.sentinel);

    let obj = v.as_object_mut().unwrap();
    obj.remove("sentinel");
    let err = serde_json::from_value::<MonitorMatch>(v).unwrap_err();
    assert!(err.to_string().contains("monitor"), "{err}");
}

#[test]
fn match_reason_types_use_defender_names() {
    for (t, name) in [
        (MatchReasonType::Event, "event"),
        (MatchReasonType::Function, "function"),
        (MatchReasonType::Transaction, "transaction"),
        (MatchReasonType::InternalFunction, "internal-function"),
    ] {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(name));
    }
}

#[test]
fn monitor_definition_round_trips_exactly() {
    let v = fixture("monitor_definition.json");
    let (def, back) = round_trip::<MonitorDefinition>(&v);
    assert_eq!(back, v);
    assert_eq!(def.confirm_level, Some(ConfirmLevel::Blocks(12)));
    assert_eq!(
        def.alert_threshold,
        Some(AlertThreshold {
            amount: 2,
            window_seconds: 3600
        })
    );
    assert_eq!(def.severity_level, Some(Severity::High));
    def.validate().unwrap();
}

#[test]
fn legacy_monitor_definition_is_accepted() {
    let (def, back) = round_trip::<MonitorDefinition>(&fixture("monitor_definition_legacy.json"));
    assert_eq!(def.action_trigger.as_deref(), Some("legacy-task-id"));
    assert_eq!(def.action_condition.as_deref(), Some("legacy-filter-id"));
    assert_eq!(def.confirm_level, Some(ConfirmLevel::Safe));
    assert_eq!(back["actionTrigger"], "legacy-task-id");
    // An ABI given as an array is kept as Defender's JSON string.
    let abi: Value = serde_json::from_str(def.abi.as_deref().unwrap()).unwrap();
    assert_eq!(abi[0]["name"], "greet");
    assert!(!def.paused);
    def.validate().unwrap();
}

#[test]
fn confirm_levels() {
    for (json, want) in [
        (json!(0), ConfirmLevel::Blocks(0)),
        (json!(12), ConfirmLevel::Blocks(12)),
        (json!("safe"), ConfirmLevel::Safe),
        (json!("finalized"), ConfirmLevel::Finalized),
        (json!("3"), ConfirmLevel::Blocks(3)),
    ] {
        assert_eq!(serde_json::from_value::<ConfirmLevel>(json).unwrap(), want);
    }
    for bad in [json!("soon"), json!(-1), json!(true), json!(1.5)] {
        let err = serde_json::from_value::<ConfirmLevel>(bad.clone());
        assert!(err.is_err(), "{bad}");
    }
    let err = serde_json::from_value::<ConfirmLevel>(json!("soon")).unwrap_err();
    assert!(err.to_string().contains("unknown confirm level"), "{err}");
    assert_eq!(
        serde_json::to_value(ConfirmLevel::Safe).unwrap(),
        json!("safe")
    );
    assert_eq!(
        serde_json::to_value(ConfirmLevel::Blocks(5)).unwrap(),
        json!(5)
    );
}

#[test]
fn invalid_monitor_definitions_report_every_problem() {
    let mut def: MonitorDefinition =
        serde_json::from_value(fixture("monitor_definition.json")).unwrap();
    def.name = " ".into();
    def.addresses = vec!["0x1234".into()];
    def.abi = Some("[not json".into());
    def.alert_threshold = Some(AlertThreshold {
        amount: 0,
        window_seconds: 10,
    });
    def.notification_channels.clear();
    def.action_trigger = None;
    def.action_condition = None;
    let errors = def.validate().unwrap_err();
    assert!(errors.contains(&DefinitionError::MissingName));
    assert!(errors.contains(&DefinitionError::InvalidAddress("0x1234".into())));
    assert!(errors
        .iter()
        .any(|e| matches!(e, DefinitionError::InvalidAbi(_))));
    assert!(errors.contains(&DefinitionError::InvalidThreshold));
    assert!(errors.contains(&DefinitionError::NothingToDo));

    def.addresses.clear();
    assert!(def
        .validate()
        .unwrap_err()
        .contains(&DefinitionError::NoAddresses));

    // Shapes Defender rejects at parse time.
    for bad in [
        json!({"type":"FORTA","name":"x","network":"mainnet","addresses":[]}),
        json!({"name":"x","network":"mainnet","addresses":"0xabc"}),
        json!({"name":"x","network":"mainnet","addresses":[],"confirmLevel":"later"}),
        json!({"name":"x","network":"mainnet","addresses":[],"abi":42}),
        json!({"name":"x","network":"mainnet","addresses":[],"severityLevel":"CRITICAL"}),
    ] {
        assert!(
            serde_json::from_value::<MonitorDefinition>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn custom_filter_request_and_response() {
    let m: MonitorMatch = serde_json::from_value(fixture("monitor_match.json")).unwrap();
    let req = MonitorFilterRequest {
        events: vec![m.clone()],
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(v["events"][0]["sentinel"]["name"], "Large transfers");

    let kept = MonitorFilterResponse::from_result(
        &json!({"matches":[{"hash": m.hash, "metadata": {"score": 9}}]}),
    );
    assert_eq!(kept.matches.len(), 1);
    assert_eq!(kept.matches[0].metadata, Some(json!({"score": 9})));
    // An empty object, an error string or garbage mean "no match".
    for none in [
        json!({}),
        json!("error"),
        json!(null),
        json!({"matches": 3}),
    ] {
        assert!(MonitorFilterResponse::from_result(&none).matches.is_empty());
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

#[test]
fn tx_request_round_trips_and_validates() {
    let v = fixture("tx_request.json");
    let (req, back) = round_trip::<TxRequest>(&v);
    // Numbers are written back as decimal strings, which every big-number library reads.
    assert_eq!(back["value"], "100");
    assert_eq!(back["gasLimit"], "21000");
    assert_eq!(back["to"], v["to"]);
    let ok = req.validate(now()).unwrap();
    assert_eq!(ok.pricing, PricingStyle::Speed(Speed::Fast));
    assert_eq!(ok.gas_limit, Some(21000));
    assert_eq!(ok.data.as_ref(), &[0x5c, 0x19, 0xa9, 0x5c]);
    assert_eq!(ok.valid_until.to_rfc3339(), "2099-01-01T00:00:00+00:00");
}

#[test]
fn tx_request_defaults() {
    let req: TxRequest =
        serde_json::from_value(json!({"to":"0xc7464dbcA260A8faF033460622B23467Df5AEA42"})).unwrap();
    let ok = req.validate(now()).unwrap();
    assert_eq!(
        ok.pricing,
        PricingStyle::Speed(Speed::Fast),
        "no pricing means fast"
    );
    assert_eq!(ok.valid_until, now() + DEFAULT_VALID_FOR);
    assert_eq!(ok.gas_limit, None);
    assert!(ok.value.is_zero());

    let deploy: TxRequest = serde_json::from_value(json!({"data":"0x6080"})).unwrap();
    assert_eq!(deploy.validate(now()).unwrap().to, None);

    let legacy: TxRequest = serde_json::from_value(
        json!({"to":"0xc7464dbcA260A8faF033460622B23467Df5AEA42","gasPrice":"0x3b9aca00"}),
    )
    .unwrap();
    assert_eq!(
        legacy.validate(now()).unwrap().pricing,
        PricingStyle::GasPrice(1_000_000_000)
    );

    let eip: TxRequest = serde_json::from_value(json!({"to":"0xc7464dbcA260A8faF033460622B23467Df5AEA42","maxFeePerGas":20,"maxPriorityFeePerGas":20})).unwrap();
    assert_eq!(
        eip.validate(now()).unwrap().pricing,
        PricingStyle::Eip1559 {
            max_fee_per_gas: 20,
            max_priority_fee_per_gas: 20
        }
    );
}

#[test]
fn tx_request_rejections() {
    let to = "0xc7464dbcA260A8faF033460622B23467Df5AEA42";
    let cases: Vec<(Value, TxValidationError)> = vec![
        (json!({}), TxValidationError::MissingToAndData),
        (json!({"data":"0x"}), TxValidationError::MissingToAndData),
        (
            json!({"to":to,"speed":"fast","gasPrice":1}),
            TxValidationError::MultiplePricingStyles,
        ),
        (
            json!({"to":to,"speed":"fast","maxFeePerGas":2,"maxPriorityFeePerGas":1}),
            TxValidationError::MultiplePricingStyles,
        ),
        (
            json!({"to":to,"gasPrice":1,"maxFeePerGas":2,"maxPriorityFeePerGas":1}),
            TxValidationError::MultiplePricingStyles,
        ),
        (
            json!({"to":to,"maxFeePerGas":2}),
            TxValidationError::IncompleteEip1559,
        ),
        (
            json!({"to":to,"maxPriorityFeePerGas":2}),
            TxValidationError::IncompleteEip1559,
        ),
        (
            json!({"to":to,"maxFeePerGas":1,"maxPriorityFeePerGas":2}),
            TxValidationError::MaxFeeBelowPriorityFee {
                max_fee_per_gas: 1,
                max_priority_fee_per_gas: 2,
            },
        ),
        (
            json!({"to":to,"validUntil":"2020-01-01T00:00:00Z"}),
            TxValidationError::ValidUntilInPast("2020-01-01T00:00:00Z".into()),
        ),
        (
            json!({"to":to,"validUntil":"2026-11-23T12:00:00.000Z"}),
            TxValidationError::ValidUntilInPast("2026-11-23T12:00:00.000Z".into()),
        ),
        (
            json!({"to":to,"validUntil":"tomorrow"}),
            TxValidationError::InvalidValidUntil("tomorrow".into()),
        ),
        (
            json!({"to":"0x1234"}),
            TxValidationError::InvalidAddress("0x1234".into()),
        ),
        (json!({"to":to,"data":"zz"}), TxValidationError::InvalidData),
        (
            json!({"to":to,"data":"0xzz"}),
            TxValidationError::InvalidData,
        ),
        (
            json!({"to":to,"gasLimit":20999}),
            TxValidationError::GasLimitTooLow(20999),
        ),
        (
            json!({"to":to,"gasPrice":format!("0x1{}", "0".repeat(40))}),
            TxValidationError::TooLarge { field: "gasPrice" },
        ),
    ];
    for (req, want) in cases {
        let parsed: TxRequest = serde_json::from_value(req.clone()).unwrap();
        assert_eq!(parsed.validate(now()), Err(want), "{req}");
    }
    // Shapes that do not even parse.
    for bad in [
        json!({"to":to,"speed":"ludicrous"}),
        json!({"to":to,"value":-1}),
        json!({"to":to,"value":"1.5"}),
        json!({"to":to,"gasLimit":"lots"}),
    ] {
        assert!(
            serde_json::from_value::<TxRequest>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn relayer_transaction_round_trips_exactly() {
    let v = fixture("relayer_transaction.json");
    let (tx, back) = round_trip::<RelayerTransaction>(&v);
    assert_eq!(back, v);
    assert_eq!(tx.status, TxStatus::Mined);
    assert_eq!(tx.speed, Some(Speed::Fast));
    assert!(!tx.status.is_in_flight() && !tx.status.is_final());
}

#[test]
fn statuses_and_speeds_use_defender_names() {
    for (s, name) in [
        (TxStatus::Pending, "pending"),
        (TxStatus::Sent, "sent"),
        (TxStatus::Submitted, "submitted"),
        (TxStatus::Inmempool, "inmempool"),
        (TxStatus::Mined, "mined"),
        (TxStatus::Confirmed, "confirmed"),
        (TxStatus::Failed, "failed"),
        (TxStatus::Expired, "expired"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<TxStatus>(json!(name)).unwrap(), s);
    }
    for (s, name) in [
        (Speed::SafeLow, "safeLow"),
        (Speed::Average, "average"),
        (Speed::Fast, "fast"),
        (Speed::Fastest, "fastest"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<Speed>(json!(name)).unwrap(), s);
    }
}

#[test]
fn relayer_queries_and_signatures() {
    let q: ListTransactionsQuery = serde_json::from_value(
        json!({"status":"pending","since":"2026-01-01T00:00:00Z","limit":5}),
    )
    .unwrap();
    assert_eq!(q.status, Some(TxStatus::Pending));
    assert_eq!(q.limit, Some(5));
    assert_eq!(
        serde_json::to_value(&q).unwrap()["since"],
        "2026-01-01T00:00:00.000Z"
    );
    let typed: SignTypedDataPayload =
        serde_json::from_value(json!({"domainSeparator":"0x01","hashStructMessage":"0x02"}))
            .unwrap();
    assert_eq!(typed.hash_struct_message, "0x02");
    let sig = SignedMessage {
        sig: "0xaa".into(),
        r: "0xbb".into(),
        s: "0xcc".into(),
        v: 27,
    };
    assert_eq!(
        serde_json::to_value(&sig).unwrap(),
        json!({"sig":"0xaa","r":"0xbb","s":"0xcc","v":27})
    );
    let status = RelayerStatus {
        relayer_id: "main".into(),
        address: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".into(),
        nonce: 3,
        balance: Quantity::from(10u64),
        number_of_pending_transactions: 1,
        paused: false,
    };
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        json!({"relayerId":"main","address":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
               "nonce":3,"balance":"10","numberOfPendingTransactions":1,"paused":false})
    );
}

#[test]
fn notifications_and_metrics() {
    let n: NotificationRequest = serde_json::from_value(json!({
        "channelAlias": "example-email-notification-channel-alias",
        "subject": "Action notification example",
        "message": "<h1>hi</h1>"
    }))
    .unwrap();
    assert_eq!(n.channel_alias, "example-email-notification-channel-alias");
    assert_eq!(serde_json::to_value(&n).unwrap()["message"], "<h1>hi</h1>");
    let m: MetricRequest = serde_json::from_value(json!({
        "channelAlias": "dd", "name": "datadog-test-metric", "value": 1
    }))
    .unwrap();
    assert_eq!(m.value, 1.0);
    assert!(
        serde_json::from_value::<MetricRequest>(json!({"channelAlias":"dd","name":"x"})).is_err()
    );
    assert!(
        serde_json::from_value::<NotificationRequest>(json!({"subject":"x","message":"y"}))
            .is_err()
    );
}
