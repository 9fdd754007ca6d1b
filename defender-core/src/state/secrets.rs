//! Secrets sealed at rest in a [`StateStore`] with an operator's key.

use super::{Space, StateError, StateStore, StateStoreExt};
use crate::secrets::{validate_secret_name, SecretError, SecretMap, SecretStore};
use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use zeroize::Zeroize;

/// The format byte that starts every sealed value.
const FORMAT_V1: u8 = 1;
/// XChaCha20-Poly1305's nonce: 24 bytes, large enough to draw at random for every value.
const NONCE_BYTES: usize = 24;
/// Associated data: this prefix, then the secret's name.
const AAD_PREFIX: &[u8] = b"defender-secret-v1\0";
/// The entry that proves which key sealed a store's secrets. `#` is not allowed in secret
/// names, so no secret can take its place.
const CHECK_KEY: &str = "#key-check";
const CHECK_PLAINTEXT: &[u8] = b"defender secrets key check";

/// The 32-byte key that seals secrets at rest ([`StateSecretStore`]).
///
/// Given by the operator in hex (64 digits) or base64 (standard or URL-safe, padded or not),
/// e.g. from `openssl rand -hex 32`. `Debug` never shows it; it is wiped from memory when
/// dropped.
///
/// ```
/// use defender_core::state::{SecretsKey, SecretsKeyError};
/// let key: SecretsKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
///     .parse()
///     .unwrap();
/// assert_eq!(format!("{key:?}"), "SecretsKey(<redacted>)");
/// assert!(matches!(
///     "too short".parse::<SecretsKey>(),
///     Err(SecretsKeyError::Encoding)
/// ));
/// assert!(matches!(
///     SecretsKey::from_base64("AAAA"),
///     Err(SecretsKeyError::Length { actual: 3 })
/// ));
/// ```
#[derive(Clone)]
pub struct SecretsKey([u8; 32]);

/// Why a [`SecretsKey`] could not be read. Never holds the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsKeyError {
    /// The text is neither hex nor base64.
    #[error("a secrets key is 64 hex digits or the base64 of 32 bytes")]
    Encoding,
    /// The text decodes to other than 32 bytes.
    #[error("a secrets key has 32 bytes, not {actual}")]
    Length {
        /// How many bytes the text held.
        actual: usize,
    },
}

impl SecretsKey {
    /// The key of these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretsKey(bytes)
    }

    /// Reads 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, SecretsKeyError> {
        let mut bytes = [0u8; 32];
        let text = text.trim();
        if text.len() != 64 {
            return match hex::decode(text) {
                Ok(mut decoded) => {
                    let actual = decoded.len();
                    decoded.zeroize();
                    Err(SecretsKeyError::Length { actual })
                }
                Err(_) => Err(SecretsKeyError::Encoding),
            };
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| SecretsKeyError::Encoding)?;
        Ok(SecretsKey(bytes))
    }

    /// Reads base64, standard or URL-safe, padded or not (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, SecretsKeyError> {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let text = text.trim();
        let mut decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(SecretsKeyError::Encoding)?;
        let key = <[u8; 32]>::try_from(decoded.as_slice())
            .map(SecretsKey)
            .map_err(|_| SecretsKeyError::Length {
                actual: decoded.len(),
            });
        decoded.zeroize();
        key
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

impl FromStr for SecretsKey {
    type Err = SecretsKeyError;

