//! Loading the example projects (`tests/projects`) in both formats and Defender's exported JSON
//! into the SDK's types. `validate.rs` holds the loader's rules on small written projects.

mod support;

use defender_core::CodeSource;
use defender_core::{
    AlertThreshold, ConfirmLevel, EventCondition, MonitorDefinition, MonitorType, Severity,
};
use defender_engine::{ActionTrigger, Schedule};
use defender_host::{validate, MonitorLink, ProjectFormat};
use defender_notify::channels::slack::SlackConfig;
use defender_notify::ChannelConfig;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{env_map, lines, project};

fn dac_env() -> BTreeMap<String, String> {
    env_map(&[
        ("DEFENDER_HOST_API_KEY", "management-key"),
        (
            "RELAYER_1_KEY",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        ),
        ("HOOK_TOKEN", "0123456789abcdef-token"),
        ("DEFENDER_SECRET_from-host", "from the environment"),
    ])
}

#[test]
fn defender_as_code_project_loads_into_the_sdk_types() {
    let p =
        validate(&project("dac"), None, &dac_env()).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    assert_eq!(p.format, ProjectFormat::DefenderAsCode);
    assert_eq!(p.stage, "dev");
    assert_eq!(p.stack_name, "mystack");

    // Actions: schedules, webhook, links, code, relayer, environment variables.
    let a1 = &p.actions["action-example-1"];
    assert_eq!(a1.spec.id, "action-example-1");
    assert_eq!(a1.spec.name, "Hello world from serverless");
    assert_eq!(
        a1.spec.triggers,
        [ActionTrigger::Schedule(Schedule::Interval(
            Duration::from_secs(1500 * 60)
        ))]
    );
    assert_eq!(a1.spec.relayer_id.as_deref(), Some("relayer-1"));
    assert!(!a1.spec.paused);
    assert_eq!(
        a1.environment_variables,
        BTreeMap::from([
            ("GREETING".to_string(), "hello from dev".to_string()),
            ("STAGE".to_string(), "dev".to_string())
        ])
    );
    let CodeSource::Bundle(files) = &a1.spec.code else {
        panic!("a folder is a bundle")
    };
    assert!(files["index.js"].starts_with(b"exports.handler"));
    let a2 = &p.actions["action-example-2"];
    assert_eq!(
        a2.spec.triggers,
        [ActionTrigger::Schedule(Schedule::Cron(
            "0 */12 * * *".into()
        ))]
    );
    assert!(a2.spec.paused);
    assert_eq!(a2.risk_category.as_deref(), Some("TECHNICAL"));
    assert!(a2.environment_variables.is_empty());
    let hook = &p.actions["action-example-3"];
    assert_eq!(hook.spec.triggers, [ActionTrigger::Webhook]);
    assert_eq!(
        hook.webhook_token.as_deref(),
        Some("0123456789abcdef-token")
    );
    assert_eq!(p.actions["linked"].monitor_link, MonitorLink::Sentinel);
    assert!(
        matches!(&p.actions["linked"].spec.code, CodeSource::Script(s) if s.contains("process.env.GREETING"))
    );
    let filter = &p.actions["filter"];
    assert_eq!(filter.monitor_link, MonitorLink::MonitorFilter);
    let CodeSource::Bundle(files) = &filter.spec.code else {
        panic!("bundle")
    };
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["index.js", "lib/keep.js"]
    );

    // Secrets: global by name, stack ones prefixed with the stack name, declared-only from env.
    assert_eq!(
        p.secrets,
        BTreeMap::from([
            ("foo".to_string(), Some("bar".to_string())),
            (
                "from-host".to_string(),
                Some("from the environment".to_string())
            ),
            ("hello".to_string(), Some("world".to_string())),
            ("mystack_test".to_string(), Some("test-default".to_string())),
        ])
    );

    // Relayers, groups, policies, contracts, networks.
    let policy = &p.policies["policy-1"];
    assert_eq!(policy.gas_price_cap, Some(1000));
    assert_eq!(
        policy.whitelist_receivers,
        ["0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2"]
    );
    assert_eq!(policy.eip1559_pricing, Some(true));
    assert_eq!(p.relayers["relayer-1"].policy.as_deref(), Some("policy-1"));
    assert_eq!(p.relayers["relayer-1"].min_balance, 1000);
    assert_eq!(p.relayers["relayer-1"].api_keys, ["key1"]);
    assert_eq!(
        p.relayers["relayer-2"].address_from_relayer.as_deref(),
        Some("relayer-1")
    );
    assert_eq!(p.relayer_groups["group-1"].relayers, 2);
    assert_eq!(
        p.relayer_groups["group-1"].policy.as_deref(),
        Some("policy-1")
    );
    assert_eq!(
        p.contracts["contract-1"].address,
        "0xA91382E82fB676d4c935E601305E5253b3829dCD"
    );
    assert!(p.contracts["contract-1"]
        .abi
        .as_deref()
        .is_some_and(|a| a.contains("Transfer")));
    assert_eq!(
        p.forked_networks["fork-1"].forked_from.as_deref(),
        Some("sepolia")
    );
    assert_eq!(
        p.private_networks["private-1"].symbol.as_deref(),
        Some("PRV")
    );
    assert_eq!(p.networks(), ["local-fork", "sepolia"]);

    // Channels, in defender-notify's types, aliased by resource key.
    assert_eq!(p.notifications.len(), 8);
    let slack = &p.notifications["slack-1"];
    assert_eq!(slack.name, "Workspace Slack");
    assert_eq!(slack.definition.name, "slack-1");
    assert_eq!(
        slack.definition.channel,
        ChannelConfig::Slack(SlackConfig {
            url: "https://hooks.example.com/services/T000/B000/XXXX".into(),
            retry: Default::default()
        })
    );
    assert!(p.notifications["datadog-1"].definition.paused);
    let ChannelConfig::Email(email) = &p.notifications["email-1"].definition.channel else {
        panic!("email")
    };
    assert_eq!(email.emails, ["cto@example.com"]);
    assert_eq!((email.host.as_str(), email.port), ("127.0.0.1", Some(2525)));
    assert!(matches!(
        p.notifications["pagerduty-1"].definition.channel,
        ChannelConfig::PagerDuty(_)
    ));
    assert!(matches!(
        p.notifications["opsgenie-1"].definition.channel,
        ChannelConfig::Opsgenie(_)
    ));
    assert!(matches!(
        p.notifications["telegram-1"].definition.channel,
        ChannelConfig::Telegram(_)
    ));
    assert!(matches!(
        p.notifications["discord-1"].definition.channel,
        ChannelConfig::Discord(_)
    ));

    // Monitors, in the SDK's MonitorDefinition.
    let m = &p.monitors["block-example"];
    let abi = p.contracts["contract-1"].abi.clone();
    assert_eq!(
        m.definition,
        MonitorDefinition {
            kind: MonitorType::Block,
            name: "Block Example".into(),
            network: "sepolia".into(),
            addresses: vec![
                "0xA91382E82fB676d4c935E601305E5253b3829dCD".into(),
                "0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2".into()
            ],
            abi,
            paused: false,
            confirm_level: Some(ConfirmLevel::Safe),
            event_conditions: vec![EventCondition {
                event_signature: "Transfer(address,address,uint256)".into(),
                expression: Some("value > 1000".into())
            }],
            function_conditions: vec![],
            tx_condition: Some("gasPrice > 0".into()),
            alert_threshold: Some(AlertThreshold {
                amount: 2,
                window_seconds: 3600
            }),
            alert_timeout_ms: Some(60000),
            notification_channels: vec!["webhook-1".into(), "email-1".into(), "slack-1".into()],
            alert_message_subject: Some("Big transfer".into()),
            alert_message_body: Some("Transfer of {{ matchReasons.[0].params.value }}".into()),
            severity_level: Some(Severity::High),
            risk_category: Some("TECHNICAL".into()),
            action_trigger: Some("linked".into()),
            action_condition: Some("filter".into()),
            workflow_trigger: None,
        }
    );
    assert!(m.skip_abi_validation);
    assert_eq!(m.contracts, ["contract-1"]);
    // `signature: ""` selects nothing, as in OpenZeppelin's templates.
    let empty = &p.monitors["empty-signatures"].definition;
    assert!(empty.event_conditions.is_empty() && empty.function_conditions.is_empty());
    assert_eq!(empty.confirm_level, Some(ConfirmLevel::Blocks(1)));

    // The host config.
    assert_eq!(
        p.host.networks["sepolia"].rpc,
        ["http://127.0.0.1:8545", "http://127.0.0.1:8547"]
    );
    assert_eq!(
        p.host.api_key.as_ref().map(|k| k.expose()),
        Some("management-key")
    );
    assert_eq!(format!("{:?}", p.host.api_key), "Some(Secret(***))");
    assert_eq!(p.host.listen, Some("127.0.0.1:8080".parse().unwrap()));
}

