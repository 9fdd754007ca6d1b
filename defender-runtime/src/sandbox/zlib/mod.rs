//! Node's `zlib` (gzip, gunzip, deflate, inflate, their raw forms and unzip), computed by the
//! host with `flate2` (the zlib-rs backend; one stream is a [`codec::Codec`]); js/node_zlib.js
//! gives it Node's API and errors.
//!
//! The prelude receives `host.zlibSync` (one call, one buffer) and `zlibOpen`, `zlibWrite`,
//! `zlibClose` for the streams (`createGunzip()`...), whose state lives in the run's state
//! ([`Streams`]) under a number the script holds: charged to the run's budget, dropped when
//! the stream ends, fails or the run ends.
//!
//! Every value comes from JavaScript and is hostile: input bytes are read once where the
//! engine keeps them, numbers are read once and bounded. The output, which a small input can
//! make as large as it likes (a "zip bomb"), is bounded: it is charged to the run's budget
//! as it grows (the run ends out of memory when it does not fit), it stops at the caller's
//! `maxOutputLength` (Node's `ERR_BUFFER_TOO_LARGE`) and at [`MAX_OUTPUT`] in any case, and
//! the work stops at the run's deadline.

mod codec;

use super::bytes::with_bytes;
use super::errors::{interrupted, out_of_memory};
use super::event_loop::LoopState;
use super::handles::Handles;
use super::host_args::{array_buffer, define, integer_in, number_in};
use codec::{Codec, Mode, ZlibError, MAX_OUTPUT};
use rquickjs::{Ctx, Exception, Object, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Most streams a run keeps open at once.
const MAX_STREAMS: usize = 256;

/// The zlib streams of a run, by handle.
pub(super) type Streams = Handles<Codec>;

/// The mode and level a script passed: a RangeError for anything else (js/node_zlib.js has
/// checked them with Node's errors already).
fn mode_and_level(
    ctx: &Ctx<'_>,
    mode: &Value<'_>,
    level: &Value<'_>,
) -> rquickjs::Result<(Mode, i32)> {
    let mode = mode.as_number().and_then(Mode::from_number);
    let level = integer_in(level, -1.0, 9.0);
    match (mode, level) {
        (Some(m), Some(l)) => Ok((m, l as i32)),
        _ => Err(Exception::throw_range(ctx, "invalid zlib mode or level")),
    }
}

/// The output as an ArrayBuffer in the engine's heap (where the run's limit counts it), or
/// the failure as `{ code, errno, message }` (`code` `ERR_BUFFER_TOO_LARGE` with the bound
/// as `errno` for an output over it), from which js/node_zlib.js makes Node's error. The
/// run's deadline and memory limit end it with an uncatchable error.
fn answer<'js>(ctx: &Ctx<'js>, r: Result<Vec<u8>, ZlibError>) -> rquickjs::Result<Value<'js>> {
    let (code, errno, message) = match r {
        Ok(bytes) => return array_buffer(ctx, &bytes),
        Err(ZlibError::Zlib {
            code,
            errno,
            message,
        }) => (code, errno as f64, message),
        Err(ZlibError::TooLarge(max)) => ("ERR_BUFFER_TOO_LARGE", max as f64, String::new()),
        Err(ZlibError::OutOfMemory) => return Err(out_of_memory(ctx)),
        Err(ZlibError::Interrupted) => return Err(interrupted(ctx)),
    };
    let o = Object::new(ctx.clone())?;
    o.set("code", code)?;
    o.set("errno", errno)?;
    o.set("message", message)?;
    Ok(o.into_value())
}

/// A byte count the script passed (`maxOutputLength`), from 1 to [`MAX_OUTPUT`].
fn max_output(v: &Value<'_>) -> usize {
    number_in(v, 1.0, MAX_OUTPUT as f64).map_or(MAX_OUTPUT, |n| n as usize)
}

/// Adds the host functions of this module to `host`.
pub(super) fn install<'js>(
    host: &Object<'js>,
    state: &Rc<RefCell<LoopState>>,
) -> rquickjs::Result<()> {
    let st = state.clone();
    define(
        host,
        "zlibSync",
        move |ctx: Ctx<'js>,
              mode: Value<'js>,
              input: Value<'js>,
              level: Value<'js>,
              max: Value<'js>|
              -> rquickjs::Result<Value<'js>> {
            let (mode, level) = mode_and_level(&ctx, &mode, &level)?;
            let max = max_output(&max);
            let (budget, interrupt) = st.borrow().current_run(&ctx)?.resources();
            let Some(mut codec) = Codec::new(mode, level, &budget) else {
                return Err(out_of_memory(&ctx));
            };
            let mut stop = || interrupt.check();
            let r = with_bytes(&ctx, &input, |bytes| {
                codec.process(bytes, false, true, max, &mut stop)
            })?;
            answer(&ctx, r)
        },
    )?;
    let st = state.clone();
    define(
        host,
        "zlibOpen",
        move |ctx: Ctx<'js>, mode: Value<'js>, level: Value<'js>| -> rquickjs::Result<f64> {
            let (mode, level) = mode_and_level(&ctx, &mode, &level)?;
            let mut s = st.borrow_mut();
            let budget = s.current_run(&ctx)?.budget.clone();
            let streams = &mut s.zlib_streams;
            if streams.len() >= MAX_STREAMS {
                return Err(Exception::throw_range(
                    &ctx,
                    &format!("at most {MAX_STREAMS} zlib streams at once"),
                ));
            }
            let Some(codec) = Codec::new(mode, level, &budget) else {
                return Err(out_of_memory(&ctx));
            };
            match streams.insert(codec) {
                Some(id) => Ok(id as f64),
                None => Err(Exception::throw_range(&ctx, "too many zlib streams")),
            }
        },
    )?;
    let st = state.clone();
    define(
        host,
        "zlibWrite",
        move |ctx: Ctx<'js>,
              id: Value<'js>,
              input: Value<'js>,
              flush: Value<'js>|
              -> rquickjs::Result<Value<'js>> {
            // Node's flush flags: 2 (`Z_SYNC_FLUSH`) and 3 (`Z_FULL_FLUSH`) flush, 4
            // (`Z_FINISH`) ends the stream; anything else (`Z_NO_FLUSH`) neither.
            let flush = flush.as_number().unwrap_or(0.0);
            let finish = flush == 4.0;
            let flush = flush == 2.0 || flush == 3.0;
            let (_, interrupt) = st.borrow().current_run(&ctx)?.resources();
            // Out of the state while it works: no JavaScript runs meanwhile, but the
            // state is not borrowed across the engine's calls.
            let Some((id, mut codec)) = st.borrow_mut().zlib_streams.remove(&id) else {
                return Err(Exception::throw_message(&ctx, "this zlib stream is closed"));
            };
            let mut stop = || interrupt.check();
            let r = if input.is_undefined() || input.is_null() {
                codec.process(&[], flush, finish, MAX_OUTPUT, &mut stop)
            } else {
                with_bytes(&ctx, &input, |bytes| {
                    codec.process(bytes, flush, finish, MAX_OUTPUT, &mut stop)
                })?
            };
            // A stream that ended or failed is dropped (its memory given back).
            if r.is_ok() && !finish {
                st.borrow_mut().zlib_streams.restore(id, codec);
            }
            answer(&ctx, r)
        },
    )?;
    let st = state.clone();
    define(host, "zlibClose", move |id: Value<'js>| {
        let codec = st.borrow_mut().zlib_streams.remove(&id);
        drop(codec);
    })?;
    Ok(())
}
