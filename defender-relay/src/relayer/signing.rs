//! Signing with the relayer's key: transactions (legacy and EIP-1559), EIP-191 messages and
//! EIP-712 digests.

use super::fees::Fees;
use super::Shared;
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Signature, TxKind, B256};
use defender_core::wire::{
    RelayerTransaction, SignMessagePayload, SignTypedDataPayload, SignedMessage, TxValidationError,
};
use defender_core::RelayerError;

/// The EIP-712 digest: `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct)`.
pub fn eip712_digest(domain_separator: B256, hash_struct: B256) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(domain_separator.as_slice());
    buf[34..].copy_from_slice(hash_struct.as_slice());
    keccak256(buf)
}

/// The bytes `sign` signs: a `0x` hex message is decoded, anything else is taken as UTF-8.
pub fn message_bytes(message: &str) -> Vec<u8> {
    if let Some(h) = message.strip_prefix("0x") {
        if let Ok(b) = alloy_primitives::hex::decode(h) {
            return b;
        }
    }
    message.as_bytes().to_vec()
}

fn hex32(s: &str) -> Result<B256, RelayerError> {
    s.parse::<B256>()
        .map_err(|_| RelayerError::Invalid(TxValidationError::InvalidData))
}

/// `{ sig, r, s, v }` of a signature, with `v` as 27 or 28.
fn signed(sig: Signature) -> SignedMessage {
    let bytes = sig.as_bytes();
    let v = 27 + u8::from(sig.v());
    SignedMessage {
        sig: format!("0x{}", alloy_primitives::hex::encode(bytes)),
        r: format!("{:#066x}", sig.r()),
        s: format!("{:#066x}", sig.s()),
        v,
    }
}

impl Shared {
    /// A signer's failure, naming the key's account.
    fn signer_error(&self, e: alloy::signers::Error) -> RelayerError {
        RelayerError::Signer {
            address: self.address,
            source: Box::new(e),
        }
    }

    /// Signs a digest with the relayer's key.
    async fn sign_hash(&self, hash: B256) -> Result<Signature, RelayerError> {
        self.signer
            .sign_hash(&hash)
            .await
            .map_err(|e| self.signer_error(e))
    }

    /// Signs a transaction with the relayer's key.
    async fn sign_tx(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> Result<Signature, RelayerError> {
        self.signer
            .sign_transaction(tx)
            .await
            .map_err(|e| self.signer_error(e))
    }

    /// Signs a transaction as it stands; returns its hash and raw bytes, both `0x` hex.
    pub(super) async fn sign_raw(
        &self,
        tx: &RelayerTransaction,
    ) -> Result<(String, String), RelayerError> {
        let to = match &tx.to {
            Some(t) => TxKind::Call(
                t.parse::<Address>()
                    .map_err(|_| RelayerError::Configuration(format!("bad address {t}")))?,
            ),
            None => TxKind::Create,
        };
        let input: Bytes = tx.data.parse().unwrap_or_default();
        let envelope: TxEnvelope = match Fees::of(tx) {
            Some(Fees::Eip1559 { max, prio }) => {
                let mut t = TxEip1559 {
                    chain_id: self.chain_id,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    max_fee_per_gas: max,
                    max_priority_fee_per_gas: prio,
                    to,
                    value: tx.value.0,
                    access_list: Default::default(),
                    input,
                };
                let sig = self.sign_tx(&mut t).await?;
                t.into_signed(sig).into()
            }
            Some(Fees::Legacy(p)) => {
                let mut t = TxLegacy {
                    chain_id: Some(self.chain_id),
                    nonce: tx.nonce,
                    gas_price: p,
                    gas_limit: tx.gas_limit,
                    to,
                    value: tx.value.0,
                    input,
                };
                let sig = self.sign_tx(&mut t).await?;
                t.into_signed(sig).into()
            }
            None => {
                return Err(RelayerError::Configuration(
                    "transaction without fees".into(),
                ))
            }
        };
        let hash = format!("{:#x}", envelope.tx_hash());
        let raw = format!(
            "0x{}",
            alloy_primitives::hex::encode(envelope.encoded_2718())
        );
        Ok((hash, raw))
    }

    /// `sign`: an EIP-191 personal message.
    pub(super) async fn sign_message(
        &self,
        payload: SignMessagePayload,
    ) -> Result<SignedMessage, RelayerError> {
        let sig = self
            .signer
            .sign_message(&message_bytes(&payload.message))
            .await
            .map_err(|e| self.signer_error(e))?;
        Ok(signed(sig))
    }

    /// `signTypedData`: the EIP-712 digest of a domain separator and a struct hash.
    pub(super) async fn sign_typed_data(
        &self,
        payload: SignTypedDataPayload,
    ) -> Result<SignedMessage, RelayerError> {
        let domain = hex32(&payload.domain_separator)?;
        let hs = hex32(&payload.hash_struct_message)?;
        Ok(signed(self.sign_hash(eip712_digest(domain, hs)).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bytes_decode_hex_and_keep_text() {
        assert_eq!(message_bytes("0x6869"), b"hi".to_vec());
        assert_eq!(message_bytes("hi"), b"hi".to_vec());
        assert_eq!(message_bytes("0xzz"), b"0xzz".to_vec());
    }

    #[test]
    fn eip712_digest_prefixes_1901() {
        let d = eip712_digest(B256::ZERO, B256::ZERO);
        let mut buf = vec![0x19, 0x01];
        buf.extend([0u8; 64]);
        assert_eq!(d, keccak256(buf));
    }

    #[test]
    fn signatures_carry_v_as_27_or_28() {
        let sig = Signature::new(
            alloy_primitives::U256::from(1),
            alloy_primitives::U256::from(2),
            true,
        );
        let m = signed(sig);
        assert_eq!(m.v, 28);
        assert_eq!(m.r, format!("0x{}1", "0".repeat(63)));
        assert_eq!(m.s, format!("0x{}2", "0".repeat(63)));
        assert_eq!(m.sig.len(), 2 + 65 * 2);
    }
}