#[test]
fn the_stage_selects_the_files_and_values() {
    let mut e = dac_env();
    e.insert("TEST_SECRET".into(), "ignored in prod".into());
    let p =
        validate(&project("dac"), Some("prod"), &e).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    assert_eq!(p.stage, "prod");
    assert_eq!(
        p.actions["action-example-1"].environment_variables["GREETING"],
        "hello from prod"
    );
    assert_eq!(
        p.actions["action-example-1"].environment_variables["STAGE"],
        "prod"
    );
    assert_eq!(p.secrets["mystack_test"].as_deref(), Some("prod-test"));
    // `${env:NAME, 'default'}` reads the environment when it is set.
    let p = validate(&project("dac"), None, &e).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    assert_eq!(
        p.secrets["mystack_test"].as_deref(),
        Some("ignored in prod")
    );
}

#[test]
fn legacy_defender_serverless_project_loads() {
    let e = env_map(&[("RELAYER_1_PASSWORD", "pw")]);
    let p = validate(&project("legacy"), None, &e).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    assert_eq!(p.format, ProjectFormat::LegacyServerless);
    // No stackName: `<service>-<stage>`, as defender-as-code computed it.
    assert_eq!(p.stack_name, "defender-serverless-test-project-dev");
    assert_eq!(
        p.secrets,
        BTreeMap::from([
            (
                "defender-serverless-test-project-dev_test".to_string(),
                Some("legacy-test".to_string())
            ),
            ("foo".to_string(), Some("legacy-foo".to_string())),
        ])
    );
    assert_eq!(p.actions.len(), 3);
    assert_eq!(
        p.actions["autotask-example-1"].spec.triggers,
        [ActionTrigger::Webhook]
    );
    assert_eq!(
        p.actions["autotask-example-1"].spec.relayer_id.as_deref(),
        Some("relayer-1")
    );
    assert_eq!(
        p.actions["autotask-example-2"].spec.triggers,
        [ActionTrigger::Schedule(Schedule::Interval(
            Duration::from_secs(5 * 3600)
        ))]
    );
    let m = &p.monitors["block-example"].definition;
    assert_eq!(m.action_condition.as_deref(), Some("autotask-condition"));
    assert_eq!(m.action_trigger.as_deref(), Some("autotask-example-1"));
    assert_eq!(m.confirm_level, Some(ConfirmLevel::Blocks(6)));
    assert_eq!(m.notification_channels, ["email-1"]);
    assert_eq!(
        m.function_conditions[0].function_signature,
        "renounceOwnership()"
    );
    assert_eq!(m.function_conditions[0].expression, None);
    assert_eq!(m.alert_timeout_ms, Some(0));
    assert_eq!(m.alert_message_body, None);
    assert_eq!(p.relayers["relayer-1"].policy.as_deref(), Some("policy-1"));
    assert!(matches!(
        &p.host.relayers["relayer-1"],
        defender_host::config::RelayerKey::Keystore { .. }
    ));
}

