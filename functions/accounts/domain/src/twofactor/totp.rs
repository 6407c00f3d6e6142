//! Time-based one-time passwords (RFC 6238) as every authenticator app understands them: HMAC-SHA1, 6 digits,
//! 30-second steps, and one step of clock drift tolerated either way.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::crypto::{constant_time_eq, fill_random};

/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const WINDOW_STEPS: u64 = 1;
/// Secret length in bytes (160 bits, the HMAC-SHA1 block-size recommendation of RFC 4226).
pub const SECRET_LEN: usize = 20;

/// A new random secret of [`SECRET_LEN`] bytes.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    fill_random(&mut secret);
    secret
}

/// RFC 4648 base32 (`A-Z2-7`) without padding: the form users type in or apps read from the QR code.
pub fn base32(secret: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(secret.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in secret {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://` URI authenticator apps enrol from (Google Authenticator key URI format): label
/// `issuer:account`, with `secret`, `issuer` and the algorithm, digits and period spelled out.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(issuer),
        percent_encode(account),
        base32(secret),
        percent_encode(issuer),
    )
}

/// Encodes everything but RFC 3986 unreserved characters, so the same function is safe in the path and query.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The code for the time step containing `unix_time` (seconds).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    format_code(hotp(secret, unix_time / STEP_SECONDS, DIGITS), DIGITS)
}

/// Checks a user-entered code at `unix_time`. Returns the time step it matched, but only if that step is later
/// than `last_used_step`, so a code (or an older one) can never be used twice; store the returned step as the new
/// `last_used_step`. Spaces are ignored (`123 456`); anything else but exactly six ASCII digits is refused.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let code: String = code.chars().filter(|c| *c != ' ').collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = unix_time / STEP_SECONDS;
    let first = current.saturating_sub(WINDOW_STEPS);
    let last = current.saturating_add(WINDOW_STEPS);
    // Every step in the window is computed and compared, so timing does not reveal which one matched.
    let mut matched = None;
    for step in first..=last {
        let expected = format_code(hotp(secret, step, DIGITS), DIGITS);
        let fresh = last_used_step.is_none_or(|used| step > used);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && fresh {
            matched = Some(step);
        }
    }
    matched
}

/// HOTP (RFC 4226) truncated to `digits` decimal digits.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC takes keys of any length; an empty secret still yields a (useless but harmless) code.
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

fn format_code(value: u32, digits: u32) -> String {
    format!("{value:0width$}", width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows, with the full 8 digits.
    #[test]
    fn rfc6238_sha1_vectors_with_eight_digits() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                format_code(hotp(secret, time / STEP_SECONDS, 8), 8),
                expected,
                "{time}"
            );
        }
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), expected);
        }
    }
}
