//! The hashes, HMAC, PBKDF2 and `timingSafeEqual` of Node's `crypto` module, computed by the
//! host with RustCrypto's implementations; js/web.js gives them Node's API and errors.
//!
//! The prelude receives them as `host.hashNew`, `hashCopy`, `hashUpdate`, `hashDigest`,
//! `hashNames`, `pbkdf2` and `timingSafeEqual`. A hash in progress lives here, in the run's
//! state ([`Hashes`]), under a number the script holds: it is charged to the run's memory
//! budget until its digest is taken, and dropped when the run ends.
//!
//! Every value comes from JavaScript and is hostile. Bytes cross as strings (their UTF-8) or
//! as ArrayBuffers and typed arrays, read where the engine keeps them: a view's own offset and
//! length, never a getter the script may have replaced, and never a JSON array of numbers.
//! Numbers are read once, as plain numbers, and bounded; PBKDF2, the one computation whose
//! cost the script chooses, stops at the run's deadline.

use super::bindings::text;
use super::event_loop::LoopState;
use hmac::digest::{FixedOutput, KeyInit, Mac, Update};
use hmac::Hmac;
use rquickjs::function::Opt;
use rquickjs::{qjs, ArrayBuffer, Ctx, Exception, Function, Object, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use subtle::ConstantTimeEq;

/// Most iterations `pbkdf2` runs (Node allows 2^31 - 1; the run's deadline bounds the time
/// in any case).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Most bytes `pbkdf2` derives at once.
const MAX_PBKDF2_KEYLEN: usize = 1024 * 1024;

/// PBKDF2 iterations between two looks at the run's deadline (about a millisecond of work).
const CHECK_EVERY: u32 = 1024;

/// Longest algorithm name looked at: a longer one is not supported.
const MAX_NAME_BYTES: usize = 64;

/// What a hash in progress costs the host besides its state: its map entry and box.
const HASH_OVERHEAD: usize = 64;

/// Largest hash handle: handles are JavaScript numbers, exact up to 2^53.
const MAX_HANDLE: u64 = (1 << 53) - 1;

/// A digest algorithm of Node's `crypto` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Ripemd160,
}

/// The names OpenSSL (so Node) knows each algorithm by, compared without regard to ASCII
/// case; `true` for those that `crypto.getHashes()` lists.
const NAMES: &[(&str, Algorithm, bool)] = &[
    ("RSA-MD5", Algorithm::Md5, true),
    ("md5", Algorithm::Md5, true),
    ("md5WithRSAEncryption", Algorithm::Md5, true),
    ("ssl3-md5", Algorithm::Md5, true),
    ("RSA-SHA1", Algorithm::Sha1, true),
    ("RSA-SHA1-2", Algorithm::Sha1, true),
    ("sha1", Algorithm::Sha1, true),
    ("sha1WithRSAEncryption", Algorithm::Sha1, true),
    ("ssl3-sha1", Algorithm::Sha1, true),
    ("sha-1", Algorithm::Sha1, false),
    ("RSA-SHA224", Algorithm::Sha224, true),
    ("sha224", Algorithm::Sha224, true),
    ("sha224WithRSAEncryption", Algorithm::Sha224, true),
    ("sha-224", Algorithm::Sha224, false),
    ("sha2-224", Algorithm::Sha224, false),
    ("RSA-SHA256", Algorithm::Sha256, true),
    ("sha256", Algorithm::Sha256, true),
    ("sha256WithRSAEncryption", Algorithm::Sha256, true),
    ("sha-256", Algorithm::Sha256, false),
    ("sha2-256", Algorithm::Sha256, false),
    ("RSA-SHA384", Algorithm::Sha384, true),
    ("sha384", Algorithm::Sha384, true),
    ("sha384WithRSAEncryption", Algorithm::Sha384, true),
    ("sha-384", Algorithm::Sha384, false),
    ("sha2-384", Algorithm::Sha384, false),
    ("RSA-SHA512", Algorithm::Sha512, true),
    ("sha512", Algorithm::Sha512, true),
    ("sha512WithRSAEncryption", Algorithm::Sha512, true),
    ("sha-512", Algorithm::Sha512, false),
    ("sha2-512", Algorithm::Sha512, false),
    ("RSA-SHA512/224", Algorithm::Sha512_224, true),
    ("sha512-224", Algorithm::Sha512_224, true),
    ("sha512-224WithRSAEncryption", Algorithm::Sha512_224, true),
    ("sha-512/224", Algorithm::Sha512_224, false),
    ("sha2-512/224", Algorithm::Sha512_224, false),
    ("RSA-SHA512/256", Algorithm::Sha512_256, true),
    ("sha512-256", Algorithm::Sha512_256, true),
    ("sha512-256WithRSAEncryption", Algorithm::Sha512_256, true),
    ("sha-512/256", Algorithm::Sha512_256, false),
    ("sha2-512/256", Algorithm::Sha512_256, false),
    ("RSA-RIPEMD160", Algorithm::Ripemd160, true),
    ("ripemd", Algorithm::Ripemd160, true),
    ("ripemd160", Algorithm::Ripemd160, true),
    ("ripemd160WithRSA", Algorithm::Ripemd160, true),
    ("rmd160", Algorithm::Ripemd160, true),
    ("ripemd-160", Algorithm::Ripemd160, false),
];

