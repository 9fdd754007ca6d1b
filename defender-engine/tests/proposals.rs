//! Transaction proposals end to end on anvil, against the real contracts deployed from their
//! npm packages (tests/proposals/package.json): Safe 1.4.1, OpenZeppelin 4.9.6's
//! TimelockController and ERC20, and a Governor built from OpenZeppelin's Governor modules
//! (compiled by solc-js, tests/proposals/compile.js). Each approval process: a relayer
//! (defender-relay), an EOA key, a Safe 2-of-3, a Governor, a Timelock. Also a workflow whose
//! step is a proposal.
//!
//! Needs `anvil` and node with tests/proposals installed (`scripts/install-test-deps.sh`);
//! with DEFENDER_SKIP_EXTERNAL=1 the tests skip when they are missing.

mod proposals_support;

use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{SolCall, SolConstructor};
use alloy_primitives::{Address, Bytes, B256, U256};
use defender_engine::proposals::ProposalMetadata;
use defender_engine::{
    Approval, Engine, ProposalError, ProposalStatus, ViaType, Workflow, WorkflowItem,
    WorkflowStatus, WorkflowStep,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use proposals_support::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eoa_proposal_sends_the_call_and_a_revert_fails_it() {
    let Some(node) = anvil().await else { return };
    let engine = engine(&node).await;
    let eoa = engine.add_proposal_signer(key(EXECUTOR_KEY));
    let Some(token) = node.token(eoa, 100).await else {
        return;
    };

    let mut req = transfer(token, recipient(), 30, ViaType::Eoa);
    req.via = Some(format!("{eoa:#x}"));
    let p = engine.create_proposal(req.clone()).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Open);
    assert!(p.is_active);
    assert_eq!(p.contract_id, format!("anvil-{token:#x}"));
    // The calldata is the ABI encoding of transfer(address,uint256).
    let want = Erc20::transferCall {
        to: recipient(),
        amount: U256::from(30),
    }
    .abi_encode();
    assert_eq!(p.calldata, format!("0x{}", hex::encode(want)));
    // Approvals are for Safes only.
    assert!(matches!(
        engine
            .approve_proposal(&p.proposal_id, Approval::ApprovedHash(format!("{eoa:#x}")))
            .await,
        Err(ProposalError::NotApprovable(ViaType::Eoa))
    ));

    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Executed, "{:?}", p.error);
    assert!(!p.is_active);
    assert_eq!(p.transactions.len(), 1);
    assert_eq!(node.balance(token, recipient()).await, U256::from(30));
    assert!(matches!(
        engine.execute_proposal(&p.proposal_id).await,
        Err(ProposalError::Closed(ProposalStatus::Executed))
    ));

    // More than the balance reverts: the proposal fails, with the node's reason.
    let mut too_much = req.clone();
    too_much.function_inputs[1] = json!("1000");
    let p = engine.create_proposal(too_much).await.unwrap();
    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Failed);
    assert!(
        p.error.as_deref().unwrap_or("").contains("revert"),
        "{:?}",
        p.error
    );
    assert_eq!(node.balance(token, recipient()).await, U256::from(30));

    // Bad inputs, unknown networks and keys the engine does not hold are refused at creation.
    let mut bad = req.clone();
    bad.function_inputs[0] = json!("not an address");
    assert!(matches!(
        engine.create_proposal(bad).await,
        Err(ProposalError::Inputs(_))
    ));
    let mut bad = req.clone();
    bad.contract.network = "mainnet".into();
    assert!(matches!(
        engine.create_proposal(bad).await,
        Err(ProposalError::UnknownNetwork(_))
    ));
    let mut bad = req.clone();
    bad.via = Some(format!("{:#x}", Address::repeat_byte(9)));
    assert!(matches!(
        engine.create_proposal(bad).await,
        Err(ProposalError::NoSender(_))
    ));

    // Listed with their states, oldest first.
    let listed: Vec<ProposalStatus> = engine
        .list_proposals()
        .await
        .unwrap()
        .iter()
        .map(|p| p.status)
        .collect();
    assert_eq!(listed, [ProposalStatus::Executed, ProposalStatus::Failed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayer_proposal_goes_through_a_defender_relay_relayer() {
    use defender_relay::{InMemoryRelayerStore, LocalSigner, RelayerConfig, RpcRelayer};
    let Some(node) = anvil().await else { return };
    let relayer = RpcRelayer::start(
        RelayerConfig::new("proposer", vec![node.url.clone()])
            .with_network("anvil")
            .with_poll_interval(std::time::Duration::from_millis(100))
            .with_confirmations(1),
        Arc::new(LocalSigner::from_private_key(RELAYER_KEY).unwrap()),
        Arc::new(InMemoryRelayerStore::default()),
    )
    .await
    .unwrap();
    let relayer_address = relayer.address();
    let Some(token) = node.token(relayer_address, 100).await else {
        return;
    };
    let engine = Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
        .relayer("proposer", Arc::new(relayer))
        .build();
    engine
        .add_proposal_network("anvil", &node.url)
        .await
        .unwrap();

    let mut req = transfer(token, recipient(), 12, ViaType::Relayer);
    req.relayer_id = Some("proposer".into());
    req.via = Some(format!("{relayer_address:#x}"));
    let p = engine.create_proposal(req.clone()).await.unwrap();
    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Executed, "{:?}", p.error);
    assert_eq!(node.balance(token, recipient()).await, U256::from(12));

    // `via` must be the relayer's address; the relayer must exist.
    let mut bad = req.clone();
    bad.via = Some(format!("{:#x}", Address::repeat_byte(1)));
    assert!(matches!(
        engine.create_proposal(bad).await,
        Err(ProposalError::Invalid(_))
    ));
    let mut bad = req;
    bad.relayer_id = Some("nope".into());
    assert!(matches!(
        engine.create_proposal(bad).await,
        Err(ProposalError::NoSender(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safe_two_of_three_executes_once_two_owners_approved() {
    let Some(node) = anvil().await else { return };
    let Some(singleton_code) =
        bytecode("@safe-global/safe-contracts/build/artifacts/contracts/Safe.sol/Safe.json")
    else {
        return;
    };
    let Some(proxy_code) = bytecode(
        "@safe-global/safe-contracts/build/artifacts/contracts/proxies/SafeProxy.sol/SafeProxy.json",
    ) else {
        return;
    };
    let singleton = node.deploy(singleton_code, Vec::new()).await;
    let safe = node
        .deploy(
            proxy_code,
            SafeProxy::constructorCall { singleton }.abi_encode(),
        )
        .await;
    let (alice, bob, carol) = (
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
        key(OWNER_KEY),
    );
    node.send(
        None,
        safe,
        Safe::setupCall {
            owners: vec![alice.address(), bob.address(), carol.address()],
            threshold: U256::from(2),
            to: Address::ZERO,
            data: Bytes::new(),
            fallbackHandler: Address::ZERO,
            paymentToken: Address::ZERO,
            payment: U256::ZERO,
            paymentReceiver: Address::ZERO,
        }
        .abi_encode(),
    )
    .await;
    let Some(token) = node.token(safe, 100).await else {
        return;
    };
    let engine = engine(&node).await;
    let executor = engine.add_proposal_signer(key(EXECUTOR_KEY));

    let mut req = transfer(token, recipient(), 7, ViaType::Safe);
    req.via = Some(format!("{safe:#x}"));
    req.executor = Some(format!("{executor:#x}"));
    let p = engine.create_proposal(req).await.unwrap();
    let safe_tx = p.safe.clone().unwrap();
    assert_eq!(safe_tx.version, "1.4.1");
    assert_eq!(safe_tx.nonce, 0);
    // The hash owners sign is the Safe's own.
    let on_chain = node
        .read(
            safe,
            Safe::getTransactionHashCall {
                to: token,
                value: U256::ZERO,
                data: Erc20::transferCall {
                    to: recipient(),
                    amount: U256::from(7),
                }
                .abi_encode()
                .into(),
                operation: 0,
                safeTxGas: U256::ZERO,
                baseGas: U256::ZERO,
                gasPrice: U256::ZERO,
                gasToken: Address::ZERO,
                refundReceiver: Address::ZERO,
                _nonce: U256::ZERO,
            },
        )
        .await;
    assert_eq!(safe_tx.safe_tx_hash, format!("{on_chain:#x}"));
    let hash: B256 = safe_tx.safe_tx_hash.parse().unwrap();
    let sign = |k: &PrivateKeySigner| {
        Approval::Signature(format!(
            "0x{}",
            hex::encode(k.sign_hash_sync(&hash).unwrap().as_bytes())
        ))
    };
    let id = p.proposal_id.clone();

    // Not yet approved: nothing is sent.
    assert!(matches!(
        engine.execute_proposal(&id).await,
        Err(ProposalError::ThresholdNotMet { have: 0, need: 2 })
    ));
    let p = engine.approve_proposal(&id, sign(&alice)).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Open);
    assert_eq!(p.approvals.len(), 1);
    // The same owner twice is still one approval.
    let p = engine.approve_proposal(&id, sign(&alice)).await.unwrap();
    assert_eq!(p.approvals.len(), 1);
    assert!(matches!(
        engine.execute_proposal(&id).await,
        Err(ProposalError::ThresholdNotMet { have: 1, need: 2 })
    ));
    // A non-owner's signature, a signature of something else and a garbled one are refused.
    let mallory = PrivateKeySigner::random();
    assert!(matches!(
        engine.approve_proposal(&id, sign(&mallory)).await,
        Err(ProposalError::NotOwner(_))
    ));
    let other = bob
        .sign_hash_sync(&B256::repeat_byte(1))
        .unwrap()
        .as_bytes();
    assert!(matches!(
        engine
            .approve_proposal(&id, Approval::Signature(hex::encode(other)))
            .await,
        Err(ProposalError::NotOwner(_))
    ));
    assert!(matches!(
        engine
            .approve_proposal(&id, Approval::Signature("0xdead".into()))
            .await,
        Err(ProposalError::BadSignature(_))
    ));
    // An owner who has not approved the hash on chain is refused; after approveHash, counted.
    let carol_approval = Approval::ApprovedHash(format!("{:#x}", carol.address()));
    assert!(matches!(
        engine.approve_proposal(&id, carol_approval.clone()).await,
        Err(ProposalError::BadSignature(_))
    ));
    node.send(
        Some(&carol),
        safe,
        Safe::approveHashCall {
            hashToApprove: hash,
        }
        .abi_encode(),
    )
    .await;
    let p = engine.approve_proposal(&id, carol_approval).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Approved);
    assert_eq!(node.balance(token, recipient()).await, U256::ZERO);

    let p = engine.execute_proposal(&id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Executed, "{:?}", p.error);
    assert_eq!(node.balance(token, recipient()).await, U256::from(7));
    assert_eq!(node.read(safe, Safe::nonceCall {}).await, U256::from(1));
    assert!(matches!(
        engine.approve_proposal(&id, sign(&bob)).await,
        Err(ProposalError::Closed(ProposalStatus::Executed))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timelock_proposal_is_scheduled_then_executed_after_the_delay() {
    let Some(node) = anvil().await else { return };
    let Some(code) = bytecode("@openzeppelin/contracts/build/contracts/TimelockController.json")
    else {
        return;
    };
    let engine = engine(&node).await;
    let executor = engine.add_proposal_signer(key(EXECUTOR_KEY));
    let timelock = node
        .deploy(
            code,
            Timelock::constructorCall {
                minDelay: U256::from(3600),
                proposers: vec![executor],
                executors: vec![executor],
                admin: Address::ZERO,
            }
            .abi_encode(),
        )
        .await;
    let Some(token) = node.token(timelock, 100).await else {
        return;
    };

    let mut req = transfer(token, recipient(), 9, ViaType::Timelock);
    req.via = Some(format!("{timelock:#x}"));
    req.executor = Some(format!("{executor:#x}"));
    let p = engine.create_proposal(req).await.unwrap();
    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Scheduled, "{:?}", p.error);
    let op = p.timelock.clone().unwrap();
    assert_eq!(op.state.as_deref(), Some("Waiting"));
    let ready_at = op.ready_at.unwrap();

    // Before the delay: refused, nothing sent, still scheduled.
    match engine.execute_proposal(&p.proposal_id).await {
        Err(ProposalError::NotReady { ready_at: at }) => assert_eq!(at, ready_at),
        other => panic!("{other:?}"),
    }
    let p = engine.get_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Scheduled);
    assert_eq!(p.transactions.len(), 1);
    assert_eq!(node.balance(token, recipient()).await, U256::ZERO);

    node.rpc("evm_increaseTime", json!([3601])).await;
    node.rpc("evm_mine", json!([])).await;
    let p = engine.get_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.timelock.as_ref().unwrap().state.as_deref(), Some("Ready"));
    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Executed, "{:?}", p.error);
    assert_eq!(p.timelock.as_ref().unwrap().state.as_deref(), Some("Done"));
    assert_eq!(node.balance(token, recipient()).await, U256::from(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governor_proposal_is_proposed_voted_and_executed() {
    let Some(node) = anvil().await else { return };
    let (Some(token_code), Some(governor_code)) = (
        bytecode(".compiled/TestVotesToken.json"),
        bytecode(".compiled/TestGovernor.json"),
    ) else {
        return;
    };
    let voter = node.deployer;
    let votes = node
        .deploy(
            token_code,
            VotesToken::constructorCall {
                holder: voter,
                supply: U256::from(1_000u64),
            }
            .abi_encode(),
        )
        .await;
    node.send(
        None,
        votes,
        VotesToken::delegateCall { delegatee: voter }.abi_encode(),
    )
    .await;
    let governor = node
        .deploy(
            governor_code,
            Governor::constructorCall { token: votes }.abi_encode(),
        )
        .await;
    // The Governor holds what the proposal sends.
    node.send(
        None,
        votes,
        VotesToken::transferCall {
            to: governor,
            amount: U256::from(100),
        }
        .abi_encode(),
    )
    .await;
    node.rpc("anvil_mine", json!(["0x1"])).await;
    let engine = engine(&node).await;
    let executor = engine.add_proposal_signer(key(EXECUTOR_KEY));

    let mut req = transfer(votes, recipient(), 5, ViaType::Governor);
    req.via = Some(format!("{governor:#x}"));
    req.executor = Some(format!("{executor:#x}"));
    let p = engine.create_proposal(req).await.unwrap();
    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Proposed, "{:?}", p.error);
    let onchain = p.governor.clone().unwrap();
    assert_eq!(onchain.state.as_deref(), Some("Pending"));
    // Not succeeded: refused.
    assert!(matches!(
        engine.execute_proposal(&p.proposal_id).await,
        Err(ProposalError::GovernorState(s)) if s == "Pending"
    ));

    // Voting opens after the voting delay (1 block); the holder votes for.
    node.rpc("anvil_mine", json!(["0x2"])).await;
    let p = engine.get_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(
        p.governor.as_ref().unwrap().state.as_deref(),
        Some("Active")
    );
    let id: U256 = onchain.proposal_id.parse().unwrap();
    node.send(
        None,
        governor,
        Governor::castVoteCall {
            proposalId: id,
            support: 1,
        }
        .abi_encode(),
    )
    .await;
    node.rpc("anvil_mine", json!(["0xb"])).await;
    let listed = engine.list_proposals().await.unwrap();
    assert_eq!(
        listed[0].governor.as_ref().unwrap().state.as_deref(),
        Some("Succeeded")
    );

    let p = engine.execute_proposal(&p.proposal_id).await.unwrap();
    assert_eq!(p.status, ProposalStatus::Executed, "{:?}", p.error);
    assert_eq!(
        p.governor.as_ref().unwrap().state.as_deref(),
        Some("Executed")
    );
    assert_eq!(node.balance(votes, recipient()).await, U256::from(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_step_creates_and_executes_a_proposal() {
    use defender_engine::ActionSpec;
    let Some(node) = anvil().await else { return };
    let engine = engine(&node).await;
    let eoa = engine.add_proposal_signer(key(EXECUTOR_KEY));
    let Some(token) = node.token(eoa, 100).await else {
        return;
    };
    engine
        .add_action(ActionSpec::new(
            "check",
            "check",
            "exports.handler = async (e) => { console.log('checked', e.request.body.reason); return true; };",
        ))
        .await
        .unwrap();
    let mut req = transfer(token, recipient(), 3, ViaType::Eoa);
    req.via = Some(format!("{eoa:#x}"));
    req.metadata = Some(ProposalMetadata::default());
    engine
        .add_workflow(Workflow {
            id: "pay".into(),
            name: "Pay".into(),
            steps: vec![
                WorkflowStep {
                    name: "check".into(),
                    items: vec![WorkflowItem::Action {
                        action_id: "check".into(),
                    }],
                },
                WorkflowStep {
                    name: "pay".into(),
                    items: vec![WorkflowItem::Proposal {
                        proposal: Box::new(req),
                        execute: true,
                    }],
                },
            ],
        })
        .unwrap();
    let run = engine
        .run_workflow("pay", json!({ "reason": "invoice 7" }))
        .await
        .unwrap();
    assert_eq!(run.status, WorkflowStatus::Success, "{run:?}");
    let item = &run.steps[1].items[0];
    assert_eq!(item.proposal_status, Some(ProposalStatus::Executed));
    let p = engine
        .get_proposal(item.proposal_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(p.status, ProposalStatus::Executed);
    assert_eq!(node.balance(token, recipient()).await, U256::from(3));
}
