//! Small cryptographic building blocks: random tokens, the one-way hash we store instead of a token, constant-time
//! comparison, and [`SecretBox`] for secrets that must be read back (TOTP seeds) and so cannot be hashed.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lectern_shared::secrets::{KeyRing, LEGACY_KID};
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

/// The format tag of [`SecretBox::seal`] output: `v2.<key id>.<nonce>.<ciphertext>`.
const SEAL_VERSION: &str = "v2";
/// Seals from before key rings: `v1.<nonce>.<ciphertext>`, under a key derived from the old signing secret.
const LEGACY_VERSION: &str = "v1";
/// How a ring key becomes a TOTP sealing key (versioned: a new derivation gets a new label).
const LABEL: &str = "lectern/totp-secrets/v2";
/// The derivation of `v1` seals, kept so they still open.
const LEGACY_LABEL: &str = "lectern/totp-secrets/v1";
const NONCE_LEN: usize = 12;

/// Authenticated encryption (AES-256-GCM) for secrets kept at rest that must be read back, such as TOTP seeds.
///
/// Keys come from the TOTP key ring: the active key seals, every key opens, and a sealed value names its key, so
/// adding a key (and making it active) never breaks what was sealed before. Each key is derived from its ring
/// material and a purpose label, so material can never open values of another purpose.
#[derive(Clone)]
pub struct SecretBox {
    /// Key id → cipher, the sealing key first. Empty in a function given no TOTP keys: it seals and opens nothing.
    keys: Vec<(String, Aes256Gcm)>,
    /// Opens `v1` seals (from the ring's `legacy` key).
    legacy: Option<Aes256Gcm>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// A sealed value that could not be opened, or a value that could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not of the form `v2.<kid>.<nonce>.<ciphertext>` (or a legacy `v1.<nonce>.<ciphertext>`).
    #[error("the sealed value is malformed")]
    Malformed,
    /// Well formed, but the tag did not verify: tampered with, sealed under another key, or for another `aad`.
    #[error("the sealed value failed authentication")]
    Rejected,
    /// Sealed under a key that is no longer in the ring (or this function was given no TOTP keys).
    #[error("the key {0:?} of this sealed value is not configured")]
    UnknownKey(String),
    /// This function was given no TOTP keys.
    #[error("no TOTP keys are configured for this function")]
    NoKeys,
}

/// A 32-byte key as HMAC-SHA256(master, label).
fn derive_key(master: &[u8], label: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; the fallback keeps this panic-free.
    match <Hmac<Sha256> as Mac>::new_from_slice(master) {
        Ok(mut mac) => {
            mac.update(label.as_bytes());
            mac.finalize().into_bytes().into()
        }
        Err(_) => Sha256::new()
            .chain_update(master)
            .chain_update(label.as_bytes())
            .finalize()
            .into(),
    }
}

impl SecretBox {
    /// A box over the TOTP key ring. Its [`LEGACY_KID`](lectern_shared::secrets::LEGACY_KID) key (the old signing
    /// secret) only opens `v1` seals.
    pub fn from_ring(ring: &KeyRing) -> Self {
        let mut keys = Vec::new();
        let mut legacy = None;
        for (kid, material) in ring.iter() {
            if kid == LEGACY_KID {
                legacy = Some(cipher(&derive_key(material, LEGACY_LABEL)));
            } else {
                keys.push((kid.to_string(), cipher(&derive_key(material, LABEL))));
            }
        }
        Self { keys, legacy }
    }

    /// A box for a function that handles no TOTP seeds: every seal and open fails.
    pub fn none() -> Self {
        Self {
            keys: Vec::new(),
            legacy: None,
        }
    }

    /// A box of one key derived from `master` and `purpose` (key id `k0`), for tests and tools.
    pub fn derive(master: &[u8], purpose: &str) -> Self {
        Self::from_key(&derive_key(master, purpose))
    }

    /// A box over a raw 32-byte key (key id `k0`).
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            keys: vec![("k0".into(), cipher(key))],
            legacy: None,
        }
    }

    /// Encrypts `plaintext` under the active key and a fresh random 96-bit nonce, binding it to `aad` (e.g. the
    /// owner's user id, so the ciphertext cannot be moved to another row). Output:
    /// `v2.<key id>.<b64url nonce>.<b64url ciphertext+tag>`.
    ///
    /// # Panics
    /// Only for plaintexts over 64 GiB, the AES-GCM limit; callers seal secrets of a few dozen bytes.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let (kid, cipher) = self.keys.first().ok_or(SealError::NoKeys)?;
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let ciphertext = match cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        ) {
            Ok(c) => c,
            Err(_) => panic!("AES-GCM refused a {}-byte plaintext", plaintext.len()),
        };
        Ok(format!(
            "{SEAL_VERSION}.{kid}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }

    /// Decrypts a value made by [`SecretBox::seal`] under any key of the ring, with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let parts: Vec<&str> = sealed.split('.').collect();
        let (cipher, nonce, ciphertext) = match parts.as_slice() {
            [SEAL_VERSION, kid, nonce, ciphertext] => {
                let (_, cipher) = self
                    .keys
                    .iter()
                    .find(|(k, _)| k == kid)
                    .ok_or_else(|| SealError::UnknownKey((*kid).to_string()))?;
                (cipher, *nonce, *ciphertext)
            }
            [LEGACY_VERSION, nonce, ciphertext] => {
                let cipher = self
                    .legacy
                    .as_ref()
                    .ok_or_else(|| SealError::UnknownKey(LEGACY_KID.to_string()))?;
                (cipher, *nonce, *ciphertext)
            }
            _ => return Err(SealError::Malformed),
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
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealError::Rejected)
    }

    /// The id of the key a sealed value names (`legacy` for `v1` seals), to find values still under an old key.
    pub fn key_of(sealed: &str) -> Option<&str> {
        let parts: Vec<&str> = sealed.split('.').collect();
        match parts.as_slice() {
            [SEAL_VERSION, kid, _, _] => Some(kid),
            [LEGACY_VERSION, _, _] => Some(LEGACY_KID),
            _ => None,
        }
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}
