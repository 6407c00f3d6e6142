//! The stored items of exams (see the key design in the crate docs).
//!
//! - `exam` (`EXAM#<exam_id>` / `EXAM`): the settings, the question list fixed at start (each question's version
//!   and option order), the state and, once submitted, the result. On gsi1 under its learner, newest first
//!   (history); on gsi2 under `EXAMDUE` by deadline while a timed exam is in progress — a sparse index the
//!   deadline job reads, which the submitting write drops.
//! - `exam_answer` (`EXAM#<exam_id>` / `ANSWER#<nnn>`): the response to the question at position `nnn`, its mark
//!   and when it came. One query reads an exam's answers.

use lectern_shared::table::{
    Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape,
};
use serde::{Deserialize, Serialize};

use crate::exams::model::{Mode, Navigation};
use crate::exams::scoring::Response;
use crate::questions::model::{Difficulty, QuestionType};

const EXAM: Shape = Shape::new("EXAM", &["exam_id"]);

/// Where an exam is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExamStatus {
    /// Started; answers are accepted until it is submitted or its deadline passes.
    InProgress,
    /// Submitted; essays wait for an instructor's grade, so there is no final score yet.
    Grading,
    /// Submitted and every answer marked: the score and pass/fail are final.
    Completed,
}

impl ExamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExamStatus::InProgress => "in_progress",
            ExamStatus::Grading => "grading",
            ExamStatus::Completed => "completed",
        }
    }
}

/// Who ended an exam.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmittedBy {
    /// The learner submitted it.
    Learner,
    /// Its deadline passed: submitted as it stood then, by whichever came first of a late request or the job.
    Deadline,
}

/// One question of an exam, fixed at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub question_id: String,
    /// The version served: the exam keeps pointing at it whatever later edits do.
    pub version: u64,
    pub kind: QuestionType,
    pub difficulty: Difficulty,
    pub topic_id: String,
    pub course_id: String,
    /// Choice questions: the option ids in the order shown to this learner.
    pub options: Option<Vec<String>>,
}

/// The result, once submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    pub submitted_at: i64,
    pub submitted_by: SubmittedBy,
    /// Marks so far (essays count once graded).
    pub score: f64,
    /// Essays not graded yet.
    pub pending_grading: u32,
}

/// An exam (`EXAM#<exam_id>` / `EXAM`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exam {
    pub exam_id: String,
    pub user_id: String,
    pub mode: Mode,
    pub navigation: Navigation,
    /// Percent needed to pass.
    pub pass_mark: u8,
    pub time_limit_seconds: Option<u32>,
    pub started_at: i64,
    /// `started_at + time_limit_seconds`: past it no answer is accepted and the exam is submitted.
    pub deadline: Option<i64>,
    pub questions: Vec<Slot>,
    pub status: ExamStatus,
    /// Questions answered (each counted once).
    pub answered: u32,
    /// When the last answer came (time per question is measured from it).
    pub last_answer_at: i64,
    /// Every change adds 1; submitting and grading write conditioned on the revision they read, so an answer that
    /// lands meanwhile makes them read again instead of being lost.
    pub revision: u64,
    pub outcome: Option<Outcome>,
    /// A certifying exam: the course its certificate names (see `crate::certificates`). Absent from other exams'
    /// items, so those stay as they were stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certifies_course: Option<String>,
    /// An assignment's attempt: the assignment, and which attempt this is (1, 2, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// An exam under its learner, newest first.
pub const EXAMS_BY_USER: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("EXAMS", &["user_id"]),
        Shape::values(&["started_at", "exam_id"]),
    ),
);

/// In-progress timed exams by deadline (sparse).
pub const EXAMS_DUE: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::fixed("EXAMDUE"),
        Shape::values(&["deadline", "exam_id"]),
    ),
);

/// Epoch seconds, zero-padded so they sort as numbers.
pub fn at_label(at: i64) -> String {
    format!("{:012}", at.max(0))
}

impl Entity for Exam {
    const INFO: EntityInfo = EntityInfo::new("exam", KeyLayout::new(EXAM, Shape::fixed("EXAM")))
        .indexed(&[EXAMS_BY_USER, EXAMS_DUE]);

    fn key(&self) -> Key {
        Self::key_of(&self.exam_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        let mut keys = vec![EXAMS_BY_USER.key(
            &[&self.user_id],
            &[&at_label(self.started_at), &self.exam_id],
        )];
        if let (ExamStatus::InProgress, Some(deadline)) = (self.status, self.deadline) {
            keys.push(EXAMS_DUE.key(&[], &[&at_label(deadline), &self.exam_id]));
        }
        keys
    }
}

impl Exam {
    pub fn key_of(exam_id: &str) -> Key {
        Self::INFO.key(&[exam_id], &[])
    }

    /// The position of a question in the exam.
    pub fn position(&self, question_id: &str) -> Option<usize> {
        self.questions
            .iter()
            .position(|s| s.question_id == question_id)
    }

    /// The score in percent of the maximum, once submitted.
    pub fn percent(&self) -> Option<f64> {
        let outcome = self.outcome.as_ref()?;
        let max = self.questions.len() as f64;
        Some(if max > 0.0 {
            outcome.score / max * 100.0
        } else {
            0.0
        })
    }

    /// Whether it passed: `None` until every answer is marked.
    pub fn passed(&self) -> Option<bool> {
        let outcome = self.outcome.as_ref()?;
        let percent = self.percent()?;
        (outcome.pending_grading == 0).then(|| percent + 1e-9 >= f64::from(self.pass_mark))
    }

    /// Whether the deadline has passed at `now`.
    pub fn overdue(&self, now: i64) -> bool {
        self.status == ExamStatus::InProgress && self.deadline.is_some_and(|d| now >= d)
    }
}

/// Positions are zero-padded so answers sort in exam order.
pub fn position_label(position: usize) -> String {
    format!("{position:03}")
}

/// The response to one question of an exam (`EXAM#<exam_id>` / `ANSWER#<nnn>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub exam_id: String,
    pub position: usize,
    pub question_id: String,
    pub response: Response,
    /// 0 to 1; `None` for an essay until it is graded.
    pub mark: Option<f64>,
    pub answered_at: i64,
    /// Seconds from the previous answer (or the start) to this one, by the server's clock.
    pub seconds: i64,
    /// An instructor's note on an essay.
    pub feedback: Option<String>,
    pub graded_by: Option<String>,
}

impl Entity for AnswerRecord {
    const INFO: EntityInfo = EntityInfo::new(
        "exam_answer",
        KeyLayout::new(EXAM, Shape::new("ANSWER", &["label"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.exam_id, self.position)
    }
}

impl AnswerRecord {
    pub fn key_of(exam_id: &str, position: usize) -> Key {
        Self::INFO.key(&[exam_id], &[&position_label(position)])
    }
}