/// Runs `$body` with `$d` the digest type of algorithm `$alg`.
macro_rules! with_digest {
    ($alg:expr, $d:ident => $body:expr) => {
        match $alg {
            Algorithm::Md5 => {
                type $d = md5::Md5;
                $body
            }
            Algorithm::Sha1 => {
                type $d = sha1::Sha1;
                $body
            }
            Algorithm::Sha224 => {
                type $d = sha2::Sha224;
                $body
            }
            Algorithm::Sha256 => {
                type $d = sha2::Sha256;
                $body
            }
            Algorithm::Sha384 => {
                type $d = sha2::Sha384;
                $body
            }
            Algorithm::Sha512 => {
                type $d = sha2::Sha512;
                $body
            }
            Algorithm::Sha512_224 => {
                type $d = sha2::Sha512_224;
                $body
            }
            Algorithm::Sha512_256 => {
                type $d = sha2::Sha512_256;
                $body
            }
            Algorithm::Ripemd160 => {
                type $d = ripemd::Ripemd160;
                $body
            }
        }
    };
}

/// PBKDF2 stopped at the run's deadline.
#[derive(Debug, PartialEq, Eq)]
struct Stopped;

impl Algorithm {
    fn from_name(name: &str) -> Option<Algorithm> {
        NAMES
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, a, _)| a)
    }

    fn hash(self) -> Box<dyn Hasher> {
        with_digest!(self, D => Box::new(D::default()))
    }

    /// HMAC with `key` (of any length: a key longer than a block is hashed first).
    fn hmac(self, key: &[u8]) -> Option<Box<dyn Hasher>> {
        with_digest!(self, D => match <Hmac<D> as KeyInit>::new_from_slice(key) {
            Ok(mac) => Some(Box::new(mac) as Box<dyn Hasher>),
            Err(_) => None,
        })
    }

    /// PBKDF2 with HMAC of this algorithm (RFC 8018, section 5.2) into `out`; `stop` is asked
    /// every [`CHECK_EVERY`] iterations and after each block.
    fn pbkdf2(
        self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
        out: &mut [u8],
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<(), Stopped> {
        with_digest!(self, D => match <Hmac<D> as KeyInit>::new_from_slice(password) {
            Ok(prf) => pbkdf2(prf, salt, iterations, out, stop),
            Err(_) => Err(Stopped),
        })
    }
}

/// PBKDF2 with the pseudo-random function `prf` (keyed with the password).
fn pbkdf2<M: Mac + Clone>(
    prf: M,
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
    stop: &mut dyn FnMut() -> bool,
) -> Result<(), Stopped> {
    let size = <M as hmac::digest::OutputSizeUser>::output_size();
    for (i, block) in out.chunks_mut(size).enumerate() {
        // Block numbers start at 1; at most 2^20 bytes, so far below 2^32 blocks.
        let index = u32::try_from(i)
            .ok()
            .and_then(|i| i.checked_add(1))
            .ok_or(Stopped)?;
        let mut mac = prf.clone();
        mac.update(salt);
        mac.update(&index.to_be_bytes());
        let mut u = mac.finalize().into_bytes();
        let mut t = u.clone();
        for round in 1..iterations {
            if round % CHECK_EVERY == 0 && stop() {
                return Err(Stopped);
            }
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes();
            for (t, u) in t.iter_mut().zip(u.iter()) {
                *t ^= u;
            }
        }
        for (o, t) in block.iter_mut().zip(t.iter()) {
            *o = *t;
        }
        if stop() {
            return Err(Stopped);
        }
    }
    Ok(())
}

