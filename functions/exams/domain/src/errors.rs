//! The exams domain's errors and the one place they become HTTP problems.

use axum::http::StatusCode;
use lectern_shared::http::Problem;
use lectern_shared::table::TableError;

/// Why an exams operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExamError {
    /// Input failed validation: `(field, message)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// Nothing of that kind with that id that the caller may see (`what` names the kind).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may see the resource but not do this to it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A node still holds children (nodes or questions): it cannot be deleted.
    #[error("node has children")]
    HasChildren { children: i64 },
    /// The resource changed since the caller read it (optimistic concurrency).
    #[error("stale version")]
    StaleVersion { current: u64 },
    /// The resource is not in a state that allows this (e.g. approving a draft).
    #[error("invalid transition: {0}")]
    InvalidState(String),
    /// An exam asked for more questions than its source holds.
    #[error("not enough questions")]
    NotEnough { asked: usize, available: usize },
    /// An answer after a timed exam's deadline (the exam has been submitted as it stood).
    #[error("deadline passed")]
    DeadlinePassed,
    /// An answer to a submitted exam.
    #[error("exam submitted")]
    ExamClosed,
    /// A different answer to a question whose answer is final.
    #[error("already answered")]
    AlreadyAnswered,
    /// A sequential exam's questions are answered in order.
    #[error("out of order")]
    OutOfOrder { next: usize, asked: usize },
    /// Too many concurrent changes to one item; safe to retry.
    #[error("busy")]
    Busy,
    /// A learner has used every attempt of an assignment.
    #[error("attempts exhausted")]
    AttemptsExhausted { max: u32 },
    /// An assignment's due date has passed: no attempt starts.
    #[error("assignment closed")]
    AssignmentClosed { due_at: i64 },
    /// What this needs is not configured for this function (e.g. its key ring): 503.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("store: {0}")]
    Store(#[from] TableError),
    #[error("internal: {0}")]
    Internal(String),
}

impl ExamError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ExamError::Invalid(vec![(field.to_string(), message.into())])
    }

    /// The same error with its fields named inside `parent` (`topic_id` → `question.topic_id`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            ExamError::Invalid(fields) => ExamError::Invalid(
                fields
                    .into_iter()
                    .map(|(f, m)| (format!("{parent}.{f}"), m))
                    .collect(),
            ),
            other => other,
        }
    }
}

impl From<ExamError> for Problem {
    fn from(e: ExamError) -> Problem {
        match e {
            ExamError::Invalid(fields) => Problem::invalid_fields(fields),
            ExamError::NotFound(what) => Problem::not_found(format!("no such {what}")),
            ExamError::Forbidden(d) => Problem::forbidden(d),
            ExamError::HasChildren { children } => Problem::new(StatusCode::CONFLICT, "has-children", "Node has children")
                .detail(format!("this node still holds {children} item(s) (nodes below it or questions); delete or move them first")),
            ExamError::StaleVersion { current } => Problem::new(StatusCode::CONFLICT, "stale-version", "Stale version")
                .detail(format!("it changed since you read it; the current version is {current}: read it again and retry"))
                .field("version", format!("the current version is {current}")),
            ExamError::InvalidState(d) => Problem::new(StatusCode::CONFLICT, "invalid-state", "Not allowed in this state").detail(d),
            ExamError::NotEnough { asked, available } => {
                Problem::new(StatusCode::CONFLICT, "not-enough-questions", "Not enough questions")
                    .detail(format!("{asked} question(s) were asked for but only {available} approved question(s) can be drawn for this selection: ask for fewer, or widen the source or the mix"))
            }
            ExamError::DeadlinePassed => Problem::new(StatusCode::CONFLICT, "deadline-passed", "The time is up")
                .detail("the exam's deadline has passed: it was submitted as it stood then; read its summary"),
            ExamError::ExamClosed => Problem::new(StatusCode::CONFLICT, "exam-submitted", "Exam submitted")
                .detail("the exam has been submitted: answers are no longer accepted"),
            ExamError::AlreadyAnswered => Problem::new(StatusCode::CONFLICT, "already-answered", "Already answered")
                .detail("this question already has a different answer, and answers in practice and in sequential exams are final"),
            ExamError::OutOfOrder { next, asked } => Problem::new(StatusCode::CONFLICT, "out-of-order", "Answer in order")
                .detail(format!("this exam is sequential: the question to answer is at position {next} (this one is at {asked}); there is no going back or skipping ahead")),
            ExamError::Busy => TableError::Retryable("the exam changed repeatedly while it was being submitted".into()).into(),
            ExamError::AttemptsExhausted { max } => Problem::new(StatusCode::CONFLICT, "attempts-exhausted", "No attempts left")
                .detail(format!("this assignment allows {max} attempt(s) and you have started them all; read your grade at GET /v1/assignments/{{id}}/result")),
            ExamError::AssignmentClosed { due_at } => Problem::new(StatusCode::CONFLICT, "assignment-closed", "Assignment closed")
                .detail(format!("the assignment was due at {due_at} (epoch seconds): no attempt starts any more")),
            ExamError::Unavailable(d) => {
                tracing::error!(detail = %d, "not configured");
                Problem::unavailable("this service is not configured for this; try again later")
            }
            ExamError::Store(e) => e.into(),
            ExamError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                Problem::internal()
            }
        }
    }
}

impl axum::response::IntoResponse for ExamError {
    fn into_response(self) -> axum::response::Response {
        Problem::from(self).into_response()
    }
}

pub type Result<T> = std::result::Result<T, ExamError>;
