//! Sessions and refresh tokens. A session is a refresh-token family: login starts one, each refresh rotates its
//! token (the old one dies, a new one is issued in the same family), and presenting a token that was already
//! rotated revokes the whole family (theft detection). Refresh tokens are opaque 256-bit strings stored only as
//! SHA-256 hashes. Sessions end at an idle timeout and at an absolute lifetime, and can be revoked one by one or
//! all at once; access tokens carry the session id and are refused once their session is gone.
//!
//! Entities (declared once, here):
//! - session `USER#<user_id>` / `SESSION#<session_id>` (listable per user; TTL = absolute expiry);
//! - refresh token `REFRESH#<hash>` / `REFRESH` → session (TTL = absolute expiry of its session), also on `gsi1` as
//!   `USERTOKENS#<user_id>` / `<hash>`: a rotated token outlives its session until its TTL, and erasing an account
//!   must find them all without a scan.

use std::sync::Arc;

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, Table,
    TableError, TableResult, TxOp,
};
use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, token_hash};
use crate::users::USER_PARTITION;

/// A refresh token's state while it is the live one of its session.
const ACTIVE: &str = "active";
/// Prefix of refresh tokens handed to clients (recognisable in leaked-secret scanners).
pub const REFRESH_TOKEN_PREFIX: &str = "lrt_";
/// gsi1: the refresh tokens of one account, live or rotated (what erasing the account deletes).
pub const TOKENS_BY_USER: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("USERTOKENS", &["user_id"]),
        Shape::values(&["hash"]),
    ),
);

/// Session lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_secs: i64,
    /// A session ends this long after login, however active.
    pub absolute_secs: i64,
    /// A token rotated less than this long ago is answered "already used" without revoking the family, so two
    /// tabs refreshing at the same moment do not log the user out. Beyond it, reuse means theft.
    pub reuse_grace_secs: i64,
}

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub session_id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    /// When the user last proved who they are in this session.
    pub auth_time: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Hash of the one live refresh token of this family.
    pub current_hash: String,
    /// A profile (device) session acts only as this learner profile of the account (see `device_sessions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
}

impl Session {
    pub fn key_of(user_id: &str, session_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[session_id])
    }

    /// Live at `now`: neither idle nor past its absolute lifetime.
    pub fn is_live(&self, now: i64) -> bool {
        now < self.idle_expires_at && now < self.absolute_expires_at
    }

    /// The live refresh token of this session, stored under `hash`.
    fn refresh_record(&self, hash: &str) -> RefreshRecord {
        RefreshRecord {
            hash: hash.to_string(),
            user_id: self.user_id.clone(),
            session_id: self.session_id.clone(),
            state: ACTIVE.into(),
            rotated_at: None,
            expires_at: self.absolute_expires_at,
        }
    }
}

impl Entity for Session {
    const INFO: EntityInfo = EntityInfo::new(
        "session",
        KeyLayout::new(USER_PARTITION, Shape::new("SESSION", &["session_id"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.user_id, &self.session_id)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.absolute_expires_at)
    }
}

/// A refresh token record: which session a token (by its hash) belongs to, and whether it was rotated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// SHA-256 of the token; in the key only.
    #[serde(skip_serializing)]
    pub hash: String,
    pub user_id: String,
    pub session_id: String,
    /// `active` or `rotated`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<i64>,
    /// The absolute expiry of its session; only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl RefreshRecord {
    pub fn key_of(hash: &str) -> Key {
        Self::INFO.key(&[hash], &[])
    }
}

impl Entity for RefreshRecord {
    const INFO: EntityInfo = EntityInfo::new(
        "refresh_token",
        KeyLayout::new(Shape::new("REFRESH", &["hash"]), Shape::fixed("REFRESH")),
    )
    .indexed(&[TOKENS_BY_USER]);

