//! The hashes, HMAC, PBKDF2, `timingSafeEqual` and [`scrypt`] of Node's `crypto` module,
//! computed by the host with RustCrypto's implementations ([`algorithms`]); js/node_crypto.js
//! gives them Node's API and errors.
//! The substituted JavaScript libraries (src/substitute/) get one-shot digests ([`digest`]) and
//! secp256k1 ([`secp256k1`]) besides.
//!
//! The prelude receives them as `host.hashNew`, `hashCopy`, `hashUpdate`, `hashDigest`,
//! `hashNames`, `pbkdf2`, `timingSafeEqual` and `scrypt`. A hash in progress lives in the
//! run's state ([`Hashes`]), under a number the script holds: it is charged to the run's
//! memory budget until its digest is taken, and dropped when the run ends.
//!
//! Every value comes from JavaScript and is hostile. Bytes cross as strings (their UTF-8) or
//! as ArrayBuffers and typed arrays, read where the engine keeps them: a view's own offset and
//! length, never a getter the script may have replaced, and never a JSON array of numbers.
//! Numbers are read once, as plain numbers, and bounded; PBKDF2, the one computation whose
//! cost the script chooses, stops at the run's deadline.

mod algorithms;
mod digest;
mod scrypt;
mod secp256k1;

use super::bytes::{with_buffer, with_bytes};
use super::errors::{interrupted, out_of_memory};
use super::event_loop::LoopState;
use super::handles::Handles;
use super::host_args::{array_buffer, define, integer, short_string};
use crate::alloc::Charge;
use algorithms::{Algorithm, Stopped, NAMES};
use rquickjs::function::Opt;
use rquickjs::{ArrayBuffer, Ctx, Exception, Object, Value};
use std::cell::RefCell;
use std::rc::Rc;
use subtle::ConstantTimeEq;

pub(super) use algorithms::Hasher;

/// The hashes and HMACs in progress of a run, by handle.
pub(super) type Hashes = Handles<Box<dyn Hasher>>;

/// Most iterations `pbkdf2` runs (Node allows 2^31 - 1; the run's deadline bounds the time
/// in any case).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Most bytes `pbkdf2` derives at once.
const MAX_PBKDF2_KEYLEN: usize = 1024 * 1024;

/// Longest algorithm name looked at: a longer one is not supported.
const MAX_NAME_BYTES: usize = 64;

/// The algorithm a script named; `None` when it is not supported (or not a string).
fn algorithm(name: &Value<'_>) -> rquickjs::Result<Option<Algorithm>> {
    Ok(short_string(name, MAX_NAME_BYTES)?.and_then(|name| Algorithm::from_name(&name)))
}

fn gone<T>(ctx: &Ctx<'_>) -> rquickjs::Result<T> {
    Err(Exception::throw_message(
        ctx,
        "this hash is no longer available: the run that created it has ended",
    ))
}

/// Keeps `hasher` for the run, charged to its budget; its handle.
fn keep(
    ctx: &Ctx<'_>,
    state: &RefCell<LoopState>,
    hasher: Box<dyn Hasher>,
) -> rquickjs::Result<f64> {
    let mut s = state.borrow_mut();
    let budget = s.current_run(ctx)?.budget.clone();
    let held = hasher.held();
    if !budget.charge(held) {
        return Err(out_of_memory(ctx));
    }
    match s.hashes.insert(hasher) {
        Some(id) => Ok(id as f64),
        None => {
            budget.uncharge(held);
            Err(Exception::throw_range(ctx, "too many hashes in one run"))
        }
    }
}

