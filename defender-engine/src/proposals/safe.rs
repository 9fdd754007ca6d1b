//! The Safe's side, with no I/O: the SafeTx EIP-712 hash owners sign, the signer of a
//! signature, the "approved hash" signature of an owner who approved on chain, and the
//! signatures `execTransaction` takes (sorted by owner, concatenated).

use super::error::ProposalError;
use alloy::sol;
use alloy::sol_types::{eip712_domain, SolStruct};
use alloy_primitives::{Address, Signature, B256, U256};

sol! {
    /// The Safe transaction owners sign (Safe's `SAFE_TX_TYPEHASH`).
    #[derive(Debug)]
    struct SafeTx {
        address to;
        uint256 value;
        bytes data;
        uint8 operation;
        uint256 safeTxGas;
        uint256 baseGas;
        uint256 gasPrice;
        address gasToken;
        address refundReceiver;
        uint256 nonce;
    }
}

/// A call through the Safe, with no refund (what a proposal sends).
pub(crate) fn safe_tx(
    to: Address,
    value: U256,
    data: Vec<u8>,
    delegate: bool,
    nonce: u64,
) -> SafeTx {
    SafeTx {
        to,
        value,
        data: data.into(),
        operation: u8::from(delegate),
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        nonce: U256::from(nonce),
    }
}

/// The hash owners sign: the SafeTx's EIP-712 hash in the Safe's domain, which has the
/// chain id from version 1.3.0 on (only the address before).
pub(crate) fn safe_tx_hash(
    tx: &SafeTx,
    version: &str,
    chain_id: u64,
    safe: Address,
) -> Result<B256, ProposalError> {
    let domain = if has_chain_id(version)? {
        eip712_domain! { chain_id: chain_id, verifying_contract: safe, }
    } else {
        eip712_domain! { verifying_contract: safe, }
    };
    Ok(tx.eip712_signing_hash(&domain))
}

fn has_chain_id(version: &str) -> Result<bool, ProposalError> {
    let mut parts = version.trim().split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor) >= (1, 3)),
        _ => Err(ProposalError::Chain(format!(
            "the Safe's VERSION() `{version}` is not a version"
        ))),
    }
}

/// The owner who made `signature` of `hash`: an EIP-712 signature (`v` 27 or 28) or an
/// `eth_sign` one (`v` 31 or 32, of the hash as a message). Returns the signature as the
/// Safe takes it, with the signer.
pub(crate) fn signer(hash: B256, signature: &str) -> Result<(Address, Vec<u8>), ProposalError> {
    let text = signature.strip_prefix("0x").unwrap_or(signature);
    // 65 bytes, so at most 130 hex digits are decoded.
    if text.len() != 130 {
        return Err(ProposalError::BadSignature(format!(
            "a signature is 65 bytes (130 hex digits), {} digits given",
            text.len()
        )));
    }
    let bytes = hex::decode(text).map_err(|e| ProposalError::BadSignature(e.to_string()))?;
    let v = bytes[64];
    let recovered = match v {
        27 | 28 => Signature::from_raw(&bytes).and_then(|s| s.recover_address_from_prehash(&hash)),
        31 | 32 => {
            let mut adjusted = bytes.clone();
            adjusted[64] = v - 4;
            Signature::from_raw(&adjusted).and_then(|s| s.recover_address_from_msg(hash))
        }
        _ => {
            return Err(ProposalError::BadSignature(format!(
                "v is {v}: 27 or 28 (EIP-712) or 31 or 32 (eth_sign) expected"
            )))
        }
    };
    let owner = recovered.map_err(|e| ProposalError::BadSignature(e.to_string()))?;
    Ok((owner, bytes))
}

/// The signature of an owner who approved the hash on chain (`approveHash`): `r` the owner,
/// `s` zero, `v` 1.
pub(crate) fn approved_hash_signature(owner: Address) -> Vec<u8> {
    let mut sig = vec![0u8; 65];
    sig[12..32].copy_from_slice(owner.as_slice());
    sig[64] = 1;
    sig
}

/// What `execTransaction` takes: the signatures sorted by owner address, ascending,
/// concatenated.
pub(crate) fn packed_signatures(mut signatures: Vec<(Address, Vec<u8>)>) -> Vec<u8> {
    signatures.sort_by_key(|(owner, _)| *owner);
    signatures.into_iter().flat_map(|(_, sig)| sig).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::{local::PrivateKeySigner, SignerSync};

    #[test]
    fn versions_with_and_without_chain_id() {
        for (v, want) in [
            ("1.4.1", Some(true)),
            ("1.3.0", Some(true)),
            ("1.2.0", Some(false)),
            ("1.1.1", Some(false)),
            ("2.0.0", Some(true)),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(has_chain_id(v).ok(), want, "{v}");
        }
    }

    #[test]
    fn signatures_recover_their_owner_or_are_refused() {
        let key = PrivateKeySigner::random();
        let hash = B256::repeat_byte(7);
        let typed = key.sign_hash_sync(&hash).unwrap().as_bytes();
        let mut eth_sign = key.sign_message_sync(hash.as_slice()).unwrap().as_bytes();
        eth_sign[64] += 4;
        let mut bad_v = typed;
        bad_v[64] = 5;
        // (signature, owner recovered or error fragment)
        let table: Vec<(String, Result<Address, &str>)> = vec![
            (hex::encode(typed), Ok(key.address())),
            (format!("0x{}", hex::encode(typed)), Ok(key.address())),
            (hex::encode(eth_sign), Ok(key.address())),
            (hex::encode(bad_v), Err("v is 5")),
            ("0x1234".into(), Err("65 bytes")),
            ("zz".repeat(65), Err("invalid")),
        ];
        for (sig, want) in table {
            let got = signer(hash, &sig)
                .map(|(a, _)| a)
                .map_err(|e| e.to_string());
            match (&want, &got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{sig}"),
                (Err(f), Err(e)) => assert!(e.to_lowercase().contains(f), "{sig}: {e}"),
                _ => panic!("{sig}: want {want:?}, got {got:?}"),
            }
        }
        // Another hash recovers another address: not the owner.
        let (other, _) = signer(B256::repeat_byte(8), &hex::encode(typed)).unwrap();
        assert_ne!(other, key.address());
    }

    #[test]
    fn signatures_are_packed_by_owner() {
        let a = Address::repeat_byte(0x01);
        let b = Address::repeat_byte(0x02);
        let packed = packed_signatures(vec![(b, vec![2; 65]), (a, approved_hash_signature(a))]);
        assert_eq!(packed.len(), 130);
        assert_eq!(&packed[12..32], a.as_slice());
        assert_eq!(packed[64], 1);
        assert_eq!(&packed[65..], &[2; 65][..]);
    }
}
