//! Assignments: an instructor fixes an exam's settings once (source, count, time limit, pass mark), how many
//! attempts each learner has and how the attempts make one grade; learners attempt it with `POST /v1/exams/start
//! {"mode": "assignment", "assignment_id": ...}` and read their grade.
//!
//! - **Attempts are counted race-safely.** Each learner's attempts at an assignment are one item
//!   (`assignment_attempts`: how many were started and their exam ids). An attempt's exam is stored in one
//!   transaction with that item, conditioned on the count read; two starts racing for the last attempt both draw,
//!   one commits, the other reads the count again and is refused (409 `attempts-exhausted`). An attempt counts from
//!   its start: one abandoned still counts (its deadline, when the assignment has a time limit, submits it).
//! - **The grade** (`GET /v1/assignments/{id}/result`) is over the learner's attempts, by the assignment's
//!   `grading_method`: `highest` and `average` of the completed attempts' percentages; `first` and `last` the
//!   first and last *submitted* attempt (by start order). **Pending essays:** an attempt whose essays wait for an
//!   instructor (`grading`) is not completed — it counts in no highest or average until graded, and when it is the
//!   first or last submitted attempt the grade is `null` until then. While any attempt waits for grading or is in
//!   progress the answer says `provisional: true` (the grade may still change).
//! - **Due date.** After `due_at` no attempt starts (409 `assignment-closed`); attempts started before run to their
//!   end.
//! - **Who.** Authors (`content:write`) create assignments; everyone who reads content reads one (with their own
//!   attempts) and attempts it. Another learner's attempts are theirs: each sees only their own.

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, TableError,
    TxOp,
};
use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::exams::model::{
    DEFAULT_PASS_MARK, MAX_TIME_LIMIT, MIN_TIME_LIMIT, Mode, Navigation, Source, StartExam,
};
use crate::exams::store::{Exam, ExamStatus, SubmittedBy};
use crate::exams::views::ExamView;
use crate::questions::selection::Mix;
use crate::{Exams, Viewer, text};

/// Most attempts an assignment allows.
pub const MAX_ATTEMPTS: u32 = 20;
/// Longest title.
pub const MAX_TITLE: usize = 200;
/// How often a start re-reads the attempt count when another start committed meanwhile.
const COUNT_ATTEMPTS: usize = 5;

/// How several attempts make one grade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GradingMethod {
    /// The best completed attempt.
    #[default]
    Highest,
    /// The mean of the completed attempts.
    Average,
    /// The first submitted attempt.
    First,
    /// The last submitted attempt.
    Last,
}

/// An assignment (`ASSIGNMENT#<assignment_id>` / `ASSIGNMENT`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub assignment_id: String,
    pub title: String,
    pub created_by: String,
    pub created_at: i64,
    pub source: Source,
    pub count: Option<u32>,
    pub mix: Option<String>,
    pub time_limit_seconds: Option<u32>,
    pub pass_mark: u8,
    pub max_attempts: u32,
    pub grading_method: GradingMethod,
    /// No attempt starts from then on (epoch seconds).
    pub due_at: Option<i64>,
    pub shuffle_questions: bool,
    pub shuffle_options: bool,
    pub navigation: Navigation,
}

const ASSIGNMENT: Shape = Shape::new("ASSIGNMENT", &["assignment_id"]);

impl Entity for Assignment {
    const INFO: EntityInfo = EntityInfo::new(
        "assignment",
        KeyLayout::new(ASSIGNMENT, Shape::fixed("ASSIGNMENT")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.assignment_id)
    }
}

impl Assignment {
    pub fn key_of(assignment_id: &str) -> Key {
        Self::INFO.key(&[assignment_id], &[])
    }
}

/// A learner's attempts at an assignment (`ASSIGNMENT#<assignment_id>` / `ATTEMPTS#<user_id>`; on gsi1
/// `ASSIGNED#<user_id>` / `<assignment_id>` for the eraser).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    pub assignment_id: String,
    pub user_id: String,
    /// Attempts started; every start is conditioned on the value it read.
    pub started: u32,
    /// Their exams, in start order.
    pub exam_ids: Vec<String>,
}

