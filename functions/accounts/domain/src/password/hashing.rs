//! Argon2id password hashing (OWASP ASVS 5.0 11.4.2), run off the async runtime because one hash takes tens
//! of milliseconds of CPU and memory by design.

use std::sync::Arc;

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use lectern_shared::config::ConfigError;

use crate::crypto::fill_random;

/// Accepted ranges: beyond these a typo in configuration (or a hostile stored hash) could exhaust a function's
/// memory or time budget.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;
/// OWASP lists equivalent settings from m=47104,t=1 down to m=7168,t=5; their cost product is at least this.
const OWASP_MIN_COST: u64 = 7168 * 5;
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// Argon2id cost settings. New hashes use them; existing hashes carry their own in the PHC string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Number of passes over the memory.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// The OWASP Password Storage Cheat Sheet recommendation: m=19456 KiB (19 MiB), t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// Reads `LECTERN_ARGON2_MEMORY_KIB`, `LECTERN_ARGON2_ITERATIONS` and `LECTERN_ARGON2_PARALLELISM` through
    /// `get`, defaulting each to [`Argon2Params::default`], and checks the ranges.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let params = Self {
            memory_kib: read(
                &get,
                "LECTERN_ARGON2_MEMORY_KIB",
                defaults.memory_kib,
                8..=MAX_MEMORY_KIB,
            )?,
            iterations: read(
                &get,
                "LECTERN_ARGON2_ITERATIONS",
                defaults.iterations,
                1..=MAX_ITERATIONS,
            )?,
            parallelism: read(
                &get,
                "LECTERN_ARGON2_PARALLELISM",
                defaults.parallelism,
                1..=MAX_PARALLELISM,
            )?,
        };
        if params.memory_kib < 8 * params.parallelism {
            return Err(ConfigError {
                var: "LECTERN_ARGON2_MEMORY_KIB",
                problem: "must be at least 8 KiB per lane of parallelism".into(),
            });
        }
        if u64::from(params.memory_kib) * u64::from(params.iterations) < OWASP_MIN_COST {
            // Allowed so tests and local development can be fast, but never what production should run.
            tracing::warn!(?params, "Argon2 parameters are below the OWASP minimum");
        }
        Ok(params)
    }

    fn to_argon2(self) -> Result<Params, PasswordError> {
        if self.memory_kib > MAX_MEMORY_KIB
            || self.iterations > MAX_ITERATIONS
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(PasswordError::InvalidParams(format!(
                "{self:?} exceeds the supported maximum"
            )));
        }
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| PasswordError::InvalidParams(e.to_string()))
    }
}

fn read(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(raw) = get(var).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().parse::<u32>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ConfigError {
            var,
            problem: format!(
                "{raw:?} is not a whole number in {}..={}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// Why hashing or verifying failed. A wrong password is not an error: see [`Verification::valid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The cost settings are outside what Argon2 or this crate accepts.
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParams(String),
    /// The stored hash is not an Argon2 PHC string we can verify against.
    #[error("the stored password hash is malformed")]
    MalformedHash,
    /// Argon2 itself failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The blocking task running the hash was cancelled or panicked.
    #[error("the password hashing task did not complete")]
    Task,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches.
    pub valid: bool,
    /// The password matches but the hash was made with other settings than the current ones: hash the password
    /// again and store the new hash (only ever true when `valid`).
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with Argon2id. Cheap to clone; build one per process.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Params,
    /// A well-formed hash of nothing in particular, with the current settings, for [`PasswordHasher::verify_dummy`].
    dummy: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher producing Argon2id (v1.3) hashes with `params`.
    pub fn new(params: Argon2Params) -> Result<Self, PasswordError> {
        let argon_params = params.to_argon2()?;
        // Verification only needs the settings, a salt and an output to compare against, so random bytes make a
        // dummy that costs exactly as much to check as a real hash, without spending a hash at start-up.
        let mut salt = [0u8; SALT_LEN];
        let mut output = [0u8; OUTPUT_LEN];
        fill_random(&mut salt);
        fill_random(&mut output);
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.memory_kib,
            params.iterations,
            params.parallelism,
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(output),
        );
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params.clone()),
            params: argon_params,
            dummy: dummy.into(),
        })
    }

    /// Hashes `password` exactly as given (never trimmed or truncated) under a fresh random salt, returning a
    /// PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            use argon2::PasswordHasher as _;
            let mut salt = [0u8; SALT_LEN];
            fill_random(&mut salt);
            let salt =
                SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hashing(e.to_string()))
        })
        .await
        .map_err(|_| PasswordError::Task)?
    }

    /// Checks `password` against a stored PHC string. The settings stored in the string are used, so hashes made
    /// before a settings change still verify; `needs_rehash` says when to replace them.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verification, PasswordError> {
        let argon2 = self.argon2.clone();
        let current = self.params.clone();
        let password = password.to_owned();
        let phc = phc.to_owned();
        tokio::task::spawn_blocking(move || verify_blocking(&argon2, &current, &password, &phc))
            .await
            .map_err(|_| PasswordError::Task)?
    }

    /// Spends the time of a real [`PasswordHasher::verify`] without anything to verify against, so a sign-in for
    /// an unknown account takes as long as one for a known account (no account enumeration by timing).
    pub async fn verify_dummy(&self, password: &str) {
        if let Err(e) = self.verify(password, &self.dummy).await {
            tracing::warn!(error = %e, "dummy password verification failed");
        }
    }
}

fn verify_blocking(
    argon2: &Argon2<'static>,
    current: &Params,
    password: &str,
    phc: &str,
) -> Result<Verification, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::MalformedHash);
    }
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|_| PasswordError::MalformedHash)?;
    let stored = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    // The stored settings decide the cost of this call, so refuse ones nobody configured.
    if stored.m_cost() > MAX_MEMORY_KIB
        || stored.t_cost() > MAX_ITERATIONS
        || stored.p_cost() > MAX_PARALLELISM
    {
        return Err(PasswordError::MalformedHash);
    }
    let version = parsed.version.unwrap_or(Version::V0x10 as u32);
    let valid = match argon2.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => true,
        Err(argon2::password_hash::Error::Password) => false,
        Err(_) => return Err(PasswordError::MalformedHash),
    };
    let same = algorithm == Algorithm::Argon2id
        && version == Version::V0x13 as u32
        && stored.m_cost() == current.m_cost()
        && stored.t_cost() == current.t_cost()
        && stored.p_cost() == current.p_cost()
        && parsed.hash.map(|h| h.len()) == Some(OUTPUT_LEN);
    Ok(Verification {
        valid,
        needs_rehash: valid && !same,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Argon2Params {
        Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn the_dummy_hash_is_a_real_hash_with_current_settings() {
        let hasher = PasswordHasher::new(tiny()).unwrap();
        let parsed = PasswordHash::new(&hasher.dummy).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let stored = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (stored.m_cost(), stored.t_cost(), stored.p_cost()),
            (64, 1, 1)
        );
        let v = hasher
            .verify("anything at all", &hasher.dummy)
            .await
            .unwrap();
        assert!(!v.valid);
    }
}
