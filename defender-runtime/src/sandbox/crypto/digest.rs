//! One-shot digests and HMACs for the substituted JavaScript libraries (src/substitute/,
//! js/shims/): Keccak (Ethereum's `keccak256`), SHA-3 and SHAKE on RustCrypto's `sha3`, and
//! the algorithms of Node's `crypto` ([`Algorithm`]).
//!
//! The prelude receives them as `host.shimDigest(name, data, outLen)` and
//! `host.shimHmac(name, key, data)`, each answering an ArrayBuffer, or `null` for a name it
//! does not know (the shim then uses the original JavaScript). The data is already in the
//! run's heap; it is hashed in slices with a look at the run's deadline between them, so a
//! long input cannot hold the script thread past it.

use super::algorithm;
use super::algorithms::Algorithm;
use crate::alloc::Charge;
use crate::sandbox::bytes::with_bytes;
use crate::sandbox::errors::{interrupted, out_of_memory};
use crate::sandbox::event_loop::LoopState;
use crate::sandbox::host_args::{array_buffer, define, integer, short_string};
use hmac::digest::{Digest, ExtendableOutput, Update, XofReader};
use rquickjs::{Ctx, Object, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Bytes hashed between two looks at the run's deadline (about a millisecond of work).
const SLICE: usize = 1 << 20;

/// Most bytes a SHAKE output may have.
const MAX_XOF_BYTES: usize = 1 << 20;

/// The Keccak-family functions, by the names the shims use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sponge {
    Keccak224,
    Keccak256,
    Keccak384,
    Keccak512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    Shake128,
    Shake256,
}

impl Sponge {
    fn from_name(name: &str) -> Option<Sponge> {
        Some(match name {
            "keccak224" => Sponge::Keccak224,
            "keccak256" => Sponge::Keccak256,
            "keccak384" => Sponge::Keccak384,
            "keccak512" => Sponge::Keccak512,
            "sha3-224" => Sponge::Sha3_224,
            "sha3-256" => Sponge::Sha3_256,
            "sha3-384" => Sponge::Sha3_384,
            "sha3-512" => Sponge::Sha3_512,
            "shake128" => Sponge::Shake128,
            "shake256" => Sponge::Shake256,
            _ => return None,
        })
    }
}

/// Feeds `data` to `feed` a slice at a time; `false` when the run's deadline passed.
fn feed_slices(data: &[u8], stop: &dyn Fn() -> bool, mut feed: impl FnMut(&[u8])) -> bool {
    for chunk in data.chunks(SLICE) {
        feed(chunk);
        if data.len() > SLICE && stop() {
            return false;
        }
    }
    true
}

fn fixed<D: Digest + Update>(data: &[u8], stop: &dyn Fn() -> bool) -> Option<Vec<u8>> {
    let mut d = D::new();
    feed_slices(data, stop, |c| Update::update(&mut d, c)).then(|| d.finalize().to_vec())
}

