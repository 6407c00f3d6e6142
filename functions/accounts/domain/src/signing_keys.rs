//! JWT signing keys (Ed25519). The first configured key signs; every configured key verifies, so a rotation is:
//! add the new key first, wait for old tokens to expire, then remove the old one. The public halves are published
//! as a JWKS.
//!
//! `LECTERN_JWT_KEYS` holds `kid:base64(PKCS#8 DER)` entries separated by commas. On the embedded backend, when it
//! is unset, a key is generated on first run and kept (owner-only) in the data dir.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;

/// One signing key.
pub struct SigningKey {
    pub kid: String,
    pub(crate) encoding: EncodingKey,
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
#[error("LECTERN_JWT_KEYS: {0}")]
pub struct KeyError(pub String);

impl SigningKey {
    /// Loads a key from PKCS#8 DER.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, KeyError> {
        if kid.is_empty()
            || kid.len() > 64
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(KeyError(format!("bad key id {kid:?}")));
        }
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|_| KeyError(format!("key {kid} is not an Ed25519 PKCS#8 key")))?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let decoding = DecodingKey::from_ed_components(&x).map_err(|e| KeyError(e.to_string()))?;
        Ok(Self {
            kid: kid.to_string(),
            encoding: EncodingKey::from_ed_der(der),
            decoding,
            x,
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

    /// Parses `kid:base64der,kid:base64der`.
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, der) = entry
                .split_once(':')
                .ok_or_else(|| KeyError("entries look like kid:base64der".into()))?;
            let der = STANDARD
                .decode(der.trim())
                .map_err(|_| KeyError(format!("key {kid} is not base64")))?;
            if keys.iter().any(|k: &SigningKey| k.kid == kid) {
                return Err(KeyError(format!("key id {kid} appears twice")));
            }
            keys.push(SigningKey::from_pkcs8(kid, &der)?);
        }
        Self::new(keys)
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

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        &self.keys[0]
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

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
