//! Review: the queue of pending questions, and batch approval and rejection answered per id.

use lectern_messages::webhooks::{self, WebhookEvent};
use lectern_shared::queue::outbox::{self, OutboxEntry};
use lectern_shared::table::Entity;
use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::questions::listing::Filter;
use crate::questions::model::Status;
use crate::questions::store::{Listing, Question};
use crate::{Exams, Viewer, text};

/// Most ids in one batch.
pub const MAX_BATCH: usize = 50;
/// Longest rejection reason.
pub const MAX_REASON: usize = 1000;

/// Questions to approve.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchApprove {
    /// 1 to 50 question ids; each is answered on its own.
    #[schema(schema_with = crate::schema::batch_ids)]
    pub ids: Vec<lectern_shared::ids::Id>,
}

/// Questions to reject, with the reason their authors will read.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchReject {
    #[schema(schema_with = crate::schema::batch_ids)]
    pub ids: Vec<lectern_shared::ids::Id>,
    #[schema(schema_with = crate::schema::reason)]
    pub reason: String,
}

/// What became of one id of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewOutcome)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Rejected,
    /// No such question.
    NotFound,
    /// The question is not pending review (its status says where it is).
    NotPending,
    /// It changed while the batch ran; read it again.
    Conflict,
}

/// One id's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewResult)]
pub struct BatchResult {
    pub question_id: String,
    pub outcome: Outcome,
    /// The question's status after the batch (absent when not found).
    pub status: Option<Status>,
}

/// The answers of a batch, one per distinct id, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewAnswer)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
}

fn check_ids(ids: &[lectern_shared::ids::Id]) -> Result<Vec<String>> {
    if !(1..=MAX_BATCH).contains(&ids.len()) {
        return Err(ExamError::field("ids", format!("1 to {MAX_BATCH} ids")));
    }
    let mut distinct: Vec<String> = Vec::new();
    for id in ids {
        if !distinct.iter().any(|d| d == id.as_str()) {
            distinct.push(id.as_str().to_string());
        }
    }
    Ok(distinct)
}

impl Exams {
    /// One page of the questions waiting for review (moderators only).
    pub async fn pending(
        &self,
        viewer: &Viewer,
        limit: usize,
        after: Option<String>,
    ) -> Result<(Vec<Listing>, Option<String>)> {
        viewer.require_moderator()?;
        let filter = Filter {
            status: Some(Status::Pending),
            ..Filter::default()
        };
        self.list_questions(&filter, limit, after).await
    }

    /// Approves each pending question of the batch.
    pub async fn batch_approve(&self, viewer: &Viewer, input: BatchApprove) -> Result<BatchAnswer> {
        viewer.require_moderator()?;
        let ids = check_ids(&input.ids)?;
        self.review(viewer, ids, None).await
    }

    /// Rejects each pending question of the batch with the reason.
    pub async fn batch_reject(&self, viewer: &Viewer, input: BatchReject) -> Result<BatchAnswer> {
        viewer.require_moderator()?;
        let ids = check_ids(&input.ids)?;
        let reason = text::trimmed("reason", &input.reason, MAX_REASON)?;
        self.review(viewer, ids, Some(reason)).await
    }

    /// Approves (no reason) or rejects each question on its own: one failing id never stops the others.
    async fn review(
        &self,
        viewer: &Viewer,
        ids: Vec<String>,
        reason: Option<String>,
    ) -> Result<BatchAnswer> {
        // One read for the whole batch, then one transaction per question.
        let keys: Vec<_> = ids.iter().map(|id| Question::key_of(id)).collect();
        let mut heads = Vec::new();
        for item in self.table().batch_get(&keys).await? {
            heads.push(Question::from_item(item)?);
        }
        let mut results = Vec::with_capacity(ids.len());
        for question_id in ids {
            let result = match heads.iter().find(|q| q.question_id == question_id).cloned() {
                None => BatchResult {
                    question_id,
                    outcome: Outcome::NotFound,
                    status: None,
                },
                Some(old) if old.status != Status::Pending => BatchResult {
                    question_id,
                    outcome: Outcome::NotPending,
                    status: Some(old.status),
                },
                Some(old) => {
                    let (status, outcome) = match reason {
                        None => (Status::Approved, Outcome::Approved),
                        Some(_) => (Status::Rejected, Outcome::Rejected),
                    };
                    let new = Question {
                        status,
                        reviewed_by: Some(viewer.user_id.clone()),
                        reviewed_at: Some(self.epoch()),
                        rejection_reason: reason.clone(),
                        ..old.clone()
                    };
                    // An approval publishes integrators' `question.approved` webhook event, committed with it.
                    let event = match status {
                        Status::Approved => Some(self.approved_event(&new)?),
                        _ => None,
                    };
                    let extra = match &event {
                        Some(entry) => vec![entry.put()?],
                        None => Vec::new(),
                    };
                    match self.replace(&old, &new, extra).await {
                        Ok(()) => {
                            if let Some(entry) = event {
                                outbox::deliver(
                                    self.table(),
                                    self.platform.queue.as_ref(),
                                    &self.platform.outbox_key,
                                    &[entry],
                                    self.epoch(),
                                )
                                .await;
                            }
                            BatchResult {
                                question_id,
                                outcome,
                                status: Some(status),
                            }
                        }
                        Err(ExamError::StaleVersion { .. }) => {
                            let now = self.question(&question_id).await.ok().map(|q| q.status);
                            BatchResult {
                                question_id,
                                outcome: Outcome::Conflict,
                                status: now,
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            results.push(result);
        }
        Ok(BatchAnswer { results })
    }
}

impl Exams {
    /// The `question.approved` webhook event of an approved question, for the outbox of the approving transaction.
    fn approved_event(&self, question: &Question) -> Result<OutboxEntry> {
        let event = WebhookEvent::of(
            webhooks::QUESTION_APPROVED,
            &format!("{}:{}", question.question_id, question.version),
            self.epoch(),
            &webhooks::QuestionApprovedData {
                question_id: question.question_id.clone(),
            },
        );
        event
            .job()
            .and_then(|job| {
                OutboxEntry::new::<WebhookEvent>(job, self.epoch(), &self.platform.outbox_key)
            })
            .map_err(|e| ExamError::Internal(e.to_string()))
    }
}
