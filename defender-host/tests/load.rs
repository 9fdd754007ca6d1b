//! Loading projects in both formats, Defender's exported JSON, and the exact problems of
//! invalid projects.

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
use support::{env_map, lines, project, write_files};

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

const CONFIG: &str = "networks:\n  sepolia: { rpc: http://127.0.0.1:8545 }\n";

#[test]
fn invalid_project_reports_every_problem_with_path_and_line() {
    let dir = write_files(&[
        ("defender-host.yml", CONFIG),
        ("code/index.js", "exports.handler = async () => 1;"),
        (
            "serverless.yml",
            r#"service: broken
provider:
  name: defender
  stage: dev
  stackName: s
resources:
  actions:
    a1:
      name: A1
      path: ./code
      trigger: { type: schedule, cron: 'not a cron' }
      paused: false
      relayer: ${self:resources.relayers.nope}
      timeout: 30
    a2:
      name: A2
      path: ./missing
      trigger: { type: cron }
      paused: false
  monitors:
    m1:
      name: M1
      type: BLOCK
      network: sepolia
      addresses: ['0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2', '0xnot']
      confirm-level: soon
      notify-config:
        channels: [ghost]
        category: ${self:resources.categories.c1}
      conditions:
        event:
          - signature: 'Transfer(address,address,uint256)'
            expression: 'value >'
          - signature: ''
            expression: 'value > 1'
        function:
          - signature: 'transfer(address'
      action-trigger: a9
    forta:
      name: F
      type: FORTA
      notify-config: { channels: [] }
  categories:
    c1: { name: High }
  workflows: {}
"#,
        ),
    ]);
    let problems = validate(dir.path(), None, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        lines(&problems),
        [
            "serverless.yml:13: resources.actions.a1.relayer: `${self:resources.relayers.nope}`: no value at `resources.relayers.nope`",
            "serverless.yml:11: resources.actions.a1.trigger.cron: invalid cron expression `not a cron`: Invalid pattern: Pattern must have between 5 and 7 fields.",
            "serverless.yml:14: resources.actions.a1.timeout: unknown key `timeout`",
            "serverless.yml:18: resources.actions.a2.trigger.type: unknown trigger type `cron`: expected schedule, webhook, sentinel or monitor-filter",
            "serverless.yml:17: resources.actions.a2.path: `./missing` does not exist",
            "serverless.yml:25: resources.monitors.m1.addresses[1]: `0xnot` is not an address (0x and 40 hex digits)",
            "serverless.yml:38: resources.monitors.m1.action-trigger: unknown action `a9`: the project defines a1, a2",
            "serverless.yml:26: resources.monitors.m1.confirm-level: `soon` is not a confirmation level: expected a number of blocks, \"safe\" or \"finalized\"",
            "serverless.yml:28: resources.monitors.m1.notify-config.channels[0]: unknown notification channel `ghost`: the project defines none",
            "serverless.yml:29: resources.monitors.m1.notify-config.category: `category` is not supported yet: notification categories are not supported yet: list the channels in `channels`",
            "serverless.yml:34: resources.monitors.m1.conditions.event[1].signature: a condition's `expression` needs a `signature`",
            "serverless.yml:22: resources.monitors.m1: no notification channel, action trigger or action condition: the monitor would do nothing",
            "serverless.yml:33: resources.monitors.m1.conditions.event[0].expression: condition `value >` is invalid: expected a value, found end of input at 7..7 (``)",
            "serverless.yml:37: resources.monitors.m1.conditions.function[0].signature: `transfer(address` is not a valid signature: parser error:\ntransfer(address\n                ^\nexpected `)`",
            "serverless.yml:40: resources.monitors.forta: a Forta monitor needs bot ids (`agent-ids`) or alert ids",
            "serverless.yml:40: resources.monitors.forta: no notification channel, action trigger or action condition: the monitor would do nothing",
            "serverless.yml:43: resources.categories: `categories` is not supported yet: notification categories are not supported yet: list channels in each monitor's `notify-config.channels`",
        ]
    );
}

