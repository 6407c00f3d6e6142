//! The codecs the tests read tokens with: base64url (JWT segments, JWKS keys), base32 (TOTP secrets), and the
//! pieces of a JWT.

use serde_json::Value;

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

pub fn b64url_decode(text: &str) -> Vec<u8> {
    decode_bits(text, B64URL, 6)
}

/// RFC 4648 base32, padding optional and any case, as authenticator apps read the `secret` of `2fa/setup`.
pub fn base32_decode(text: &str) -> Vec<u8> {
    decode_bits(&text.to_ascii_uppercase(), BASE32, 5)
}

fn decode_bits(text: &str, alphabet: &[u8], bits_per_char: u32) -> Vec<u8> {
    let (mut acc, mut nbits, mut out) = (0u64, 0u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = alphabet
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("{:?} is not in the alphabet", char::from(c)));
        acc = (acc << bits_per_char) | v as u64;
        nbits += bits_per_char;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    out
}

/// The decoded header and payload of a JWT, and its signature segment as sent.
pub fn jwt_parts(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWS: {token}");
    let header = serde_json::from_slice(&b64url_decode(parts[0])).expect("header json");
    let payload = serde_json::from_slice(&b64url_decode(parts[1])).expect("payload json");
    (header, payload, parts[2].to_string())
}

/// A JWT of the given header and payload with `signature` as its last segment (to forge tokens).
pub fn jwt_from(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(payload.to_string().as_bytes()),
        signature
    )
}
