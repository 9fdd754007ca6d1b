//! The loader's rules, on small projects each test writes: every problem of an invalid project
//! with its path and line, variables (where `${file(...)}` may read, cycles, nesting), the host
//! config's checks, and execution limits. `load.rs` loads the full example projects.

mod support;

use defender_host::validate;
use std::collections::BTreeMap;
use support::{env_map, lines, write_files};

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