    /// Hex when the text is 64 hex digits, else base64.
    fn from_str(text: &str) -> Result<Self, SecretsKeyError> {
        let trimmed = text.trim();
        if trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            SecretsKey::from_hex(trimmed)
        } else {
            SecretsKey::from_base64(trimmed)
        }
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

impl Drop for SecretsKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Errors of sealed secrets beyond [`SecretError`]: opening a store with the wrong key, a
/// value that does not decrypt. [`SecretStore`] methods return the per-value ones as the
/// `source` of [`SecretError::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealedSecretError {
    /// The store's secrets were sealed with another key.
    #[error("the secrets key does not match the one this store's secrets were sealed with")]
    WrongKey,
    /// A stored value does not decrypt under its name: it was altered, moved from another
    /// name, or sealed with another key.
    #[error("secret `{name}` does not decrypt: altered, moved from another name, or sealed with another key")]
    Undecryptable {
        /// The secret's name.
        name: String,
    },
    /// Sealing failed (the value is too large for the cipher).
    #[error("secret `{name}` could not be sealed")]
    Seal {
        /// The secret's name.
        name: String,
    },
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A durable [`SecretStore`] on any [`StateStore`]: each value sealed with XChaCha20-Poly1305
/// under the operator's [`SecretsKey`].
///
/// # At rest
/// Each secret is one entry of [`Space::SECRETS`] under its name: a format byte, a random
/// 24-byte nonce drawn for this value, then the ciphertext and its tag. The name is bound as
/// associated data, so a value copied to another name does not decrypt. The entry
/// `#key-check` seals a constant: [`open`](Self::open) checks it, so a wrong key fails there
/// with [`SealedSecretError::WrongKey`] instead of at the first run. Names stay in clear (they
/// are the keys); values never are.
///
/// ```
/// use defender_core::state::{MemoryStateStore, SecretsKey, StateSecretStore, StateStore};
/// use defender_core::SecretStore;
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let state = Arc::new(MemoryStateStore::default());
/// let key: SecretsKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".parse().unwrap();
/// let secrets = StateSecretStore::open(state.clone(), &key).await.unwrap();
/// secrets.put("apiKey", "s3cr3t").await.unwrap();
/// let sealed = state.get(defender_core::state::Space::SECRETS, "apiKey").await.unwrap().unwrap();
/// assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
/// assert_eq!(secrets.load_for_run().await.unwrap().into_inner()["apiKey"], "s3cr3t");
///
/// let wrong = SecretsKey::from_bytes([7; 32]);
/// assert!(StateSecretStore::open(state, &wrong).await.is_err());
/// # });
/// ```
pub struct StateSecretStore {
    store: Arc<dyn StateStore>,
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for StateSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateSecretStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl StateSecretStore {
    /// The secrets of `store`, sealed with `key`. On a store without secrets yet, records
    /// which key seals them; otherwise fails with [`SealedSecretError::WrongKey`] unless `key`
    /// is the one.
    pub async fn open(
        store: Arc<dyn StateStore>,
        key: &SecretsKey,
    ) -> Result<Self, SealedSecretError> {
        let secrets = StateSecretStore {
            store,
            cipher: key.cipher(),
        };
        let sealed_check = secrets.seal(CHECK_KEY, CHECK_PLAINTEXT)?;
        let created = secrets
            .store
            .compare_and_swap(Space::SECRETS, CHECK_KEY, None, Some(sealed_check))
            .await?;
        if !created {
            let stored = secrets
                .store
                .get(Space::SECRETS, CHECK_KEY)
                .await?
                .ok_or(SealedSecretError::WrongKey)?;
            match secrets.unseal(CHECK_KEY, &stored) {
                Ok(plain) if plain == CHECK_PLAINTEXT => {}
                _ => return Err(SealedSecretError::WrongKey),
            }
        }
        Ok(secrets)
    }

    fn aad(name: &str) -> Vec<u8> {
        [AAD_PREFIX, name.as_bytes()].concat()
    }

    fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Bytes, SealedSecretError> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| StateError::unavailable(std::io::Error::other(e.to_string())))?;
        let aad = Self::aad(name);
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealedSecretError::Seal {
                name: name.to_owned(),
            })?;
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(Bytes::from(sealed))
    }

    fn unseal(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, SealedSecretError> {
        let undecryptable = || SealedSecretError::Undecryptable {
            name: name.to_owned(),
        };
        let (&format, rest) = sealed.split_first().ok_or_else(undecryptable)?;
        if format != FORMAT_V1 || rest.len() < NONCE_BYTES {
            return Err(undecryptable());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce = <[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| undecryptable())?;
        let aad = Self::aad(name);
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| undecryptable())
    }
}

fn unavailable(e: impl Into<SealedSecretError>) -> SecretError {
    SecretError::Unavailable {
        source: Box::new(e.into()),
    }
}

