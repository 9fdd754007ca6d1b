//! The digest algorithms of Node's `crypto` module under OpenSSL's names, their hashes and
//! HMACs in progress, and PBKDF2 (stopped at the run's deadline), on RustCrypto's
//! implementations.

use hmac::digest::{FixedOutput, KeyInit, Mac, Update};
use hmac::Hmac;

/// PBKDF2 iterations between two looks at the run's deadline (about a millisecond of work).
const CHECK_EVERY: u32 = 1024;

/// What a hash in progress costs the host besides its state: its map entry and box.
const HASH_OVERHEAD: usize = 64;

/// A digest algorithm of Node's `crypto` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Algorithm {
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
pub(super) const NAMES: &[(&str, Algorithm, bool)] = &[
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
pub(super) struct Stopped;

impl Algorithm {
    pub(super) fn from_name(name: &str) -> Option<Algorithm> {
        NAMES
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, a, _)| a)
    }

    pub(super) fn hash(self) -> Box<dyn Hasher> {
        with_digest!(self, D => Box::new(D::default()))
    }

    /// HMAC with `key` (of any length: a key longer than a block is hashed first).
    pub(super) fn hmac(self, key: &[u8]) -> Option<Box<dyn Hasher>> {
        with_digest!(self, D => match <Hmac<D> as KeyInit>::new_from_slice(key) {
            Ok(mac) => Some(Box::new(mac) as Box<dyn Hasher>),
            Err(_) => None,
        })
    }

    /// PBKDF2 with HMAC of this algorithm (RFC 8018, section 5.2) into `out`; `stop` is asked
    /// every [`CHECK_EVERY`] iterations and after each block.
    pub(super) fn pbkdf2(
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
pub(in crate::sandbox) trait Hasher {
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
        let r = Algorithm::Sha256.pbkdf2(
            b"p",
            b"s",
            super::super::MAX_PBKDF2_ITERATIONS,
            &mut out,
            &mut || {
                asked += 1;
                asked > 3
            },
        );
        assert_eq!(r, Err(Stopped));
        assert_eq!(asked, 4);
    }
}
