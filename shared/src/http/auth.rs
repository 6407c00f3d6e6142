//! Where authentication plugs in. Handlers take an [`Identity`] argument to require a caller; the extractor asks
//! the [`Authenticator`] installed by [`layer`] to turn the request's credentials into an identity. The accounts
//! function provides the real authenticator (bearer JWTs, API keys); until one is installed, every protected route
//! answers 401, which is the safe default.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Extension;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::problem::Problem;

/// A named permission, e.g. `users:read:any`. Roles map to sets of permissions in one place (accounts issue);
/// handlers check permissions, never role names.
pub type Permission = &'static str;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub roles: BTreeSet<String>,
    pub permissions: BTreeSet<String>,
    /// The session (refresh-token family) the request came through; `None` for API keys.
    pub session_id: Option<String>,
    /// The API key the request came through, if any.
    pub api_key_id: Option<String>,
    /// Whether the account's email address is verified.
    pub email_verified: bool,
    /// When the caller last proved who they are (epoch seconds), for actions that need recent re-authentication.
    pub auth_time: Option<i64>,
    /// The account's subscription tier (`free`, `premium`), for features that depend on it.
    pub tier: String,
    /// A profile (device) session acts as this one learner profile of the account only, with narrowed
    /// `permissions`; `None` for the account itself.
    pub profile_id: Option<String>,
}

impl Identity {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }

    /// [`Identity::can`] for a permission name held in a string.
    pub fn can_str(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// 403 unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Problem> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this needs the {permission} permission"
            )))
        }
    }
}

impl Identity {
    /// 403 `email-unverified` until the account's address is verified.
    pub fn require_verified(&self) -> Result<(), Problem> {
        if self.email_verified {
            Ok(())
        } else {
            Err(Problem::new(axum::http::StatusCode::FORBIDDEN, "email-unverified", "Email address not verified")
                .detail("verify your email address first; POST /v1/auth/resend-verification sends a new link"))
        }
    }

    /// 403 `reauthentication-required` unless the caller proved who they are within `max_age_secs` of `now`.
    pub fn require_recent_auth(&self, now: i64, max_age_secs: i64) -> Result<(), Problem> {
        match self.auth_time {
            Some(t) if now - t <= max_age_secs && self.api_key_id.is_none() => Ok(()),
            _ => Err(Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                "reauthentication-required",
                "Recent sign-in required",
            )
            .detail("sign in again (or confirm your password) and retry")),
        }
    }
}

impl Identity {
    /// 403 unless the caller signed in (a session), i.e. unless this is not an API key; answers the session id.
    /// See [`SessionIdentity`].
    pub fn require_session(&self) -> Result<&str, Problem> {
        match (&self.session_id, &self.api_key_id) {
            (Some(session), None) => Ok(session),
            _ => Err(Problem::forbidden(
                "API keys cannot use this route: it needs a signed-in session",
            )),
        }
    }
}

/// A caller who signed in with a password (a session), never an API key: the extractor of every route that
/// changes how an account is secured or reached (password, email, 2FA, sessions, API keys, deletion, sign-out) and
/// of administration. An API key answers 403 here, whatever its scopes: keys are for scripts and integrations
/// acting on data, and a leaked key must not be able to lock its owner out, mint more keys or act as an admin.
/// Which routes take which extractor is checked against the OpenAPI document: a route documents the `api_key`
/// scheme exactly when it takes a plain [`Identity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionIdentity(pub Identity);

impl std::ops::Deref for SessionIdentity {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionIdentity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Missing or bad credentials answer 401 as everywhere; only a valid API key is refused, with 403.
        let identity = Identity::from_request_parts(parts, state).await?;
        identity.require_session()?;
        Ok(SessionIdentity(identity))
    }
}

/// Turns request credentials into an identity.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok(None)` when the request carries no credentials; an error problem when they are present but invalid.
    /// An authenticator may leave what it loaded (e.g. the caller's account) in `parts.extensions` for the
    /// handler, so the request does not read it twice.
    async fn authenticate(&self, parts: &mut Parts) -> Result<Option<Identity>, Problem>;
}

/// The authenticator used until accounts are configured: knows no credentials at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAuthenticator;

#[async_trait]
impl Authenticator for NoAuthenticator {
    async fn authenticate(&self, parts: &mut Parts) -> Result<Option<Identity>, Problem> {
        let has_credentials = parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
            || parts.headers.contains_key("x-api-key");
        if has_credentials {
            Err(Problem::unauthenticated(
                "credentials are not accepted by this deployment",
            ))
        } else {
            Ok(None)
        }
    }
}

/// The installed authenticator, shared by every route of a router.
pub type SharedAuthenticator = Arc<dyn Authenticator>;

/// Installs an authenticator for the routes of a router.
pub fn layer(authenticator: SharedAuthenticator) -> Extension<SharedAuthenticator> {
    Extension(authenticator)
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(identity) = parts.extensions.get::<Identity>() {
            return Ok(identity.clone());
        }
        let authenticator = parts
            .extensions
            .get::<SharedAuthenticator>()
            .cloned()
            .unwrap_or_else(|| Arc::new(NoAuthenticator));
        match authenticator.authenticate(parts).await? {
            Some(identity) => {
                // The request span (see `request_id::middleware`): every later log line of the request names
                // the caller.
                tracing::Span::current().record("user_id", identity.user_id.as_str());
                parts.extensions.insert(identity.clone());
                Ok(identity)
            }
            None => Err(Problem::unauthenticated(
                "send a bearer token or an API key",
            )),
        }
    }
}

/// An optional caller: `None` for anonymous requests, a problem for bad credentials.
#[derive(Clone, Debug)]
pub struct MaybeIdentity(pub Option<Identity>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeIdentity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let has_credentials = parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
            || parts.headers.contains_key("x-api-key");
        if !has_credentials {
            return Ok(MaybeIdentity(None));
        }
        Identity::from_request_parts(parts, state)
            .await
            .map(|i| MaybeIdentity(Some(i)))
    }
}
