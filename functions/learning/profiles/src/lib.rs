//! Learner profiles and the family (`/v1/profiles`, `/v1/family`): a parent's child profiles with their consent,
//! avatars and device sessions, a learner's own profile, and the parent PIN that guards switching a child's device
//! back to the parent; and the account's onboarding (`/v1/users/me/onboarding`, steps defined at
//! `/v1/admin/onboarding`). Thin wrappers over the learning domain; device sessions and the PIN are kept by the accounts
//! domain (the one shared door), which this function reaches through `lectern-accounts`.

mod controls;
mod devices;
mod family;
mod onboarding;
mod profiles;
mod reports;

use std::sync::Arc;

use axum::Router;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_learning::{Learning, Viewer};
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the handlers share.
pub struct State {
    pub learning: Arc<Learning>,
    pub accounts: Arc<Accounts>,
}

type St = axum::extract::State<Arc<State>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "profiles", description = "Learner profiles and the family: child profiles, consent, avatars, device sessions, the parent PIN, parental controls, onboarding")))]
struct ApiDoc;

/// The routes and their OpenAPI description.
pub fn routes() -> Routes<Arc<State>> {
    let general = OpenApiRouter::new()
        .routes(routes!(profiles::list, profiles::create))
        .routes(routes!(
            profiles::get_one,
            profiles::update,
            profiles::delete
        ))
        .routes(routes!(profiles::avatar_upload))
        .routes(routes!(profiles::avatar_confirm))
        .routes(routes!(devices::create_device_session))
        .routes(routes!(controls::get, controls::put))
        .routes(routes!(controls::usage))
        .routes(routes!(reports::report))
        .routes(routes!(family::family))
        .routes(routes!(family::set_pin, family::clear_pin))
        .routes(routes!(onboarding::get))
        .routes(routes!(onboarding::complete))
        .routes(routes!(onboarding::steps, onboarding::replace_steps));
    // Guessing a PIN is a credential attempt: the strict class, besides the PIN's own attempt counter.
    let credentials = OpenApiRouter::new().routes(routes!(family::switch_to_parent));
    Routes::new(ApiDoc::openapi())
        .limited(RouteClass::General, general)
        .limited(RouteClass::Auth, credentials)
}

/// The routes with the accounts authenticator that admits profile (device) sessions.
pub fn router(learning: Arc<Learning>, accounts: Arc<Accounts>) -> Router {
    let limiter = learning.platform.limiter.clone();
    let authenticator = AccountsAuthenticator::with_profiles(accounts.clone());
    routes()
        .router(&limiter)
        .layer(auth::layer(Arc::new(authenticator)))
        .with_state(Arc::new(State { learning, accounts }))
}

/// The caller as the profile rules see it.
pub(crate) fn viewer(who: &Identity) -> Viewer {
    Viewer::of(
        who,
        who.can(perm::PROFILES_ANY),
        who.can(perm::CHILDREN_MANAGE),
        who.can(perm::SELF_MANAGE),
    )
}
