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
