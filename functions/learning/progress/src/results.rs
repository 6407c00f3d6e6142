//! Recording results (one, or a batch), listing them, and the statistics.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lectern_learning::LearningError;
use lectern_learning::controls::PlayGrant;
use lectern_learning::progress::{GameResult, MAX_BATCH, ResultFilter, ResultInput, StatsView};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query};
use lectern_shared::ids::Id;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Result, St, player};

/// The header that makes recording a result safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that repeats the first answer to the same key.
pub const REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` header, as documented (the handler reads it from the headers itself, so that a missing
/// key is a problem naming the header; its rule is the domain's `progress::KEY_PATTERN`).
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Header)]
pub struct KeyHeader {
    /// A key the client chooses per result (8 to 128 letters, digits, `_`, `-`): a retry with the same key and
    /// body answers the first answer again (with `Idempotent-Replayed: true`); with another body, 422.
    #[param(rename = "Idempotency-Key", pattern = "^[A-Za-z0-9_-]{8,128}$")]
    pub key: String,
}

/// Record a result once: retries with the same `Idempotency-Key` never count twice.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/progress", tag = "progress", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path), KeyHeader), request_body = ResultInput, responses(
    (status = 201, body = GameResult, description = "Recorded (or, with `Idempotent-Replayed: true`, recorded before under this key)"),
    (status = 403, description = "`content-blocked`, `outside-allowed-hours` or `time-limit-reached`: the parental controls refuse a result played then (a session that started within the limit is recorded whole); `forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may act as"),
    (status = 409, description = "`conflict`: too many results of this profile at once; retry"),
    (status = 422, description = "`idempotency-key-reused`: the key was used with another body")))]
pub(crate) async fn record(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    headers: HeaderMap,
    Json(input): Json<ResultInput>,
) -> Result<Response> {
    let viewer = player(&who)?;
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::validation("send an Idempotency-Key header").field(
                "header.idempotency-key",
                "required: 8 to 128 letters, digits, `_` or `-`",
            )
        })?;
    let recorded = learning
        .record_result(&viewer, profile_id.as_str(), key, input)
        .await?;
    let mut response = (StatusCode::CREATED, Json(recorded.result)).into_response();
    if recorded.replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One result of a batch, with its own key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    #[schema(pattern = "^[A-Za-z0-9_-]{8,128}$")]
    pub idempotency_key: String,
    pub result: ResultInput,
}

/// Results synced together (after playing offline).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<BatchItem>,
}

/// What happened to one result of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    pub idempotency_key: String,
    /// 201 recorded, or the status the result alone would have got (422 key reused, 400 invalid...).
    pub status: u16,
    /// Recorded before under this key: this is the first answer again.
    pub replayed: bool,
    pub result: Option<GameResult>,
    pub problem: Option<Problem>,
}

/// The answers of a batch, in the order of its items.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswers {
    pub items: Vec<BatchAnswer>,
}

/// Sync up to 100 results at once, each with its own key; each is answered on its own (one bad result does
/// not refuse the others). Counted in the `expensive` rate-limit class.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/progress/batch", tag = "progress", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), request_body = Batch, responses(
    (status = 200, body = BatchAnswers),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may act as")))]