/// A learner's attempts, for the eraser.
pub const ATTEMPTS_BY_USER: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("ASSIGNED", &["user_id"]),
        Shape::values(&["assignment_id"]),
    ),
);

impl Entity for Attempts {
    const INFO: EntityInfo = EntityInfo::new(
        "assignment_attempts",
        KeyLayout::new(ASSIGNMENT, Shape::new("ATTEMPTS", &["user_id"])),
    )
    .indexed(&[ATTEMPTS_BY_USER]);

    fn key(&self) -> Key {
        Self::key_of(&self.assignment_id, &self.user_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![ATTEMPTS_BY_USER.key(&[&self.user_id], &[&self.assignment_id])]
    }
}

impl Attempts {
    pub fn key_of(assignment_id: &str, user_id: &str) -> Key {
        Self::INFO.key(&[assignment_id], &[user_id])
    }
}

/// `POST /v1/assignments`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignment {
    #[schema(schema_with = crate::schema::assignment_title)]
    pub title: String,
    pub source: Source,
    /// How many questions to draw (1 to 100); with an explicit list, absent or its length.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub count: Option<u32>,
    #[schema(schema_with = crate::schema::mix_or_null)]
    #[serde(default)]
    pub mix: Option<String>,
    /// Seconds per attempt, 60 to 86400; absent: no time limit.
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub time_limit_seconds: Option<u32>,
    /// Percent needed to pass, 0 to 100 (default 50), applied to the grade.
    #[schema(minimum = 0, maximum = 100)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub pass_mark: Option<u8>,
    /// Attempts per learner, 1 to 20 (default 1).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub grading_method: GradingMethod,
    /// No attempt starts from then on (epoch seconds, in the future).
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub due_at: Option<i64>,
    #[serde(default)]
    pub shuffle_questions: Option<bool>,
    #[serde(default)]
    pub shuffle_options: Option<bool>,
    #[serde(default)]
    pub navigation: Navigation,
}

/// An assignment, with the caller's attempts.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AssignmentView {
    pub assignment_id: String,
    pub title: String,
    pub created_by: String,
    pub created_at: i64,
    #[schema(value_type = Object)]
    pub source: Source,
    pub count: Option<u32>,
    pub mix: Option<String>,
    pub time_limit_seconds: Option<u32>,
    pub pass_mark: u8,
    pub max_attempts: u32,
    pub grading_method: GradingMethod,
    pub due_at: Option<i64>,
    pub navigation: Navigation,
    /// The caller's attempts started.
    pub attempts_used: u32,
    pub attempts_left: u32,
}

/// One attempt in a result.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptRow {
    pub exam_id: String,
    pub attempt: u32,
    pub status: ExamStatus,
    /// Percent of the maximum once submitted (essays count once graded).
    pub percent: Option<f64>,
    /// `null` until every answer is marked.
    pub passed: Option<bool>,
}

/// The caller's grade in an assignment.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AssignmentResult {
    pub assignment_id: String,
    pub grading_method: GradingMethod,
    pub attempts: Vec<AttemptRow>,
    pub attempts_used: u32,
    pub attempts_left: u32,
    /// By the grading method, in percent; `null` while no attempt counts.
    pub grade_percent: Option<f64>,
    pub passed: Option<bool>,
    /// Attempts whose essays wait for grading.
    pub pending_grading: u32,
    /// The grade may still change: an attempt is in progress or waits for grading.
    pub provisional: bool,
}

impl Assignment {
    fn view(&self, attempts: &Attempts) -> AssignmentView {
        AssignmentView {
            assignment_id: self.assignment_id.clone(),
            title: self.title.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            source: self.source.clone(),
            count: self.count,
            mix: self.mix.clone(),
            time_limit_seconds: self.time_limit_seconds,
            pass_mark: self.pass_mark,
            max_attempts: self.max_attempts,
            grading_method: self.grading_method,
            due_at: self.due_at,
            navigation: self.navigation,
            attempts_used: attempts.started,
            attempts_left: self.max_attempts.saturating_sub(attempts.started),
        }
    }

