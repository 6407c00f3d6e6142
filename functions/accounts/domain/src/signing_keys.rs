//! JWT signing keys (Ed25519). The active key signs; every key verifies, so a rotation is: publish the new public
//! key to the verifiers, make the new key active, wait for old tokens to expire, then remove the old one. The public
//! halves are published as a JWKS.
//!
//! Only the function that issues tokens (`auth`) holds private keys: its ring is the `jwt` key ring
//! (`LECTERN_SECRET_JWT` in Secrets Manager on AWS, `LECTERN_JWT_KEYS` or a key generated into the data dir
//! embedded), entries `kid: base64(PKCS#8 DER)`. Every other function verifies with the public keys alone,
//! `LECTERN_JWT_PUBLIC_KEYS` (`kid:base64url(x)` entries, comma separated; not secret).

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use lectern_shared::secrets::{self, Purpose, write_private};
use serde::Serialize;

/// One key: a private key that signs and verifies, or a public key that only verifies.
pub struct SigningKey {
    pub kid: String,
    /// `None` for a public key (a function that only verifies).
    pub(crate) encoding: Option<EncodingKey>,
    pub(crate) decoding: DecodingKey,
    /// base64url of the raw 32-byte public key (the JWK `x`).
    pub x: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("access-token keys: {0}")]
pub struct KeyError(pub String);

fn check_kid(kid: &str) -> Result<(), KeyError> {
    if kid.is_empty()
        || kid.len() > 64
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(KeyError(format!("bad key id {kid:?}")));
    }
    Ok(())
}

impl SigningKey {
    /// Loads a private key from PKCS#8 DER.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|_| KeyError(format!("key {kid} is not an Ed25519 PKCS#8 key")))?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let mut key = Self::public(kid, &x)?;
        key.encoding = Some(EncodingKey::from_ed_der(der));
        Ok(key)
    }

    /// Loads a public key (base64url of the raw 32 bytes, the JWK `x`): it verifies, never signs.
    pub fn public(kid: &str, x: &str) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let raw = URL_SAFE_NO_PAD
            .decode(x)
            .map_err(|_| KeyError(format!("public key {kid} is not base64url")))?;
        if raw.len() != 32 {
            return Err(KeyError(format!("public key {kid} is not 32 bytes")));
        }
        let decoding = DecodingKey::from_ed_components(x).map_err(|e| KeyError(e.to_string()))?;
        Ok(Self {
            kid: kid.to_string(),
            encoding: None,
            decoding,
            x: x.to_string(),
        })
    }

    /// Generates a fresh key; returns it with its PKCS#8 DER for storage.
    pub fn generate(kid: &str) -> Result<(Self, Vec<u8>), KeyError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| KeyError("key generation failed".into()))?;
        let der = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8(kid, &der)?, der))
    }
}

/// The key ring: `keys[0]` signs.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

/// A public key as published in the JWKS.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    pub x: String,
}

/// The JSON Web Key Set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl KeyRing {
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError("at least one key is required".into()));
        }
        Ok(Self { keys })
    }

    /// Parses `kid:base64der,kid:base64der` (the first signs).
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let ring = secrets::KeyRing::parse(Purpose::Jwt, spec, "access-token keys")
            .map_err(|e| KeyError(e.to_string()))?;
        Self::from_ring(&ring)
    }

    /// The private keys of the `jwt` key ring (its active key signs).
    pub fn from_ring(ring: &secrets::KeyRing) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (kid, material) in ring.iter() {
            let der = STANDARD
                .decode(material)
                .map_err(|_| KeyError(format!("key {kid} is not base64")))?;
            keys.push(SigningKey::from_pkcs8(kid, &der)?);
        }
        Self::new(keys)
    }

    /// Public keys only, `kid:base64url(x),...` (`LECTERN_JWT_PUBLIC_KEYS`): this ring verifies and cannot sign.
    pub fn verify_only(spec: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<SigningKey> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, x) = entry
                .split_once(':')
                .ok_or_else(|| KeyError("public keys look like kid:base64url(x)".into()))?;
            if keys.iter().any(|k| k.kid == kid) {
                return Err(KeyError(format!("key id {kid} appears twice")));
            }
            keys.push(SigningKey::public(kid.trim(), x.trim())?);
        }
        Self::new(keys)
    }

    /// A new Ed25519 key, active, in front of the keys of `existing` (the `jwt` ring's text, when rotating).
    /// Answers the new ring's text (the secret's value) and its public keys (for `LECTERN_JWT_PUBLIC_KEYS`).
    pub fn new_ring_text(existing: Option<&str>) -> Result<(String, String), KeyError> {
        let kid = secrets::KeyRing::new_kid();
        let (_, der) = SigningKey::generate(&kid)?;
        let material = STANDARD.encode(der);
        let ring = match existing {
            Some(text) => secrets::KeyRing::parse(Purpose::Jwt, text, "the existing ring")
                .and_then(|ring| ring.rotated(&kid, material.as_bytes())),
            None => secrets::KeyRing::single(Purpose::Jwt, &kid, material.as_bytes()),
        }
        .map_err(|e| KeyError(e.to_string()))?;
        let public = Self::from_ring(&ring)?.public_spec();
        Ok((ring.to_json(), public))
    }

    /// The public keys as `LECTERN_JWT_PUBLIC_KEYS` takes them.
    pub fn public_spec(&self) -> String {
        self.keys
            .iter()
            .map(|k| format!("{}:{}", k.kid, k.x))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The embedded backend's key: generated on first run and kept in `dir` (mode 0600).
    pub fn local(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join("jwt-ed25519.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Self::parse(text.trim());
        }
        let kid = format!(
            "local-{}",
            &lectern_shared::ids::new_id()[..10].to_lowercase()
        );
        let (key, der) = SigningKey::generate(&kid)?;
        let spec = format!("{kid}:{}", STANDARD.encode(der));
        write_private(&path, spec.as_bytes())
            .map_err(|e| KeyError(format!("writing {}: {e}", path.display())))?;
        Self::new(vec![key])
    }

    /// The key that signs new tokens, when this ring holds private keys.
    pub fn signer(&self) -> Option<(&str, &EncodingKey)> {
        let key = &self.keys[0];
        key.encoding.as_ref().map(|e| (key.kid.as_str(), e))
    }

    /// The key with this id, if it is still configured.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .keys
                .iter()
                .map(|k| Jwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    alg: "EdDSA",
                    use_: "sig",
                    kid: k.kid.clone(),
                    x: k.x.clone(),
                })
                .collect(),
        }
    }
}
