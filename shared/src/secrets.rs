//! Keys, one ring per purpose, each key with an id.
//!
//! Every secret Lectern uses is a [`KeyRing`] of one [`Purpose`]: signing pagination cursors, keying rate-limit
//! counters, signing the embedded store's blob URLs, encrypting TOTP seeds, signing access tokens. A ring holds one
//! or more keys by id; the *active* one signs or encrypts what is new, and every key in the ring still verifies or
//! decrypts what it made, because signed and sealed values carry the id of their key. So one purpose's key can be
//! rotated (add a key, make it active, drop the old one once nothing needs it) without touching any other purpose
//! and without breaking data made under the old key.
//!
//! Where rings come from (see the README, "Secrets and rotation"):
//! - on AWS, from Secrets Manager: `LECTERN_SECRET_<PURPOSE>` names a secret (name or ARN) per purpose, each
//!   function is given only the ones it uses, and they are read once, at cold start, in one
//!   `BatchGetSecretValue` call ([`load_aws`]);
//! - embedded, from `LECTERN_KEYS_<PURPOSE>` when set, otherwise from `<data dir>/keys/<purpose>.json`, generated
//!   on first run (owner-only) ([`load_embedded`]). Raw key material in the environment is refused on AWS.
//!
//! A ring's text is a JSON object, `{"active": "k2", "k1": "<material>", "k2": "<material>"}` (what CloudFormation's
//! `GenerateSecretString` makes from `{"active":"k1"}`), or a list `k2:<material>,k1:<material>` whose first key
//! is active. Material of the symmetric purposes is at least 32 characters and is never used directly: each use
//! derives its own key from it ([`derive`]). Access-token material is an Ed25519 key (base64 PKCS#8), which the
//! accounts domain reads. Key material never appears in `Debug` output, logs or errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a ring of keys is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Signs pagination cursors.
    Cursor,
    /// Keys the digests that name rate-limit counters (so stored keys reveal no IP or email).
    RateLimit,
    /// Signs the embedded blob store's upload forms and download URLs (S3 presigns with IAM credentials).
    BlobUrls,
    /// Encrypts TOTP seeds at rest (and keys the hashes of backup codes).
    Totp,
    /// Seals the jobs waiting in the table's outbox (they may carry one-time links).
    Outbox,
    /// Signs access tokens (Ed25519 private keys; only the function that issues tokens holds them).
    Jwt,
    /// Signs exam certificates: each key's Ed25519 key pair is derived from its material, so the ring is
    /// generated and rotated like the symmetric ones, and the public halves are published for offline checks.
    Certificates,
    /// Encrypts webhook endpoints' signing secrets at rest (they must be read back to sign each delivery).
    Webhooks,
}

impl Purpose {
    pub const ALL: [Purpose; 8] = [
        Purpose::Cursor,
        Purpose::RateLimit,
        Purpose::BlobUrls,
        Purpose::Totp,
        Purpose::Outbox,
        Purpose::Jwt,
        Purpose::Certificates,
        Purpose::Webhooks,
    ];

    /// The name in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Cursor => "cursor",
            Purpose::RateLimit => "ratelimit",
            Purpose::BlobUrls => "blob-urls",
            Purpose::Totp => "totp",
            Purpose::Outbox => "outbox",
            Purpose::Jwt => "jwt",
            Purpose::Certificates => "certificates",
            Purpose::Webhooks => "webhooks",
        }
    }

    /// The variable holding the ring itself (embedded mode only).
    pub fn keys_var(self) -> &'static str {
        match self {
            Purpose::Cursor => "LECTERN_KEYS_CURSOR",
            Purpose::RateLimit => "LECTERN_KEYS_RATELIMIT",
            Purpose::BlobUrls => "LECTERN_KEYS_BLOB_URLS",
            Purpose::Totp => "LECTERN_KEYS_TOTP",
            Purpose::Outbox => "LECTERN_KEYS_OUTBOX",
            // Kept from before key rings, where it already held `kid:base64,...`.
            Purpose::Jwt => "LECTERN_JWT_KEYS",
            Purpose::Certificates => "LECTERN_KEYS_CERTIFICATES",
            Purpose::Webhooks => "LECTERN_KEYS_WEBHOOKS",
        }
    }

    /// The variable naming the ring's Secrets Manager secret (AWS only).
    pub fn secret_var(self) -> &'static str {
        match self {
            Purpose::Cursor => "LECTERN_SECRET_CURSOR",
            Purpose::RateLimit => "LECTERN_SECRET_RATELIMIT",
            Purpose::BlobUrls => "LECTERN_SECRET_BLOB_URLS",
            Purpose::Totp => "LECTERN_SECRET_TOTP",
            Purpose::Outbox => "LECTERN_SECRET_OUTBOX",
            Purpose::Jwt => "LECTERN_SECRET_JWT",
            Purpose::Certificates => "LECTERN_SECRET_CERTIFICATES",
            Purpose::Webhooks => "LECTERN_SECRET_WEBHOOKS",
        }
    }

    /// Symmetric purposes have generated string material; access tokens have Ed25519 keys. (Certificates count
    /// as symmetric: their material is a generated string from which the signing key is derived.)
    pub fn is_symmetric(self) -> bool {
        self != Purpose::Jwt
    }
}