/// Adds the host functions of this module to `host`.
pub(super) fn install<'js>(
    host: &Object<'js>,
    state: &Rc<RefCell<LoopState>>,
) -> rquickjs::Result<()> {
    let st = state.clone();
    define(
        host,
        "hashNew",
        move |ctx: Ctx<'js>, name: Value<'js>, key: Opt<Value<'js>>| -> rquickjs::Result<f64> {
            // 0: the algorithm is not supported (js/node_crypto.js throws Node's error).
            let Some(alg) = algorithm(&name)? else {
                return Ok(0.0);
            };
            let hasher = match key.0 {
                None => alg.hash(),
                Some(key) if key.is_undefined() => alg.hash(),
                Some(key) => match with_bytes(&ctx, &key, |k| alg.hmac(k))? {
                    Some(h) => h,
                    None => return Err(Exception::throw_type(&ctx, "invalid HMAC key")),
                },
            };
            keep(&ctx, &st, hasher)
        },
    )?;
    let st = state.clone();
    define(
        host,
        "hashCopy",
        move |ctx: Ctx<'js>, id: Value<'js>| -> rquickjs::Result<f64> {
            let copy = {
                let s = st.borrow();
                match s.hashes.get(&id) {
                    Some(h) => h.duplicate(),
                    None => return gone(&ctx),
                }
            };
            keep(&ctx, &st, copy)
        },
    )?;
    let st = state.clone();
    define(
        host,
        "hashUpdate",
        move |ctx: Ctx<'js>, id: Value<'js>, data: Value<'js>| -> rquickjs::Result<()> {
            let fed = with_bytes(&ctx, &data, |bytes| {
                let mut s = st.borrow_mut();
                match s.hashes.get_mut(&id) {
                    Some(h) => {
                        h.feed(bytes);
                        true
                    }
                    None => false,
                }
            })?;
            if fed {
                Ok(())
            } else {
                gone(&ctx)
            }
        },
    )?;
    let st = state.clone();
    define(
        host,
        "hashDigest",
        move |ctx: Ctx<'js>, id: Value<'js>| -> rquickjs::Result<ArrayBuffer<'js>> {
            let hasher = {
                let mut s = st.borrow_mut();
                let Some((_, h)) = s.hashes.remove(&id) else {
                    return gone(&ctx);
                };
                if let Some(run) = s.run.as_ref() {
                    run.budget.uncharge(h.held());
                }
                h
            };
            // In the engine's heap, where the run's memory limit counts it.
            ArrayBuffer::new_copy(ctx, hasher.finish())
        },
    )?;
    define(host, "hashNames", || {
        let mut names: Vec<&'static str> = NAMES
            .iter()
            .filter(|(_, _, listed)| *listed)
            .map(|(n, _, _)| *n)
            .collect();
        names.sort_unstable();
        names
    })?;
    let st = state.clone();
    define(
        host,
        "pbkdf2",
        move |ctx: Ctx<'js>,
              password: Value<'js>,
              salt: Value<'js>,
              iterations: Value<'js>,
              keylen: Value<'js>,
              digest: Value<'js>|
              -> rquickjs::Result<Value<'js>> {
            let iterations = integer(
                &ctx,
                &iterations,
                "iterations",
                1.0,
                f64::from(MAX_PBKDF2_ITERATIONS),
            )? as u32;
            let keylen = integer(&ctx, &keylen, "keylen", 0.0, MAX_PBKDF2_KEYLEN as f64)? as usize;
            // null: the digest is not supported (js/node_crypto.js throws Node's error).
            let Some(alg) = algorithm(&digest)? else {
                return Ok(Value::new_null(ctx));
            };
            let (budget, interrupt) = st.borrow().current_run(&ctx)?.resources();
            let Some(_held) = Charge::of(&budget, keylen) else {
                return Err(out_of_memory(&ctx));
            };
            let mut out = vec![0u8; keylen];
            let mut stop = || interrupt.check();
            let derived = with_bytes(&ctx, &password, |password| {
                with_bytes(&ctx, &salt, |salt| {
                    alg.pbkdf2(password, salt, iterations, &mut out, &mut stop)
                })
            });
            let result = match derived {
                Ok(Ok(Ok(()))) => array_buffer(&ctx, &out),
                Ok(Ok(Err(Stopped))) => Err(interrupted(&ctx)),
                Ok(Err(e)) | Err(e) => Err(e),
            };
            drop(out);
            result
        },
    )?;
    define(
        host,
        "timingSafeEqual",
        |ctx: Ctx<'js>, a: Value<'js>, b: Value<'js>| -> rquickjs::Result<i32> {
            // 1: equal, 0: different, -1: of different lengths (Node's RangeError).
            with_buffer(&ctx, &a, |a| {
                with_buffer(&ctx, &b, |b| {
                    if a.len() != b.len() {
                        -1
                    } else {
                        i32::from(bool::from(a.ct_eq(b)))
                    }
                })
            })?
        },
    )?;
    digest::install(host, state)?;
    secp256k1::install(host)?;
    scrypt::install(host, state)
}
