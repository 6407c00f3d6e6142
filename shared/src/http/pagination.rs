//! Cursor pagination: `?limit=&cursor=` in, `{ "items": [...], "next_cursor": ... }` out.
//!
//! Cursors handed to clients are the table's position, bound to the list they came from (a scope such as
//! `admin-users` or `user:<id>:sessions`) and signed, so a client can neither forge a position nor replay a
//! cursor from one list (or another user's list) against another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::problem::Problem;
use crate::secrets::{KeyRing, derive};

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page a client may ask for.
pub const MAX_LIMIT: usize = 100;
/// Longest cursor accepted (a table position is far shorter; this stops abuse early).
const MAX_CURSOR_LEN: usize = 2048;

/// The query parameters of a paginated list. A list with filters of its own declares these two fields with the
/// same schemas (`#[param(schema_with = limit_schema)]`, `#[param(schema_with = cursor_schema)]`).
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 20).
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page.
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

/// The schema of `limit`: what [`PageParams::limit`] accepts.
pub fn limit_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Integer)
        .minimum(Some(1))
        .maximum(Some(MAX_LIMIT as f64))
        .default(Some(DEFAULT_LIMIT.into()))
        .description(Some(format!(
            "Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
        )))
        .build()
}

/// The schema of `cursor`: a `next_cursor` of the same list, as given (others are refused with 400).
pub fn cursor_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .max_length(Some(MAX_CURSOR_LEN))
        .description(Some(
            "`next_cursor` of the previous page of the same list, as given; any other value is refused (400).",
        ))
        .build()
}