/// Shortest material accepted for a symmetric key.
pub const MIN_MATERIAL_CHARS: usize = 32;
/// The key id that holds the signing secret of deployments from before key rings, so TOTP seeds sealed under it
/// (`v1.` seals) still open. It only ever decrypts.
pub const LEGACY_KID: &str = "legacy";

/// Why keys could not be loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{source_name}: {problem}")]
    Invalid {
        source_name: String,
        problem: String,
    },
    #[error("no {0} keys are configured for this function ({1})")]
    Missing(&'static str, String),
    #[error("{source_name}: {problem}")]
    Unavailable {
        source_name: String,
        problem: String,
    },
}

fn invalid(source_name: &str, problem: impl Into<String>) -> SecretError {
    SecretError::Invalid {
        source_name: source_name.to_string(),
        problem: problem.into(),
    }
}

/// The keys of one purpose: `active` is used for what is new, all of them for what exists.
#[derive(Clone)]
pub struct KeyRing {
    purpose: Purpose,
    active: String,
    /// Key id → material, the active key first.
    keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("purpose", &self.purpose)
            .field("active", &self.active)
            .field("kids", &self.kids())
            .finish()
    }
}

fn valid_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

impl KeyRing {
    /// Parses a ring's text (JSON object or `kid:material` list). `source_name` names where it came from in
    /// errors (a variable, a file, a secret), never the material.
    pub fn parse(purpose: Purpose, text: &str, source_name: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let (active, entries) = if text.starts_with('{') {
            let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|_| {
                invalid(
                    source_name,
                    "not a JSON object of strings ({\"active\": kid, kid: material, ...})",
                )
            })?;
            let active = map
                .get("active")
                .cloned()
                .ok_or_else(|| invalid(source_name, "no \"active\" key id"))?;
            let entries: Vec<(String, String)> =
                map.into_iter().filter(|(k, _)| k != "active").collect();
            (active, entries)
        } else {
            let mut entries = Vec::new();
            for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (kid, material) = entry
                    .split_once(':')
                    .ok_or_else(|| invalid(source_name, "entries look like kid:material"))?;
                entries.push((kid.trim().to_string(), material.trim().to_string()));
            }
            let active = entries
                .first()
                .map(|(kid, _)| kid.clone())
                .ok_or_else(|| invalid(source_name, "no keys"))?;
            (active, entries)
        };
        let mut keys = Vec::with_capacity(entries.len());
        for (kid, material) in entries {
            if !valid_kid(&kid) {
                return Err(invalid(
                    source_name,
                    format!("bad key id {kid:?} (1-64 of A-Z a-z 0-9 - _)"),
                ));
            }
            if keys.iter().any(|(k, _): &(String, Vec<u8>)| *k == kid) {
                return Err(invalid(source_name, format!("key id {kid} appears twice")));
            }
            if purpose.is_symmetric() && material.chars().count() < MIN_MATERIAL_CHARS {
                return Err(invalid(
                    source_name,
                    format!("key {kid} is shorter than {MIN_MATERIAL_CHARS} characters"),
                ));
            }
            if material.is_empty() {
                return Err(invalid(source_name, format!("key {kid} is empty")));
            }
            keys.push((kid, material.into_bytes()));
        }
        if active == LEGACY_KID {
            return Err(invalid(
                source_name,
                "the legacy key only opens old values; make another key active",
            ));
        }
        let Some(at) = keys.iter().position(|(kid, _)| *kid == active) else {
            return Err(invalid(
                source_name,
                format!("the active key {active:?} is not in the ring"),
            ));
        };
        let first = keys.remove(at);
        keys.insert(0, first);
        Ok(Self {
            purpose,
            active,
            keys,
        })
    }

    /// A ring of one fresh random key (symmetric purposes), for the embedded mode's first run and for rotations.
    pub fn generate(purpose: Purpose) -> Self {
        let kid = Self::new_kid();
        Self {
            purpose,
            active: kid.clone(),
            keys: vec![(kid, crate::ids::random_secret(32).into_bytes())],
        }
    }

    /// A ring of exactly one key (tests, and the single secrets of older configurations).
    pub fn single(purpose: Purpose, kid: &str, material: &[u8]) -> Result<Self, SecretError> {
        if !valid_kid(kid) || kid == LEGACY_KID {
            return Err(invalid("a single key", format!("bad key id {kid:?}")));
        }
        if material.is_empty() || (purpose.is_symmetric() && material.len() < MIN_MATERIAL_CHARS) {
            return Err(invalid(
                "a single key",
                format!("shorter than {MIN_MATERIAL_CHARS} characters"),
            ));
        }
        Ok(Self {
            purpose,
            active: kid.to_string(),
            keys: vec![(kid.to_string(), material.to_vec())],
        })
    }

    /// The ring with a new key in front, made active; the old keys stay to verify and open what they made.
    pub fn rotated(&self, kid: &str, material: &[u8]) -> Result<Self, SecretError> {
        let mut ring = Self::single(self.purpose, kid, material)?;
        if self.get(kid).is_some() {
            return Err(invalid(
                "rotation",
                format!("key id {kid} is already in the ring"),
            ));
        }
        ring.keys.extend(self.keys.iter().cloned());
        Ok(ring)
    }

    /// A new key id: `k` and the date and time, which sorts and tells an operator how old a key is.
    pub fn new_kid() -> String {
        let now = time::OffsetDateTime::now_utc();
        format!(
            "k{:04}{:02}{:02}{:02}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        )
    }

    /// Adds a key that only opens or verifies (a legacy secret); does nothing when the id is taken.
    pub fn with_extra(mut self, kid: &str, material: &[u8]) -> Self {
        if !self.keys.iter().any(|(k, _)| k == kid) {
            self.keys.push((kid.to_string(), material.to_vec()));
        }
        self
    }

    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The id and material of the key used for new values.
    pub fn active(&self) -> (&str, &[u8]) {
        let (kid, material) = &self.keys[0];
        (kid, material)
    }

    /// The material of a key by id.
    pub fn get(&self, kid: &str) -> Option<&[u8]> {
        self.keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, m)| m.as_slice())
    }

    /// Every key, the active one first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.keys.iter().map(|(k, m)| (k.as_str(), m.as_slice()))
    }

    /// The key ids, the active one first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The ring as the JSON text [`KeyRing::parse`] reads (for the embedded mode's key files).
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("active".into(), self.active.clone().into());
        for (kid, material) in &self.keys {
            map.insert(
                kid.clone(),
                String::from_utf8_lossy(material).into_owned().into(),
            );
        }
        serde_json::Value::Object(map).to_string()
    }
}

