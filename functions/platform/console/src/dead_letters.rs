//! `GET /v1/admin/dead-letters` and `POST /v1/admin/dead-letters/redrive`: the messages no worker could handle,
//! per queue, and sending them back. What is shown of a message is what names the job — its kind, id, message id,
//! receive count and last error — never its payload (an email job carries links with tokens, a notification a
//! child's name).

use lectern_accounts::permissions::perm;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Problem, Query};
use lectern_shared::queue::failures::JobFailure;
use lectern_shared::queue::{QueueError, queues};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Result, St};

/// Dead letters listed per queue, at most.
pub const DEFAULT_PAGE: usize = 10;
/// Most dead letters listed or moved per queue in one request.
pub const MAX_PAGE: usize = 100;

/// One dead letter.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeadLetterView {
    pub message_id: String,
    pub job_id: String,
    /// The job's kind (`platform.notify`).
    pub kind: String,
    pub receive_count: u32,
    /// The last error a worker reported for the job; `null` when none was recorded (a crash, a timeout).
    pub error: Option<String>,
    /// When that error happened (epoch seconds).
    pub failed_at: Option<i64>,
}

/// One queue's dead letters.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct QueueDeadLetters {
    pub queue: String,
    /// How many there are (SQS: approximate).
    pub count: u64,
    /// When the oldest listed one last failed (epoch seconds); `null` when none is listed or none recorded an
    /// error.
    pub oldest_failed_at: Option<i64>,
    /// The oldest first, at most `limit`.
    pub messages: Vec<DeadLetterView>,
}

/// Every queue's dead letters.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeadLettersView {
    pub queues: Vec<QueueDeadLetters>,
}

/// Which dead letters to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this queue (`notifications`, `jobs`, `learning`); every queue when absent.
    #[param(pattern = "^(notifications|jobs|learning)$")]
    pub queue: Option<String>,
    /// Messages listed per queue, 1–100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// What to send back.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    /// The queue whose dead letters go back onto it.
    #[schema(pattern = "^(notifications|jobs|learning)$")]
    pub queue: String,
    /// How many to move at most, oldest first, 1–100 (default 100).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub max: Option<usize>,
}

/// How many moved.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RedriveView {
    pub queue: String,
    pub moved: usize,
}

fn queue_name(field: &str, name: &str) -> Result<&'static str> {
    queues::ALL
        .iter()
        .find(|q| **q == name)
        .copied()
        .ok_or_else(|| {
            Problem::invalid_fields(vec![(
                field.to_string(),
                format!("one of {}", queues::ALL.join(", ")),
            )])
        })
}

fn page_size(field: &str, value: Option<usize>, default: usize) -> Result<usize> {
    match value.unwrap_or(default) {
        n @ 1..=MAX_PAGE => Ok(n),
        _ => Err(Problem::invalid_fields(vec![(
            field.to_string(),
            format!("1 to {MAX_PAGE}"),
        )])),
    }
}

fn unavailable(e: QueueError) -> Problem {
    tracing::error!(error = %e, "the queue did not answer");
    Problem::unavailable("the queue did not answer; try again")
}

/// Each queue's dead letters: how many, the oldest, and a page of them with their last error.
#[utoipa::path(get, path = "/v1/admin/dead-letters", tag = "operations", security(("bearer" = [])),
    params(DeadLetterQuery), responses(
    (status = 200, body = DeadLettersView),
    (status = 400, description = "`validation`: an unknown queue, a limit outside 1–100, or an unknown parameter"),
    (status = 401, description = "`unauthorized`: no valid session or API key"),
    (status = 403, description = "`forbidden`: needs `operations:read`; or an API key was sent: this route needs a signed-in session"),
    (status = 503, description = "`unavailable`: the queue did not answer")))]
pub(crate) async fn list_dead_letters(
    axum::extract::State(platform): St,
    SessionIdentity(who): SessionIdentity,
    Query(query): Query<DeadLetterQuery>,
) -> Result<Json<DeadLettersView>> {
    who.require(perm::OPERATIONS_READ)?;
    let limit = page_size("query.limit", query.limit, DEFAULT_PAGE)?;
    let names: Vec<&'static str> = match &query.queue {
        Some(name) => vec![queue_name("query.queue", name)?],
        None => queues::ALL.to_vec(),
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let count = platform
            .queue
            .dead_letter_count(name)
            .await
            .map_err(unavailable)?;
        let letters = match count {
            0 => Vec::new(),
            _ => platform
                .queue
                .dead_letters(name, limit)
                .await
                .map_err(unavailable)?,
        };
        let ids: Vec<&str> = letters.iter().map(|d| d.job.id.as_str()).collect();
        let failures = JobFailure::of_jobs(platform.table.as_ref(), &ids).await?;
        let messages: Vec<DeadLetterView> = letters
            .iter()
            .map(|d| {
                let failure = failures.iter().find(|f| f.job_id == d.job.id);
                DeadLetterView {
                    message_id: d.message_id.clone(),
                    job_id: d.job.id.clone(),
                    kind: d.job.kind.clone(),
                    receive_count: d.receive_count,
                    error: failure.map(|f| f.error.clone()),
                    failed_at: failure.map(|f| f.failed_at),
                }
            })
            .collect();
        out.push(QueueDeadLetters {
            queue: name.to_string(),
            count: count.max(messages.len() as u64),
            oldest_failed_at: messages.iter().filter_map(|m| m.failed_at).min(),
            messages,
        });
    }
    Ok(Json(DeadLettersView { queues: out }))
}

/// Sends a queue's dead letters (oldest first) back onto it, as new messages of the same jobs: a job that
/// finished meanwhile is skipped by its worker (its idempotency key), the others run again.
#[utoipa::path(post, path = "/v1/admin/dead-letters/redrive", tag = "operations", security(("bearer" = [])),
    request_body = RedriveRequest, responses(
    (status = 200, body = RedriveView),
    (status = 400, description = "`validation`: an unknown queue, `max` outside 1–100, or an unknown field"),
    (status = 401, description = "`unauthorized`: no valid session or API key"),
    (status = 403, description = "`forbidden`: needs `operations:manage`; or an API key was sent: this route needs a signed-in session"),
    (status = 503, description = "`unavailable`: the queue did not answer")))]
pub(crate) async fn redrive(
    axum::extract::State(platform): St,
    SessionIdentity(who): SessionIdentity,
    Json(request): Json<RedriveRequest>,
) -> Result<Json<RedriveView>> {
    who.require(perm::OPERATIONS_MANAGE)?;
    let name = queue_name("queue", &request.queue)?;
    let max = page_size("max", request.max, MAX_PAGE)?;
    let moved = platform
        .queue
        .redrive(name, max)
        .await
        .map_err(unavailable)?;
    tracing::info!(queue = name, moved, "dead letters sent back");
    Ok(Json(RedriveView {
        queue: name.to_string(),
        moved,
    }))
}
