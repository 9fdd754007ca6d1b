//! Signers: a trait any key holder implements (local key, keystore, KMS), and the local ones.

use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy_primitives::{Address, Signature, B256};
use async_trait::async_trait;
use std::fmt::Debug;
use std::path::Path;

/// Errors of every [`Signer`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key could not be loaded (bad hex, wrong password, unreadable keystore).
    #[error("cannot load the key: {0}")]
    Key(String),
    /// Signing failed (a remote signer may be unreachable).
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A key that signs 32-byte hashes: the relayer's account.
///
/// Implement this for a KMS or HSM; the relayer only ever asks for hash signatures (of
/// transactions, EIP-191 messages and EIP-712 digests).
#[async_trait]
pub trait Signer: Debug + Send + Sync + 'static {
    /// The account's address.
    fn address(&self) -> Address;
    /// Signs a 32-byte hash; the signature recovers to [`Signer::address`].
    async fn sign_hash(&self, hash: B256) -> Result<Signature, SignerError>;
}

/// A secp256k1 private key held in memory, from hex or from an encrypted JSON keystore.
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
}

#[async_trait]
impl Signer for LocalSigner {
    fn address(&self) -> Address {
        self.inner.address()
    }

    async fn sign_hash(&self, hash: B256) -> Result<Signature, SignerError> {
        self.inner
            .sign_hash_sync(&hash)
            .map_err(|e| SignerError::Sign(e.to_string()))
    }
}

#[async_trait]
impl<T: Signer + ?Sized> Signer for std::sync::Arc<T> {
    fn address(&self) -> Address {
        (**self).address()
    }
    async fn sign_hash(&self, hash: B256) -> Result<Signature, SignerError> {
        (**self).sign_hash(hash).await
    }
}
