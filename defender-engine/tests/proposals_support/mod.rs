//! Fixtures of the proposal tests (`proposals.rs`): anvil with a provider of its deployer, the
//! contracts' ABIs and their bytecode from the npm packages in tests/proposals, anvil's dev
//! keys, an engine on that anvil, and a token-transfer proposal.
#![allow(dead_code, unreachable_pub)]

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolConstructor};
use alloy_primitives::{Address, Bytes, U256};
use defender_core::state::MemoryStateStore;
use defender_engine::proposals::{ProposalContract, TargetFunction};
use defender_engine::{Engine, ProposalRequest, ViaType};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;

sol! {
    contract Erc20 {
        constructor(string name, string symbol, uint256 initialSupply, address owner);
        function balanceOf(address) external view returns (uint256);
        function transfer(address to, uint256 amount) external returns (bool);
    }
    contract SafeProxy {
        constructor(address singleton);
    }
    contract Safe {
        function setup(address[] owners, uint256 threshold, address to, bytes data, address fallbackHandler, address paymentToken, uint256 payment, address paymentReceiver) external;
        function approveHash(bytes32 hashToApprove) external;
        function nonce() external view returns (uint256);
        function getTransactionHash(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, uint256 _nonce) external view returns (bytes32);
    }
    contract Timelock {
        constructor(uint256 minDelay, address[] proposers, address[] executors, address admin);
    }
    contract VotesToken {
        constructor(address holder, uint256 supply);
        function delegate(address delegatee) external;
        function transfer(address to, uint256 amount) external returns (bool);
    }
    contract Governor {
        constructor(address token);
        function castVote(uint256 proposalId, uint8 support) external returns (uint256);
    }
}

/// anvil's dev accounts 0, 1, 3 and 4 (mnemonic "test test ... junk").
pub const DEPLOYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const RELAYER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const OWNER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
/// The engine's own key: not the deployer's, whose nonces the test's provider keeps.
pub const EXECUTOR_KEY: &str = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";

pub fn skip_or_panic(what: &str) -> Option<()> {
    if std::env::var_os("DEFENDER_SKIP_EXTERNAL").is_some() {
        eprintln!("skipping: {what}");
        return None;
    }
    panic!("{what}; run scripts/install-test-deps.sh or set DEFENDER_SKIP_EXTERNAL=1");
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proposals")
}

/// An artifact's bytecode: the npm packages' own, or the Governor compiled once by solc-js.
pub fn bytecode(relative: &str) -> Option<Vec<u8>> {
    let dir = fixture_dir();
    if !dir.join("node_modules").is_dir() {
        skip_or_panic("tests/proposals/node_modules is missing")?;
    }
    let path = dir.join("node_modules").join(relative);
    if relative.starts_with(".compiled/") && !path.is_file() {
        let status = std::process::Command::new("node")
            .arg(dir.join("compile.js"))
            .status()
            .expect("run node");
        assert!(status.success(), "compile.js failed");
    }
    let artifact: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("artifact")).expect("JSON");
    let code = artifact["bytecode"].as_str().expect("bytecode");
    Some(hex::decode(code.trim_start_matches("0x")).expect("hex"))
}

pub struct Anvil {
    pub child: Child,
    pub url: String,
    pub provider: DynProvider,
    pub deployer: Address,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn key(k: &str) -> PrivateKeySigner {
    k.parse().expect("key")
}

pub async fn anvil() -> Option<Anvil> {
    let Some(bin) = defender_testkit::anvil_binary() else {
        skip_or_panic("anvil not found")?;
        return None;
    };
    let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).expect("spawn anvil");
    let url = format!("http://{}", addr.expect("anvil did not start"));
    let deployer = key(DEPLOYER_KEY);
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer.clone()))
        .connect_http(url.parse().unwrap())
        .erased();
    Some(Anvil {
        child,
        url,
        provider,
        deployer: deployer.address(),
    })
}

impl Anvil {
    pub async fn deploy(&self, code: Vec<u8>, args: Vec<u8>) -> Address {
        let mut input = code;
        input.extend(args);
        let tx = TransactionRequest::default().with_deploy_code(Bytes::from(input));
        let receipt = self
            .provider
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "deployment reverted");
        receipt.contract_address.expect("a contract")
    }

    pub async fn send(&self, from: Option<&PrivateKeySigner>, to: Address, data: Vec<u8>) {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data));
        let receipt = match from {
            None => self.provider.send_transaction(tx).await,
            Some(k) => {
                ProviderBuilder::new()
                    .wallet(EthereumWallet::from(k.clone()))
                    .connect_http(self.url.parse().unwrap())
                    .send_transaction(tx)
                    .await
            }
        }
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
        assert!(receipt.status(), "transaction reverted");
    }

    pub async fn read<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode());
        C::abi_decode_returns(&self.provider.call(tx).await.unwrap()).unwrap()
    }

    pub async fn token(&self, holder: Address, supply: u64) -> Option<Address> {
        let code = bytecode("@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json")?;
        let args = Erc20::constructorCall {
            name: "Test".into(),
            symbol: "TST".into(),
            initialSupply: U256::from(supply),
            owner: holder,
        }
        .abi_encode();
        Some(self.deploy(code, args).await)
    }

    pub async fn balance(&self, token: Address, of: Address) -> U256 {
        self.read(token, Erc20::balanceOfCall(of)).await
    }

    pub async fn rpc(&self, method: &str, params: Value) {
        let _: Value = self
            .provider
            .raw_request(method.to_owned().into(), params)
            .await
            .unwrap();
    }
}

pub async fn engine(node: &Anvil) -> Engine {
    let engine = Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
        .state(Arc::new(MemoryStateStore::default()))
        .build();
    engine
        .add_proposal_network("anvil", &node.url)
        .await
        .unwrap();
    engine
}

/// A `transfer(to, amount)` proposal on `token`.
pub fn transfer(token: Address, to: Address, amount: u64, via_type: ViaType) -> ProposalRequest {
    ProposalRequest {
        contract: ProposalContract {
            network: "anvil".into(),
            address: format!("{token:#x}"),
            name: Some("Test token".into()),
            abi: None,
        },
        title: format!("Send {amount}"),
        description: "A transfer".into(),
        kind: "custom".into(),
        metadata: None,
        via: None,
        via_type,
        function_interface: Some(TargetFunction {
            name: Some("transfer".into()),
            inputs: serde_json::from_value(json!([
                {"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}
            ]))
            .unwrap(),
        }),
        function_inputs: vec![json!(format!("{to:#x}")), json!(amount.to_string())],
        relayer_id: None,
        executor: None,
    }
}

pub fn recipient() -> Address {
    Address::repeat_byte(0x42)
}
