//! Turns a request's credentials into an [`Identity`]: a bearer access token (its session must still be live and
//! its account active — checked on every request, so logout, suspension and deletion take effect at once) or an
//! `X-API-Key`.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::request::Parts;
use lectern_shared::http::Problem;
use lectern_shared::http::auth::{Authenticator, Identity};
use lectern_shared::ratelimit::{RouteClass, Subject};
use lectern_shared::table::{Entity, Key};

use crate::service::Accounts;
use crate::sessions::Session;
use crate::tokens::TokenKind;
use crate::users::{Status, User};

/// The authenticator every HTTP function installs.
#[derive(Clone)]
pub struct AccountsAuthenticator {
    accounts: Arc<Accounts>,
}

impl AccountsAuthenticator {
    pub fn new(accounts: Arc<Accounts>) -> Self {
        Self { accounts }
    }
}

fn rejected(detail: &str) -> Problem {
    Problem::unauthenticated(detail.to_string())
}

/// The identity of an active account, with its role's permissions (narrowed to `scopes` for API keys).
pub fn identity_of(
    user: &User,
    session_id: Option<String>,
    api_key: Option<(String, &[String])>,
    auth_time: Option<i64>,
) -> Identity {
    let granted = user.role.permissions().iter().map(|p| p.to_string());
    let permissions: BTreeSet<String> = match &api_key {
        Some((_, scopes)) => granted.filter(|p| scopes.contains(p)).collect(),
        None => granted.collect(),
    };
    Identity {
        user_id: user.user_id.clone(),
        roles: BTreeSet::from([user.role.as_str().to_string()]),
        permissions,
        session_id,
        api_key_id: api_key.map(|(id, _)| id),
        email_verified: user.email_verified,
        auth_time,
    }
}

#[async_trait]
impl Authenticator for AccountsAuthenticator {
    async fn authenticate(&self, parts: &Parts) -> Result<Option<Identity>, Problem> {
        let identity = self.identify(parts).await?;
        if let Some(who) = &identity {
            // The per-account share of the general limit: one account cannot take the API over from many IPs.
            let subject = Subject::Account(format!("user:{}", who.user_id));
            self.accounts
                .platform
                .limiter
                .enforce(RouteClass::General, &subject)
                .await?;
        }
        Ok(identity)
    }
}

impl AccountsAuthenticator {
    async fn identify(&self, parts: &Parts) -> Result<Option<Identity>, Problem> {
        if let Some(key) = parts.headers.get("x-api-key") {
            let key = key.to_str().map_err(|_| rejected("malformed API key"))?;
            return self.accounts.authenticate_api_key(key).await.map(Some);
        }
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let header = header
            .to_str()
            .map_err(|_| rejected("malformed Authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| rejected("use Authorization: Bearer <access token>"))?;
        let claims = self
            .accounts
            .tokens
            .verify(TokenKind::Access, token.trim(), self.accounts.now())
            .map_err(|e| rejected(&e.to_string()))?;
        let session_id = claims
            .sid
            .clone()
            .ok_or_else(|| rejected("token has no session"))?;
        // One round trip for both: the session must be live and the account active.
        let session_key = Session::key_of(&claims.sub, &session_id);
        let keys = [session_key.clone(), User::key_of(&claims.sub)];
        let items = self
            .accounts
            .platform
            .table
            .batch_get(&keys)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not load session");
                Problem::unavailable("could not check the session; retry")
            })?;
        let mut session: Option<Session> = None;
        let mut user: Option<User> = None;
        for item in items {
            // Batch gets come back in any order: tell the two apart by the key asked for.
            if Key::of(&item).as_ref() == Some(&session_key) {
                session = Session::from_item(item).ok();
            } else {
                user = User::from_item(item).ok();
            }
        }
        let now = self.accounts.epoch();
        let session = session
            .filter(|s| s.is_live(now))
            .ok_or_else(|| rejected("session has ended; sign in again"))?;
        let user = user
            .filter(|u| u.status == Status::Active)
            .ok_or_else(|| rejected("account is not active"))?;
        Ok(Some(identity_of(
            &user,
            Some(session.session_id),
            None,
            Some(session.auth_time),
        )))
    }
}