#[test]
fn file_variables_cannot_leave_the_project() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.yml"), "key: stolen\n").unwrap();
    let dir = write_files(&[(
        "serverless.yml",
        "service: s\nprovider: { name: defender, stackName: s }\ncustom:\n  a: ${file(../../etc/passwd)}\n  b: ${file(/etc/passwd)}\nresources: {}\n",
    )]);
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.yml"),
        dir.path().join("link.yml"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        let text = std::fs::read_to_string(dir.path().join("serverless.yml")).unwrap();
        std::fs::write(
            dir.path().join("serverless.yml"),
            text.replace(
                "resources: {}",
                "  c: ${file(./link.yml):key}\nresources: {}",
            ),
        )
        .unwrap();
    }
    let problems = validate(dir.path(), None, &BTreeMap::new()).unwrap_err();
    let mut expected = vec![
        "serverless.yml:4: custom.a: `../../etc/passwd` leaves the project directory (`..` is refused)".to_string(),
        "serverless.yml:5: custom.b: `/etc/passwd`: absolute paths are refused; name a file inside the project directory".to_string(),
    ];
    if cfg!(unix) {
        expected.push("serverless.yml:6: custom.c: `./link.yml` leads outside the project directory (through a link)".to_string());
    }
    assert_eq!(lines(&problems), expected);
}

#[test]
fn variables_cycles_unknown_sources_and_missing_values_are_problems() {
    let dir = write_files(&[
        ("defender-host.yml", CONFIG),
        (
            "values.yml",
            "nested:\n  url: http://${self:custom.host}/x\n",
        ),
        (
            "serverless.yml",
            r#"service: s
provider: { name: defender, stackName: s }
custom:
  a: ${self:custom.b}
  b: ${self:custom.a}
  ssm: ${ssm:/path/to/param}
  env: ${env:NOT_SET}
  fallback: ${env:NOT_SET, ${self:custom.host}}
  host: example.com
  from-file: ${file(./values.yml):nested.url}
  missing-key: ${file(./values.yml):nope}
  list: [1, 2]
  in-string: "x-${self:custom.list}"
resources: {}
"#,
        ),
    ]);
    let problems = validate(dir.path(), None, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        lines(&problems),
        [
            "serverless.yml:4: custom.a: variables form a cycle: custom.a -> custom.b -> custom.a",
            "serverless.yml:5: custom.b: variables form a cycle: custom.b -> custom.a -> custom.b",
            "serverless.yml:6: custom.ssm: variable source `ssm:` is not supported here (supported: self, file, opt, env, sls:stage)",
            "serverless.yml:7: custom.env: `${env:NOT_SET}`: environment variable NOT_SET is not set",
            "serverless.yml:11: custom.missing-key: `${file(./values.yml):nope}`: the file has no `nope`",
            "serverless.yml:13: custom.in-string: `${self:custom.list}` is a list, which cannot be put inside a string",
        ]
    );
}

#[test]
fn nested_and_partial_variables_resolve() {
    let dir = write_files(&[
        ("defender-host.yml", CONFIG),
        (
            "values.yml",
            "nested:\n  url: http://${self:custom.host}/x\n",
        ),
        ("code/index.js", "exports.handler = async () => 1;"),
        (
            "serverless.yml",
            r#"service: s
provider: { name: defender, stackName: s }
custom:
  host: example.com
  which: nested
  url: ${file(./values.yml):${self:custom.which}.url}
  port: ${opt:port, 8080}
resources:
  actions:
    a:
      name: ${self:custom.url}
      path: ./code
      trigger: { type: webhook }
      paused: false
      environment-variables:
        PORT: ${self:custom.port}
        URL: "${self:custom.url}?port=${self:custom.port}"
"#,
        ),
    ]);
    let p =
        validate(dir.path(), None, &BTreeMap::new()).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    let a = &p.actions["a"];
    assert_eq!(a.spec.name, "http://example.com/x");
    assert_eq!(a.environment_variables["PORT"], "8080");
    assert_eq!(
        a.environment_variables["URL"],
        "http://example.com/x?port=8080"
    );
}