pub(crate) async fn record_batch(
    State(learning): St,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    Json(batch): Json<Batch>,
) -> Result<Json<BatchAnswers>> {
    let viewer = player(&who)?;
    // Up to 100 reads and transactions: the expensive class, per IP and per account (a family's devices share it).
    learning
        .platform
        .limiter
        .enforce_expensive(client.ip, &format!("user:{}", who.user_id))
        .await?;
    if batch.items.is_empty() || batch.items.len() > MAX_BATCH {
        return Err(Problem::validation("1 to 100 results")
            .field("items", format!("1 to {MAX_BATCH} results")));
    }
    // The profile is checked once for the whole batch: a batch for a profile the caller may not act as is a 404.
    learning
        .visible_profile(&viewer, profile_id.as_str())
        .await?;
    let mut items = Vec::with_capacity(batch.items.len());
    let mut new = Vec::new();
    for item in batch.items {
        let key = item.idempotency_key;
        let answer = match learning
            .record_result_only(&viewer, profile_id.as_str(), &key, item.result)
            .await
        {
            Ok(recorded) => {
                new.extend(recorded.announcements);
                BatchAnswer {
                    idempotency_key: key,
                    status: 201,
                    replayed: recorded.replayed,
                    result: Some(recorded.result),
                    problem: None,
                }
            }
            Err(LearningError::Store(e)) => {
                learning.send_announcements(new).await;
                return Err(e.into());
            }
            Err(e) => {
                let problem = Problem::from(e);
                BatchAnswer {
                    idempotency_key: key,
                    status: problem.status,
                    replayed: false,
                    result: None,
                    problem: Some(problem),
                }
            }
        };
        items.push(answer);
    }
    // The jobs the results committed to the outbox, sent together.
    learning.send_announcements(new).await;
    Ok(Json(BatchAnswers { items }))
}

/// Which results to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Results of this game only.
    #[param(inline)]
    pub game_id: Option<Id>,
    /// Played at or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Played at or before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

fn instant(field: &str, value: Option<&str>) -> Result<Option<i64>> {
    value
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|_| {
                    Problem::validation("not an RFC 3339 time")
                        .field(format!("query.{field}"), "an RFC 3339 time")
                })
        })
        .transpose()
}

/// A profile's results, newest first (by when they were played), of one game and within a time range.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/progress", tag = "progress", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path), ResultsQuery), responses(
    (status = 200, body = Paginated<GameResult>),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn list(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    Query(query): Query<ResultsQuery>,
) -> Result<Json<Paginated<GameResult>>> {
    let viewer = player(&who)?;
    let limit = PageParams {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let filter = ResultFilter {
        game_id: query.game_id.map(|g| g.as_str().to_string()),
        from: instant("from", query.from.as_deref())?,
        to: instant("to", query.to.as_deref())?,
    };
    let scope = format!(
        "progress:{profile_id}:{}:{:?}:{:?}",
        filter.game_id.as_deref().unwrap_or("-"),
        filter.from,
        filter.to
    );
    let cursors = &learning.platform.cursors;
    let position = cursors.decode_opt(&scope, query.cursor.as_deref())?;
    let (items, next) = learning
        .results(&viewer, profile_id.as_str(), &filter, limit, position)
        .await?;
    Ok(Json(cursors.page(&scope, items, next)))
}

/// A profile's statistics: totals, time, per game best and average, per skill mastery, and the current and
/// longest daily streak in the profile's time zone.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/progress/stats", tag = "progress", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 200, body = StatsView),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn stats(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
) -> Result<Json<StatsView>> {
    let viewer = player(&who)?;
    Ok(Json(learning.stats(&viewer, profile_id.as_str()).await?))
}

/// The game a play session starts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayStart {
    #[schema(value_type = String, pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
    pub game_id: Id,
}

/// Start a play session: refused when the parental controls say no (`content-blocked`: the game or its category
/// or age rating is blocked; `outside-allowed-hours`; `time-limit-reached`); else answers how long it may last.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/play", tag = "progress", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), request_body = PlayStart, responses(
    (status = 200, body = PlayGrant),
    (status = 400, description = "`validation`: also a game that is not published"),
    (status = 403, description = "`content-blocked`, `outside-allowed-hours` or `time-limit-reached`: the parental controls refuse it; `forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may act as")))]
pub(crate) async fn play(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    Json(input): Json<PlayStart>,
) -> Result<Json<PlayGrant>> {
    let viewer = player(&who)?;
    Ok(Json(
        learning
            .start_play(&viewer, profile_id.as_str(), input.game_id.as_str())
            .await?,
    ))
}
