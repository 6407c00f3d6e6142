//! Signed tokens (JWT, EdDSA). Each kind has its own `typ` header so one can never stand in for another: an access
//! token is `at+jwt` (RFC 9068), a 2FA login challenge `lectern-2fa+jwt`. Verification checks, in order: the
//! header's algorithm (allow-list of one) and key id, the signature, the `typ`, then the claims (`iss`, `aud`,
//! `exp`/`nbf` against our clock with a small leeway) — RFC 8725. Refresh, verification and reset tokens are
//! opaque random strings instead (see `crypto`), so they cannot be mistaken for JWTs at all.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::signing_keys::KeyRing;

/// Allowed clock skew between issuer and verifier.
pub const LEEWAY_SECS: i64 = 30;

/// The kinds of signed token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Authorizes API calls; carries the session id.
    Access,
    /// Proves the password step of a login with 2FA; exchanged for a session at `/v1/auth/2fa/verify`.
    Challenge,
}

impl TokenKind {
    pub fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => "at+jwt",
            TokenKind::Challenge => "lectern-2fa+jwt",
        }
    }
}

/// The claims we issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session id (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// When the user last proved who they are (password, 2FA): drives "recent re-authentication".
    pub auth_time: i64,
}

/// Why a token was refused. The message is safe to show; the kind is for logs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed with an unknown key or algorithm")]
    UnknownKey,
    #[error("token signature is invalid")]
    Signature,
    #[error("token is not of the expected type")]
    WrongType,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued for another service")]
    WrongAudience,
    /// This function holds public keys only: tokens are issued by the auth function.
    #[error("this function verifies tokens but cannot issue them")]
    CannotSign,
}

/// Issues and verifies tokens for one issuer/audience.
#[derive(Debug)]
pub struct TokenService {
    keys: KeyRing,
    issuer: String,
    audience: String,
}

impl TokenService {
    pub fn new(keys: KeyRing, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Signs a token of `kind` for `user_id`, valid for `ttl` from `now`.
    pub fn issue(
        &self,
        kind: TokenKind,
        user_id: &str,
        session_id: Option<&str>,
        auth_time: i64,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<(String, Claims), TokenError> {
        let iat = now.unix_timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            sid: session_id.map(str::to_string),
            iat,
            nbf: iat,
            exp: iat + ttl.as_secs() as i64,
            jti: lectern_shared::ids::new_id(),
            auth_time,
        };
        let (kid, encoding) = self.keys.signer().ok_or(TokenError::CannotSign)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_string());
        header.typ = Some(kind.typ().to_string());
        let token =
            jsonwebtoken::encode(&header, &claims, encoding).map_err(|_| TokenError::Malformed)?;
        Ok((token, claims))
    }

    /// Verifies a token of `kind` at `now`.
    pub fn verify(
        &self,
        kind: TokenKind,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Claims, TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Malformed);
        }
        // The header is only read to pick the key; nothing in it is trusted until the signature checks out.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::UnknownKey);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.find(kid))
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Time claims are checked below against the injected clock (tests move it), not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => TokenError::Signature,
                    ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => {
                        TokenError::WrongAudience
                    }
                    ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidAlgorithmName
                    | ErrorKind::InvalidKeyFormat => TokenError::UnknownKey,
                    _ => TokenError::Malformed,
                }
            })?;
        if data.header.typ.as_deref() != Some(kind.typ()) {
            return Err(TokenError::WrongType);
        }
        check_times(&data.claims, now)?;
        Ok(data.claims)
    }
}

