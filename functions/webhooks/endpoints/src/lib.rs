//! Webhook endpoints for integrators (`/v1/webhooks`): an account with `webhooks:manage` (admins; API keys with
//! that scope) creates endpoints, chooses their event types, rotates their signing secret, sends a test message
//! and reads each endpoint's delivery history. Every route acts on the caller's own endpoints: another account's
//! endpoint answers 404 like one that does not exist. Deliveries themselves are made by the jobs worker (see
//! `lectern_webhooks::deliveries`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query, Routes};
use lectern_shared::ids::Id;
use lectern_shared::ratelimit::RouteClass;
use lectern_webhooks::Webhooks;
use lectern_webhooks::deliveries::DeliveryView;
use lectern_webhooks::endpoints::{EndpointChanges, EndpointView, EndpointWithSecret, NewEndpoint};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod catalogue;

type St = State<Arc<Webhooks>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "webhooks", description = "Webhooks for integrators (Standard Webhooks): endpoints, signing secrets, delivery history. The events and their payloads are in the document's `webhooks` section.")))]
struct ApiDoc;

/// The routes and their OpenAPI description (with the event catalogue); the test message is Expensive (it makes
/// an outgoing request), the rest General.
pub fn routes() -> Routes<Arc<Webhooks>> {
    let general = OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries));
    let expensive = OpenApiRouter::new().routes(routes!(send_test));
    let mut doc = ApiDoc::openapi();
    // The event payloads' data schemas; the `webhooks` object that uses them is added to the merged document.
    let mut schemas = utoipa::openapi::OpenApi::default();
    schemas.components = Some(catalogue::components());
    doc.merge(schemas);
    Routes::new(doc)
        .limited(RouteClass::General, general)
        .limited(RouteClass::Expensive, expensive)
}

/// The routes with the accounts authenticator installed.
pub fn router(webhooks: Arc<Webhooks>, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&webhooks.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(webhooks)
}

/// The caller, if it may manage webhooks: the owner of what it touches.
fn owner(who: &Identity) -> Result<&str> {
    who.require(perm::WEBHOOKS_MANAGE)?;
    Ok(&who.user_id)
}

/// A page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

/// Create an endpoint. Its signing secret is in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    request_body = NewEndpoint, responses(
    (status = 201, body = EndpointWithSecret),
    (status = 400, description = "`validation` on `url` (not https, a user name or password, over 2000 characters, an IP literal that is not public), `description` (over 200 characters, control characters) or `event_types` (empty, or not in the catalogue)"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 409, description = "`conflict`: the account has 20 endpoints already")))]
