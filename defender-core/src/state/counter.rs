//! Counters: how every backend stores and adds to them.

use super::{Space, StateError};
use bytes::Bytes;

/// Largest counter value: counters are signed 64-bit integers in Redis, so every backend stops
/// at `i64::MAX`.
pub const MAX_COUNTER: u64 = i64::MAX as u64;
/// Reads a counter: the decimal digits of a number from 0 to [`MAX_COUNTER`], without sign,
/// spaces or leading zeros (Redis's integer syntax). `None` for anything else.
pub fn decode_counter(value: &[u8]) -> Option<u64> {
    let canonical = match value {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical || value.len() > 19 {
        return None;
    }
    std::str::from_utf8(value)
        .ok()?
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= MAX_COUNTER)
}

/// A counter's stored form: its decimal digits.
pub fn encode_counter(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

/// The new value of a counter holding `current` (`None`: missing) after adding `by`, or the
/// error [`StateStore::increment`](super::StateStore::increment) returns.
pub fn next_counter(
    space: Space,
    key: &str,
    current: Option<&[u8]>,
    by: u64,
) -> Result<u64, StateError> {
    let current = match current {
        None => 0,
        Some(value) => decode_counter(value).ok_or_else(|| StateError::NotACounter {
            space,
            key: key.to_owned(),
        })?,
    };
    current
        .checked_add(by)
        .filter(|n| *n <= MAX_COUNTER)
        .ok_or_else(|| StateError::CounterOverflow {
            space,
            key: key.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_use_redis_integer_syntax() {
        for (text, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("9223372036854775807", Some(MAX_COUNTER)),
            ("9223372036854775808", None),
            ("99999999999999999999", None),
            ("007", None),
            ("+1", None),
            ("-1", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("1.5", None),
        ] {
            assert_eq!(decode_counter(text.as_bytes()), want, "{text:?}");
        }
    }

    #[test]
    fn next_counter_refuses_overflow_and_non_counters() {
        let s = Space::NONCES;
        assert_eq!(next_counter(s, "k", None, 3).ok(), Some(3));
        assert_eq!(next_counter(s, "k", Some(b"41"), 1).ok(), Some(42));
        assert!(matches!(
            next_counter(s, "k", Some(b"x"), 1),
            Err(StateError::NotACounter { .. })
        ));
        assert!(matches!(
            next_counter(s, "k", Some(b"1"), MAX_COUNTER),
            Err(StateError::CounterOverflow { .. })
        ));
        assert!(matches!(
            next_counter(s, "k", None, u64::MAX),
            Err(StateError::CounterOverflow { .. })
        ));
    }
}
