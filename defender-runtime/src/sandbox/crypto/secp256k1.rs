//! secp256k1 for the substituted JavaScript libraries (src/substitute/, js/shims/): public
//! keys, RFC 6979 signatures with their recovery id, public key recovery, verification and
//! the point arithmetic ECDH needs, on RustCrypto's `k256`.
//!
//! The prelude receives them as `host.secp256k1Public`, `secp256k1Sign`, `secp256k1Recover`,
//! `secp256k1Verify`, `secp256k1Point`, `secp256k1Add` and `secp256k1Mul`. Each reads
//! ArrayBuffers or typed arrays of exactly the sizes it names (copied into fixed arrays: a
//! script cannot size a host allocation), and answers `null` for any input outside the
//! common case (a zero or out-of-range scalar, a point not on the curve, the point at
//! infinity): the shim then calls the original JavaScript, which keeps its own behaviour for
//! those inputs.

use crate::sandbox::bytes::with_buffer;
use crate::sandbox::host_args::{array_buffer_or_null, define, integer_in};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use k256::elliptic_curve::bigint::{Encoding, Limb, U256};
use k256::elliptic_curve::ops::{LinearCombination, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::{Curve, PrimeField};
use k256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar, Secp256k1};
use rquickjs::{Ctx, Object, Value};

/// The bytes of a value that must be exactly `N` long; `None` otherwise (a TypeError for a
/// value that holds no bytes).
fn exact<'js, const N: usize>(ctx: &Ctx<'js>, v: &Value<'js>) -> rquickjs::Result<Option<[u8; N]>> {
    with_buffer(ctx, v, |b| <[u8; N]>::try_from(b).ok())
}

/// A public key in SEC 1 form (33 or 65 bytes, checked to be on the curve).
fn point<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> rquickjs::Result<Option<AffinePoint>> {
    with_buffer(ctx, v, |b| {
        if b.len() != 33 && b.len() != 65 {
            return None;
        }
        let encoded = EncodedPoint::from_bytes(b).ok()?;
        Option::from(AffinePoint::from_encoded_point(&encoded))
    })
}

/// A scalar from 1 to n - 1.
fn nonzero_scalar(bytes: &[u8; 32]) -> Option<Scalar> {
    let s: Option<Scalar> = Scalar::from_repr(FieldBytes::from(*bytes)).into();
    s.filter(|s| !bool::from(s.is_zero()))
}

/// The message of a signature as a scalar: its 32 bytes as a big-endian number, reduced
/// modulo n (as elliptic's `_truncateToN` and noble's `bits2int_modN` do for 32 bytes).
fn message(bytes: &[u8; 32]) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*bytes))
}

/// The uncompressed SEC 1 encoding of a point; `None` for the point at infinity.
fn uncompressed(p: ProjectivePoint) -> Option<[u8; 65]> {
    let encoded = p.to_affine().to_encoded_point(false);
    <[u8; 65]>::try_from(encoded.as_bytes()).ok()
}

/// The public key of a private key, uncompressed.
fn public_key(private: &[u8; 32]) -> Option<[u8; 65]> {
    let d = nonzero_scalar(private)?;
    uncompressed(ProjectivePoint::GENERATOR * d)
}

/// A low-s RFC 6979 signature of a 32-byte digest: `r || s || recovery id`.
fn sign(private: &[u8; 32], digest: &[u8; 32]) -> Option<[u8; 65]> {
    let key = SigningKey::from_bytes(&FieldBytes::from(*private)).ok()?;
    // The reduced message is what elliptic and noble feed RFC 6979 with.
    let z = message(digest).to_bytes();
    let (sig, recid) = key.sign_prehash_recoverable(&z).ok()?;
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = recid.to_byte();
    Some(out)
}

/// The public key that signed `digest` with `r || s` and recovery id `recid` (0 to 3), as
/// elliptic's `recoverPubKey` computes it (high s allowed; no verification afterwards).
fn recover(digest: &[u8; 32], sig: &[u8; 64], recid: u8) -> Option<[u8; 65]> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&sig[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&sig[32..]);
    let r = nonzero_scalar(&r_bytes)?;
    let s = nonzero_scalar(&s_bytes)?;
    let id = RecoveryId::from_byte(recid)?;
    // R's x is r, or r + n when the recovery id says x was reduced.
    let x = if id.is_x_reduced() {
        let (sum, carry) = U256::from_be_slice(&r_bytes).adc(&Secp256k1::ORDER, Limb::ZERO);
        if carry != Limb::ZERO {
            return None;
        }
        FieldBytes::from(sum.to_be_bytes())
    } else {
        FieldBytes::from(r_bytes)
    };
    let big_r: AffinePoint =
        Option::from(AffinePoint::decompress(&x, u8::from(id.is_y_odd()).into()))?;
    let r_inv: Scalar = Option::from(r.invert())?;
    let u1 = -(message(digest) * r_inv);
    let u2 = s * r_inv;
    let q = ProjectivePoint::lincomb(
        &ProjectivePoint::GENERATOR,
        &u1,
        &ProjectivePoint::from(big_r),
        &u2,
    );
    uncompressed(q)
}

