//! What the host functions of `crypto` and `zlib` share besides their bytes ([`super::bytes`]):
//! defining them on the prelude's `host` object, reading their numbers and names from
//! JavaScript (hostile values: read once, as plain primitives, and bounded), and answering
//! bytes as ArrayBuffers in the engine's heap, where the run's memory limit counts them.

use super::bindings::text;
use rquickjs::function::IntoJsFunc;
use rquickjs::{ArrayBuffer, Ctx, Exception, Function, Object, Value};

/// Sets `host[name]` to the host function `f`.
pub(super) fn define<'js, P>(
    host: &Object<'js>,
    name: &str,
    f: impl IntoJsFunc<'js, P> + 'js,
) -> rquickjs::Result<()> {
    host.set(name, Function::new(host.ctx().clone(), f)?)
}

/// A plain number from `min` to `max`; `None` for anything else (NaN, a string, a `Number`
/// object or a value with `valueOf` included: no JavaScript runs).
pub(super) fn number_in(v: &Value<'_>, min: f64, max: f64) -> Option<f64> {
    v.as_number().filter(|n| *n >= min && *n <= max)
}

/// An integral plain number from `min` to `max`; `None` otherwise.
pub(super) fn integer_in(v: &Value<'_>, min: f64, max: f64) -> Option<f64> {
    number_in(v, min, max).filter(|n| n.fract() == 0.0)
}

/// An integral plain number from `min` to `max`; a RangeError naming the argument otherwise.
pub(super) fn integer(
    ctx: &Ctx<'_>,
    v: &Value<'_>,
    name: &str,
    min: f64,
    max: f64,
) -> rquickjs::Result<f64> {
    integer_in(v, min, max).ok_or_else(|| {
        Exception::throw_range(
            ctx,
            &format!("\"{name}\" must be an integer from {min} to {max}"),
        )
    })
}

/// A string of at most `max_bytes` bytes of UTF-8 (an algorithm's name, say); `None` for a
/// longer one or a value that is not a string. No more than `max_bytes + 1` bytes are kept.
pub(super) fn short_string(v: &Value<'_>, max_bytes: usize) -> rquickjs::Result<Option<String>> {
    let Some(s) = v.as_string() else {
        return Ok(None);
    };
    let s = text(s, max_bytes.saturating_add(1))?;
    Ok((s.len() <= max_bytes).then_some(s))
}

/// `bytes` as a new ArrayBuffer.
pub(super) fn array_buffer<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Value<'js>> {
    ArrayBuffer::new_copy(ctx.clone(), bytes).map(|b| b.into_value())
}

/// `bytes` as a new ArrayBuffer, or `null` for `None`.
pub(super) fn array_buffer_or_null<'js>(
    ctx: &Ctx<'js>,
    bytes: Option<&[u8]>,
) -> rquickjs::Result<Value<'js>> {
    match bytes {
        Some(b) => array_buffer(ctx, b),
        None => Ok(Value::new_null(ctx.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    fn with_ctx(f: impl FnOnce(&Ctx<'_>)) {
        let rt = Runtime::new().expect("runtime");
        let context = Context::full(&rt).expect("context");
        context.with(|ctx| f(&ctx));
    }

    #[test]
    fn numbers_are_plain_and_bounded() {
        with_ctx(|ctx| {
            let eval = |src: &str| ctx.eval::<Value<'_>, _>(src).expect("eval");
            assert_eq!(integer_in(&eval("3"), 0.0, 3.0), Some(3.0));
            assert_eq!(integer_in(&eval("-1"), -1.0, 9.0), Some(-1.0));
            assert_eq!(integer_in(&eval("4"), 0.0, 3.0), None);
            assert_eq!(integer_in(&eval("1.5"), 0.0, 3.0), None);
            assert_eq!(integer_in(&eval("NaN"), 0.0, 3.0), None);
            assert_eq!(integer_in(&eval("'2'"), 0.0, 3.0), None);
            assert_eq!(integer_in(&eval("new Number(2)"), 0.0, 3.0), None);
            assert_eq!(
                integer_in(&eval("({ valueOf() { throw 1 } })"), 0.0, 3.0),
                None
            );
            assert_eq!(number_in(&eval("1.5"), 1.0, 2.0), Some(1.5));
            assert_eq!(number_in(&eval("Infinity"), 1.0, 2.0), None);
            let err = integer(ctx, &eval("-1"), "keylen", 0.0, 8.0);
            assert!(err.is_err());
            let caught = ctx.catch();
            let message = caught
                .as_exception()
                .and_then(|e| e.message())
                .unwrap_or_default();
            assert_eq!(message, "\"keylen\" must be an integer from 0 to 8");
        });
    }

    #[test]
    fn short_strings_are_bounded() {
        with_ctx(|ctx| {
            let eval = |src: &str| ctx.eval::<Value<'_>, _>(src).expect("eval");
            let read = |src: &str| short_string(&eval(src), 6).expect("read");
            assert_eq!(read("'sha256'").as_deref(), Some("sha256"));
            assert_eq!(read("'sha256x'"), None);
            assert_eq!(read("'x'.repeat(1 << 20)"), None);
            assert_eq!(read("256"), None);
            assert_eq!(read("'é'").as_deref(), Some("é"));
        });
    }

    #[test]
    fn bytes_answer_as_array_buffers_or_null() {
        with_ctx(|ctx| {
            let b = array_buffer(ctx, &[1, 2, 3]).expect("buffer");
            ctx.globals().set("b", b).expect("set");
            let seen: String = ctx
                .eval("b instanceof ArrayBuffer && new Uint8Array(b).join()")
                .expect("eval");
            assert_eq!(seen, "1,2,3");
            assert!(array_buffer_or_null(ctx, None).expect("null").is_null());
        });
    }
}
