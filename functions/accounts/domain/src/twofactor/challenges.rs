//! Spent login challenges. A challenge token (the first step of a 2FA login) works once: completing the login
//! stores a marker under the token's id with a not-exists condition, so a second use finds it and is refused.
//!
//! Entity (declared once, here): `CHALLENGE#<jti>` / `CHALLENGE`, kept until the token could no longer verify.

use lectern_shared::table::{Entity, EntityInfo, Key, KeyLayout, Shape};
use serde::{Deserialize, Serialize};

/// The marker of one spent challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentChallenge {
    /// The challenge token's id; in the key only.
    #[serde(skip_serializing)]
    pub jti: String,
    /// When the token stops verifying (its expiry plus leeway); only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl Entity for SpentChallenge {
    const INFO: EntityInfo = EntityInfo::new(
        "spent_challenge",
        KeyLayout::new(Shape::new("CHALLENGE", &["jti"]), Shape::fixed("CHALLENGE")),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.jti], &[])
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}