/// Whether `r || s` is a signature of `digest` by `key` (either s: high s is accepted, as
/// elliptic does).
fn verify(digest: &[u8; 32], sig: &[u8; 64], key: &AffinePoint) -> Option<bool> {
    let key = VerifyingKey::from_affine(*key).ok()?;
    let Ok(sig) = Signature::from_slice(sig) else {
        return Some(false);
    };
    let sig = sig.normalize_s().unwrap_or(sig);
    let z = message(digest).to_bytes();
    Some(key.verify_prehash(&z, &sig).is_ok())
}

/// Adds the host functions of this module to `host`.
pub(super) fn install<'js>(host: &Object<'js>) -> rquickjs::Result<()> {
    define(
        host,
        "secp256k1Public",
        |ctx: Ctx<'js>, private: Value<'js>| {
            let key = exact::<32>(&ctx, &private)?.and_then(|d| public_key(&d));
            array_buffer_or_null(&ctx, key.as_ref().map(|k| &k[..]))
        },
    )?;
    define(
        host,
        "secp256k1Sign",
        |ctx: Ctx<'js>, private: Value<'js>, digest: Value<'js>| {
            let (private, digest) = (exact::<32>(&ctx, &private)?, exact::<32>(&ctx, &digest)?);
            let sig = private.zip(digest).and_then(|(d, m)| sign(&d, &m));
            array_buffer_or_null(&ctx, sig.as_ref().map(|s| &s[..]))
        },
    )?;
    define(
        host,
        "secp256k1Recover",
        |ctx: Ctx<'js>, digest: Value<'js>, sig: Value<'js>, recid: Value<'js>| {
            let recid = integer_in(&recid, 0.0, 3.0);
            let (digest, sig) = (exact::<32>(&ctx, &digest)?, exact::<64>(&ctx, &sig)?);
            let key = match (digest, sig, recid) {
                (Some(m), Some(s), Some(id)) => recover(&m, &s, id as u8),
                _ => None,
            };
            array_buffer_or_null(&ctx, key.as_ref().map(|k| &k[..]))
        },
    )?;
    define(
        host,
        "secp256k1Verify",
        |ctx: Ctx<'js>, digest: Value<'js>, sig: Value<'js>, key: Value<'js>| {
            let (digest, sig) = (exact::<32>(&ctx, &digest)?, exact::<64>(&ctx, &sig)?);
            let key = point(&ctx, &key)?;
            let valid = match (digest, sig, key) {
                (Some(m), Some(s), Some(k)) => verify(&m, &s, &k),
                _ => None,
            };
            Ok::<_, rquickjs::Error>(match valid {
                Some(v) => Value::new_bool(ctx, v),
                None => Value::new_null(ctx),
            })
        },
    )?;
    define(host, "secp256k1Point", |ctx: Ctx<'js>, key: Value<'js>| {
        let p = point(&ctx, &key)?.and_then(|p| uncompressed(p.into()));
        array_buffer_or_null(&ctx, p.as_ref().map(|p| &p[..]))
    })?;
    define(
        host,
        "secp256k1Add",
        |ctx: Ctx<'js>, a: Value<'js>, b: Value<'js>| {
            let (a, b) = (point(&ctx, &a)?, point(&ctx, &b)?);
            let sum = a
                .zip(b)
                .and_then(|(a, b)| uncompressed(ProjectivePoint::from(a) + b));
            array_buffer_or_null(&ctx, sum.as_ref().map(|p| &p[..]))
        },
    )?;
    define(
        host,
        "secp256k1Mul",
        |ctx: Ctx<'js>, p: Value<'js>, k: Value<'js>| {
            let (p, k) = (point(&ctx, &p)?, exact::<32>(&ctx, &k)?);
            let product = p
                .zip(k.as_ref().and_then(nonzero_scalar))
                .and_then(|(p, k)| uncompressed(ProjectivePoint::from(p) * k));
            array_buffer_or_null(&ctx, product.as_ref().map(|p| &p[..]))
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
        out
    }

    /// Signing then recovering gives the signer's key back, for every recovery id the
    /// signature has; verification accepts the signature and its high-s twin.
    #[test]
    fn sign_recover_verify_round_trip() {
        let d = hex32("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        let m = hex32("1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655");
        let public = public_key(&d).expect("key");
        let sig = sign(&d, &m).expect("signs");
        let mut rs = [0u8; 64];
        rs.copy_from_slice(&sig[..64]);
        assert_eq!(recover(&m, &rs, sig[64]), Some(public));
        assert_ne!(recover(&m, &rs, sig[64] ^ 1), Some(public));
        let key = AffinePoint::from_encoded_point(&EncodedPoint::from_bytes(public).expect("sec1"))
            .expect("on the curve");
        assert_eq!(verify(&m, &rs, &key), Some(true));
        let mut other = m;
        other[0] ^= 1;
        assert_eq!(verify(&other, &rs, &key), Some(false));
        // The zero key and the order are no private keys.
        assert_eq!(public_key(&[0; 32]), None);
        let n = Secp256k1::ORDER.to_be_bytes();
        assert_eq!(public_key(&n), None);
    }
}
