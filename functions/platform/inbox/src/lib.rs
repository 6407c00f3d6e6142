//! The notification centre's routes: an account's in-app notifications (`/v1/notifications`) and its
//! notification preferences (`/v1/users/me/notification-preferences`).
//!
//! A function of its own beside the `notifications` worker, which delivers: this one only reads and marks what the
//! worker stored, so it needs the table alone (no mailer, no queue), and an account's reads of its inbox never wait
//! behind a burst of deliveries. Both use the platform domain's library (`lectern-platform`), where the entities,
//! the counts and the rules live; this crate checks the caller and shapes the answers.
//!
//! Every route acts on the signed-in account's own notifications: there is no user id to guess, and a
//! notification of another account answers 404 like one that does not exist. A profile (device) session is
//! refused (401: a child's device must not read the parent's notifications), and so is an API key (403: these
//! are a person's messages, not data for scripts).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_messages::NotificationType;
use lectern_platform::Notifications;
use lectern_platform::inbox::{ListFilter, NotificationView, UnreadCount};
use lectern_platform::preferences::NotificationPreferences;
use lectern_shared::http::auth::{self, Identity, SessionIdentity};
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query, Routes};
use lectern_shared::ids::Id;
use lectern_shared::ratelimit::RouteClass;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type St = State<Arc<Notifications>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "notifications", description = "The notification centre: in-app notifications and notification preferences")))]
struct ApiDoc;

/// The routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Arc<Notifications>> {
    let routes = OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(read_all))
        .routes(routes!(mark_read))
        .routes(routes!(delete))
        .routes(routes!(preferences, replace_preferences));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The routes with the accounts authenticator (which refuses profile sessions) installed.
pub fn router(notifications: Arc<Notifications>, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&notifications.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(notifications)
}

/// The caller's own account, if it may read its notifications (every role may).
fn owner(who: &Identity) -> Result<&str> {
    who.require(perm::SELF_MANAGE)?;
    Ok(&who.user_id)
}

/// A page of notifications, filtered.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
    /// `true`: unread notifications only.
    pub unread: Option<bool>,
    /// Notifications of this type only.
    #[serde(rename = "type")]
    #[param(inline)]
    pub category: Option<NotificationType>,
}

/// The account's notifications, newest first. With `unread=true` and `type=` together a page may hold fewer
/// items than `limit` and still have a `next_cursor`.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(ListQuery), responses(
    (status = 200, body = Paginated<NotificationView>),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn list(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
    Query(query): Query<ListQuery>,
) -> Result<Json<Paginated<NotificationView>>> {
    let user_id = owner(&who)?;
    let limit = PageParams {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let filter = ListFilter {
        unread: query.unread.unwrap_or(false),
        category: query.category,
    };
    // A cursor belongs to one account's list with one filter.
    let scope = format!(
        "notifications:{user_id}:{}:{}",
        filter.unread,
        filter.category.map_or("-", NotificationType::as_str)
    );
    let cursors = &notifications.platform.cursors;
    let position = cursors.decode_opt(&scope, query.cursor.as_deref())?;
    let (items, next) = notifications.list(user_id, filter, limit, position).await?;
    Ok(Json(cursors.page(&scope, items, next)))
}

/// How many notifications are unread (one read, whatever their number).
#[utoipa::path(get, path = "/v1/notifications/unread-count", tag = "notifications", security(("bearer" = [])),
    responses(
    (status = 200, body = UnreadCount),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn unread_count(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<UnreadCount>> {
    let user_id = owner(&who)?;
    Ok(Json(notifications.unread_count(user_id).await?))
}

/// Mark every notification read, in one write whatever their number. Notifications that arrive later are unread.
#[utoipa::path(post, path = "/v1/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses(
    (status = 204, description = "Every notification is read"),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 409, description = "`conflict`: the notifications changed meanwhile too often; retry")))]
pub(crate) async fn read_all(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<StatusCode> {
    let user_id = owner(&who)?;
    notifications.read_all(user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark one notification read; marking it again changes nothing.
#[utoipa::path(post, path = "/v1/notifications/{notification_id}/read", tag = "notifications", security(("bearer" = [])),
    params(("notification_id" = inline(Id), Path)), responses(
    (status = 200, body = NotificationView),
    (status = 400, description = "`validation` on `path.notification_id`: not an id"),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such notification of yours"),
    (status = 409, description = "`conflict`: the notifications changed meanwhile too often; retry")))]
pub(crate) async fn mark_read(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
    Path(notification_id): Path<Id>,
) -> Result<Json<NotificationView>> {
    let user_id = owner(&who)?;
    Ok(Json(
        notifications
            .mark_read(user_id, notification_id.as_str())
            .await?,
    ))
}

/// Delete one notification.
#[utoipa::path(delete, path = "/v1/notifications/{notification_id}", tag = "notifications", security(("bearer" = [])),
    params(("notification_id" = inline(Id), Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 400, description = "`validation` on `path.notification_id`: not an id"),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such notification of yours"),
    (status = 409, description = "`conflict`: the notifications changed meanwhile too often; retry")))]
pub(crate) async fn delete(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
    Path(notification_id): Path<Id>,
) -> Result<StatusCode> {
    let user_id = owner(&who)?;
    notifications
        .delete(user_id, notification_id.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's notification preferences: per type, the channels that deliver it, and the quiet hours (the
/// defaults until the account saves its own).
#[utoipa::path(get, path = "/v1/users/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses(
    (status = 200, body = NotificationPreferences),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn preferences(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<NotificationPreferences>> {
    let user_id = owner(&who)?;
    Ok(Json(notifications.preferences(user_id).await?))
}

/// Replace the account's notification preferences. A type left out of `channels` takes its default; `security`
/// cannot be switched off in-app or by email; during the quiet hours (in their time zone) email other than
/// security mail is held until they end. Push is stored as chosen but not delivered yet.
#[utoipa::path(put, path = "/v1/users/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    request_body = NotificationPreferences, responses(
    (status = 200, body = NotificationPreferences),
    (status = 400, description = "`validation`: `channels.security.in_app` or `channels.security.email` switched off; `quiet_hours.start`/`end` not `HH:MM` or equal; `quiet_hours.timezone` not a known IANA zone"),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn replace_preferences(
    State(notifications): St,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<NotificationPreferences>,
) -> Result<Json<NotificationPreferences>> {
    let user_id = owner(&who)?;
    let saved = notifications.replace_preferences(user_id, input).await?;
    tracing::info!("notification preferences replaced");
    Ok(Json(saved))
}
