//! Secrets kept at rest that must be read back (a webhook endpoint's signing secret): AES-256-GCM under keys
//! derived from one [`KeyRing`] and a purpose label, bound to the row that holds them.
//!
//! The envelope of the outbox's sealed jobs (`v1.<kid>.<nonce>.<ciphertext>`: the active key seals, every key of the
//! ring opens, so rotating the ring breaks nothing sealed before), as one reusable type: the outbox seals with it, and
//! so does any domain library that keeps a secret it must read back (webhook signing secrets), which cannot use the
//! accounts' `SecretBox` (TOTP seeds, with its legacy `v1` format of its own).

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::secrets::{self, KeyRing};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Why a value could not be sealed or opened. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("no keys are configured to seal with")]
    NoKeys,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the key {0:?} of this sealed value is not configured")]
    UnknownKey(String),
    #[error("the sealed value failed authentication")]
    Rejected,
}

/// Seals and opens values under one ring's keys, derived for one label. `Debug` shows the key ids only.
#[derive(Clone)]
pub struct Sealer {
    /// (key id, cipher); the first is active. Empty: nothing seals or opens.
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "Sealer({kids:?})")
    }
}

impl Sealer {
    /// The keys of `ring`, each derived with `label` (so the same material never opens another purpose's values).
    pub fn from_ring(ring: &KeyRing, label: &str) -> Self {
        Self {
            keys: ring
                .iter()
                .map(|(kid, material)| {
                    (
                        kid.to_string(),
                        Aes256Gcm::new(&secrets::derive(material, label).into()),
                    )
                })
                .collect(),
        }
    }

    /// One key, `kid`, derived from `material` with `label` (tests and tools).
    pub fn derive(kid: &str, material: &[u8], label: &str) -> Self {
        Self {
            keys: vec![(
                kid.to_string(),
                Aes256Gcm::new(&secrets::derive(material, label).into()),
            )],
        }
    }

    /// For a function given no ring: every seal and open fails.
    pub fn none() -> Self {
        Self { keys: Vec::new() }
    }

    /// `v1.<key id>.<nonce>.<ciphertext>` of `plaintext`, bound to `aad` (it opens only with the same `aad`).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let (kid, cipher) = self.keys.first().ok_or(SealError::NoKeys)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::Rejected)?;
        Ok(format!(
            "{VERSION}.{kid}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// The plaintext of a value [`Sealer::seal`] made under any key of the ring, with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let parts: Vec<&str> = sealed.split('.').collect();
        let [VERSION, kid, nonce, body] = parts.as_slice() else {
            return Err(SealError::Malformed);
        };
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .ok_or_else(|| SealError::UnknownKey((*kid).to_string()))?;
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| SealError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if nonce.len() != NONCE_LEN {
            return Err(SealError::Malformed);
        }
        cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &body, aad })
            .map_err(|_| SealError::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Purpose;

    #[test]
    fn a_sealed_value_opens_only_with_its_ring_label_and_aad() {
        let ring = KeyRing::single(Purpose::Webhooks, "k1", &[7u8; 32]).unwrap();
        let sealer = Sealer::from_ring(&ring, "a");
        let sealed = sealer.seal(b"secret", b"row-1").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(sealer.open(&sealed, b"row-1").unwrap(), b"secret");
        assert_eq!(sealer.open(&sealed, b"row-2"), Err(SealError::Rejected));
        assert_eq!(
            Sealer::from_ring(&ring, "b").open(&sealed, b"row-1"),
            Err(SealError::Rejected)
        );
        // A rotated ring still opens what the old key sealed, and seals with the new one.
        let rotated = ring.rotated("k2", &[9u8; 32]).unwrap();
        let sealer2 = Sealer::from_ring(&rotated, "a");
        assert_eq!(sealer2.open(&sealed, b"row-1").unwrap(), b"secret");
        assert!(sealer2.seal(b"x", b"r").unwrap().starts_with("v1.k2."));
        assert_eq!(Sealer::none().seal(b"x", b"r"), Err(SealError::NoKeys));
        assert_eq!(sealer.open("nonsense", b"r"), Err(SealError::Malformed));
    }
}
