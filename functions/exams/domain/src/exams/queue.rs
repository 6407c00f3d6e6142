//! The grading queue: submitted exams whose essays wait for an instructor, oldest first
//! (`GET /v1/exams/grading-queue`).
//!
//! Each such exam has one `grading_entry` item (`GRADEQ` / `<submitted_at>#<exam_id>`), written in the transaction
//! that submits it into `grading` and removed (or rewritten with what is left to grade) in the transaction of each
//! grade — so the queue is one query of one partition, never a scan, and never disagrees with the exams. One
//! partition is written only when an exam with essays is submitted or graded, a rate far below a partition's
//! limit; a deployment grading thousands of essays a second would shard it (by course) like the outbox.

use lectern_shared::table::{Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TxOp};
use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::exams::store::{Exam, ExamStatus, at_label};
use crate::{Exams, Viewer};

/// An exam waiting for grades (`GRADEQ` / `<submitted_at>#<exam_id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = GradingQueueRow)]
pub struct GradingEntry {
    pub exam_id: String,
    /// The learner (to read the exam with `GET /v1/exams/{id}/summary` is theirs; instructors grade by exam id).
    pub user_id: String,
    pub submitted_at: i64,
    /// Essays not graded yet.
    pub pending_grading: u32,
    /// Questions in the exam.
    pub count: usize,
}

impl Entity for GradingEntry {
    const INFO: EntityInfo = EntityInfo::new(
        "grading_entry",
        KeyLayout::new(
            Shape::fixed("GRADEQ"),
            Shape::values(&["submitted_at", "exam_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(self.submitted_at, &self.exam_id)
    }
}

impl GradingEntry {
    pub fn key_of(submitted_at: i64, exam_id: &str) -> Key {
        Self::INFO.key(&[], &[&at_label(submitted_at), exam_id])
    }

    /// The queue's change for an exam as it is written: its entry while it waits for grades, none once complete
    /// (`None`: nothing to change — an exam in progress).
    pub fn change_for(exam: &Exam) -> Result<Option<TxOp>> {
        let Some(outcome) = exam.outcome.as_ref() else {
            return Ok(None);
        };
        let key = Self::key_of(outcome.submitted_at, &exam.exam_id);
        Ok(Some(match exam.status {
            ExamStatus::Grading => TxOp::Put {
                item: GradingEntry {
                    exam_id: exam.exam_id.clone(),
                    user_id: exam.user_id.clone(),
                    submitted_at: outcome.submitted_at,
                    pending_grading: outcome.pending_grading,
                    count: exam.questions.len(),
                }
                .to_item()?,
                condition: Condition::Always,
            },
            ExamStatus::Completed => TxOp::Delete {
                key,
                condition: Condition::Always,
            },
            ExamStatus::InProgress => return Ok(None),
        }))
    }
}

impl Exams {
    /// One page of the exams waiting for grades, oldest first (`exams:grade`, checked by the route).
    pub async fn grading_queue(
        &self,
        grader: &Viewer,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<GradingEntry>, Option<String>)> {
        tracing::debug!(grader = %grader.user_id, "grading queue read");
        let page = self
            .table()
            .query(GradingEntry::INFO.query(&[]).limit(limit).after(cursor))
            .await?;
        let rows = page
            .items
            .into_iter()
            .map(|item| GradingEntry::from_item(item).map_err(ExamError::from))
            .collect::<Result<_>>()?;
        Ok((rows, page.cursor))
    }
}
