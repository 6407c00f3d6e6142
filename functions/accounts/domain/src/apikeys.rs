//! API keys: named, scoped, optionally expiring credentials for scripts and integrations. The key
//! (`lk_` + 256 random bits) is shown once; only its SHA-256 is stored. A key acts as its owner with the
//! intersection of the owner's current permissions and the key's scopes, and stops working the moment it is
//! revoked or its owner is suspended or deleted.
//!
//! Entities (declared once, here), both holding the same record and written together:
//! - lookup `APIKEY#<hash>` / `APIKEY` (what authentication reads; TTL at expiry);
//! - listing `USER#<user_id>` / `APIKEY#<key_id>` (what the owner sees; TTL at expiry).

use lectern_messages::Template;
use lectern_shared::http::Problem;
use lectern_shared::http::auth::Identity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TableError, TxOp,
};
use serde::{Deserialize, Serialize};

use crate::audit::Action;
use crate::authenticator::identity_of;
use crate::change::Change;
use crate::crypto::{random_token, token_hash};
use crate::errors::AccountError;
use crate::permissions::perm;
use crate::service::Accounts;
use crate::users::{Status, USER_PARTITION, User};

pub const KEY_PREFIX: &str = "lk_";
/// Most live keys one account may hold.
pub const MAX_KEYS_PER_USER: usize = 25;
/// `last_used_at` is written at most this often per key, so busy keys do not turn every read into a write.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// A key as its owner sees it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub key_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

/// A key as stored: what its owner sees, whose it is, and the SHA-256 of the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub user_id: String,
    pub hash: String,
}

/// The record under its lookup key (by hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyLookup(pub StoredApiKey);

/// The record under its listing key (in the owner's partition).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyListing(pub StoredApiKey);

impl ApiKeyLookup {
    pub fn key_of(hash: &str) -> Key {
        Self::INFO.key(&[hash], &[])
    }
}

impl Entity for ApiKeyLookup {
    const INFO: EntityInfo = EntityInfo::new(
        "api_key",
        KeyLayout::new(Shape::new("APIKEY", &["hash"]), Shape::fixed("APIKEY")),
    );
    fn key(&self) -> Key {
        Self::key_of(&self.0.hash)
    }
    fn ttl(&self) -> Option<i64> {
        self.0.key.expires_at
    }
}

impl ApiKeyListing {
    pub fn key_of(user_id: &str, key_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[key_id])
    }
}

impl Entity for ApiKeyListing {
    const INFO: EntityInfo = EntityInfo::new(
        "api_key_listing",
        KeyLayout::new(USER_PARTITION, Shape::new("APIKEY", &["key_id"])),
    );
    fn key(&self) -> Key {
        Self::key_of(&self.0.user_id, &self.0.key.key_id)
    }
    fn ttl(&self) -> Option<i64> {
        self.0.key.expires_at
    }
}

/// A key creation request.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// 1..=64 characters.
    #[schema(schema_with = crate::schema::api_key_name)]
    pub name: String,
    /// Permissions the key may use (a subset of the owner's).
    #[schema(schema_with = crate::schema::api_key_scopes)]
    pub scopes: Vec<String>,
    /// Days until the key expires (1..=365); no expiry when absent.
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<u32>,
}

/// A created key: `key` is shown this once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKey,
}

