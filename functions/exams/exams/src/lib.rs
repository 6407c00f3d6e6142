//! Exams (`/v1/exams/...`): a learner starts one, answers, submits and reads the result; instructors grade essays.
//! Taking an exam is a signed-in learner's own activity, so every route takes a session (`SessionIdentity`), never
//! an API key. Certificates (`/v1/certificates/...`, `/v1/admin/certificates/...`): the owner's, the public
//! verification and keys (no sign-in), revocation by admins. Assignments (`/v1/assignments...`): instructors
//! create them, learners read theirs and their grade. Thin wrappers over `lectern_exams`.

mod assignments;
mod certificates;
mod grading;
mod sittings;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_exams::{Exams, Viewer};
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ex = State<Exams>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "exams", description = "Exams: start, answer, submit, results, history and grading"),
    (name = "certificates", description = "Certificates of passed certifying exams: read, share, verify (no sign-in), revoke")))]
struct ApiDoc;

/// The exam and certificate routes and their OpenAPI description. Starting an exam draws and fixes its questions,
/// the costly part: the Expensive class. The rest are General (the public verification too: one read, per IP).
pub fn routes() -> Routes<Exams> {
    let expensive = OpenApiRouter::new().routes(routes!(sittings::start_exam));
    let general = OpenApiRouter::new()
        .routes(routes!(sittings::exam_history))
        .routes(routes!(sittings::get_exam))
        .routes(routes!(sittings::answer))
        .routes(routes!(sittings::submit))
        .routes(routes!(sittings::summary))
        .routes(routes!(grading::grade))
        .routes(routes!(grading::grading_queue))
        .routes(routes!(sittings::abilities))
        .routes(routes!(
            certificates::get_certificate,
            certificates::share_certificate
        ))
        .routes(routes!(certificates::verify_certificate))
        .routes(routes!(certificates::public_keys))
        .routes(routes!(certificates::revoke_certificate))
        .routes(routes!(assignments::create_assignment))
        .routes(routes!(assignments::get_assignment))
        .routes(routes!(assignments::assignment_result));
    Routes::new(ApiDoc::openapi())
        .limited(RouteClass::Expensive, expensive)
        .limited(RouteClass::General, general)
}

/// The exam routes, with the accounts authenticator installed.
pub fn router(exams: Exams, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&exams.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(exams)
}

/// The caller, after checking they may take exams (`content:read`).
fn learner(who: &Identity) -> Result<Viewer> {
    who.require(perm::CONTENT_READ)?;
    Ok(Viewer::new(
        who,
        who.can(perm::CONTENT_WRITE),
        who.can(perm::CONTENT_MODERATE),
    ))
}
