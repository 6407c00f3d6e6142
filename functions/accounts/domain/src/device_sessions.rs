//! Profile (device) sessions and the parent PIN.
//!
//! Children have no email or password. A parent mints a **profile session** for a child's device: an ordinary
//! session of the parent's account (same refresh rotation, idle and absolute lifetimes, listed under
//! `GET /v1/users/me/sessions` and revocable there) whose record names one learner profile. The authenticator
//! reads that record on every request, so the restriction cannot be stripped from a token: routers that serve
//! profiles see the profile and only `perm::PROFILE_SESSION`, every other router refuses the session (see
//! `authenticator`). Which profiles a parent may mint for is the learning domain's business; this module only
//! keeps the session and the PIN.
//!
//! The optional **parent PIN** (4 digits) guards switching from a child's device back to the parent: the device
//! sends the PIN with its profile session and gets a session of the parent's account. That session never counts
//! as a recent sign-in (its `auth_time` is the minting session's, so changing email, 2FA or deleting the account
//! still asks for the password). The PIN is stored as an argon2id hash; attempts are counted *before* the hash is
//! checked, in a counter per fixed window, so at most [`PIN_ATTEMPTS`] guesses are ever checked per window however
//! many arrive at once (10,000 PINs at 5 per 15 minutes: about 250 hours on average to guess).
//!
//! Entities (declared once, here):
//! - parent PIN `USER#<user_id>` / `PARENT_PIN`: the hash and when it was set;
//! - PIN attempts `USER#<user_id>` / `PIN_ATTEMPTS#<window>`: a counter written only by updates, expiring with
//!   its window.

use lectern_shared::http::auth::Identity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TTL, TableError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::AccountError;
use crate::service::{Accounts, TokenPair, origin};
use crate::sessions::Session;
use crate::users::USER_PARTITION;

/// Digits of a parent PIN.
pub const PIN_DIGITS: usize = 4;
/// The pattern a PIN matches.
pub const PIN_PATTERN: &str = "^[0-9]{4}$";
/// PIN guesses checked per window.
pub const PIN_ATTEMPTS: i64 = 5;
/// The length of a PIN attempt window.
pub const PIN_WINDOW_SECS: i64 = 15 * 60;

/// A parent's PIN, hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentPin {
    pub user_id: String,
    /// argon2id PHC string of the PIN.
    pub pin_hash: String,
    pub set_at: i64,
}

impl ParentPin {
    pub fn key_of(user_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[])
    }
}

impl Entity for ParentPin {
    const INFO: EntityInfo = EntityInfo::new(
        "parent_pin",
        KeyLayout::new(USER_PARTITION, Shape::fixed("PARENT_PIN")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.user_id)
    }
}

/// PIN attempts of one account in one window, written only by [`Accounts::spend_pin_attempt`].
pub const PIN_ATTEMPTS_COUNTER: EntityInfo = EntityInfo::new(
    "pin_attempts",
    KeyLayout::new(USER_PARTITION, Shape::new("PIN_ATTEMPTS", &["window"])),
);

/// The key of the attempt counter of `user_id` in the window holding `now`.
pub fn attempts_key(user_id: &str, now: i64) -> Key {
    let window = now.div_euclid(PIN_WINDOW_SECS).to_string();
    PIN_ATTEMPTS_COUNTER.key(&[user_id], &[&window])
}

/// Whether a string is a well-formed PIN.
pub fn valid_pin(pin: &str) -> bool {
    pin.len() == PIN_DIGITS && pin.bytes().all(|b| b.is_ascii_digit())
}

fn pin_field_error() -> AccountError {
    AccountError::field("pin", format!("must be {PIN_DIGITS} digits"))
}

impl Accounts {
    /// Starts a profile session of the caller's account acting only as `profile_id` (which the caller's domain
    /// has checked they may act for). A profile session cannot mint another.
    pub async fn start_profile_session(
        &self,
        parent: &Identity,
        profile_id: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        if parent.profile_id.is_some() || parent.api_key_id.is_some() {
            return Err(AccountError::Forbidden(
                "device sessions are minted by the account's own session".into(),
            ));
        }
        let auth_time = parent.auth_time.unwrap_or(0);
        let (session, refresh) = self
            .sessions
            .start_as(
                &parent.user_id,
                Some(profile_id),
                auth_time,
                &origin(client),
                self.epoch(),
            )
            .await?;
        self.session_tokens(&session, refresh)
    }

