//! The question bank (`/v1/questions/...`) and its review queue (`/v1/admin/questions/...`). Authors
//! (`content:write`) write questions; moderators (`content:moderate`) review them; learners (`content:read`) read
//! approved questions without their answers. Thin wrappers over `lectern_exams::questions`.

mod bank;
mod random;
mod review;
mod stats;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_exams::questions::selection::Scope;
use lectern_exams::{Exams, Viewer};
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ids::Id;
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ex = State<Exams>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "questions", description = "The question bank: questions of every type, versions, review and comments")))]
struct ApiDoc;

/// The question bank's routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Exams> {
    let routes = OpenApiRouter::new()
        .routes(routes!(bank::list_questions, bank::create_question))
        .routes(routes!(random::random_questions))
        .routes(routes!(stats::most_missed))
        .routes(routes!(stats::question_stats))
        .routes(routes!(bank::get_question, bank::edit_question))
        .routes(routes!(bank::submit_question))
        .routes(routes!(bank::question_history))
        .routes(routes!(bank::list_comments, bank::add_comment))
        .routes(routes!(review::pending_questions))
        .routes(routes!(review::batch_approve))
        .routes(routes!(review::batch_reject));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The question bank's routes, with the accounts authenticator installed.
pub fn router(exams: Exams, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&exams.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(exams)
}

/// A course or a topic, from query parameters of which exactly one is given.
fn scope(course: Option<Id>, topic: Option<Id>) -> Result<Scope> {
    match (course, topic) {
        (Some(course), None) => Ok(Scope::Course(course.to_string())),
        (None, Some(topic)) => Ok(Scope::Topic(topic.to_string())),
        _ => Err(Problem::validation("give exactly one of course and topic")
            .field("query.course", "exactly one of course and topic")),
    }
}

/// The caller, after checking they may read content at all.
fn reader(who: &Identity) -> Result<Viewer> {
    who.require(perm::CONTENT_READ)?;
    Ok(Viewer::new(
        who,
        who.can(perm::CONTENT_WRITE),
        who.can(perm::CONTENT_MODERATE),
    ))
}
