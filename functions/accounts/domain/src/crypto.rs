//! Small cryptographic building blocks: random tokens, the one-way hash we store instead of a token, constant-time
//! comparison, and [`SecretBox`] for secrets that must be read back (TOTP seeds) and so cannot be hashed.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Fills `buf` from the operating system's random number generator.
///
/// # Panics
/// Only if the OS cannot supply randomness, in which case no token, salt or nonce could be made safely and
/// carrying on would be worse than failing the request.
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = OsRng.try_fill_bytes(buf) {
        panic!("the operating system random number generator failed: {e}");
    }
}

/// `bytes` random bytes from the OS, base64url encoded without padding and prefixed with `prefix`
/// (e.g. `random_token("lk_", 32)` for a 256-bit API key; the prefix makes leaked keys recognisable by scanners).
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    let mut out = String::with_capacity(prefix.len() + bytes.div_ceil(3) * 4);
    out.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(&buf, &mut out);
    out
}

/// SHA-256 of a token, lowercase hex: what we store for refresh, verification and reset tokens and API keys.
///
/// A fast hash is enough because the tokens carry 256 bits of entropy (nothing to brute-force); storing only the
/// hash means a leaked table cannot be replayed.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether two byte strings are equal, in time that depends only on their lengths, never on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // `ct_eq` on slices already returns false for different lengths; lengths are not secret here (hashes and
    // codes have fixed, public sizes).
    a.ct_eq(b).into()
}

/// The version tag of [`SecretBox::seal`] output, so the format can change without ambiguity.
const SEAL_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Authenticated encryption (AES-256-GCM) for secrets kept at rest that must be read back, such as TOTP seeds.
///
/// The key is derived from the deployment's master secret and a purpose label, so one master secret can serve
/// several uses without one use's ciphertexts being openable by another.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// A sealed value that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not of the form `v1.<nonce>.<ciphertext>`.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Well formed, but the tag did not verify: tampered with, sealed under another key, or for another `aad`.
    #[error("the sealed value failed authentication")]
    Rejected,
}

impl SecretBox {
    /// Derives the 32-byte key as HMAC-SHA256(master, purpose). Use a distinct, versioned purpose per use
    /// (e.g. `"totp-secret/v1"`).
    pub fn derive(master: &[u8], purpose: &str) -> Self {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail; the fallback keeps this panic-free.
        let key: [u8; 32] = match <Hmac<Sha256> as Mac>::new_from_slice(master) {
            Ok(mut mac) => {
                mac.update(purpose.as_bytes());
                mac.finalize().into_bytes().into()
            }
            Err(_) => Sha256::new()
                .chain_update(master)
                .chain_update(purpose.as_bytes())
                .finalize()
                .into(),
        };
        Self::from_key(&key)
    }

    /// A box over a raw 32-byte key (prefer [`SecretBox::derive`]).
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Encrypts `plaintext` under a fresh random 96-bit nonce, binding it to `aad` (e.g. the owner's user id, so
    /// the ciphertext cannot be moved to another row). Output: `v1.<b64url nonce>.<b64url ciphertext+tag>`.
    ///
    /// # Panics
    /// Only for plaintexts over 64 GiB, the AES-GCM limit; callers seal secrets of a few dozen bytes.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let ciphertext = match self.cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        ) {
            Ok(c) => c,
            Err(_) => panic!("AES-GCM refused a {}-byte plaintext", plaintext.len()),
        };
        format!(
            "{SEAL_VERSION}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    /// Decrypts a value made by [`SecretBox::seal`] with the same key and `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.split('.');
        let (Some(SEAL_VERSION), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| SealError::Malformed)?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| SealError::Malformed)?;
        if nonce.len() != NONCE_LEN {
            return Err(SealError::Malformed);
        }
        self.cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealError::Rejected)
    }
}
