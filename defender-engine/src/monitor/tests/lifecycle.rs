//! Adding, replacing, pausing and removing monitors, and the errors of bad definitions.

use super::*;

#[test]
fn add_replace_pause_remove_and_levels() {
    let mut m = Matcher::new();
    let d = def(
        json!({"eventConditions": [{"eventSignature": "Transfer(address indexed from, address indexed to, uint256 value)", "expression": "value > 1000"}]}),
    );
    m.insert("a", &d, 1).unwrap();
    let mut other = def(json!({"confirmLevel": "finalized"}));
    other.addresses = vec![OTHER.to_string()];
    m.insert("b", &other, 1).unwrap();
    let b = transfers_block();
    let ids = |ms: Vec<MonitorMatch>| {
        ms.into_iter()
            .map(|m| (m.monitor.id.clone(), m.hash))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(m.match_block(&b)),
        [("a".to_string(), h(2)), ("b".to_string(), h(3))]
    );
    assert_eq!(
        ids(m.match_block_at(&b, ConfirmLevel::Finalized)),
        [("b".to_string(), h(3))]
    );
    assert_eq!(
        m.levels(),
        [ConfirmLevel::Blocks(1), ConfirmLevel::Finalized]
    );

    // A failed replacement keeps the old monitor.
    let mut broken = d.clone();
    broken.tx_condition = Some("gasPrice >".into());
    assert!(m.insert("a", &broken, 1).is_err());
    assert_eq!(m.len(), 2);
    // A successful one replaces it.
    let mut lower = d.clone();
    lower.event_conditions[0].expression = Some("value > 1".into());
    assert!(m.insert("a", &lower, 1).unwrap());
    assert_eq!(
        ids(m.match_block_at(&b, ConfirmLevel::Blocks(1))),
        [("a".to_string(), h(1)), ("a".to_string(), h(2))]
    );

    assert!(m.set_paused("a", true));
    assert_eq!(ids(m.match_block(&b)), [("b".to_string(), h(3))]);
    assert!(m.set_paused("a", false));
    assert!(m.remove("b"));
    assert!(!m.remove("b"));
    assert!(!m.set_paused("b", true));
    assert_eq!(m.match_block(&b).len(), 2);
    assert_eq!(m.len(), 1);
}

#[test]
fn definition_errors_name_the_monitor_and_the_expression() {
    let cases = [
        (json!({"abi": "[{not json"}), "InvalidAbi"),
        (
            json!({"abi": ERC20_ABI, "eventConditions": [{"eventSignature": "Approval(address,address,uint256)"}]}),
            "UnknownEvent",
        ),
        (
            json!({"abi": ERC20_ABI, "functionConditions": [{"functionSignature": "mint(address,uint256)"}]}),
            "UnknownFunction",
        ),
        (
            json!({"eventConditions": [{"eventSignature": "Transfer(address,"}]}),
            "InvalidSignature",
        ),
        (json!({"addresses": ["0x1234"]}), "InvalidAddress"),
        (
            json!({"txCondition": "gasPrise > 1 or status > 'x'"}),
            "InvalidCondition",
        ),
    ];
    for (extra, kind) in cases {
        let err = Matcher::new().insert("mon-7", &def(extra), 1).unwrap_err();
        assert!(format!("{err:?}").starts_with(kind), "{err:?}");
        assert!(err.to_string().contains("mon-7"), "{err}");
    }
    let err = Matcher::new()
        .insert(
            "mon-7",
            &def(json!({"txCondition": "gasPrise > 1 or status > 'x'"})),
            1,
        )
        .unwrap_err();
    let MonitorError::InvalidCondition {
        expression, errors, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(expression, "gasPrise > 1 or status > 'x'");
    assert!(errors.len() >= 2, "{errors:?}");
    assert_eq!(errors[0].span, 0..8);
}
