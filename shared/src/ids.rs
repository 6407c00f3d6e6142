//! Identifiers in one place: ULIDs, which sort by creation time and are safe in keys and URLs.

/// A new, lexicographically time-ordered id (26 characters of Crockford base32).
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Whether a string is a well-formed id (used to reject bad path parameters early).
pub fn is_id(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}

/// A random secret of `bytes` bytes, hex encoded (for signing keys generated on first run).
pub fn random_secret(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// An id taken from outside (a path or query parameter): deserializing refuses anything that is not a ULID, so
/// handlers never look up garbage and the error names the parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// In the OpenAPI document: the string [`crate::http::constraints::ID_PATTERN`] describes.
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::http::constraints::id().into()
    }
}

impl utoipa::ToSchema for Id {}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if is_id(&raw) {
            Ok(Id(raw))
        } else {
            Err(serde::de::Error::custom(
                "not an id (26 characters of Crockford base32)",
            ))
        }
    }
}
