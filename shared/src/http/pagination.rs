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

/// Signs and checks cursors. One per process, keyed by the configured signing secret.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    pub fn new(secret: &[u8]) -> Self {
        // Derive a cursor-only key so the same secret used elsewhere never signs interchangeable tokens.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"lectern/cursor/v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, scope: &str, position: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(position);
        mac
    }

    /// Wraps a table position for the client.
    pub fn encode(&self, scope: &str, position: &str) -> String {
        let tag = self.mac(scope, position.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(position),
            URL_SAFE_NO_PAD.encode(&tag[..16])
        )
    }

    /// Unwraps a client cursor, refusing anything not signed by us for this scope.
    pub fn decode(&self, scope: &str, cursor: &str) -> Result<String, Problem> {
        let bad = || {
            Problem::validation("cursor is not valid for this list")
                .field("query.cursor", "invalid or tampered cursor")
        };
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(bad());
        }
        let (position, tag) = cursor.split_once('.').ok_or_else(bad)?;
        let position = URL_SAFE_NO_PAD.decode(position).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        self.mac(scope, &position)
            .verify_truncated_left(&tag)
            .map_err(|_| bad())?;
        if tag.len() != 16 {
            return Err(bad());
        }
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
        let (pos, tag) = c.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("position-999"));
        assert!(codec.decode("user:1:sessions", &forged).is_err());
        assert!(
            codec.decode("user:1:sessions", &format!("{pos}.")).is_err(),
            "empty tag"
        );
        assert!(codec.decode("user:1:sessions", "garbage").is_err());
        let other = CursorCodec::new(b"another-secret-another-secret-000");
        assert!(
            other.decode("user:1:sessions", &c).is_err(),
            "signed with another key"
        );
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