#[test]
fn defenders_exported_json_imports_with_ids_mapped_to_keys() {
    let dir = project("export");
    let text = std::fs::read_to_string(dir.join("defender-export.json")).unwrap();
    let p =
        defender_host::import_export(&text, &dir).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    assert_eq!(p.format, ProjectFormat::DefenderExport);
    let m = &p.monitors["large-transfers"].definition;
    assert_eq!(m.addresses, ["0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2"]);
    assert_eq!(m.confirm_level, Some(ConfirmLevel::Safe));
    assert_eq!(m.event_conditions.len(), 1);
    assert!(
        m.function_conditions.is_empty(),
        "the empty signature selects nothing"
    );
    assert_eq!(m.tx_condition, None);
    assert_eq!(m.notification_channels, ["ops-sink"]);
    assert_eq!(m.action_condition.as_deref(), Some("filter"));
    assert_eq!(m.action_trigger.as_deref(), Some("on-match"));
    assert_eq!(m.alert_message_body.as_deref(), Some("Transfer!"));
    assert_eq!(
        m.alert_threshold,
        Some(AlertThreshold {
            amount: 1,
            window_seconds: 60
        })
    );
    assert_eq!(m.risk_category.as_deref(), Some("FINANCIAL"));
    assert_eq!(p.actions["filter"].monitor_link, MonitorLink::MonitorFilter);
    let on_match = &p.actions["on-match"];
    assert_eq!(
        on_match.spec.triggers,
        [ActionTrigger::Schedule(Schedule::Interval(
            Duration::from_secs(300)
        ))]
    );
    let CodeSource::Bundle(files) = &on_match.spec.code else {
        panic!("zipped code is a bundle")
    };
    assert_eq!(
        &files["index.js"][..],
        b"exports.handler = async () => \"zipped\";"
    );
    assert_eq!(p.notifications["ops-sink"].name, "Ops sink");

    // Through `validate`, the config's checks apply: no RPC URL for sepolia.
    let problems = validate(&dir, None, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        lines(&problems),
        ["defender-host.yml:0: networks.sepolia.rpc: network `sepolia` (used by monitor `large-transfers`) has no RPC URL: add `networks.sepolia.rpc` to defender-host.yml"]
    );
}