/// A hash or HMAC in progress.
trait Hasher {
    fn feed(&mut self, data: &[u8]);
    fn finish(self: Box<Self>) -> Vec<u8>;
    fn duplicate(&self) -> Box<dyn Hasher>;
    /// Bytes charged to the run for it.
    fn held(&self) -> usize;
}

impl<T: Update + FixedOutput + Clone + 'static> Hasher for T {
    fn feed(&mut self, data: &[u8]) {
        Update::update(self, data);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        (*self).finalize_fixed().to_vec()
    }

    fn duplicate(&self) -> Box<dyn Hasher> {
        Box::new(self.clone())
    }

    fn held(&self) -> usize {
        std::mem::size_of::<T>().saturating_add(HASH_OVERHEAD)
    }
}

/// The hashes in progress of a run, by handle.
#[derive(Default)]
pub(super) struct Hashes {
    live: HashMap<u64, Box<dyn Hasher>>,
    last: u64,
}

impl Hashes {
    /// Drops every hash in progress (the run ends; its budget is reset with the next run).
    pub(super) fn clear(&mut self) {
        self.live = HashMap::new();
    }

    /// Keeps `hasher` under a new handle; `None` when handles ran out.
    fn insert(&mut self, hasher: Box<dyn Hasher>) -> Option<u64> {
        let id = self.last.checked_add(1).filter(|&id| id <= MAX_HANDLE)?;
        self.last = id;
        self.live.insert(id, hasher);
        Some(id)
    }
}

/// The handle a script passed, if it is one (a plain integral number in range).
fn handle(v: &Value<'_>) -> Option<u64> {
    let n = v.as_number()?;
    (n.fract() == 0.0 && n >= 1.0 && n <= MAX_HANDLE as f64).then_some(n as u64)
}

/// Whether QuickJS's UTF-8 of a string holds a lone surrogate (`ED A0..BF xx`).
fn has_lone_surrogate(bytes: &[u8]) -> bool {
    bytes
        .windows(2)
        .any(|w| w[0] == 0xED && (0xA0..=0xBF).contains(&w[1]))
}

fn not_bytes<T>(ctx: &Ctx<'_>) -> rquickjs::Result<T> {
    Err(Exception::throw_type(
        ctx,
        "expected an ArrayBuffer or a typed array that is not detached",
    ))
}

/// Calls `f` with the bytes of an ArrayBuffer or of a typed array's view (its own offset and
/// length, as the engine keeps them); a TypeError for any other value or a detached buffer.
/// No JavaScript runs while `f` holds the bytes, which live in the engine's heap.
#[allow(unsafe_code)]
fn with_buffer<'js, R>(
    ctx: &Ctx<'js>,
    v: &Value<'js>,
    f: impl FnOnce(&[u8]) -> R,
) -> rquickjs::Result<R> {
    let raw = v.as_raw();
    let cx = ctx.as_raw().as_ptr();
    // SAFETY: class checks on a live value of this context; they raise nothing.
    let (is_buffer, is_view) = unsafe {
        (
            qjs::JS_IsArrayBuffer(raw),
            qjs::JS_GetTypedArrayType(raw) >= 0,
        )
    };
    // The buffer, and the view's offset and length in it (the whole of an ArrayBuffer).
    let (buffer, offset, len) = if is_buffer {
        (v.clone(), 0, None)
    } else if is_view {
        let mut offset: qjs::size_t = 0;
        let mut len: qjs::size_t = 0;
        // SAFETY: `raw` is a typed array of this context; the buffer returned is owned (and
        // freed by `Value` below), or JS_EXCEPTION when the view is out of bounds or detached.
        let buffer = unsafe {
            qjs::JS_GetTypedArrayBuffer(cx, raw, &mut offset, &mut len, std::ptr::null_mut())
        };
        // SAFETY: inspects the tag of a value.
        if unsafe { qjs::JS_IsException(buffer) } {
            return not_bytes(ctx);
        }
        // SAFETY: `buffer` is owned and belongs to this context.
        let buffer = unsafe { Value::from_raw(ctx.clone(), buffer) };
        match (usize::try_from(offset), usize::try_from(len)) {
            (Ok(offset), Ok(len)) => (buffer, offset, Some(len)),
            _ => return not_bytes(ctx),
        }
    } else {
        return not_bytes(ctx);
    };
    let Some(data) = ArrayBuffer::from_value(buffer).and_then(|b| b.as_raw()) else {
        return not_bytes(ctx);
    };
    let len = len.unwrap_or(data.len());
    // The view must lie inside its buffer (the engine checks it; so does the host).
    match offset.checked_add(len) {
        Some(end) if end <= data.len() => {}
        _ => return not_bytes(ctx),
    }
    // SAFETY: `data` points to the buffer's `data.len()` live bytes, kept alive by `v` (and
    // `buffer`) and unchanged while no JavaScript runs, which is until `f` returns;
    // `offset + len` is within them (checked above).
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>().as_ptr().add(offset), len) };
    Ok(f(bytes))
}