#[test]
fn the_host_config_is_checked_with_paths_and_lines() {
    let dir = write_files(&[
        ("code/index.js", "exports.handler = async () => 1;"),
        (
            "serverless.yml",
            r#"service: s
provider: { name: defender, stackName: s }
resources:
  actions:
    a: { name: A, path: ./code, trigger: { type: schedule, frequency: 1 }, paused: false }
  relayers:
    r1: { name: R1, network: sepolia, min-balance: 0 }
  notifications:
    mail: { type: email, name: Mail, paused: false, config: { emails: [a@example.com] } }
  secrets:
    global: { declared: null }
"#,
        ),
        (
            "defender-host.yml",
            r#"listen: nowhere
networks:
  sepolia: { rpc: [ftp://rpc.example] }
relayers:
  r2: { private-key-env: R2_KEY }
webhooks:
  a: { token-env: TOKEN }
colour: blue
"#,
        ),
    ]);
    let e = env_map(&[("TOKEN", "0123456789abcdef0123")]);
    let problems = validate(dir.path(), None, &e).unwrap_err();
    assert_eq!(
        lines(&problems),
        [
            "defender-host.yml:1: listen: `nowhere` is not an address and port such as 127.0.0.1:8080",
            "defender-host.yml:3: networks.sepolia.rpc[0]: `ftp://rpc.example` is not an http(s) or ws(s) URL",
            "defender-host.yml:5: relayers.r2.private-key-env: environment variable R2_KEY is not set",
            "defender-host.yml:8: colour: unknown key `colour`",
            "defender-host.yml:0: relayers.r1: relayer `r1` has no key: add `relayers.r1` (`keystore` with `password-env`, or `private-key-env`) to defender-host.yml",
            "defender-host.yml:0: smtp: email channel `mail` needs an SMTP server: add `smtp` (host, from) to defender-host.yml",
            "defender-host.yml:0: webhooks.a: action `a` has no webhook trigger",
            "defender-host.yml:0: secrets: secret `declared` has no value in the project and none from defender-host.yml's `secrets` source",
        ]
    );
}

#[test]
fn execution_limits_and_the_code_size_rule_load() {
    use defender_engine::{ExecutionLimits, QuotaPeriod};
    // 6 MB of JavaScript that compresses well: over 5 MB raw, as Defender accepted it.
    let line = "// a generated bundle repeats itself a lot, and compresses well\n";
    let big = format!(
        "exports.handler = async () => 1;\n{}",
        line.repeat(6 * 1024 * 1024 / line.len())
    );
    let dir = write_files(&[
        ("defender-host.yml", CONFIG),
        ("code/index.js", "exports.handler = async () => 1;"),
        ("big.js", &big),
        (
            "serverless.yml",
            r#"service: s
provider: { name: defender, stackName: s }
resources:
  actions:
    limited:
      name: Limited
      path: ./code
      trigger: { type: webhook }
      max-concurrency: 2
      quotas: { per-minute: 10, per-hour: 120, per-month: 10000 }
    big:
      name: Big
      path: ./big.js
      trigger: { type: webhook }
"#,
        ),
    ]);
    let p =
        validate(dir.path(), None, &BTreeMap::new()).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    assert_eq!(
        p.actions["limited"].spec.limits,
        ExecutionLimits::default()
            .max_concurrency(2)
            .quota(10, QuotaPeriod::Minute)
            .quota(120, QuotaPeriod::Hour)
            .quota(10000, QuotaPeriod::Month)
    );
    assert_eq!(p.actions["big"].spec.limits, ExecutionLimits::default());
    assert!(p.actions["big"].spec.code.size() > defender_core::MAX_CODE_BYTES);

    let dir = write_files(&[
        ("defender-host.yml", CONFIG),
        ("code/index.js", "exports.handler = async () => 1;"),
        (
            "serverless.yml",
            r#"service: s
provider: { name: defender, stackName: s }
resources:
  actions:
    a:
      name: A
      path: ./code
      trigger: { type: webhook }
      max-concurrency: -1
      quotas: { per-week: 3, per-hour: many }
"#,
        ),
    ]);
    let problems = lines(&validate(dir.path(), None, &BTreeMap::new()).unwrap_err());
    assert_eq!(
        problems,
        [
            "serverless.yml:9: resources.actions.a.max-concurrency: expected a non-negative integer, found -1",
            "serverless.yml:10: resources.actions.a.quotas.per-hour: expected a non-negative integer, found many",
            "serverless.yml:10: resources.actions.a.quotas.per-week: unknown key `per-week`",
        ]
    );
}
