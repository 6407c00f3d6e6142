//! `/v1/users/me/onboarding`: the steps a new account is guided through and how far it has come; and
//! `/v1/admin/onboarding`, where admins define the steps.

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_learning::catalog::Slug;
use lectern_learning::onboarding::{Newcomer, OnboardingView, Step, StepsInput};
use lectern_shared::http::auth::{Identity, SessionIdentity};
use lectern_shared::http::{Json, Path};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{Result, St, viewer};

fn newcomer<'a>(who: &Identity, viewer: &'a lectern_learning::Viewer) -> Newcomer<'a> {
    Newcomer {
        viewer,
        roles: who.roles.iter().cloned().collect(),
        email_verified: who.email_verified,
    }
}

/// The account's onboarding: the steps shown to its roles, in order, each done or not. Steps that an event
/// completes (a verified address, a first profile, a first result, parental controls) are found done here.
#[utoipa::path(get, path = "/v1/users/me/onboarding", tag = "profiles", security(("bearer" = [])), responses(
    (status = 200, body = OnboardingView),
    (status = 403, description = "`forbidden`: a profile (device) session, or an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn get(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<OnboardingView>> {
    let viewer = viewer(&who);
    Ok(Json(s.learning.onboarding(&newcomer(&who, &viewer)).await?))
}

/// Mark a step done — also how a step is skipped. Marking a step done twice changes nothing.
#[utoipa::path(post, path = "/v1/users/me/onboarding/{step}", tag = "profiles", security(("bearer" = [])),
    params(("step" = inline(Slug), Path, description = "A step id")),
    responses(
    (status = 200, body = OnboardingView),
    (status = 400, description = "`validation` on `path.step`: not a slug"),
    (status = 403, description = "`forbidden`: a profile (device) session, or an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such step for this account"),
    (status = 409, description = "`conflict`: the onboarding changed meanwhile; retry")))]
pub(crate) async fn complete(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(step): Path<Slug>,
) -> Result<Json<OnboardingView>> {
    let viewer = viewer(&who);
    Ok(Json(
        s.learning
            .complete_onboarding_step(&newcomer(&who, &viewer), step.as_str())
            .await?,
    ))
}

/// The onboarding steps in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepsView {
    pub steps: Vec<Step>,
    /// 0 while the built-in defaults apply.
    pub version: i64,
}

/// The onboarding steps every account is shown (per role), as defined (admins).
#[utoipa::path(get, path = "/v1/admin/onboarding", tag = "profiles", security(("bearer" = [])), responses(
    (status = 200, body = StepsView),
    (status = 403, description = "`forbidden`: without `settings:manage`")))]
pub(crate) async fn steps(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<StepsView>> {
    who.require(perm::SETTINGS_MANAGE)?;
    let stored = s.learning.onboarding_steps().await?;
    Ok(Json(StepsView {
        steps: stored.steps,
        version: stored.version,
    }))
}

/// Replace the onboarding steps (1 to 20; ids unique slugs). Accounts keep the steps they did, by id.
#[utoipa::path(put, path = "/v1/admin/onboarding", tag = "profiles", security(("bearer" = [])), request_body = StepsInput, responses(
    (status = 200, body = StepsView),
    (status = 400, description = "`validation`: a bad step, named by field (`steps[2].id`)"),
    (status = 403, description = "`forbidden`: without `settings:manage`"),
    (status = 409, description = "`conflict`: replaced meanwhile; read them again and retry")))]
pub(crate) async fn replace_steps(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<StepsInput>,
) -> Result<Json<StepsView>> {
    who.require(perm::SETTINGS_MANAGE)?;
    let stored = s.learning.replace_onboarding_steps(input).await?;
    tracing::info!(version = stored.version, "onboarding steps replaced");
    Ok(Json(StepsView {
        steps: stored.steps,
        version: stored.version,
    }))
}
