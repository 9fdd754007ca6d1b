//! The `scrypt` of Node's `crypto` module, computed by the host with RustCrypto's `scrypt`;
//! js/node_crypto.js checks the arguments with Node's errors and gives it Node's API.
//!
//! The prelude receives it as `host.scrypt`. The script chooses the cost, so it is bounded:
//! the memory (`128 * r * (N + p)` bytes, as OpenSSL counts it) is charged to the run's
//! budget and at most [`MAX_MEMORY`], the work (`N * r * p`) at most [`MAX_WORK`], and the
//! derivation runs on a blocking thread of the host while the script's thread waits for it
//! and gives up at the run's deadline (the derivation then finishes its bounded work alone).

use crate::alloc::Charge;
use crate::sandbox::bytes::with_bytes;
use crate::sandbox::errors::{interrupted, out_of_memory};
use crate::sandbox::event_loop::LoopState;
use crate::sandbox::host_args::{array_buffer, define, integer_in};
use rquickjs::{Ctx, Exception, Object, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

/// Most memory one derivation may use (Node's default `maxmem` is 32 MiB).
const MAX_MEMORY: u64 = 256 * 1024 * 1024;

/// Most work one derivation may do, as `N * r * p`: 128 times Node's default cost (N = 2^14,
/// r = 8, p = 1), a few seconds.
const MAX_WORK: u64 = 1 << 24;

/// Most bytes one derivation produces.
const MAX_KEYLEN: usize = 1024 * 1024;

/// How often the waiting script thread looks at the run's deadline.
const POLL: Duration = Duration::from_millis(5);

/// Why the host refused parameters (js/node_crypto.js turns each into Node's error).
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Not a valid cost: `N` a power of two above 1, `r` and `p` positive, `r * p < 2^30`,
    /// `N < 2^(16 r)`.
    Invalid,
    /// More memory than `maxmem`.
    Memory,
    /// More work or memory than the sandbox allows.
    TooCostly,
}

/// Checks the cost (as OpenSSL does, and against the sandbox's bounds); the memory the
/// derivation uses and `log2(N)`.
fn check(n: u64, r: u64, p: u64, maxmem: u64) -> Result<(u64, u8), Refusal> {
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || r.saturating_mul(p) >= 1 << 30 {
        return Err(Refusal::Invalid);
    }
    let log_n = n.trailing_zeros();
    if u64::from(log_n) >= r.saturating_mul(16) {
        return Err(Refusal::Invalid);
    }
    let memory = r.saturating_mul(128).saturating_mul(n.saturating_add(p));
    if memory > maxmem {
        return Err(Refusal::Memory);
    }
    if memory > MAX_MEMORY || n.saturating_mul(r).saturating_mul(p) > MAX_WORK {
        return Err(Refusal::TooCostly);
    }
    Ok((memory, log_n as u8))
}

/// A number the script passed, as an integer from 0 to `max`.
fn count(v: &Value<'_>, max: f64) -> Option<u64> {
    integer_in(v, 0.0, max).map(|n| n as u64)
}

/// The answer that names a refusal (js/node_crypto.js turns it into Node's error).
fn refused<'js>(ctx: &Ctx<'js>, why: Refusal) -> rquickjs::Result<Value<'js>> {
    let why = match why {
        Refusal::Invalid => "invalid",
        Refusal::Memory => "memory",
        Refusal::TooCostly => "costly",
    };
    Ok(rquickjs::String::from_str(ctx.clone(), why)?.into_value())
}