pub(crate) async fn create(
    State(webhooks): St,
    who: Identity,
    Json(input): Json<NewEndpoint>,
) -> Result<(StatusCode, Json<EndpointWithSecret>)> {
    let owner_id = owner(&who)?;
    let created = webhooks.create(owner_id, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The caller's endpoints, oldest first.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(PageQuery), responses(
    (status = 200, body = Paginated<EndpointView>),
    (status = 400, description = "`validation` on `limit` or `cursor`"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`")))]
pub(crate) async fn list(
    State(webhooks): St,
    who: Identity,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paginated<EndpointView>>> {
    let owner_id = owner(&who)?;
    let limit = PageParams {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let scope = format!("webhooks:{owner_id}");
    let cursors = &webhooks.platform.cursors;
    let position = cursors.decode_opt(&scope, query.cursor.as_deref())?;
    let (items, next) = webhooks.list(owner_id, limit, position).await?;
    Ok(Json(cursors.page(&scope, items, next)))
}

/// One of the caller's endpoints.
#[utoipa::path(get, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("endpoint_id" = inline(Id), Path)), responses(
    (status = 200, body = EndpointView),
    (status = 400, description = "`validation` on `path.endpoint_id`: not an id"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 404, description = "No such endpoint of yours")))]
pub(crate) async fn get(
    State(webhooks): St,
    who: Identity,
    Path(endpoint_id): Path<Id>,
) -> Result<Json<EndpointView>> {
    let owner_id = owner(&who)?;
    let endpoint = webhooks.owned(owner_id, endpoint_id.as_str()).await?;
    Ok(Json(EndpointView::from(&endpoint)))
}

/// Change an endpoint: its URL, description, event types, or whether it is enabled (enabling it again forgets
/// its failures).
#[utoipa::path(patch, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("endpoint_id" = inline(Id), Path)), request_body = EndpointChanges, responses(
    (status = 200, body = EndpointView),
    (status = 400, description = "`validation` on `path.endpoint_id`, `url`, `description` or `event_types` (as for creation)"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 404, description = "No such endpoint of yours"),
    (status = 409, description = "`conflict`: the endpoint changed meanwhile; read it and retry")))]
pub(crate) async fn update(
    State(webhooks): St,
    who: Identity,
    Path(endpoint_id): Path<Id>,
    Json(changes): Json<EndpointChanges>,
) -> Result<Json<EndpointView>> {
    let owner_id = owner(&who)?;
    Ok(Json(
        webhooks
            .update(owner_id, endpoint_id.as_str(), changes)
            .await?,
    ))
}

/// Delete an endpoint (its history goes with it; queued deliveries stop).
#[utoipa::path(delete, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("endpoint_id" = inline(Id), Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 400, description = "`validation` on `path.endpoint_id`: not an id"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 404, description = "No such endpoint of yours"),
    (status = 409, description = "`conflict`: the endpoint changed meanwhile; retry")))]
pub(crate) async fn delete(
    State(webhooks): St,
    who: Identity,
    Path(endpoint_id): Path<Id>,
) -> Result<StatusCode> {
    let owner_id = owner(&who)?;
    webhooks.delete(owner_id, endpoint_id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the signing secret: the new one is in this answer only; the previous one keeps signing beside it
/// (two `v1,` entries in `webhook-signature`) for 24 hours, so the receiver can switch over.
#[utoipa::path(post, path = "/v1/webhooks/{endpoint_id}/rotate-secret", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("endpoint_id" = inline(Id), Path)), responses(
    (status = 200, body = EndpointWithSecret),
    (status = 400, description = "`validation` on `path.endpoint_id`: not an id"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 404, description = "No such endpoint of yours"),
    (status = 409, description = "`conflict`: the endpoint changed meanwhile; retry")))]
pub(crate) async fn rotate_secret(
    State(webhooks): St,
    who: Identity,
    Path(endpoint_id): Path<Id>,
) -> Result<Json<EndpointWithSecret>> {
    let owner_id = owner(&who)?;
    Ok(Json(webhooks.rotate(owner_id, endpoint_id.as_str()).await?))
}

/// Send a test message (`webhook.test`, data `{"endpoint_id"}`) to an enabled endpoint, signed and retried like
/// any other; its outcome shows in the history.
#[utoipa::path(post, path = "/v1/webhooks/{endpoint_id}/test", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("endpoint_id" = inline(Id), Path)), responses(
    (status = 202, body = DeliveryView, description = "Queued: the first attempt follows at once"),
    (status = 400, description = "`validation` on `path.endpoint_id`: not an id"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 404, description = "No such endpoint of yours"),
    (status = 409, description = "`conflict`: the endpoint is disabled"),
    (status = 429, description = "`rate-limited`: too many test messages")))]
pub(crate) async fn send_test(
    State(webhooks): St,
    who: Identity,
    Path(endpoint_id): Path<Id>,
) -> Result<(StatusCode, Json<DeliveryView>)> {
    let owner_id = owner(&who)?;
    let delivery = webhooks.send_test(owner_id, endpoint_id.as_str()).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// An endpoint's deliveries, newest first: each message's status, attempts and last response code. Kept 30 days.
#[utoipa::path(get, path = "/v1/webhooks/{endpoint_id}/deliveries", tag = "webhooks", security(("bearer" = []), ("api_key" = [])),
    params(("endpoint_id" = inline(Id), Path), PageQuery), responses(
    (status = 200, body = Paginated<DeliveryView>),
    (status = 400, description = "`validation` on `path.endpoint_id`, `limit` or `cursor`"),
    (status = 401, description = "Not signed in"),
    (status = 403, description = "`forbidden`: no `webhooks:manage`"),
    (status = 404, description = "No such endpoint of yours")))]
pub(crate) async fn deliveries(
    State(webhooks): St,
    who: Identity,
    Path(endpoint_id): Path<Id>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paginated<DeliveryView>>> {
    let owner_id = owner(&who)?;
    let limit = PageParams {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let scope = format!("webhook-deliveries:{owner_id}:{}", endpoint_id.as_str());
    let cursors = &webhooks.platform.cursors;
    let position = cursors.decode_opt(&scope, query.cursor.as_deref())?;
    let (items, next) = webhooks
        .deliveries(owner_id, endpoint_id.as_str(), limit, position)
        .await?;
    Ok(Json(cursors.page(&scope, items, next)))
}
