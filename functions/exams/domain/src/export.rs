//! The exams domain's part of a personal-data export: what its eraser deletes — the learner's exams with every
//! answer, their certificates, their attempts at assignments, the questions they have seen and their ability
//! estimates. Found as the eraser finds them (the learner's partitions and gsi1 listings), never a scan.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::export::{ExportError, ExportSink, Exporter, export_query};
use lectern_shared::table::Entity;

use crate::assignments::ATTEMPTS_BY_USER;
use crate::certificates::CERTIFICATES_BY_USER;
use crate::exams::statistics::Ability;
use crate::exams::store::{AnswerRecord, EXAMS_BY_USER};
use crate::questions::pool::Seen;

const PAGE: usize = 100;

/// Exports a learner's exams.
pub struct ExamsExporter {
    platform: Platform,
}

impl ExamsExporter {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Exporter for ExamsExporter {
    fn name(&self) -> &'static str {
        "exams"
    }

    fn entities(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "exam",
                "each exam you took: when, its questions, time limit, score and outcome",
            ),
            (
                "exam_answer",
                "every answer you gave, with its mark and any feedback",
            ),
            ("certificate", "certificates issued to you"),
            (
                "assignment_attempts",
                "how many attempts you used at each assignment",
            ),
            (
                "question_seen",
                "which questions you have already been shown (so they are not repeated)",
            ),
            (
                "ability",
                "the estimate of your ability used to pick questions of the right difficulty",
            ),
            (
                "grading_entry",
                "an exam of yours waiting for an instructor's grade",
            ),
        ]
    }

    async fn export(&self, user_id: &str, sink: &mut dyn ExportSink) -> Result<(), ExportError> {
        let table = self.platform.table.as_ref();
        let name = self.name();
        for query in [
            Seen::INFO.query(&[user_id]),
            Ability::INFO.query(&[user_id]),
            CERTIFICATES_BY_USER.query(&[user_id]),
            ATTEMPTS_BY_USER.query(&[user_id]),
        ] {
            export_query(table, query.limit(PAGE), name, sink).await?;
        }
        let mut cursor = None;
        loop {
            let page = table
                .query(EXAMS_BY_USER.query(&[user_id]).limit(PAGE).after(cursor))
                .await?;
            let exams: Vec<String> = page
                .items
                .iter()
                .filter_map(|item| item.get("exam_id").and_then(|v| v.as_str()))
                .map(str::to_string)
                .collect();
            sink.items(name, page.items)?;
            for exam in exams {
                export_query(
                    table,
                    AnswerRecord::INFO.query(&[&exam]).limit(PAGE),
                    name,
                    sink,
                )
                .await?;
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }
}