/// Adds `host.scrypt(password, salt, keylen, N, r, p, maxmem)`: an ArrayBuffer, or a string
/// naming the refusal (`invalid`, `memory`, `costly`).
pub(super) fn install<'js>(
    host: &Object<'js>,
    state: &Rc<RefCell<LoopState>>,
) -> rquickjs::Result<()> {
    let st = state.clone();
    define(
        host,
        "scrypt",
        move |ctx: Ctx<'js>,
              password: Value<'js>,
              salt: Value<'js>,
              keylen: Value<'js>,
              cost: rquickjs::function::Rest<Value<'js>>|
              -> rquickjs::Result<Value<'js>> {
            let keylen = count(&keylen, MAX_KEYLEN as f64).ok_or_else(|| {
                Exception::throw_range(&ctx, &format!("keylen must be at most {MAX_KEYLEN}"))
            })? as usize;
            let arg = |i: usize, max: f64| cost.0.get(i).and_then(|v| count(v, max));
            let (Some(n), Some(r), Some(p), Some(maxmem)) = (
                arg(0, 2f64.powi(53)),
                arg(1, 2f64.powi(32)),
                arg(2, 2f64.powi(32)),
                arg(3, 2f64.powi(53)),
            ) else {
                return refused(&ctx, Refusal::Invalid);
            };
            let (memory, log_n) = match check(n, r, p, maxmem) {
                Ok(c) => c,
                Err(why) => return refused(&ctx, why),
            };
            let params = match scrypt::Params::new(log_n, r as u32, p as u32) {
                Ok(params) => params,
                Err(_) => return refused(&ctx, Refusal::Invalid),
            };
            let (budget, interrupt, handle) = {
                let s = st.borrow();
                let run = s.current_run(&ctx)?;
                let (budget, interrupt) = run.resources();
                (budget, interrupt, run.handle.clone())
            };
            // The inputs are copied for the derivation's thread: charged with the rest.
            let (password, salt) = (
                with_bytes(&ctx, &password, <[u8]>::to_vec)?,
                with_bytes(&ctx, &salt, <[u8]>::to_vec)?,
            );
            let held = usize::try_from(memory)
                .unwrap_or(usize::MAX)
                .saturating_add(keylen)
                .saturating_add(password.len())
                .saturating_add(salt.len());
            let Some(charge) = Charge::of(&budget, held) else {
                return Err(out_of_memory(&ctx));
            };
            let (tx, rx) = mpsc::channel();
            handle.spawn_blocking(move || {
                let mut out = vec![0u8; keylen];
                let derived = scrypt::scrypt(&password, &salt, &params, &mut out);
                let _ = tx.send(derived.map(|()| out));
            });
            let result = loop {
                match rx.recv_timeout(POLL) {
                    Ok(r) => break Some(r),
                    Err(mpsc::RecvTimeoutError::Timeout) if !interrupt.check() => {}
                    Err(_) => break None,
                }
            };
            drop(charge);
            match result {
                Some(Ok(key)) => array_buffer(&ctx, &key),
                Some(Err(_)) => refused(&ctx, Refusal::Invalid),
                None => Err(interrupted(&ctx)),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_checked_as_openssl_does_and_bounded() {
        let mib32 = 32 << 20;
        assert_eq!(check(16384, 8, 1, mib32), Ok((128 * 8 * 16385, 14)));
        assert_eq!(check(1000, 8, 1, mib32), Err(Refusal::Invalid));
        assert_eq!(check(1, 8, 1, mib32), Err(Refusal::Invalid));
        assert_eq!(check(16, 0, 1, mib32), Err(Refusal::Invalid));
        assert_eq!(check(1 << 16, 1, 1, mib32), Err(Refusal::Invalid));
        assert_eq!(check(1 << 16, 8, 1, mib32), Err(Refusal::Memory));
        assert_eq!(check(16384, 8, 1, 16_000_000), Err(Refusal::Memory));
        assert_eq!(check(1 << 20, 8, 1, 1 << 31), Err(Refusal::TooCostly));
        assert_eq!(check(1024, 8, 4096, 1 << 31), Err(Refusal::TooCostly));
        assert_eq!(
            check(u64::MAX / 2 + 1, 8, 1, u64::MAX),
            Err(Refusal::TooCostly)
        );
    }

    /// RFC 7914's second vector through the bounds the host checks.
    #[test]
    fn derives_the_rfc_7914_vector() {
        let (_, log_n) = check(1024, 8, 16, 1 << 30).expect("allowed");
        let params = scrypt::Params::new(log_n, 8, 16).expect("valid");
        let mut out = [0u8; 64];
        scrypt::scrypt(b"password", b"NaCl", &params, &mut out).expect("derives");
        assert_eq!(out[..8], [0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00]);
    }
}
