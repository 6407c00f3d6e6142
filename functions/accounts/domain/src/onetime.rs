//! Single-use tokens sent by email: email verification (24 h) and password reset (15 min). The token is random
//! (256 bits) and only its SHA-256 is stored; using it deletes the record with an exists-condition, so it works
//! exactly once even when two requests race.
//!
//! Entity (declared once, here): `OTT#<hash>` / `OTT`, with the TTL at expiry.

use std::sync::Arc;

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Shape, Table, TableError, TableResult, TxOp,
};
use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, token_hash};

/// What a token is for. A token of one purpose is useless for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "lve_",
            Purpose::ResetPassword => "lpr_",
        }
    }
}

/// A redeemed token: whose it was and which address it was sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redeemed {
    pub user_id: String,
    pub email: String,
}

/// A stored token, by the SHA-256 of its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeToken {
    /// In the key only.
    #[serde(skip_serializing)]
    pub hash: String,
    pub purpose: Purpose,
    pub user_id: String,
    /// The address the token was sent to.
    pub email: String,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl OneTimeToken {
    pub fn key_of(hash: &str) -> Key {
        Self::INFO.key(&[hash], &[])
    }

    /// The write that stores a fresh token (its random hash never exists yet).
    pub fn put(&self) -> TableResult<TxOp> {
        Ok(TxOp::Put {
            item: self.to_item()?,
            condition: Condition::NotExists,
        })
    }
}

impl Entity for OneTimeToken {
    const INFO: EntityInfo = EntityInfo::new(
        "one_time_token",
        KeyLayout::new(Shape::new("OTT", &["hash"]), Shape::fixed("OTT")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// Issues and redeems single-use tokens.
#[derive(Clone)]
pub struct OneTimeTokens {
    table: Arc<dyn Table>,
}

impl OneTimeTokens {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// A new token for `user_id`, valid until `expires_at`: the token to put in the email and the record to
    /// store (with [`OneTimeToken::put`], in the transaction of the change that mails it).
    pub fn mint(
        purpose: Purpose,
        user_id: &str,
        email: &str,
        expires_at: i64,
    ) -> (String, OneTimeToken) {
        let token = random_token(purpose.prefix(), 32);
        let stored = OneTimeToken {
            hash: token_hash(&token),
            purpose,
            user_id: user_id.into(),
            email: email.into(),
            expires_at,
        };
        (token, stored)
    }

    /// The write that uses a token up, for a transaction: it fails (the transaction is cancelled) when the token is
    /// gone — used by a racing request, expired — so of two requests with one token only one commits.
    pub fn redeem_op(purpose: Purpose, token: &str) -> TxOp {
        TxOp::Delete {
            key: OneTimeToken::key_of(&token_hash(token)),
            condition: Condition::equals("purpose", purpose.as_str()),
        }
    }

    /// Reads a live token without using it (to validate the rest of a request before spending the token).
    pub async fn peek(&self, purpose: Purpose, token: &str) -> TableResult<Option<Redeemed>> {
        if !token.starts_with(purpose.prefix()) || token.len() > 128 {
            return Ok(None);
        }
        let Some(item) = self
            .table
            .get(&OneTimeToken::key_of(&token_hash(token)))
            .await?
        else {
            return Ok(None);
        };
        let stored = OneTimeToken::from_item(item)?;
        if stored.purpose != purpose {
            return Ok(None);
        }
        Ok(Some(Redeemed {
            user_id: stored.user_id,
            email: stored.email,
        }))
    }

    /// Uses a token up. `None` when it is unknown, expired, already used, or of another purpose.
    pub async fn redeem(&self, purpose: Purpose, token: &str) -> TableResult<Option<Redeemed>> {
        let Some(Redeemed { user_id, email }) = self.peek(purpose, token).await? else {
            return Ok(None);
        };
        let key = OneTimeToken::key_of(&token_hash(token));
        // The delete is the redemption: of two racing requests only one deletes an existing record.
        match self
            .table
            .delete(&key, Condition::equals("purpose", purpose.as_str()))
            .await
        {
            Ok(()) => Ok(Some(Redeemed { user_id, email })),
            Err(TableError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
