//! One-time backup codes for when the authenticator is lost. Shown to the user once; only
//! [`hash`]es are stored, and a used code's hash is removed.

use crate::crypto::{constant_time_eq, fill_random, token_hash};

/// How many codes a fresh set holds.
pub const DEFAULT_COUNT: usize = 10;

/// Crockford's base32 alphabet, lowercase: no `i`, `l`, `o` or `u`, so nothing is misread, and 32 symbols make
/// each character exactly 5 random bits (8 characters = 40 bits).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CODE_CHARS: usize = 8;

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

/// What is stored for a code: `token_hash(normalize(code))`.
pub fn hash(code: &str) -> String {
    token_hash(&normalize(code))
}

/// The index in `hashes` of the code the user typed, if any. Every stored hash is compared, in constant time,
/// so timing reveals neither whether nor where it matched.
pub fn find(hashes: &[String], input: &str) -> Option<usize> {
    let candidate = hash(input);
    let mut found = None;
    for (i, stored) in hashes.iter().enumerate() {
        if constant_time_eq(stored.as_bytes(), candidate.as_bytes()) && found.is_none() {
            found = Some(i);
        }
    }
    found
}