#[async_trait]
impl SecretStore for StateSecretStore {
    async fn put(&self, name: &str, value: &str) -> Result<(), SecretError> {
        validate_secret_name(name)?;
        let sealed = self.seal(name, value.as_bytes()).map_err(unavailable)?;
        self.store
            .put(Space::SECRETS, name, sealed)
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, name: &str) -> Result<bool, SecretError> {
        // An invalid name was never stored (and `#key-check` must stay).
        if validate_secret_name(name).is_err() {
            return Ok(false);
        }
        self.store
            .delete(Space::SECRETS, name)
            .await
            .map_err(unavailable)
    }

    async fn names(&self) -> Result<Vec<String>, SecretError> {
        let entries = self
            .store
            .scan_all(Space::SECRETS, "")
            .await
            .map_err(unavailable)?;
        Ok(entries
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| validate_secret_name(name).is_ok())
            .collect())
    }

    async fn load_for_run(&self) -> Result<SecretMap, SecretError> {
        let entries = self
            .store
            .scan_all(Space::SECRETS, "")
            .await
            .map_err(unavailable)?;
        let mut secrets = Vec::with_capacity(entries.len());
        for (name, sealed) in entries {
            if validate_secret_name(&name).is_err() {
                continue;
            }
            let plain = self.unseal(&name, &sealed).map_err(unavailable)?;
            let value = String::from_utf8(plain).map_err(|_| {
                unavailable(SealedSecretError::Undecryptable { name: name.clone() })
            })?;
            secrets.push((name, value));
        }
        Ok(secrets.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn bytes() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn a_key_is_read_from_hex_or_base64() {
        let want = bytes();
        let from = |text: &str| text.parse::<SecretsKey>().map(|k| k.0);
        assert_eq!(from(HEX), Ok(want));
        assert_eq!(from(&HEX.to_uppercase()), Ok(want));
        assert_eq!(
            from(&format!("  {HEX}\n")),
            Ok(want),
            "whitespace around it"
        );
        let std = base64::engine::general_purpose::STANDARD.encode(want);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfb; 32]);
        assert_eq!(from(&std), Ok(want));
        assert_eq!(from(&url), Ok([0xfb; 32]));
        assert_eq!(SecretsKey::from_hex(HEX).map(|k| k.0), Ok(want));
    }

    #[test]
    fn a_bad_key_is_a_typed_error_that_never_shows_it() {
        assert_eq!(
            SecretsKey::from_hex(&HEX[..62]).map(|k| k.0),
            Err(SecretsKeyError::Length { actual: 31 })
        );
        assert_eq!(
            SecretsKey::from_hex(&HEX.replace('0', "g")).map(|k| k.0),
            Err(SecretsKeyError::Encoding)
        );
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert_eq!(
            short.parse::<SecretsKey>().map(|k| k.0),
            Err(SecretsKeyError::Length { actual: 16 })
        );
        let err = "not a key!".parse::<SecretsKey>().map(|k| k.0).unwrap_err();
        assert_eq!(err, SecretsKeyError::Encoding);
        assert!(!err.to_string().contains("not a key"));
        let key = SecretsKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn sealing_binds_the_name_and_the_key() {
        let store = StateSecretStore {
            store: Arc::new(crate::state::MemoryStateStore::default()),
            cipher: SecretsKey::from_bytes(bytes()).cipher(),
        };
        let sealed = store.seal("a", b"value").expect("seal");
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(sealed.len(), 1 + NONCE_BYTES + 5 + 16);
        assert_eq!(store.unseal("a", &sealed).expect("unseal"), b"value");
        assert!(matches!(
            store.unseal("b", &sealed),
            Err(SealedSecretError::Undecryptable { .. })
        ));
        let other = StateSecretStore {
            store: store.store.clone(),
            cipher: SecretsKey::from_bytes([1; 32]).cipher(),
        };
        assert!(other.unseal("a", &sealed).is_err());
        for truncated in [
            &sealed[..0],
            &sealed[..1],
            &sealed[..NONCE_BYTES],
            &sealed[..30],
        ] {
            assert!(store.unseal("a", truncated).is_err());
        }
        let mut wrong_format = sealed.to_vec();
        wrong_format[0] = 2;
        assert!(store.unseal("a", &wrong_format).is_err());
    }
}