impl Accounts {
    /// Creates a key for the caller.
    pub async fn create_api_key(
        &self,
        owner: &Identity,
        input: NewApiKey,
        client: &ClientInfo,
    ) -> Result<CreatedApiKey, AccountError> {
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(AccountError::field("name", "1 to 64 characters"));
        }
        let mut scopes: Vec<String> = input.scopes.clone();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(AccountError::field(
                "scopes",
                "name at least one permission",
            ));
        }
        for scope in &scopes {
            if !perm::ALL.contains(&scope.as_str()) {
                return Err(AccountError::field(
                    "scopes",
                    format!("unknown permission {scope:?}"),
                ));
            }
            if !owner.can_str(scope) {
                return Err(AccountError::field(
                    "scopes",
                    format!("you do not hold {scope:?}"),
                ));
            }
        }
        let now = self.epoch();
        let expires_at = match input.expires_in_days {
            None => None,
            Some(d @ 1..=365) => Some(now + i64::from(d) * 24 * 3600),
            Some(_) => return Err(AccountError::field("expires_in_days", "1 to 365")),
        };
        if self.list_api_keys(&owner.user_id).await?.len() >= MAX_KEYS_PER_USER {
            return Err(AccountError::Conflict(format!(
                "at most {MAX_KEYS_PER_USER} keys; revoke one first"
            )));
        }
        let user = self.user(&owner.user_id).await?;
        let secret = random_token(KEY_PREFIX, 32);
        let hash = token_hash(&secret);
        let api_key = ApiKey {
            key_id: lectern_shared::ids::new_id(),
            name,
            scopes,
            created_at: now,
            expires_at,
            last_used_at: None,
        };
        let stored = StoredApiKey {
            key: api_key.clone(),
            user_id: owner.user_id.clone(),
            hash,
        };
        // Both records, the audit record and the owner's notice: a key never exists unannounced.
        let mut details = serde_json::Map::new();
        details.insert("key_id".into(), api_key.key_id.clone().into());
        let mut change = Change::new();
        change.op(TxOp::Put {
            item: ApiKeyLookup(stored.clone()).to_item()?,
            condition: Condition::NotExists,
        });
        change.op(TxOp::Put {
            item: ApiKeyListing(stored).to_item()?,
            condition: Condition::NotExists,
        });
        change.audit(self.event_with(
            Action::ApiKeyCreated,
            Some(&owner.user_id),
            &owner.user_id,
            client,
            details,
        ));
        change.send(self.email(
            &user,
            None,
            Template::ApiKeyCreated {
                name: api_key.name.clone(),
            },
            &api_key.key_id,
        )?);
        self.commit(change).await?;
        Ok(CreatedApiKey {
            key: secret,
            api_key,
        })
    }

    /// The caller's live keys, newest first.
    pub async fn list_api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, AccountError> {
        let page = self
            .platform
            .table
            .query(
                ApiKeyListing::INFO
                    .query(&[user_id])
                    .backwards()
                    .limit(MAX_KEYS_PER_USER * 2),
            )
            .await?;
        page.items
            .into_iter()
            .map(|i| {
                ApiKeyListing::from_item(i)
                    .map(|listing| listing.0.key)
                    .map_err(AccountError::from)
            })
            .collect()
    }

    /// Revokes one of the caller's keys; it stops working at once. Another user's key id is simply not found.
    pub async fn revoke_api_key(
        &self,
        user_id: &str,
        key_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let listing = ApiKeyListing::key_of(user_id, key_id);
        let item = self
            .platform
            .table
            .get(&listing)
            .await?
            .ok_or(AccountError::NotFound)?;
        let stored = ApiKeyListing::from_item(item)?.0;
        let mut details = serde_json::Map::new();
        details.insert("key_id".into(), key_id.into());
        let mut change = Change::new();
        change.op(TxOp::Delete {
            key: listing,
            condition: Condition::Exists,
        });
        change.op(TxOp::Delete {
            key: ApiKeyLookup::key_of(&stored.hash),
            condition: Condition::Always,
        });
        change.audit(self.event_with(
            Action::ApiKeyRevoked,
            Some(user_id),
            user_id,
            client,
            details,
        ));
        self.commit(change).await.map_err(|e| match e {
            // Revoked by a request just before this one.
            TableError::TransactionCancelled { .. } => AccountError::NotFound,
            other => other.into(),
        })?;
        Ok(())
    }

    /// Authenticates an `X-API-Key`.
    /// The identity of a live key's owner, and the owner's account (left in the request for the handler).
    pub async fn authenticate_api_key(&self, key: &str) -> Result<(Identity, User), Problem> {
        let rejected = || Problem::unauthenticated("API key is invalid, revoked or expired");
        if !key.starts_with(KEY_PREFIX) || key.len() > 128 {
            return Err(rejected());
        }
        let hash = token_hash(key);
        let item = self
            .platform
            .table
            .get(&ApiKeyLookup::key_of(&hash))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not load API key");
                Problem::unavailable("could not check the API key; retry")
            })?;
        let stored = item
            .and_then(|i| ApiKeyLookup::from_item(i).ok())
            .ok_or_else(rejected)?
            .0;
        let now = self.epoch();
        let user = self
            .users
            .get(&stored.user_id)
            .await
            .ok()
            .flatten()
            .filter(|u| u.status == Status::Active)
            .ok_or_else(rejected)?;
        if stored
            .key
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_RESOLUTION_SECS)
        {
            for (key, entity) in [
                (ApiKeyLookup::key_of(&hash), ApiKeyLookup::INFO),
                (
                    ApiKeyListing::key_of(&stored.user_id, &stored.key.key_id),
                    ApiKeyListing::INFO,
                ),
            ] {
                let update = entity.update().set("last_used_at", now);
                if let Err(e) = self
                    .platform
                    .table
                    .update(&key, update, Condition::Exists)
                    .await
                {
                    tracing::debug!(error = %e, "last_used_at not recorded");
                }
            }
        }
        let identity = identity_of(
            &user,
            None,
            Some((stored.key.key_id.clone(), &stored.key.scopes)),
            None,
        );
        Ok((identity, user))
    }
}
