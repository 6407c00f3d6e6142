//! Single-use tokens sent by email: email verification (24 h) and password reset (15 min). The token is random
//! (256 bits) and only its SHA-256 is stored; using it deletes the record with an exists-condition, so it works
//! exactly once even when two requests race.
//!
//! Keys (declared once, here): `OTT#<sha256>` / `OTT`, with the TTL at expiry.

use std::sync::Arc;

use lectern_shared::table::{Condition, Item, Key, Table, TableError, TableResult, keys};
use serde_json::Value;

use crate::crypto::{random_token, token_hash};

pub const OTT_PK: &str = "OTT";

/// What a token is for. A token of one purpose is useless for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

fn key(hash: &str) -> Key {
    Key::new(keys::compose(&[OTT_PK, hash]), OTT_PK)
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

    /// Issues a token for `user_id`, valid until `expires_at`; returns the token to put in the email.
    pub async fn issue(
        &self,
        purpose: Purpose,
        user_id: &str,
        email: &str,
        expires_at: i64,
    ) -> TableResult<String> {
        let token = random_token(purpose.prefix(), 32);
        let key = key(&token_hash(&token));
        let mut item = Item::new();
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("purpose".into(), purpose.as_str().into());
        item.insert("user_id".into(), user_id.into());
        item.insert("email".into(), email.into());
        item.insert("ttl".into(), expires_at.into());
        self.table.put(item, Condition::NotExists).await?;
        Ok(token)
    }

    /// Reads a live token without using it (to validate the rest of a request before spending the token).
    pub async fn peek(&self, purpose: Purpose, token: &str) -> TableResult<Option<Redeemed>> {
        if !token.starts_with(purpose.prefix()) || token.len() > 128 {
            return Ok(None);
        }
        let Some(item) = self.table.get(&key(&token_hash(token))).await? else {
            return Ok(None);
        };
        let field = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
        if field("purpose").as_deref() != Some(purpose.as_str()) {
            return Ok(None);
        }
        Ok(field("user_id")
            .zip(field("email"))
            .map(|(user_id, email)| Redeemed { user_id, email }))
    }

    /// Uses a token up. `None` when it is unknown, expired, already used, or of another purpose.
    pub async fn redeem(&self, purpose: Purpose, token: &str) -> TableResult<Option<Redeemed>> {
        let Some(Redeemed { user_id, email }) = self.peek(purpose, token).await? else {
            return Ok(None);
        };
        let key = key(&token_hash(token));
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
