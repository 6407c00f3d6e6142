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
    /// The session (refresh-token family) or API key the request came through.
    pub session_id: Option<String>,
}

impl Identity {
    pub fn can(&self, permission: Permission) -> bool {
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

/// Turns request credentials into an identity.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok(None)` when the request carries no credentials; an error problem when they are present but invalid.
    async fn authenticate(&self, parts: &Parts) -> Result<Option<Identity>, Problem>;
}

/// The authenticator used until accounts are configured: knows no credentials at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAuthenticator;

#[async_trait]
impl Authenticator for NoAuthenticator {
    async fn authenticate(&self, parts: &Parts) -> Result<Option<Identity>, Problem> {
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