    /// The settings of an attempt.
    fn start_input(&self) -> StartExam {
        StartExam {
            mode: Mode::Assignment,
            source: self.source.clone(),
            count: self.count,
            mix: self.mix.clone(),
            time_limit_seconds: self.time_limit_seconds,
            pass_mark: Some(self.pass_mark),
            shuffle_questions: Some(self.shuffle_questions),
            shuffle_options: Some(self.shuffle_options),
            navigation: self.navigation,
            certifying: None,
            assignment_id: None,
        }
    }
}

/// The grade of attempts (in start order) by `method`, and whether it may still change (see the module doc).
pub fn grade(method: GradingMethod, attempts: &[AttemptRow]) -> (Option<f64>, bool) {
    let completed: Vec<f64> = attempts
        .iter()
        .filter(|a| a.status == ExamStatus::Completed)
        .filter_map(|a| a.percent)
        .collect();
    let mut submitted = attempts
        .iter()
        .filter(|a| a.status != ExamStatus::InProgress);
    let counted = |a: Option<&AttemptRow>| {
        a.filter(|a| a.status == ExamStatus::Completed)
            .and_then(|a| a.percent)
    };
    let grade = match method {
        GradingMethod::Highest => completed.iter().copied().reduce(f64::max),
        GradingMethod::Average => {
            (!completed.is_empty()).then(|| completed.iter().sum::<f64>() / completed.len() as f64)
        }
        GradingMethod::First => counted(submitted.next()),
        GradingMethod::Last => counted(submitted.next_back()),
    };
    let provisional = attempts.iter().any(|a| a.status != ExamStatus::Completed);
    (grade, provisional)
}