/// Checks a verified token's time claims at `now` (with [`LEEWAY_SECS`] for clock skew). Separate from the
/// signature check so a cache of verified tokens can re-check time on every use.
pub fn check_times(claims: &Claims, now: OffsetDateTime) -> Result<(), TokenError> {
    let now = now.unix_timestamp();
    if claims.exp + LEEWAY_SECS <= now {
        return Err(TokenError::Expired);
    }
    if claims.nbf - LEEWAY_SECS > now {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing_keys::SigningKey;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn service() -> TokenService {
        let (key, _) = SigningKey::generate("k1").unwrap();
        TokenService::new(
            KeyRing::new(vec![key]).unwrap(),
            "https://lectern.test",
            "lectern",
        )
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn round_trip_and_kind_separation() {
        let s = service();
        let (token, claims) = s
            .issue(
                TokenKind::Access,
                "u1",
                Some("s1"),
                0,
                now(),
                Duration::from_secs(900),
            )
            .unwrap();
        assert_eq!(s.verify(TokenKind::Access, &token, now()).unwrap(), claims);
        assert_eq!(
            s.verify(TokenKind::Challenge, &token, now()),
            Err(TokenError::WrongType)
        );
        let (challenge, _) = s
            .issue(
                TokenKind::Challenge,
                "u1",
                None,
                0,
                now(),
                Duration::from_secs(300),
            )
            .unwrap();
        assert_eq!(
            s.verify(TokenKind::Access, &challenge, now()),
            Err(TokenError::WrongType)
        );
    }

    #[test]
    fn expiry_and_not_before_use_the_given_clock_with_leeway() {
        let s = service();
        let t0 = now();
        let (token, _) = s
            .issue(
                TokenKind::Access,
                "u1",
                None,
                0,
                t0,
                Duration::from_secs(900),
            )
            .unwrap();
        assert!(
            s.verify(TokenKind::Access, &token, t0 + time::Duration::seconds(920))
                .is_ok(),
            "within leeway"
        );
        assert_eq!(
            s.verify(TokenKind::Access, &token, t0 + time::Duration::seconds(931)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            s.verify(TokenKind::Access, &token, t0 - time::Duration::seconds(60)),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn forged_none_and_foreign_tokens_are_refused() {
        let s = service();
        let (token, _) = s
            .issue(
                TokenKind::Access,
                "u1",
                None,
                0,
                now(),
                Duration::from_secs(900),
            )
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        // alg:none with the same claims.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
        assert!(
            s.verify(
                TokenKind::Access,
                &format!("{none_header}.{}.", parts[1]),
                now()
            )
            .is_err()
        );
        // Claims changed under the original signature.
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "admin".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert_eq!(
            s.verify(TokenKind::Access, &tampered, now()),
            Err(TokenError::Signature)
        );
        // Signed by a key we do not know, under a kid we do know.
        let (other_key, _) = SigningKey::generate("k1").unwrap();
        let other = TokenService::new(
            KeyRing::new(vec![other_key]).unwrap(),
            "https://lectern.test",
            "lectern",
        );
        let (foreign, _) = other
            .issue(
                TokenKind::Access,
                "u1",
                None,
                0,
                now(),
                Duration::from_secs(900),
            )
            .unwrap();
        assert_eq!(
            s.verify(TokenKind::Access, &foreign, now()),
            Err(TokenError::Signature)
        );
        // Another audience.
        let (key, _) = SigningKey::generate("k1").unwrap();
        let elsewhere = TokenService::new(
            KeyRing::new(vec![key]).unwrap(),
            "https://lectern.test",
            "other-app",
        );
        let (t, _) = elsewhere
            .issue(
                TokenKind::Access,
                "u1",
                None,
                0,
                now(),
                Duration::from_secs(900),
            )
            .unwrap();
        assert!(elsewhere.verify(TokenKind::Access, &t, now()).is_ok());
        assert!(s.verify(TokenKind::Access, "garbage", now()).is_err());
    }

    #[test]
    fn rotated_keys_keep_verifying_until_removed() {
        let (old, old_der) = SigningKey::generate("old").unwrap();
        let before = TokenService::new(KeyRing::new(vec![old]).unwrap(), "i", "a");
        let (token, _) = before
            .issue(
                TokenKind::Access,
                "u1",
                None,
                0,
                now(),
                Duration::from_secs(900),
            )
            .unwrap();
        let (new, _) = SigningKey::generate("new").unwrap();
        let old_again = SigningKey::from_pkcs8("old", &old_der).unwrap();
        let during = TokenService::new(KeyRing::new(vec![new, old_again]).unwrap(), "i", "a");
        assert!(
            during.verify(TokenKind::Access, &token, now()).is_ok(),
            "old kid still verifies"
        );
        let (fresh, _) = during
            .issue(
                TokenKind::Access,
                "u1",
                None,
                0,
                now(),
                Duration::from_secs(900),
            )
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some("new"),
            "new key signs"
        );
        assert_eq!(during.keys().jwks().keys.len(), 2);
        let (only_new, _) = SigningKey::generate("new").unwrap();
        let after = TokenService::new(KeyRing::new(vec![only_new]).unwrap(), "i", "a");
        assert_eq!(
            after.verify(TokenKind::Access, &token, now()),
            Err(TokenError::UnknownKey)
        );
    }
}
