//! One-time backup codes for when the authenticator is lost. Shown to the user once; only keyed hashes are
//! stored, and a used code's slot is emptied.
//!
//! A code has 40 bits (`xxxx-xxxx`, typed by hand): far too few for a fast hash to protect it once the table leaks
//! (every code of every user falls to a GPU in minutes). So what is stored is an HMAC-SHA256 under a key that is
//! not in the table ([`CodeHasher`], derived from the TOTP key ring the way the TOTP sealing keys are), bound to
//! the account: a table dump alone reveals nothing, and one account's entry is useless for another's. Online
//! guessing is what the lockout limits.
//!
//! Stored forms: `hk:<key id>:<hex>` is current. A bare 64-character hex string is the older, unkeyed
//! `SHA-256(code)`; it still verifies, and because the keyed hash is taken over that same SHA-256, such an entry
//! is upgraded in place without knowing the code ([`CodeHasher::upgrade`]): when the account next writes its 2FA
//! state, and for every account at once with `lectern migrate-backup-codes`.

use hmac::{Hmac, Mac};
use lectern_shared::secrets::{self, KeyRing, LEGACY_KID};
use sha2::Sha256;

use crate::crypto::{constant_time_eq, fill_random, token_hash};

/// How many codes a fresh set holds.
pub const DEFAULT_COUNT: usize = 10;

/// Crockford's base32 alphabet, lowercase: no `i`, `l`, `o` or `u`, so nothing is misread, and 32 symbols make
/// each character exactly 5 random bits (8 characters = 40 bits).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CODE_CHARS: usize = 8;
/// Marks a keyed entry: `hk:<key id>:<hex>`.
const KEYED: &str = "hk";

/// `n` distinct random codes shaped `xxxx-xxxx` (40 bits each).
pub fn generate(n: usize) -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(n);
    while codes.len() < n {
        let mut bytes = [0u8; CODE_CHARS];
        fill_random(&mut bytes);
        let mut code = String::with_capacity(CODE_CHARS + 1);
        for (i, b) in bytes.iter().enumerate() {
            if i == CODE_CHARS / 2 {
                code.push('-');
            }
            code.push(char::from(ALPHABET[usize::from(b & 31)]));
        }
        // A repeat within a set is vanishingly unlikely, but it would silently leave the user one code short.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// The canonical form of a typed code: lowercase, without spaces or dashes, and with the letters Crockford
/// base32 treats as look-alikes mapped to their digits (`o` to `0`, `i` and `l` to `1`).
pub fn normalize(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect()
}

/// The unkeyed digest of a code, `SHA-256(normalize(code))`: what older versions stored, and what the keyed hash
/// is taken over.
pub fn digest(code: &str) -> String {
    token_hash(&normalize(code))
}

/// Whether a stored entry is the older unkeyed form (64 lowercase hex characters).
fn is_legacy(stored: &str) -> bool {
    stored.len() == 64
        && stored
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The keyed hash of backup codes: one key per key of the TOTP ring (the ring of the functions that handle 2FA),
/// derived for this use. New hashes use the active key; an entry names its key id, so entries hashed before a
/// rotation keep verifying while the older key is still in the ring. Cheap to clone; `Debug` never shows a key.
#[derive(Clone)]
pub struct CodeHasher {
    /// (key id, key); the first is active. Empty in a function that handles no 2FA: nothing hashes or matches.
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        write!(f, "CodeHasher({kids:?})")
    }
}

/// The label that separates backup-code keys from the TOTP sealing keys of the same ring.
const LABEL: &str = "lectern/backup-codes/v1";

impl CodeHasher {
    /// A hasher over the TOTP key ring. The ring's legacy key (the signing secret of deployments from before key
    /// rings) only ever opened old TOTP seals and keys no backup code.
    pub fn from_ring(ring: &KeyRing) -> Self {
        Self {
            keys: ring
                .iter()
                .filter(|(kid, _)| *kid != LEGACY_KID)
                .map(|(kid, material)| (kid.to_string(), secrets::derive(material, LABEL)))
                .collect(),
        }
    }

    /// A hasher for a function that handles no 2FA: every hash is refused and nothing matches.
    pub fn none() -> Self {
        Self { keys: Vec::new() }
    }

    /// A hasher of one key derived from `master` for `purpose`, for tests and tools.
    pub fn derive(master: &[u8], purpose: &str, key_id: &str) -> Self {
        Self::from_key(secrets::derive(master, purpose), key_id)
    }

    /// A hasher over a raw 32-byte key.
    pub fn from_key(key: [u8; 32], key_id: &str) -> Self {
        Self {
            keys: vec![(key_id.to_string(), key)],
        }
    }

    /// The keyed hash of an unkeyed digest under one key, bound to the account.
    fn keyed(key_id: &str, key: &[u8; 32], user_id: &str, digest: &str) -> String {
        let mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
            Ok(mut mac) => {
                // Length-prefixed parts, so no two (user, digest) pairs feed the same bytes.
                mac.update(b"lectern backup code\0");
                mac.update(&(user_id.len() as u64).to_be_bytes());
                mac.update(user_id.as_bytes());
                mac.update(digest.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        };
        format!("{KEYED}:{key_id}:{mac}")
    }

    /// The keyed hash under the active key; `None` without keys.
    fn active(&self, user_id: &str, digest: &str) -> Option<String> {
        let (kid, key) = self.keys.first()?;
        Some(Self::keyed(kid, key, user_id, digest))
    }

    /// What is stored for `code` of account `user_id`; `None` in a function without backup-code keys.
    pub fn hash(&self, user_id: &str, code: &str) -> Option<String> {
        self.active(user_id, &digest(code))
    }

    /// The index in `stored` of the code the user typed, if any. Every entry is compared, in constant time, so
    /// timing reveals neither whether nor where it matched. An entry under a key id the ring no longer holds never
    /// matches (it cannot be checked without its key).
    pub fn find(&self, user_id: &str, stored: &[String], input: &str) -> Option<usize> {
        let unkeyed = digest(input);
        // One candidate per key id, computed once, whatever the entries hold.
        let keyed: Vec<String> = self
            .keys
            .iter()
            .map(|(kid, key)| Self::keyed(kid, key, user_id, &unkeyed))
            .collect();
        let mut found = None;
        for (i, entry) in stored.iter().enumerate() {
            let candidate = if is_legacy(entry) {
                Some(&unkeyed)
            } else {
                keyed
                    .iter()
                    .find(|k| entry.split(':').nth(1) == k.split(':').nth(1))
            };
            if let Some(candidate) = candidate
                && constant_time_eq(entry.as_bytes(), candidate.as_bytes())
                && found.is_none()
            {
                found = Some(i);
            }
        }
        found
    }

    /// Replaces every unkeyed entry by its keyed hash under the active key (the codes stay the same); answers
    /// whether any changed.
    pub fn upgrade(&self, user_id: &str, stored: &mut [String]) -> bool {
        let mut changed = false;
        for entry in stored.iter_mut().filter(|e| is_legacy(e)) {
            if let Some(keyed) = self.active(user_id, entry) {
                *entry = keyed;
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_entries_are_recognised_and_nothing_else() {
        assert!(is_legacy(&digest("abcd-efgh")));
        assert!(!is_legacy(""));
        assert!(!is_legacy(
            &CodeHasher::from_key([7; 32], "t1")
                .hash("u", "abcd-efgh")
                .unwrap_or_default()
        ));
        assert!(!is_legacy(&"A".repeat(64)));
    }
}