/// Calls `f` with the bytes of a string (its UTF-8; a lone surrogate is U+FFFD, as Node
/// encodes it), an ArrayBuffer or a typed array's view; a TypeError for any other value.
#[allow(unsafe_code)]
fn with_bytes<'js, R>(
    ctx: &Ctx<'js>,
    v: &Value<'js>,
    f: impl FnOnce(&[u8]) -> R,
) -> rquickjs::Result<R> {
    let Some(s) = v.as_string() else {
        return with_buffer(ctx, v, f);
    };
    let c = s.clone().to_cstring()?;
    // SAFETY: `c` owns a buffer of `c.len()` bytes that QuickJS keeps alive until `c` is
    // dropped, after `f` returns.
    let bytes = unsafe { std::slice::from_raw_parts(c.as_ptr().cast::<u8>(), c.len()) };
    if has_lone_surrogate(bytes) {
        let fixed = text(s, usize::MAX)?;
        return Ok(f(fixed.as_bytes()));
    }
    Ok(f(bytes))
}

/// The algorithm a script named; `None` when it is not supported (or not a string).
fn algorithm(name: &Value<'_>) -> rquickjs::Result<Option<Algorithm>> {
    let Some(s) = name.as_string() else {
        return Ok(None);
    };
    let name = text(s, MAX_NAME_BYTES + 1)?;
    if name.len() > MAX_NAME_BYTES {
        return Ok(None);
    }
    Ok(Algorithm::from_name(&name))
}

/// An integral plain number from `min` to `max`; a RangeError otherwise.
fn integer(ctx: &Ctx<'_>, v: &Value<'_>, name: &str, min: f64, max: f64) -> rquickjs::Result<f64> {
    match v.as_number() {
        Some(n) if n.fract() == 0.0 && n >= min && n <= max => Ok(n),
        _ => Err(Exception::throw_range(
            ctx,
            &format!("\"{name}\" must be an integer from {min} to {max}"),
        )),
    }
}

fn out_of_memory<T>(ctx: &Ctx<'_>) -> rquickjs::Result<T> {
    Err(Exception::throw_internal(ctx, "out of memory"))
}