fn xof<X: Default + Update + ExtendableOutput>(
    data: &[u8],
    out_len: usize,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<u8>> {
    let mut x = X::default();
    if !feed_slices(data, stop, |c| x.update(c)) {
        return None;
    }
    let mut out = vec![0u8; out_len];
    x.finalize_xof().read(&mut out);
    Some(out)
}

/// The digest of `data`; `None` when the run's deadline passed.
fn sponge(s: Sponge, data: &[u8], out_len: usize, stop: &dyn Fn() -> bool) -> Option<Vec<u8>> {
    match s {
        Sponge::Keccak224 => fixed::<sha3::Keccak224>(data, stop),
        Sponge::Keccak256 => fixed::<sha3::Keccak256>(data, stop),
        Sponge::Keccak384 => fixed::<sha3::Keccak384>(data, stop),
        Sponge::Keccak512 => fixed::<sha3::Keccak512>(data, stop),
        Sponge::Sha3_224 => fixed::<sha3::Sha3_224>(data, stop),
        Sponge::Sha3_256 => fixed::<sha3::Sha3_256>(data, stop),
        Sponge::Sha3_384 => fixed::<sha3::Sha3_384>(data, stop),
        Sponge::Sha3_512 => fixed::<sha3::Sha3_512>(data, stop),
        Sponge::Shake128 => xof::<sha3::Shake128>(data, out_len, stop),
        Sponge::Shake256 => xof::<sha3::Shake256>(data, out_len, stop),
    }
}

fn node_digest(alg: Algorithm, data: &[u8], stop: &dyn Fn() -> bool) -> Option<Vec<u8>> {
    let mut h = alg.hash();
    feed_slices(data, stop, |c| h.feed(c)).then(|| h.finish())
}

/// Adds `host.shimDigest` and `host.shimHmac` to `host`.
pub(super) fn install<'js>(
    host: &Object<'js>,
    state: &Rc<RefCell<LoopState>>,
) -> rquickjs::Result<()> {
    let st = state.clone();
    define(
        host,
        "shimDigest",
        move |ctx: Ctx<'js>,
              name: Value<'js>,
              data: Value<'js>,
              out_len: rquickjs::function::Opt<Value<'js>>|
              -> rquickjs::Result<Value<'js>> {
            let label = short_string(&name, 16)?.unwrap_or_default();
            let (budget, interrupt) = st.borrow().current_run(&ctx)?.resources();
            let digest = if let Some(s) = Sponge::from_name(&label) {
                let out_len = match (s, out_len.0) {
                    (Sponge::Shake128 | Sponge::Shake256, Some(n)) => {
                        integer(&ctx, &n, "outputLength", 0.0, MAX_XOF_BYTES as f64)? as usize
                    }
                    _ => 0,
                };
                let Some(_held) = Charge::of(&budget, out_len) else {
                    return Err(out_of_memory(&ctx));
                };
                with_bytes(&ctx, &data, |d| {
                    sponge(s, d, out_len, &|| interrupt.check())
                })?
            } else if let Some(alg) = algorithm(&name)? {
                with_bytes(&ctx, &data, |d| node_digest(alg, d, &|| interrupt.check()))?
            } else {
                return Ok(Value::new_null(ctx));
            };
            match digest {
                Some(d) => array_buffer(&ctx, &d),
                None => Err(interrupted(&ctx)),
            }
        },
    )?;
    let st = state.clone();
    define(
        host,
        "shimHmac",
        move |ctx: Ctx<'js>,
              name: Value<'js>,
              key: Value<'js>,
              data: Value<'js>|
              -> rquickjs::Result<Value<'js>> {
            let Some(alg) = algorithm(&name)? else {
                return Ok(Value::new_null(ctx));
            };
            let interrupt = st.borrow().current_run(&ctx)?.resources().1;
            let Some(mut mac) = with_bytes(&ctx, &key, |k| alg.hmac(k))? else {
                return Ok(Value::new_null(ctx));
            };
            let fed = with_bytes(&ctx, &data, |d| {
                feed_slices(d, &|| interrupt.check(), |c| mac.feed(c))
            })?;
            if !fed {
                return Err(interrupted(&ctx));
            }
            array_buffer(&ctx, &mac.finish())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Published vectors of the empty input (Keccak team; FIPS 202).
    #[test]
    fn empty_input_vectors() {
        let never = || false;
        let k = sponge(Sponge::Keccak256, b"", 0, &never).expect("digest");
        assert_eq!(
            hex(&k),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        let s = sponge(Sponge::Sha3_256, b"", 0, &never).expect("digest");
        assert_eq!(
            hex(&s),
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
        let x = sponge(Sponge::Shake128, b"", 16, &never).expect("digest");
        assert_eq!(hex(&x), "7f9c2ba4e88f827d616045507605853e");
        assert_eq!(Sponge::from_name("keccak-256"), None);
    }
}