    fn key(&self) -> Key {
        Self::key_of(&self.hash)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![TOKENS_BY_USER.key(&[&self.user_id], &[&self.hash])]
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// Where a login or refresh comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or revoked token or session.
    #[error("refresh token is invalid or expired")]
    Invalid,
    /// The token was already rotated: the family must be revoked (the caller ends the session together with the
    /// audit record of the reuse).
    #[error("refresh token was already used; the session must be revoked")]
    Reused { user_id: String, session_id: String },
    /// Another refresh of the same token won a moment ago (within the grace period).
    #[error("refresh token was just used by another request")]
    Raced,
    #[error(transparent)]
    Store(#[from] TableError),
}

/// Session storage.
#[derive(Clone)]
pub struct Sessions {
    table: Arc<dyn Table>,
    policy: SessionPolicy,
}

impl Sessions {
    pub fn new(table: Arc<dyn Table>, policy: SessionPolicy) -> Self {
        Self { table, policy }
    }

    /// A new session: the session, its first refresh token, and the writes that store both (for the transaction
    /// that also audits the sign-in).
    pub fn start_ops(
        &self,
        user_id: &str,
        origin: &Origin,
        now: i64,
    ) -> TableResult<(Session, String, Vec<TxOp>)> {
        self.start_as_ops(user_id, None, now, origin, now)
    }

    /// [`Sessions::start_ops`] of a session of `user_id` that acts as `profile_id` only when one is given (a
    /// device session), whose owner last proved who they are at `auth_time`.
    pub fn start_as_ops(
        &self,
        user_id: &str,
        profile_id: Option<&str>,
        auth_time: i64,
        origin: &Origin,
        now: i64,
    ) -> TableResult<(Session, String, Vec<TxOp>)> {
        let token = random_token(REFRESH_TOKEN_PREFIX, 32);
        let hash = token_hash(&token);
        let session = Session {
            session_id: lectern_shared::ids::new_id(),
            user_id: user_id.to_string(),
            created_at: now,
            last_used_at: now,
            auth_time,
            idle_expires_at: now + self.policy.idle_secs,
            absolute_expires_at: now + self.policy.absolute_secs,
            ip: origin.ip.clone(),
            user_agent: origin.user_agent.clone(),
            current_hash: hash.clone(),
            profile_id: profile_id.map(str::to_string),
        };
        let ops = vec![
            TxOp::Put {
                item: session.to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: session.refresh_record(&hash).to_item()?,
                condition: Condition::NotExists,
            },
        ];
        Ok((session, token, ops))
    }

    /// Starts a session of `user_id` acting as `profile_id` when one is given (a device session, or the parent's
    /// session a device switches back to), on its own.
    pub async fn start_as(
        &self,
        user_id: &str,
        profile_id: Option<&str>,
        auth_time: i64,
        origin: &Origin,
        now: i64,
    ) -> TableResult<(Session, String)> {
        let (session, token, ops) =
            self.start_as_ops(user_id, profile_id, auth_time, origin, now)?;
        self.table.transact(ops).await?;
        Ok((session, token))
    }

    /// Starts a session on its own (operator tooling; sign-in commits [`Sessions::start_ops`] with its audit).
    pub async fn start(
        &self,
        user_id: &str,
        origin: &Origin,
        now: i64,
    ) -> TableResult<(Session, String)> {
        let (session, token, ops) = self.start_ops(user_id, origin, now)?;
        self.table.transact(ops).await?;
        Ok((session, token))
    }

    pub async fn get(&self, user_id: &str, session_id: &str) -> TableResult<Option<Session>> {
        self.table
            .get(&Session::key_of(user_id, session_id))
            .await?
            .map(Session::from_item)
            .transpose()
    }

    /// Rotates a refresh token: exactly one of any number of concurrent calls with the same token succeeds.
    pub async fn rotate(
        &self,
        token: &str,
        origin: &Origin,
        now: i64,
    ) -> Result<(Session, String), RefreshError> {
        if !token.starts_with(REFRESH_TOKEN_PREFIX) || token.len() > 128 {
            return Err(RefreshError::Invalid);
        }
        let hash = token_hash(token);
        let Some(record) = self.table.get(&RefreshRecord::key_of(&hash)).await? else {
            return Err(RefreshError::Invalid);
        };
        let record = RefreshRecord::from_item(record)?;
        let Some(session) = self.get(&record.user_id, &record.session_id).await? else {
            return Err(RefreshError::Invalid);
        };
        if record.state != ACTIVE || session.current_hash != hash {
            return Err(self.reused(&record, &hash, now).await?);
        }
        if !session.is_live(now) {
            self.end(&session.user_id, &session.session_id).await?;
            return Err(RefreshError::Invalid);
        }
        let next_token = random_token(REFRESH_TOKEN_PREFIX, 32);
        let next_hash = token_hash(&next_token);
        let mut next = session.clone();
        next.current_hash = next_hash.clone();
        next.last_used_at = now;
        next.idle_expires_at = (now + self.policy.idle_secs).min(session.absolute_expires_at);
        if origin.ip.is_some() {
            next.ip = origin.ip.clone();
        }
        if origin.user_agent.is_some() {
            next.user_agent = origin.user_agent.clone();
        }
        let ops = vec![
            TxOp::Update {
                key: record.key(),
                update: RefreshRecord::INFO
                    .update()
                    .set("state", "rotated")
                    .set("rotated_at", now),
                condition: Condition::equals("state", ACTIVE),
            },
            TxOp::Put {
                item: session.refresh_record(&next_hash).to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: next.to_item()?,
                condition: Condition::equals("current_hash", hash.clone()),
            },
        ];
        match self.table.transact(ops).await {
            Ok(()) => Ok((next, next_token)),
            // Someone rotated this token between our read and our write: they won.
            Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                Err(RefreshError::Raced)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A rotated token came back: within the grace period it is a race, beyond it a theft signal.
    async fn reused(
        &self,
        record: &RefreshRecord,
        hash: &str,
        now: i64,
    ) -> Result<RefreshError, TableError> {
        let rotated_at = match self.table.get(&RefreshRecord::key_of(hash)).await? {
            Some(item) => RefreshRecord::from_item(item)?.rotated_at,
            None => None,
        };
        if rotated_at.is_some_and(|t| now - t <= self.policy.reuse_grace_secs) {
            return Ok(RefreshError::Raced);
        }
        Ok(RefreshError::Reused {
            user_id: record.user_id.clone(),
            session_id: record.session_id.clone(),
        })
    }

    /// Ends one session (its refresh tokens die with it: they point at a session that no longer exists).
    pub async fn end(&self, user_id: &str, session_id: &str) -> TableResult<bool> {
        match self
            .table
            .delete(&Session::key_of(user_id, session_id), Condition::Exists)
            .await
        {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The keys of every stored session of a user except `keep`, for a change that ends them (see
    /// [`crate::change::Change::end_sessions`]).
    pub async fn keys(&self, user_id: &str, keep: Option<&str>) -> TableResult<Vec<Key>> {
        Ok(self
            .list(user_id, i64::MIN)
            .await?
            .into_iter()
            .filter(|s| Some(s.session_id.as_str()) != keep)
            .map(|s| s.key())
            .collect())
    }

    /// Sessions of a user that are live at `now` (pass `i64::MIN` for every stored one), newest first.
    pub async fn list(&self, user_id: &str, now: i64) -> TableResult<Vec<Session>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .table
                .query(
                    Session::INFO
                        .query(&[user_id])
                        .backwards()
                        .limit(100)
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let session = Session::from_item(item)?;
                if now == i64::MIN || session.is_live(now) {
                    out.push(session);
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Marks a session as re-authenticated now (password confirmed again, 2FA passed).
    pub async fn touch_auth(&self, user_id: &str, session_id: &str, now: i64) -> TableResult<()> {
        match self
            .table
            .update(
                &Session::key_of(user_id, session_id),
                Session::INFO.update().set("auth_time", now),
                Condition::Exists,
            )
            .await
        {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