    /// Ends every profile session of `user_id` acting as `profile_id` (the profile is going away); returns how
    /// many ended.
    pub async fn end_profile_sessions(
        &self,
        user_id: &str,
        profile_id: &str,
    ) -> Result<usize, AccountError> {
        let mut ended = 0;
        for session in self.sessions.list(user_id, i64::MIN).await? {
            if session.profile_id.as_deref() == Some(profile_id)
                && self.sessions.end(user_id, &session.session_id).await?
            {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Sets (or replaces) the account's parent PIN.
    pub async fn set_parent_pin(&self, user_id: &str, pin: &str) -> Result<(), AccountError> {
        if !valid_pin(pin) {
            return Err(pin_field_error());
        }
        let pin_hash = self
            .hasher
            .hash(pin)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let record = ParentPin {
            user_id: user_id.to_string(),
            pin_hash,
            set_at: self.epoch(),
        };
        self.platform
            .table
            .put(record.to_item()?, Condition::Always)
            .await?;
        Ok(())
    }

    /// Removes the account's parent PIN; `false` when there was none.
    pub async fn clear_parent_pin(&self, user_id: &str) -> Result<bool, AccountError> {
        match self
            .platform
            .table
            .delete(&ParentPin::key_of(user_id), Condition::Exists)
            .await
        {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the account has a parent PIN.
    pub async fn has_parent_pin(&self, user_id: &str) -> Result<bool, AccountError> {
        Ok(self
            .platform
            .table
            .get(&ParentPin::key_of(user_id))
            .await?
            .is_some())
    }

    /// From a profile session: checks the parent PIN and answers a session of the parent's account. Without a PIN
    /// set there is nothing to switch with (the parent signs in with their password instead).
    pub async fn switch_to_parent(
        &self,
        device: &Identity,
        pin: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        if device.profile_id.is_none() {
            return Err(AccountError::Forbidden(
                "only a profile (device) session switches back to the parent".into(),
            ));
        }
        if !valid_pin(pin) {
            return Err(pin_field_error());
        }
        let user_id = &device.user_id;
        let now = self.epoch();
        let retry_after = self.spend_pin_attempt(user_id, now).await?;
        if let Some(secs) = retry_after {
            return Err(AccountError::TooManyAttempts(secs));
        }
        let Some(item) = self.platform.table.get(&ParentPin::key_of(user_id)).await? else {
            return Err(AccountError::field("pin", "no parent PIN is set"));
        };
        let record = ParentPin::from_item(item)?;
        let verified = self
            .hasher
            .verify(pin, &record.pin_hash)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        if !verified.valid {
            return Err(AccountError::field("pin", "is not correct"));
        }
        // The minting session's auth time: a PIN is not a password.
        let auth_time = match &device.session_id {
            Some(sid) => self
                .sessions
                .get(user_id, sid)
                .await?
                .map_or(0, |s| s.auth_time),
            None => 0,
        };
        let (session, refresh) = self
            .sessions
            .start_as(user_id, None, auth_time, &origin(client), now)
            .await?;
        self.session_tokens(&session, refresh)
    }

    /// Counts one PIN guess in the current window before it is checked; `Some(seconds)` until the window ends
    /// once [`PIN_ATTEMPTS`] are spent.
    async fn spend_pin_attempt(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Option<u64>, AccountError> {
        let window_end = (now.div_euclid(PIN_WINDOW_SECS) + 1) * PIN_WINDOW_SECS;
        let counted = self
            .platform
            .table
            .update(
                &attempts_key(user_id, now),
                PIN_ATTEMPTS_COUNTER
                    .update()
                    .add("attempts", 1)
                    .set(TTL, window_end),
                Condition::Always,
            )
            .await?;
        let attempts = counted.get("attempts").and_then(Value::as_i64).unwrap_or(0);
        Ok((attempts > PIN_ATTEMPTS).then(|| (window_end - now).max(1) as u64))
    }

    /// The token pair of a session just started.
    fn session_tokens(
        &self,
        session: &Session,
        refresh: String,
    ) -> Result<TokenPair, AccountError> {
        let (access_token, expires_in) = self.access_token(session)?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: refresh,
            session_id: session.session_id.clone(),
        })
    }
}
