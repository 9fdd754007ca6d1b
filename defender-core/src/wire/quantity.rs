//! `BigNumberish` values as JavaScript callers send them.

use alloy_primitives::U256;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An unsigned 256-bit quantity accepted in every shape that JavaScript code sends for
/// ethers' `BigNumberish`: a JSON number, a decimal string, a `0x` hex string, or ethers v5's
/// serialized `{"type":"BigNumber","hex":"0x..."}` object. It serializes as a decimal string,
/// which every JavaScript big-number library parses back without loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub U256);

/// Why a value is not a valid [`Quantity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// Negative numbers, fractions and exponents are not quantities.
    #[error("`{0}` is not a non-negative integer")]
    NotAnInteger(String),
    /// More than 256 bits.
    #[error("`{0}` does not fit in 256 bits")]
    Overflow(String),
}

impl Quantity {
    /// The value as a `u64`, if it fits.
    pub fn to_u64(&self) -> Option<u64> {
        u64::try_from(self.0).ok()
    }

    /// The value as a `u128`, if it fits.
    pub fn to_u128(&self) -> Option<u128> {
        u128::try_from(self.0).ok()
    }
}

impl From<u64> for Quantity {
    fn from(v: u64) -> Self {
        Quantity(U256::from(v))
    }
}

impl From<u128> for Quantity {
    fn from(v: u128) -> Self {
        Quantity(U256::from(v))
    }
}

impl From<U256> for Quantity {
    fn from(v: U256) -> Self {
        Quantity(v)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => (hex, 16),
            None => (t, 10),
        };
        let valid =
            !digits.is_empty() && digits.len() <= 80 && digits.chars().all(|c| c.is_digit(radix));
        if !valid {
            return Err(QuantityError::NotAnInteger(s.to_owned()));
        }
        U256::from_str_radix(digits, u64::from(radix))
            .map(Quantity)
            .map_err(|_| QuantityError::Overflow(s.to_owned()))
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer as a number, a decimal or 0x-hex string, or an ethers BigNumber")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::from(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                u64::try_from(v)
                    .map(Quantity::from)
                    .map_err(|_| E::custom(QuantityError::NotAnInteger(v.to_string())))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
                Ok(Quantity::from(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                // JavaScript numbers arrive as floats once they pass 2^64; accept the exact integers.
                if v >= 0.0 && v.fract() == 0.0 && v < 1.0e77 {
                    format!("{v:.0}").parse().map_err(E::custom)
                } else {
                    Err(E::custom(QuantityError::NotAnInteger(v.to_string())))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Quantity, A::Error> {
                // ethers v5 `BigNumber.toJSON()`: {"type":"BigNumber","hex":"0x..."}
                let mut hex = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "hex" || key == "_hex" {
                        hex = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                let hex = hex.ok_or_else(|| de::Error::missing_field("hex"))?;
                hex.parse().map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_big_numberish_shape() {
        for (json, want) in [
            ("21000", 21000u64),
            ("\"21000\"", 21000),
            ("\"0x5208\"", 21000),
            ("{\"type\":\"BigNumber\",\"hex\":\"0x5208\"}", 21000),
            ("{\"_hex\":\"0x5208\",\"_isBigNumber\":true}", 21000),
        ] {
            let q: Quantity = serde_json::from_str(json).unwrap();
            assert_eq!(q.to_u64(), Some(want), "{json}");
        }
        let big: Quantity = serde_json::from_str("\"100000000000000000000\"").unwrap();
        assert_eq!(big.to_string(), "100000000000000000000");
        assert_eq!(
            serde_json::to_string(&big).unwrap(),
            "\"100000000000000000000\""
        );
    }

    #[test]
    fn rejects_what_is_not_a_quantity() {
        for json in [
            "-1", "1.5", "\"abc\"", "\"\"", "\"0x\"", "\"-5\"", "true", "null",
        ] {
            assert!(serde_json::from_str::<Quantity>(json).is_err(), "{json}");
        }
        let too_big = format!("\"0x1{}\"", "0".repeat(64));
        assert!(matches!(
            too_big.trim_matches('"').parse::<Quantity>(),
            Err(QuantityError::Overflow(_))
        ));
    }
}