/// A 32-byte key for one use, HMAC-SHA256(material, label). Every use has its own versioned label, so material
/// given to two purposes by mistake still yields unrelated keys, and no use ever handles the material itself.
pub fn derive(material: &[u8], label: &str) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(material) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return [0; 32],
    };
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The rings this process has, by purpose.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    rings: BTreeMap<Purpose, Arc<KeyRing>>,
}

impl Keys {
    pub fn new(rings: impl IntoIterator<Item = KeyRing>) -> Self {
        Self {
            rings: rings
                .into_iter()
                .map(|r| (r.purpose, Arc::new(r)))
                .collect(),
        }
    }

    pub fn get(&self, purpose: Purpose) -> Option<&KeyRing> {
        self.rings.get(&purpose).map(Arc::as_ref)
    }

    /// The ring of a purpose this function cannot do without; the error says how to configure it.
    pub fn require(&self, purpose: Purpose) -> Result<&KeyRing, SecretError> {
        self.get(purpose).ok_or_else(|| {
            SecretError::Missing(
                purpose.name(),
                format!(
                    "set {} on aws, or {} embedded",
                    purpose.secret_var(),
                    purpose.keys_var()
                ),
            )
        })
    }

    /// The purposes present.
    pub fn purposes(&self) -> Vec<Purpose> {
        self.rings.keys().copied().collect()
    }
}