impl Exams {
    /// An author creates an assignment.
    pub async fn create_assignment(
        &self,
        author: &Viewer,
        input: CreateAssignment,
    ) -> Result<AssignmentView> {
        author.require_author()?;
        let now = self.epoch();
        let title = text::trimmed("title", &input.title, MAX_TITLE)?;
        // What an attempt will check: an assignment accepted here can be attempted.
        input.source.check(input.count, input.mix.is_some())?;
        if let Some(mix) = &input.mix {
            Mix::parse("mix", mix)?;
        }
        if input
            .time_limit_seconds
            .is_some_and(|t| !(MIN_TIME_LIMIT..=MAX_TIME_LIMIT).contains(&t))
        {
            return Err(ExamError::field(
                "time_limit_seconds",
                format!("{MIN_TIME_LIMIT} to {MAX_TIME_LIMIT} seconds"),
            ));
        }
        let pass_mark = input.pass_mark.unwrap_or(DEFAULT_PASS_MARK);
        if pass_mark > 100 {
            return Err(ExamError::field("pass_mark", "0 to 100"));
        }
        let max_attempts = input.max_attempts.unwrap_or(1);
        if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(ExamError::field(
                "max_attempts",
                format!("1 to {MAX_ATTEMPTS}"),
            ));
        }
        if input.due_at.is_some_and(|d| d <= now) {
            return Err(ExamError::field("due_at", "must be in the future"));
        }
        let assignment = Assignment {
            assignment_id: lectern_shared::ids::new_id(),
            title,
            created_by: author.user_id.clone(),
            created_at: now,
            source: input.source,
            count: input.count,
            mix: input.mix,
            time_limit_seconds: input.time_limit_seconds,
            pass_mark,
            max_attempts,
            grading_method: input.grading_method,
            due_at: input.due_at,
            shuffle_questions: input.shuffle_questions.unwrap_or(true),
            shuffle_options: input.shuffle_options.unwrap_or(true),
            navigation: input.navigation,
        };
        self.table()
            .put(assignment.to_item()?, Condition::NotExists)
            .await?;
        Ok(assignment.view(&Attempts::default()))
    }

    async fn assignment(&self, assignment_id: &str) -> Result<Assignment> {
        let item = self
            .table()
            .get(&Assignment::key_of(assignment_id))
            .await?
            .ok_or(ExamError::NotFound("assignment"))?;
        Ok(Assignment::from_item(item)?)
    }

    /// The caller's attempts (none yet: an empty record, not stored).
    async fn attempts(&self, assignment_id: &str, user_id: &str) -> Result<(Attempts, bool)> {
        match self
            .table()
            .get(&Attempts::key_of(assignment_id, user_id))
            .await?
        {
            Some(item) => Ok((Attempts::from_item(item)?, true)),
            None => Ok((
                Attempts {
                    assignment_id: assignment_id.to_string(),
                    user_id: user_id.to_string(),
                    ..Attempts::default()
                },
                false,
            )),
        }
    }

    /// An assignment, with the caller's attempts.
    pub async fn assignment_view(
        &self,
        viewer: &Viewer,
        assignment_id: &str,
    ) -> Result<AssignmentView> {
        let assignment = self.assignment(assignment_id).await?;
        let (attempts, _) = self.attempts(assignment_id, &viewer.user_id).await?;
        Ok(assignment.view(&attempts))
    }

    /// Starts the caller's next attempt at an assignment (`POST /v1/exams/start` with mode `assignment`).
    pub(crate) async fn start_attempt(
        &self,
        viewer: &Viewer,
        input: StartExam,
    ) -> Result<ExamView> {
        let Some(assignment_id) = input.assignment_id.as_ref() else {
            return Err(ExamError::field(
                "assignment_id",
                "the assignment to attempt",
            ));
        };
        // The assignment decides every setting: a learner choosing any would change the exam the grade is for.
        let chosen = [
            ("source", input.source != Source::default()),
            ("count", input.count.is_some()),
            ("mix", input.mix.is_some()),
            ("time_limit_seconds", input.time_limit_seconds.is_some()),
            ("pass_mark", input.pass_mark.is_some()),
            ("shuffle_questions", input.shuffle_questions.is_some()),
            ("shuffle_options", input.shuffle_options.is_some()),
            ("navigation", input.navigation != Navigation::default()),
            ("certifying", input.certifying.is_some()),
        ];
        if let Some((field, _)) = chosen.iter().find(|(_, given)| *given) {
            return Err(ExamError::field(
                field,
                "an assignment's attempt takes the assignment's",
            ));
        }
        let assignment = self.assignment(assignment_id.as_str()).await?;
        if let Some(due) = assignment.due_at
            && self.epoch() >= due
        {
            return Err(ExamError::AssignmentClosed { due_at: due });
        }
        let (attempts, _) = self
            .attempts(&assignment.assignment_id, &viewer.user_id)
            .await?;
        if attempts.started >= assignment.max_attempts {
            return Err(ExamError::AttemptsExhausted {
                max: assignment.max_attempts,
            });
        }
        self.start_with(viewer, assignment.start_input(), Some(&assignment))
            .await
    }

    /// Stores an attempt's exam in one transaction with the learner's attempt count, conditioned on the count read;
    /// reads it again when another start committed meanwhile, and refuses once none is left.
    pub(crate) async fn store_attempt(
        &self,
        viewer: &Viewer,
        assignment: &Assignment,
        exam: Exam,
    ) -> Result<Exam> {
        for _ in 0..COUNT_ATTEMPTS {
            let (attempts, stored) = self
                .attempts(&assignment.assignment_id, &viewer.user_id)
                .await?;
            if attempts.started >= assignment.max_attempts {
                return Err(ExamError::AttemptsExhausted {
                    max: assignment.max_attempts,
                });
            }
            let exam = Exam {
                assignment_id: Some(assignment.assignment_id.clone()),
                attempt: Some(attempts.started + 1),
                ..exam.clone()
            };
            let mut next = attempts.clone();
            next.started += 1;
            next.exam_ids.push(exam.exam_id.clone());
            let condition = if stored {
                Condition::equals("started", attempts.started)
            } else {
                Condition::NotExists
            };
            let ops = vec![
                TxOp::Put {
                    item: exam.to_item()?,
                    condition: Condition::NotExists,
                },
                TxOp::Put {
                    item: next.to_item()?,
                    condition,
                },
            ];
            match self.table().transact(ops).await {
                Ok(()) => return Ok(exam),
                // Another start took an attempt meanwhile: count again.
                Err(TableError::TransactionCancelled { index: Some(1), .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExamError::Busy)
    }

    /// The caller's grade in an assignment, by its grading method over their attempts (an attempt past its
    /// deadline is submitted first, as every read of it does).
    pub async fn assignment_result(
        &self,
        viewer: &Viewer,
        assignment_id: &str,
    ) -> Result<AssignmentResult> {
        let assignment = self.assignment(assignment_id).await?;
        let (attempts, _) = self.attempts(assignment_id, &viewer.user_id).await?;
        let keys: Vec<Key> = attempts
            .exam_ids
            .iter()
            .map(|id| Exam::key_of(id))
            .collect();
        let mut exams: Vec<Exam> = self
            .table()
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(Exam::from_item)
            .collect::<std::result::Result<_, _>>()?;
        let now = self.epoch();
        for exam in exams.iter_mut() {
            if exam.overdue(now) {
                let answers = self.answers(&exam.exam_id).await?;
                let (closed, _) = self
                    .close(exam.clone(), answers, SubmittedBy::Deadline)
                    .await?;
                *exam = closed;
            }
        }
        exams.sort_by_key(|e| e.attempt);
        let rows: Vec<AttemptRow> = exams
            .iter()
            .map(|e| AttemptRow {
                exam_id: e.exam_id.clone(),
                attempt: e.attempt.unwrap_or(0),
                status: e.status,
                percent: e.percent(),
                passed: e.passed(),
            })
            .collect();
        let (grade_percent, provisional) = grade(assignment.grading_method, &rows);
        Ok(AssignmentResult {
            assignment_id: assignment.assignment_id.clone(),
            grading_method: assignment.grading_method,
            pending_grading: rows
                .iter()
                .filter(|r| r.status == ExamStatus::Grading)
                .count() as u32,
            attempts: rows,
            attempts_used: attempts.started,
            attempts_left: assignment.max_attempts.saturating_sub(attempts.started),
            passed: grade_percent.map(|g| g + 1e-9 >= f64::from(assignment.pass_mark)),
            grade_percent,
            provisional,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempt: u32, status: ExamStatus, percent: Option<f64>) -> AttemptRow {
        AttemptRow {
            exam_id: format!("e{attempt}"),
            attempt,
            status,
            percent,
            passed: None,
        }
    }

    #[test]
    fn each_method_grades_the_attempts_it_names_and_pending_essays_wait() {
        use ExamStatus::{Completed, Grading, InProgress};
        let rows = [
            row(1, Completed, Some(40.0)),
            row(2, Grading, Some(50.0)),
            row(3, Completed, Some(80.0)),
            row(4, InProgress, None),
        ];
        assert_eq!(grade(GradingMethod::Highest, &rows), (Some(80.0), true));
        assert_eq!(grade(GradingMethod::Average, &rows), (Some(60.0), true));
        assert_eq!(grade(GradingMethod::First, &rows), (Some(40.0), true));
        // The last submitted attempt: the third (the fourth runs still).
        assert_eq!(grade(GradingMethod::Last, &rows), (Some(80.0), true));
        // The first submitted attempt waits for its essays: no grade until it is graded.
        let waiting = [row(1, Grading, Some(50.0)), row(2, Completed, Some(90.0))];
        assert_eq!(grade(GradingMethod::First, &waiting), (None, true));
        assert_eq!(grade(GradingMethod::Highest, &waiting), (Some(90.0), true));
        let done = [row(1, Completed, Some(50.0)), row(2, Completed, Some(70.0))];
        assert_eq!(grade(GradingMethod::Last, &done), (Some(70.0), false));
        assert_eq!(grade(GradingMethod::Average, &[]), (None, false));
    }
}
