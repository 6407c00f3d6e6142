//! Turns a request's credentials into an [`Identity`]: a bearer access token (its session must still be live and
//! its account active — checked on every request, so logout, suspension and deletion take effect at once) or an
//! `X-API-Key`.
//!
//! One storage round trip: the session and the account come back in one batched read (the account's rate-limit
//! lease, when one is due, runs beside it), and the account is left in
//! the request for the handler ([`SignedIn`]), so a route such as `GET /v1/users/me` reads nothing more. The
//! signature check of an access token is cached in-process for the token's lifetime, keyed by the token's
//! SHA-256; the time claims and the session are still checked on every request, so revocation stays immediate.
//!
//! Profile (device) sessions — a parent's session that acts as one child profile (`device_sessions`) — are
//! refused by default: only routers that serve learner profiles install [`AccountsAuthenticator::with_profiles`],
//! and there the identity carries the profile and only [`perm::PROFILE_SESSION`]. So a child's device can never
//! reach the account's own routes (`/v1/users/me`, `/v1/auth/logout-all`, 2FA, admin), whatever they check.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lectern_shared::http::Problem;
use lectern_shared::http::auth::{Authenticator, Identity};
use lectern_shared::ratelimit::{RouteClass, Subject, alongside};
use lectern_shared::table::{Entity, Key};
use sha2::Digest;

use crate::permissions::perm;
use crate::service::Accounts;
use crate::sessions::Session;
use crate::tokens::{Claims, TokenKind, check_times};
use crate::users::{Status, User};

/// Verified access tokens kept before the expired ones are dropped (and, if all are live, all of them).
const MAX_VERIFIED_TOKENS: usize = 10_000;

/// The authenticator every HTTP function installs.
#[derive(Clone)]
pub struct AccountsAuthenticator {
    accounts: Arc<Accounts>,
    /// Claims of access tokens whose signature has been verified, by the token's SHA-256.
    verified: Arc<Mutex<HashMap<[u8; 32], Claims>>>,
    /// Whether profile (device) sessions are accepted (as their profile, narrowed).
    profiles: bool,
}

impl AccountsAuthenticator {
    /// The authenticator of the account's own routes: profile (device) sessions are refused (401).
    pub fn new(accounts: Arc<Accounts>) -> Self {
        Self {
            accounts,
            verified: Arc::default(),
            profiles: false,
        }
    }

    /// The authenticator of routes that serve learner profiles: a profile session is accepted as its profile,
    /// with at most [`perm::PROFILE_SESSION`].
    pub fn with_profiles(accounts: Arc<Accounts>) -> Self {
        Self {
            profiles: true,
            ..Self::new(accounts)
        }
    }
}

/// The signed-in caller with the account the authenticator loaded for this request. Handlers that show or change
/// the caller's own account take this instead of reading the account again.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub identity: Identity,
    /// The account as read while authenticating this request (active, by construction).
    pub user: Arc<User>,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_request_parts(parts, state).await?;
        let user = parts
            .extensions
            .get::<Arc<User>>()
            .cloned()
            .ok_or_else(|| {
                // Only reachable when a router is mounted without the accounts authenticator: a wiring bug.
                tracing::error!("SignedIn used on a route without the accounts authenticator");
                Problem::internal()
            })?;
        Ok(Self { identity, user })
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
        tier: user.tier.as_str().to_string(),
        profile_id: None,
    }
}

/// Narrows an account's identity to one of its learner profiles: the profile's permissions only, and never
/// "recently authenticated" (a child's device cannot pass for the parent having just signed in).
pub fn acting_as(mut identity: Identity, profile_id: &str) -> Identity {
    identity
        .permissions
        .retain(|p| perm::PROFILE_SESSION.contains(&p.as_str()));
    identity.profile_id = Some(profile_id.to_string());
    identity.auth_time = None;
    identity
}

#[async_trait]
impl Authenticator for AccountsAuthenticator {
    async fn authenticate(&self, parts: &mut Parts) -> Result<Option<Identity>, Problem> {
        let Some((identity, user)) = self.identify(parts).await? else {
            return Ok(None);
        };
        parts.extensions.insert(Arc::new(user));
        Ok(Some(identity))
    }
}

/// The per-account share of the general limit: one account cannot take the API over from many IPs.
fn account_subject(user_id: &str) -> Subject {
    Subject::Account(format!("user:{user_id}"))
}

impl AccountsAuthenticator {
    /// Claims of a valid access token: the signature from the cache when this token was verified before, the
    /// time claims always.
    fn verify(&self, token: &str) -> Result<Claims, Problem> {
        let now = self.accounts.now();
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        if let Some(claims) = cached {
            check_times(&claims, now).map_err(|e| rejected(&e.to_string()))?;
            return Ok(claims);
        }
        let claims = self
            .accounts
            .tokens
            .verify(TokenKind::Access, token, now)
            .map_err(|e| rejected(&e.to_string()))?;
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= MAX_VERIFIED_TOKENS {
            verified.retain(|_, c| check_times(c, now).is_ok());
            if verified.len() >= MAX_VERIFIED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(digest, claims.clone());
        Ok(claims)
    }

    async fn identify(&self, parts: &Parts) -> Result<Option<(Identity, User)>, Problem> {
        let limiter = &self.accounts.platform.limiter;
        if let Some(key) = parts.headers.get("x-api-key") {
            let key = key.to_str().map_err(|_| rejected("malformed API key"))?;
            let (identity, user) = self.accounts.authenticate_api_key(key).await?;
            limiter
                .enforce(RouteClass::General, &account_subject(&identity.user_id))
                .await?;
            return Ok(Some((identity, user)));
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
        let claims = self.verify(token.trim())?;
        let session_id = claims
            .sid
            .clone()
            .ok_or_else(|| rejected("token has no session"))?;
        // The token's signature names the account, so its limit is checked while the session and account are read
        // (`ratelimit::alongside`): a lease that has to go to the table costs no round trip of its own. Unless the
        // account is already known to be over its limit, both run; a refusal still answers 429 and a dead session
        // 401 (first), and the read, which changes nothing, is simply not used.
        // A read (`GET`, `HEAD`) may be answered on credit when this instance has not counted the account in this
        // window yet (`RateLimiter::check_on_credit`): a cold start then waits for this read alone.
        let subject = account_subject(&claims.sub);
        let check = async {
            if parts.method.is_safe() {
                limiter
                    .enforce_on_credit(RouteClass::General, &subject)
                    .await
            } else {
                limiter.enforce(RouteClass::General, &subject).await
            }
        };
        let (limited, loaded) =
            alongside(check, self.load(&claims, session_id), Result::is_ok).await;
        let Some(loaded) = loaded else {
            return Err(limited.err().unwrap_or_else(Problem::internal));
        };
        let identified = loaded?;
        limited?;
        Ok(Some(identified))
    }

    /// The session and the account of a verified access token, in one batched read: the session must be live and
    /// the account active.
    async fn load(&self, claims: &Claims, session_id: String) -> Result<(Identity, User), Problem> {
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
        let identity = identity_of(
            &user,
            Some(session.session_id),
            None,
            Some(session.auth_time),
        );
        let identity = match &session.profile_id {
            None => identity,
            Some(profile) if self.profiles => acting_as(identity, profile),
            Some(_) => {
                return Err(rejected(
                    "a profile (device) session cannot use the account's routes",
                ));
            }
        };
        Ok((identity, user))
    }
}
