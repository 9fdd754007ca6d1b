//! The relayer's key, through alloy's signer traits: [`TxSigner`] for transactions, [`Signer`]
//! for messages and EIP-712 digests. Any alloy signer serves (a local key or keystore,
//! [`LocalSigner`]; AWS KMS and Google Cloud KMS keys behind the `aws-kms` and `gcp-kms`
//! features, see [`kms`]; a Ledger; one of the embedder's own).

use alloy::consensus::SignableTransaction;
use alloy::network::EthereumWallet;
pub use alloy::network::TxSigner;
use alloy::signers::local::PrivateKeySigner;
pub use alloy::signers::Signer;
use alloy_primitives::{Address, ChainId, Signature, B256};
use async_trait::async_trait;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Errors of loading or assembling a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key could not be loaded (bad hex, wrong password, unreadable keystore).
    #[error("cannot load the key: {0}")]
    Key(String),
    /// The transaction signer and the message signer are not the same account.
    #[error("the transaction signer is {transactions} but the message signer is {messages}")]
    AddressMismatch {
        /// The transaction signer's address.
        transactions: Address,
        /// The message signer's address.
        messages: Address,
    },
}

/// Cloud key managers as relayer keys: alloy's signer crates, re-exported with the SDKs they
/// take a client of. The embedder configures the client (credentials, region, endpoint) and
/// hands the signer to [`RelayerSigner::new`].
///
/// ```ignore
/// let config = kms::aws::aws_config::load_defaults(kms::aws::aws_config::BehaviorVersion::latest()).await;
/// let client = kms::aws::aws_sdk_kms::Client::new(&config);
/// let signer = RelayerSigner::new(kms::aws::AwsSigner::new(client, key_id, None).await?);
/// ```
pub mod kms {
    /// AWS KMS keys (`ECC_SECG_P256K1`, `SIGN_VERIFY`): `AwsSigner`.
    #[cfg(feature = "aws-kms")]
    pub use alloy::signers::aws;
    /// Google Cloud KMS keys (`EC_SIGN_SECP256K1_SHA256`): `GcpSigner`.
    #[cfg(feature = "gcp-kms")]
    pub use alloy::signers::gcp;
}

/// The relayer's account: who signs its transactions and who signs its messages and typed
/// data (the same key).
#[derive(Clone)]
pub struct RelayerSigner {
    address: Address,
    transactions: Arc<dyn TxSigner<Signature> + Send + Sync>,
    messages: Arc<dyn Signer<Signature> + Send + Sync>,
}

impl fmt::Debug for RelayerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayerSigner")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl RelayerSigner {
    /// Any alloy signer that signs both transactions and messages (every one alloy ships).
    pub fn new<S>(signer: S) -> Self
    where
        S: TxSigner<Signature> + Signer<Signature> + Send + Sync + 'static,
    {
        Self::from(Arc::new(signer))
    }

    /// A transaction signer and a message signer of the same account.
    pub fn from_parts(
        transactions: Arc<dyn TxSigner<Signature> + Send + Sync>,
        messages: Arc<dyn Signer<Signature> + Send + Sync>,
    ) -> Result<Self, SignerError> {
        let address = TxSigner::address(&*transactions);
        let other = Signer::address(&*messages);
        if address != other {
            return Err(SignerError::AddressMismatch {
                transactions: address,
                messages: other,
            });
        }
        Ok(RelayerSigner {
            address,
            transactions,
            messages,
        })
    }

    /// The default signer of an alloy wallet for transactions, with the message signer of the
    /// same account.
    pub fn from_wallet(
        wallet: &EthereumWallet,
        messages: Arc<dyn Signer<Signature> + Send + Sync>,
    ) -> Result<Self, SignerError> {
        Self::from_parts(wallet.default_signer(), messages)
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a transaction (its signature hash, or the whole transaction on a device that
    /// shows it).
    pub async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> alloy::signers::Result<Signature> {
        self.transactions.sign_transaction(tx).await
    }

    /// Signs an EIP-191 personal message.
    pub async fn sign_message(&self, message: &[u8]) -> alloy::signers::Result<Signature> {
        self.messages.sign_message(message).await
    }

    /// Signs a 32-byte digest as is (EIP-712 digests).
    pub async fn sign_hash(&self, hash: &B256) -> alloy::signers::Result<Signature> {
        self.messages.sign_hash(hash).await
    }
}

impl<S> From<Arc<S>> for RelayerSigner
where
    S: TxSigner<Signature> + Signer<Signature> + Send + Sync + 'static,
{
    fn from(signer: Arc<S>) -> Self {
        RelayerSigner {
            address: TxSigner::address(&*signer),
            transactions: signer.clone(),
            messages: signer,
        }
    }
}

/// A secp256k1 private key held in memory, from hex or from an encrypted JSON keystore:
/// alloy's `PrivateKeySigner`.
#[derive(Debug, Clone)]
pub struct LocalSigner {
    inner: PrivateKeySigner,
}

impl LocalSigner {
    /// From a hex private key (with or without `0x`).
    pub fn from_private_key(hex_key: &str) -> Result<Self, SignerError> {
        let inner = hex_key
            .trim()
            .parse::<PrivateKeySigner>()
            .map_err(|e| SignerError::Key(e.to_string()))?;
        Ok(LocalSigner { inner })
    }

    /// From an encrypted JSON keystore (Web3 secret storage) and its password.
    pub fn from_keystore(path: impl AsRef<Path>, password: &str) -> Result<Self, SignerError> {
        let inner = PrivateKeySigner::decrypt_keystore(path, password)
            .map_err(|e| SignerError::Key(e.to_string()))?;
        Ok(LocalSigner { inner })
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.inner.address()
    }

    /// Alloy's signer inside.
    pub fn into_inner(self) -> PrivateKeySigner {
        self.inner
    }
}

impl From<PrivateKeySigner> for LocalSigner {
    fn from(inner: PrivateKeySigner) -> Self {
        LocalSigner { inner }
    }
}

#[async_trait]
impl Signer<Signature> for LocalSigner {
    async fn sign_hash(&self, hash: &B256) -> alloy::signers::Result<Signature> {
        Signer::sign_hash(&self.inner, hash).await
    }

    fn address(&self) -> Address {
        self.inner.address()
    }

    fn chain_id(&self) -> Option<ChainId> {
        Signer::chain_id(&self.inner)
    }

    fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        Signer::set_chain_id(&mut self.inner, chain_id)
    }
}

#[async_trait]
impl TxSigner<Signature> for LocalSigner {
    fn address(&self) -> Address {
        self.inner.address()
    }

    async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> alloy::signers::Result<Signature> {
        TxSigner::sign_transaction(&self.inner, tx).await
    }
}
