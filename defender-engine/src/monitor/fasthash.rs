//! A cheap hasher for keys that are already uniformly random (addresses, hashes).

use std::hash::{BuildHasherDefault, Hasher};

/// Folds the key's bytes eight at a time; no SipHash.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

/// A `HashMap` keyed by addresses or hashes.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<KeyHasher>>;