/// Raw text of a configured ring, as read from the environment; redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct RingText(pub String);

impl std::fmt::Debug for RingText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingText(..)")
    }
}

/// Where this process's keys come from (part of [`crate::Config`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretsConfig {
    /// Embedded: rings given in `LECTERN_KEYS_*` (the others are generated into the data dir).
    pub rings: BTreeMap<Purpose, RingText>,
    /// AWS: the Secrets Manager secret (name or ARN) of each ring this function uses.
    pub secrets: BTreeMap<Purpose, String>,
}

impl SecretsConfig {
    /// Reads `LECTERN_KEYS_*` and `LECTERN_SECRET_*` through `var`. Raw rings are refused on AWS (secrets do not
    /// belong in a Lambda's environment), secret references embedded (there is no Secrets Manager to ask).
    pub fn from_lookup(
        var: &impl Fn(&str) -> Option<String>,
        aws: bool,
    ) -> Result<Self, crate::config::ConfigError> {
        let mut config = Self::default();
        for purpose in Purpose::ALL {
            if let Some(text) = var(purpose.keys_var()) {
                if aws {
                    return Err(crate::config::ConfigError {
                        var: purpose.keys_var(),
                        problem: format!(
                            "keys are not taken from the environment on aws; name a Secrets Manager secret in {}",
                            purpose.secret_var()
                        ),
                    });
                }
                // Parsed now so a bad value fails at start-up, naming the variable.
                KeyRing::parse(purpose, &text, purpose.keys_var()).map_err(|e| {
                    crate::config::ConfigError {
                        var: purpose.keys_var(),
                        problem: e.to_string(),
                    }
                })?;
                config.rings.insert(purpose, RingText(text));
            }
            if let Some(id) = var(purpose.secret_var()) {
                if !aws {
                    return Err(crate::config::ConfigError {
                        var: purpose.secret_var(),
                        problem: format!(
                            "Secrets Manager is used on the aws backend only; embedded, set {} or let it be generated",
                            purpose.keys_var()
                        ),
                    });
                }
                config.secrets.insert(purpose, id.trim().to_string());
            }
        }
        Ok(config)
    }
}

/// The embedded mode's rings: each symmetric purpose from its variable, else from `<dir>/keys/<purpose>.json`
/// (generated on first run, owner-only). Access-token keys only when `LECTERN_JWT_KEYS` is set (the accounts
/// domain keeps its own generated key file otherwise). A data dir from before key rings keeps opening its TOTP
/// seeds: its `signing.secret` joins the TOTP ring as the [`LEGACY_KID`] key.
pub fn load_embedded(dir: &Path, config: &SecretsConfig) -> Result<Keys, SecretError> {
    let mut rings = Vec::new();
    for purpose in Purpose::ALL {
        let ring = match config.rings.get(&purpose) {
            Some(text) => KeyRing::parse(purpose, &text.0, purpose.keys_var())?,
            None if purpose.is_symmetric() => local_ring(dir, purpose)?,
            None => continue,
        };
        rings.push(ring);
    }
    Ok(Keys::new(rings))
}

fn local_ring(dir: &Path, purpose: Purpose) -> Result<KeyRing, SecretError> {
    let folder = dir.join("keys");
    let path = folder.join(format!("{}.json", purpose.name()));
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => return KeyRing::parse(purpose, &text, &shown),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(SecretError::Unavailable {
                source_name: shown,
                problem: e.to_string(),
            });
        }
    }
    let mut ring = KeyRing::generate(purpose);
    if purpose == Purpose::Totp
        && let Ok(legacy) = std::fs::read_to_string(dir.join("signing.secret"))
        && !legacy.trim().is_empty()
    {
        ring = ring.with_extra(LEGACY_KID, legacy.trim().as_bytes());
    }
    std::fs::create_dir_all(&folder).map_err(|e| SecretError::Unavailable {
        source_name: folder.display().to_string(),
        problem: e.to_string(),
    })?;
    write_private(&path, ring.to_json().as_bytes()).map_err(|e| SecretError::Unavailable {
        source_name: shown,
        problem: e.to_string(),
    })?;
    Ok(ring)
}

