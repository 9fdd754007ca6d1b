//! The bytes of values from JavaScript, read where the engine keeps them: a string's UTF-8,
//! an ArrayBuffer, or a typed array's or DataView's own offset and length (never a getter the
//! script may have replaced, and never a JSON array of numbers). Shared by the host functions
//! of `crypto` and `zlib`.

use super::bindings::text;
use rquickjs::{qjs, ArrayBuffer, Ctx, Exception, Value};

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
pub(super) fn with_buffer<'js, R>(
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
pub(super) fn with_bytes<'js, R>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_found() {
        assert!(has_lone_surrogate(&[b'a', 0xED, 0xA0, 0x80]));
        assert!(!has_lone_surrogate("é😀".as_bytes()));
    }
}