fn no_run<T>(ctx: &Ctx<'_>) -> rquickjs::Result<T> {
    Err(Exception::throw_message(ctx, "no run in progress"))
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
    let Some(run) = s.run.as_ref() else {
        return no_run(ctx);
    };
    let held = hasher.held();
    if !run.budget.charge(held) {
        return out_of_memory(ctx);
    }
    let budget = run.budget.clone();
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
    ctx: &Ctx<'js>,
    host: &Object<'js>,
    state: &Rc<RefCell<LoopState>>,
) -> rquickjs::Result<()> {
    let st = state.clone();
    host.set(
        "hashNew",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, name: Value<'js>, key: Opt<Value<'js>>| -> rquickjs::Result<f64> {
                // 0: the algorithm is not supported (js/web.js throws Node's error).
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
        )?,
    )?;
    let st = state.clone();
    host.set(
        "hashCopy",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, id: Value<'js>| -> rquickjs::Result<f64> {
                let copy = {
                    let s = st.borrow();
                    match handle(&id).and_then(|id| s.hashes.live.get(&id)) {
                        Some(h) => h.duplicate(),
                        None => return gone(&ctx),
                    }
                };
                keep(&ctx, &st, copy)
            },
        )?,
    )?;
    let st = state.clone();
    host.set(
        "hashUpdate",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, id: Value<'js>, data: Value<'js>| -> rquickjs::Result<()> {
                let Some(id) = handle(&id) else {
                    return gone(&ctx);
                };
                let fed = with_bytes(&ctx, &data, |bytes| {
                    let mut s = st.borrow_mut();
                    match s.hashes.live.get_mut(&id) {
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
        )?,
    )?;
    let st = state.clone();
    host.set(
        "hashDigest",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, id: Value<'js>| -> rquickjs::Result<ArrayBuffer<'js>> {
                let hasher = {
                    let mut s = st.borrow_mut();
                    let Some(h) = handle(&id).and_then(|id| s.hashes.live.remove(&id)) else {
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
        )?,
    )?;
    host.set(
        "hashNames",
        Function::new(ctx.clone(), || {
            let mut names: Vec<&'static str> = NAMES
                .iter()
                .filter(|(_, _, listed)| *listed)
                .map(|(n, _, _)| *n)
                .collect();
            names.sort_unstable();
            names
        })?,
    )?;
    let st = state.clone();
    host.set(
        "pbkdf2",
        Function::new(
            ctx.clone(),
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
                let keylen =
                    integer(&ctx, &keylen, "keylen", 0.0, MAX_PBKDF2_KEYLEN as f64)? as usize;
                // null: the digest is not supported (js/web.js throws Node's error).
                let Some(alg) = algorithm(&digest)? else {
                    return Ok(Value::new_null(ctx));
                };
                let (budget, interrupt) = {
                    let s = st.borrow();
                    let Some(run) = s.run.as_ref() else {
                        return no_run(&ctx);
                    };
                    (run.budget.clone(), run.interrupt.clone())
                };
                if !budget.charge(keylen) {
                    return out_of_memory(&ctx);
                }
                let mut out = vec![0u8; keylen];
                let mut stop = || interrupt.check();
                let derived = with_bytes(&ctx, &password, |password| {
                    with_bytes(&ctx, &salt, |salt| {
                        alg.pbkdf2(password, salt, iterations, &mut out, &mut stop)
                    })
                });
                let result = match derived {
                    Ok(Ok(Ok(()))) => {
                        ArrayBuffer::new_copy(ctx.clone(), &out).map(|b| b.into_value())
                    }
                    Ok(Ok(Err(Stopped))) => Err(Exception::throw_internal(&ctx, "interrupted")),
                    Ok(Err(e)) | Err(e) => Err(e),
                };
                drop(out);
                budget.uncharge(keylen);
                result
            },
        )?,
    )?;
    host.set(
        "timingSafeEqual",
        Function::new(
            ctx.clone(),
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
        )?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Algorithm; 9] = [
        Algorithm::Md5,
        Algorithm::Sha1,
        Algorithm::Sha224,
        Algorithm::Sha256,
        Algorithm::Sha384,
        Algorithm::Sha512,
        Algorithm::Sha512_224,
        Algorithm::Sha512_256,
        Algorithm::Ripemd160,
    ];

    #[test]
    fn names_are_found_without_regard_to_case() {
        assert_eq!(Algorithm::from_name("SHA256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_name("rsa-sha256"), Some(Algorithm::Sha256));
        assert_eq!(
            Algorithm::from_name("Sha-512/256"),
            Some(Algorithm::Sha512_256)
        );
        assert_eq!(Algorithm::from_name("sha256 "), None);
        assert_eq!(Algorithm::from_name("sha512/224"), None);
        for alg in ALL {
            assert!(NAMES.iter().any(|&(_, a, listed)| a == alg && listed));
        }
    }

    /// The host's PBKDF2 (which stops at the run's deadline) against RustCrypto's `pbkdf2`.
    #[test]
    fn pbkdf2_agrees_with_the_pbkdf2_crate() {
        fn reference(alg: Algorithm, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
            with_digest!(alg, D => pbkdf2::pbkdf2_hmac::<D>(password, salt, rounds, out))
        }
        for alg in ALL {
            for (rounds, len) in [(1, 0), (1, 7), (2, 64), (1025, 65), (3000, 200)] {
                let mut ours = vec![0u8; len];
                let mut theirs = vec![0u8; len];
                alg.pbkdf2(b"password", b"salt", rounds, &mut ours, &mut || false)
                    .expect("not stopped");
                reference(alg, b"password", b"salt", rounds, &mut theirs);
                assert_eq!(ours, theirs, "{alg:?} {rounds} {len}");
            }
        }
    }

    #[test]
    fn pbkdf2_stops_when_asked() {
        let mut out = [0u8; 32];
        let mut asked = 0;
        let r = Algorithm::Sha256.pbkdf2(b"p", b"s", MAX_PBKDF2_ITERATIONS, &mut out, &mut || {
            asked += 1;
            asked > 3
        });
        assert_eq!(r, Err(Stopped));
        assert_eq!(asked, 4);
    }

    #[test]
    fn lone_surrogates_are_found() {
        assert!(has_lone_surrogate(&[b'a', 0xED, 0xA0, 0x80]));
        assert!(!has_lone_surrogate("é😀".as_bytes()));
    }
}