/// Writes a new file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// The rings named in `config.secrets`, read from Secrets Manager once, at cold start, in **one call**:
/// `BatchGetSecretValue` with every secret this function was given (up to 20; a function has at most five). One
/// ring is one `GetSecretValue`. Whatever the batch does not return — the call refused (a role without
/// `secretsmanager:BatchGetSecretValue`, an emulator without the operation) or a secret it lists under `Errors`,
/// or one named in a form it does not echo back (a partial ARN) — is read with `GetSecretValue` instead, all of
/// those at the same time, so a misconfiguration costs a round trip, never the start. Errors name the variable and
/// the secret, never a value.
#[cfg(feature = "aws-secrets")]
pub async fn load_aws(
    client: &aws_sdk_secretsmanager::Client,
    config: &SecretsConfig,
) -> Result<Keys, SecretError> {
    let started = std::time::Instant::now();
    let mut texts: BTreeMap<Purpose, String> = BTreeMap::new();
    let mut calls = 0;
    if config.secrets.len() > 1 {
        calls += 1;
        // Boxed, as each SDK call below: their futures are deep, and unboxed they would nest into the layout of
        // every future that starts a platform (tests hit the compiler's query depth limit).
        let batch = client
            .batch_get_secret_value()
            .set_secret_id_list(Some(config.secrets.values().cloned().collect()))
            .send();
        match Box::pin(batch).await {
            Ok(out) => {
                for entry in out.secret_values() {
                    let Some(text) = entry.secret_string() else {
                        continue;
                    };
                    for (purpose, id) in &config.secrets {
                        if entry.arn() == Some(id.as_str()) || entry.name() == Some(id.as_str()) {
                            texts.insert(*purpose, text.to_string());
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(
                error = %crate::aws::SdkFailure::of(&e).detail,
                "BatchGetSecretValue failed; reading each key ring with GetSecretValue (allow \
                 secretsmanager:BatchGetSecretValue to read them in one call)"
            ),
        }
    }
    let missing: Vec<(Purpose, &String)> = config
        .secrets
        .iter()
        .filter(|(purpose, _)| !texts.contains_key(purpose))
        .map(|(purpose, id)| (*purpose, id))
        .collect();
    calls += missing.len();
    let reads = missing.into_iter().map(|(purpose, id)| async move {
        let out = Box::pin(client.get_secret_value().secret_id(id).send())
            .await
            .map_err(|e| SecretError::Unavailable {
                source_name: source_name(purpose, id),
                problem: crate::aws::SdkFailure::of(&e).detail,
            })?;
        let text = out
            .secret_string()
            .ok_or_else(|| invalid(&source_name(purpose, id), "the secret has no string value"))?;
        Ok::<_, SecretError>((purpose, text.to_string()))
    });
    texts.extend(futures::future::try_join_all(reads).await?);
    let mut rings = Vec::with_capacity(texts.len());
    for (purpose, text) in &texts {
        rings.push(KeyRing::parse(
            *purpose,
            text,
            &source_name(*purpose, &config.secrets[purpose]),
        )?);
    }
    let keys = Keys::new(rings);
    tracing::info!(
        purposes = ?keys.purposes().iter().map(|p| p.name()).collect::<Vec<_>>(),
        calls,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "keys read from Secrets Manager"
    );
    Ok(keys)
}

/// How errors name a ring's secret: its variable and the secret's name or ARN.
#[cfg(feature = "aws-secrets")]
fn source_name(purpose: Purpose, id: &str) -> String {
    format!("{} ({id})", purpose.secret_var())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn both_formats_parse_with_the_active_key_first() {
        let json = format!(r#"{{"active": "k2", "k1": "{A}", "k2": "{B}"}}"#);
        let ring = KeyRing::parse(Purpose::Cursor, &json, "test").unwrap();
        assert_eq!(ring.kids(), ["k2", "k1"]);
        assert_eq!(ring.active(), ("k2", B.as_bytes()));
        assert_eq!(ring.get("k1"), Some(A.as_bytes()));
        let list = KeyRing::parse(Purpose::Cursor, &format!("k2:{B},k1:{A}"), "test").unwrap();
        assert_eq!(list.kids(), ring.kids());
        let again = KeyRing::parse(Purpose::Cursor, &ring.to_json(), "test").unwrap();
        assert_eq!(again.kids(), ring.kids());
    }

    #[test]
    fn bad_rings_are_refused_without_showing_material() {
        for bad in [
            String::new(),
            "{}".into(),
            format!(r#"{{"active": "k3", "k1": "{A}"}}"#),
            r#"{"active": "k1", "k1": "short"}"#.to_string(),
            format!("k 1:{A}"),
            format!("k1:{A},k1:{B}"),
            format!(r#"{{"active": "legacy", "legacy": "{A}"}}"#),
            "[1, 2]".into(),
        ] {
            let err = KeyRing::parse(Purpose::Totp, &bad, "LECTERN_KEYS_TOTP").unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("LECTERN_KEYS_TOTP"), "{text}");
            assert!(!text.contains(A) && !text.contains(B), "{text}");
        }
        let ring = KeyRing::parse(Purpose::Cursor, &format!("k1:{A}"), "t").unwrap();
        assert!(!format!("{ring:?}").contains(A), "Debug hides material");
    }

    #[test]
    fn a_rotation_puts_the_new_key_first_and_keeps_the_old_ones() {
        let ring = KeyRing::parse(Purpose::Cursor, &format!("k1:{A}"), "t").unwrap();
        let rotated = ring.rotated("k2", B.as_bytes()).unwrap();
        assert_eq!(rotated.kids(), ["k2", "k1"]);
        assert_eq!(rotated.active().0, "k2");
        assert!(
            rotated.rotated("k1", A.as_bytes()).is_err(),
            "ids stay unique"
        );
        let parsed = KeyRing::parse(Purpose::Cursor, &rotated.to_json(), "t").unwrap();
        assert_eq!(parsed.kids(), ["k2", "k1"]);
        assert!(valid_kid(&KeyRing::new_kid()));
    }

    #[test]
    fn derived_keys_depend_on_material_and_label() {
        let k = derive(A.as_bytes(), "lectern/cursor/v2");
        assert_eq!(k, derive(A.as_bytes(), "lectern/cursor/v2"));
        assert_ne!(k, derive(B.as_bytes(), "lectern/cursor/v2"));
        assert_ne!(k, derive(A.as_bytes(), "lectern/totp/v2"));
    }

    #[test]
    fn raw_rings_are_refused_on_aws_and_secret_names_embedded() {
        let env = |k: &str| (k == "LECTERN_KEYS_CURSOR").then(|| format!("k1:{A}"));
        assert!(SecretsConfig::from_lookup(&env, false).is_ok());
        let err = SecretsConfig::from_lookup(&env, true).unwrap_err();
        assert_eq!(err.var, "LECTERN_KEYS_CURSOR");
        let env = |k: &str| (k == "LECTERN_SECRET_TOTP").then(|| "lectern/totp".to_string());
        assert!(SecretsConfig::from_lookup(&env, true).is_ok());
        assert_eq!(
            SecretsConfig::from_lookup(&env, false).unwrap_err().var,
            "LECTERN_SECRET_TOTP"
        );
    }

    #[test]
    fn embedded_rings_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("signing.secret"), A).unwrap();
        let first = load_embedded(dir.path(), &SecretsConfig::default()).unwrap();
        let second = load_embedded(dir.path(), &SecretsConfig::default()).unwrap();
        for purpose in [
            Purpose::Cursor,
            Purpose::RateLimit,
            Purpose::BlobUrls,
            Purpose::Totp,
        ] {
            let (a, b) = (
                first.require(purpose).unwrap(),
                second.require(purpose).unwrap(),
            );
            assert_eq!(a.active(), b.active(), "{purpose:?}");
        }
        assert_ne!(
            first.require(Purpose::Cursor).unwrap().active().1,
            first.require(Purpose::Totp).unwrap().active().1,
            "one key per purpose"
        );
        assert_eq!(
            first.require(Purpose::Totp).unwrap().get(LEGACY_KID),
            Some(A.as_bytes()),
            "the old signing secret opens old TOTP seals"
        );
        assert!(first.get(Purpose::Jwt).is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys/totp.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