impl PageParams {
    /// The validated limit.
    pub fn limit(&self) -> Result<usize, Problem> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(
                Problem::validation(format!("limit must be between 1 and {MAX_LIMIT}"))
                    .field("query.limit", format!("must be between 1 and {MAX_LIMIT}")),
            ),
        }
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Signs and checks cursors. One per process, keyed by the cursor key ring: the active key signs, any key of the
/// ring verifies (a cursor names its key), so rotating the cursor key does not break lists being paged through.
#[derive(Clone)]
pub struct CursorCodec {
    /// Key id → derived key, the signing key first.
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

/// The derivation label of cursor keys (cursors signed before key rings used `lectern/cursor/v1` and no key id;
/// they are refused, which only sends a client back to the first page).
const LABEL: &str = "lectern/cursor/v2";

impl CursorCodec {
    /// A codec over one secret (its key id is `k0`).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keys: vec![("k0".into(), derive(secret, LABEL))],
        }
    }

    /// A codec over the cursor key ring.
    pub fn from_ring(ring: &KeyRing) -> Self {
        Self {
            keys: ring
                .iter()
                .map(|(kid, material)| (kid.to_string(), derive(material, LABEL)))
                .collect(),
        }
    }

    /// A codec whose key lives only in this process, for functions that list nothing (their cursors would not
    /// verify in another process).
    pub fn ephemeral() -> Self {
        Self::new(crate::ids::random_secret(32).as_bytes())
    }

    fn mac(key: &[u8; 32], kid: &str, scope: &str, position: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        for part in [kid.as_bytes(), scope.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(position);
        mac
    }

    /// Wraps a table position for the client: `<position>.<tag>.<key id>`.
    pub fn encode(&self, scope: &str, position: &str) -> String {
        let (kid, key) = &self.keys[0];
        let tag = Self::mac(key, kid, scope, position.as_bytes())
            .finalize()
            .into_bytes();
        format!(
            "{}.{}.{kid}",
            URL_SAFE_NO_PAD.encode(position),
            URL_SAFE_NO_PAD.encode(&tag[..16])
        )
    }

    /// Unwraps a client cursor, refusing anything not signed by one of our keys for this scope.
    pub fn decode(&self, scope: &str, cursor: &str) -> Result<String, Problem> {
        let bad = || {
            Problem::validation("cursor is not valid for this list")
                .field("query.cursor", "invalid or tampered cursor")
        };
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(bad());
        }
        let mut parts = cursor.split('.');
        let (Some(position), Some(tag), Some(kid), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (_, key) = self.keys.iter().find(|(k, _)| k == kid).ok_or_else(bad)?;
        let position = URL_SAFE_NO_PAD.decode(position).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        if tag.len() != 16 {
            return Err(bad());
        }
        Self::mac(key, kid, scope, &position)
            .verify_truncated_left(&tag)
            .map_err(|_| bad())?;
        String::from_utf8(position).map_err(|_| bad())
    }

    /// Decodes the optional cursor of a request.
    pub fn decode_opt(&self, scope: &str, cursor: Option<&str>) -> Result<Option<String>, Problem> {
        cursor.map(|c| self.decode(scope, c)).transpose()
    }

    /// Builds the response page from a table page.
    pub fn page<T>(&self, scope: &str, items: Vec<T>, position: Option<String>) -> Paginated<T> {
        Paginated {
            items,
            next_cursor: position.map(|p| self.encode(scope, &p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_tampering_and_other_scopes() {
        let codec = CursorCodec::new(b"secret-secret-secret-secret-secret");
        let c = codec.encode("user:1:sessions", "position-123");
        assert_eq!(codec.decode("user:1:sessions", &c).unwrap(), "position-123");
        assert!(
            codec.decode("user:2:sessions", &c).is_err(),
            "cursor replayed on another list"
        );
        let (pos, rest) = c.split_once('.').unwrap();
        let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode("position-999"));
        assert!(codec.decode("user:1:sessions", &forged).is_err());
        assert!(
            codec
                .decode("user:1:sessions", &format!("{pos}..k0"))
                .is_err(),
            "empty tag"
        );
        let (signed, _) = c.rsplit_once('.').unwrap();
        assert!(
            codec.decode("user:1:sessions", signed).is_err(),
            "no key id"
        );
        assert!(
            codec
                .decode("user:1:sessions", &format!("{signed}.k9"))
                .is_err(),
            "unknown key id"
        );
        assert!(codec.decode("user:1:sessions", "garbage").is_err());
        let other = CursorCodec::new(b"another-secret-another-secret-000");
        assert!(
            other.decode("user:1:sessions", &c).is_err(),
            "signed with another key"
        );
    }

    #[test]
    fn cursors_signed_before_a_rotation_still_decode() {
        use crate::secrets::Purpose;
        let k1 = format!("k1:{}", "1".repeat(32));
        let old = CursorCodec::from_ring(&KeyRing::parse(Purpose::Cursor, &k1, "t").unwrap());
        let cursor = old.encode("admin-users", "USERS#a");
        assert!(cursor.ends_with(".k1"), "{cursor}");
        // k2 is added and signs; k1 still verifies what it signed.
        let both = format!("k2:{},{k1}", "2".repeat(32));
        let rotated = CursorCodec::from_ring(&KeyRing::parse(Purpose::Cursor, &both, "t").unwrap());
        assert_eq!(rotated.decode("admin-users", &cursor).unwrap(), "USERS#a");
        assert!(rotated.encode("admin-users", "x").ends_with(".k2"));
        // Once k1 is dropped, its cursors are refused (the client starts the list again).
        let dropped = format!("k2:{}", "2".repeat(32));
        let only_new =
            CursorCodec::from_ring(&KeyRing::parse(Purpose::Cursor, &dropped, "t").unwrap());
        assert!(only_new.decode("admin-users", &cursor).is_err());
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(PageParams::default().limit().unwrap(), DEFAULT_LIMIT);
        assert!(
            PageParams {
                limit: Some(0),
                cursor: None
            }
            .limit()
            .is_err()
        );
        assert!(
            PageParams {
                limit: Some(101),
                cursor: None
            }
            .limit()
            .is_err()
        );
        assert_eq!(
            PageParams {
                limit: Some(100),
                cursor: None
            }
            .limit()
            .unwrap(),
            100
        );
    }
}
