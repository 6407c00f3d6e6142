//! Forgetting a learner (the `account.purge` job, after the deletion grace period): what the exams domain keeps
//! about an account is found without a scan and deleted.
//!
//! - `SEEN#<user_id>` and `ABILITY#<user_id>`: the learner's own partitions.
//! - Their exams, listed under them on gsi1 (`EXAMS#<user_id>`): each exam's answers (`EXAM#<exam_id>`), its entry
//!   in the grading queue, then the exam itself, so an interrupted run still finds what is left.
//! - Their certificates, listed under them on gsi1 (`CERTS#<user_id>`): the name they carry is personal data, and
//!   a purged learner's certificate verifies as `unknown` from then on.
//! - Their attempt counts at assignments, on gsi1 (`ASSIGNED#<user_id>`); the attempts' exams are among their
//!   exams. Assignments are instructors' content and stay.
//! - Selection sessions expire a day after their last draw (well inside the grace period of 7 days or more), so
//!   they need no search.
//!
//! Kept: question statistics and difficulty estimates (aggregates that name no learner), and the markers that an
//! exam's answers were taken into them (keyed by exam id only, holding marks: nothing left names the learner). Questions and comments are staff's authored
//! content, not a learner's data.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::erasure::{Budget, EraseError, Erased, Eraser, erase_items};
use lectern_shared::table::{Condition, Entity};

use crate::assignments::ATTEMPTS_BY_USER;
use crate::certificates::CERTIFICATES_BY_USER;
use crate::exams::queue::GradingEntry;
use crate::exams::statistics::Ability;
use crate::exams::store::{AnswerRecord, EXAMS_BY_USER, Exam};
use crate::questions::pool::Seen;

/// Exams deleted per listing read.
const PAGE: usize = 25;

/// The exams domain's eraser.
pub struct ExamsEraser {
    platform: Platform,
}

impl ExamsEraser {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Eraser for ExamsEraser {
    fn name(&self) -> &'static str {
        "exams"
    }

    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError> {
        let table = self.platform.table.as_ref();
        for partition in [
            Seen::INFO.query(&[user_id]),
            Ability::INFO.query(&[user_id]),
            CERTIFICATES_BY_USER.query(&[user_id]),
            ATTEMPTS_BY_USER.query(&[user_id]),
        ] {
            if erase_items(table, partition, |_| false, budget).await? == Erased::More {
                return Ok(Erased::More);
            }
        }
        loop {
            // Always the first page: what was listed is deleted, so the next read starts after it.
            let page = table
                .query(EXAMS_BY_USER.query(&[user_id]).limit(PAGE))
                .await?;
            if page.items.is_empty() {
                return Ok(Erased::Done);
            }
            for item in page.items {
                let Some(exam_id) = item
                    .get("exam_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                if erase_items(
                    table,
                    AnswerRecord::INFO.query(&[&exam_id]),
                    |_| false,
                    budget,
                )
                .await?
                    == Erased::More
                {
                    return Ok(Erased::More);
                }
                // Its place in the grading queue, if it waits for grades (it names the learner).
                if let Some(submitted_at) = item
                    .get("outcome")
                    .and_then(|o| o.get("submitted_at"))
                    .and_then(|v| v.as_i64())
                {
                    table
                        .delete(
                            &GradingEntry::key_of(submitted_at, &exam_id),
                            Condition::Always,
                        )
                        .await?;
                }
                table
                    .delete(&Exam::key_of(&exam_id), Condition::Always)
                    .await?;
                if budget.spent() {
                    return Ok(Erased::More);
                }
            }
        }
    }
}
