//! The keys that sign certificates: one Ed25519 key pair per key of the `certificates` ring.
//!
//! The ring is an ordinary generated ring (random material of 64 characters per key, made by CloudFormation, by
//! `lectern key certificates` or on the embedded backend's first run), so it is configured, rotated and kept in
//! Secrets Manager exactly like the cursor, outbox and TOTP rings. Each key's Ed25519 seed is derived from its
//! material with its own label ([`lectern_shared::secrets::derive`]), and the material never signs anything itself.
//! The active key signs new certificates; every key in the ring still verifies what it signed, and its public half
//! stays published (`GET /v1/certificates/public-key`) — so a rotation keeps the old key in the ring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use lectern_shared::secrets::{KeyRing, derive};
use serde::Serialize;

/// The label of the derivation: a new scheme gets a new label, never new meaning for this one.
const SEED_LABEL: &str = "lectern/certificates/ed25519/v1";

/// The certificate keys this process holds, the active one first.
pub struct CertificateKeys {
    keys: Vec<(String, SigningKey)>,
}

impl std::fmt::Debug for CertificateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("CertificateKeys")
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

/// A published public key, as a JWK (RFC 8037: `kty` OKP, `crv` Ed25519, `x` the raw key in base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    #[schema(example = "OKP")]
    pub kty: &'static str,
    #[schema(example = "Ed25519")]
    pub crv: &'static str,
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    /// The key id a certificate's `signature.kid` names.
    pub kid: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
}

impl CertificateKeys {
    /// The key pairs of the `certificates` ring.
    pub fn from_ring(ring: &KeyRing) -> Self {
        let keys = ring
            .iter()
            .map(|(kid, material)| {
                let seed = derive(material, SEED_LABEL);
                (kid.to_string(), SigningKey::from_bytes(&seed))
            })
            .collect();
        Self { keys }
    }

    /// The id of the key that signs.
    pub fn active_kid(&self) -> &str {
        self.keys.first().map_or("", |(kid, _)| kid.as_str())
    }

    /// Signs with the active key: its id and the signature (base64url).
    pub fn sign(&self, message: &[u8]) -> Option<(String, String)> {
        let (kid, key) = self.keys.first()?;
        let signature = key.sign(message);
        Some((kid.clone(), URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }

    /// Whether `signature` (base64url) is the key `kid`'s signature of `message`. An unknown key id is `false`.
    pub fn verify(&self, kid: &str, message: &[u8], signature: &str) -> bool {
        let Some((_, key)) = self.keys.iter().find(|(k, _)| k == kid) else {
            return false;
        };
        verify_with(&key.verifying_key(), message, signature)
    }

    /// The public keys, the active one first.
    pub fn published(&self) -> Vec<PublicKey> {
        self.keys
            .iter()
            .map(|(kid, key)| PublicKey {
                kty: "OKP",
                crv: "Ed25519",
                alg: "EdDSA",
                kid: kid.clone(),
                x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            })
            .collect()
    }
}

/// Verifies a base64url signature with a public key given as its JWK `x` (what an offline verifier has).
pub fn verify_published(x: &str, message: &[u8], signature: &str) -> bool {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(x) else {
        return false;
    };
    let Ok(raw) = <[u8; 32]>::try_from(raw.as_slice()) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&raw) else {
        return false;
    };
    verify_with(&key, message, signature)
}

fn verify_with(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&raw) else {
        return false;
    };
    // Strict: refuses the malleable and small-order forms plain `verify` lets through.
    key.verify_strict(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use lectern_shared::secrets::Purpose;

    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn the_active_key_signs_and_a_rotated_ring_still_verifies_the_old_signatures() {
        let old = KeyRing::single(Purpose::Certificates, "k1", A.as_bytes()).unwrap();
        let (kid, signature) = CertificateKeys::from_ring(&old).sign(b"hello").unwrap();
        assert_eq!(kid, "k1");
        let rotated = CertificateKeys::from_ring(&old.rotated("k2", B.as_bytes()).unwrap());
        assert_eq!(rotated.sign(b"x").unwrap().0, "k2");
        assert!(rotated.verify("k1", b"hello", &signature));
        assert!(!rotated.verify("k2", b"hello", &signature), "another key");
        assert!(
            !rotated.verify("k1", b"hellO", &signature),
            "another message"
        );
        assert!(
            !rotated.verify("k9", b"hello", &signature),
            "an unknown key"
        );
        let published = rotated.published();
        assert_eq!(published.len(), 2);
        assert!(verify_published(&published[1].x, b"hello", &signature));
        assert!(!verify_published(&published[0].x, b"hello", &signature));
        assert!(!verify_published("not base64!", b"hello", &signature));
    }

    #[test]
    fn the_same_material_always_derives_the_same_key() {
        let ring = KeyRing::single(Purpose::Certificates, "k1", A.as_bytes()).unwrap();
        assert_eq!(
            CertificateKeys::from_ring(&ring).published(),
            CertificateKeys::from_ring(&ring).published()
        );
        assert!(!format!("{:?}", CertificateKeys::from_ring(&ring)).contains(A));
    }
}
