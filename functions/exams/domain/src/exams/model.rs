//! What a learner sends to start and answer an exam.

use serde::{Deserialize, Serialize};

use crate::exams::scoring::Response;

/// Most questions in one exam.
pub const MAX_QUESTIONS: usize = 100;
/// Most topics an exam draws from.
pub const MAX_TOPICS: usize = 10;
/// Shortest and longest time limit, in seconds.
pub const MIN_TIME_LIMIT: u32 = 60;
pub const MAX_TIME_LIMIT: u32 = 86_400;
/// The pass mark when none is given, in percent.
pub const DEFAULT_PASS_MARK: u8 = 50;

/// How an exam runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each answer is marked at once, with what was right (and, per the tier rule, why); no time limit.
    Practice,
    /// A time limit; nothing is revealed until the exam is submitted (by the learner or the deadline).
    Timed,
    /// An attempt at an instructor's assignment (`assignment_id`): its settings come from the assignment; like a
    /// timed exam nothing is revealed until it is submitted, with the assignment's time limit if it has one.
    Assignment,
}

/// Whether a learner may move around the exam.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Navigation {
    /// Any question in any order; in a timed exam an answer may be changed until the exam is submitted.
    #[default]
    Free,
    /// One question at a time, in order: each answer is final and earlier questions cannot be answered again.
    Sequential,
}

/// Where the questions come from: exactly one of the three.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExamSource)]
pub struct Source {
    /// Draw from this course.
    #[schema(value_type = Option<String>, schema_with = crate::schema::id_or_null)]
    #[serde(default)]
    pub course: Option<lectern_shared::ids::Id>,
    /// Draw from these topics, in proportion to their pools.
    #[schema(schema_with = crate::schema::topic_ids)]
    #[serde(default)]
    pub topics: Option<Vec<lectern_shared::ids::Id>>,
    /// Exactly these approved questions, in this order (unless shuffled).
    #[schema(schema_with = crate::schema::question_ids)]
    #[serde(default)]
    pub questions: Option<Vec<lectern_shared::ids::Id>>,
}

impl Source {
    /// The rules of a source with its count and mix that need no stored state: exactly one source; a list of 1 to
    /// [`MAX_QUESTIONS`] questions, none twice, with no mix and a count absent or its length; 1 to [`MAX_TOPICS`]
    /// topics, none twice; a count of 1 to [`MAX_QUESTIONS`] for a drawn exam. Starting an exam and creating an
    /// assignment check the same, so an assignment that was accepted can be attempted.
    pub fn check(&self, count: Option<u32>, mix: bool) -> crate::errors::Result<()> {
        use crate::errors::ExamError;
        if count.is_some_and(|c| !(1..=MAX_QUESTIONS as u32).contains(&c)) {
            return Err(ExamError::field("count", format!("1 to {MAX_QUESTIONS}")));
        }
        let given = [
            self.course.is_some(),
            self.topics.is_some(),
            self.questions.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ExamError::field(
                "source",
                "exactly one of course, topics and questions",
            ));
        }
        let twice = |field: &str, ids: &[lectern_shared::ids::Id]| {
            let mut seen = std::collections::BTreeSet::new();
            match ids.iter().position(|id| !seen.insert(id.as_str())) {
                Some(i) => Err(ExamError::field(&format!("{field}[{i}]"), "listed twice")),
                None => Ok(()),
            }
        };
        if let Some(ids) = &self.questions {
            if !(1..=MAX_QUESTIONS).contains(&ids.len()) {
                return Err(ExamError::field(
                    "source.questions",
                    format!("1 to {MAX_QUESTIONS} questions"),
                ));
            }
            if count.is_some_and(|c| c as usize != ids.len()) {
                return Err(ExamError::field(
                    "count",
                    "with a list of questions, absent or its length",
                ));
            }
            if mix {
                return Err(ExamError::field("mix", "only for drawn exams"));
            }
            return twice("source.questions", ids);
        }
        if count.is_none() {
            return Err(ExamError::field("count", "how many questions to draw"));
        }
        if let Some(topics) = &self.topics {
            if !(1..=MAX_TOPICS).contains(&topics.len()) {
                return Err(ExamError::field(
                    "source.topics",
                    format!("1 to {MAX_TOPICS} topics"),
                ));
            }
            twice("source.topics", topics)?;
        }
        Ok(())
    }
}

/// `POST /v1/exams/start`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartExam {
    pub mode: Mode,
    /// Required, except for an assignment's attempt (which takes the assignment's).
    #[serde(default)]
    pub source: Source,
    /// How many questions to draw (1 to 100); with an explicit list, absent or its length.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub count: Option<u32>,
    /// Weights by difficulty for a drawn exam, e.g. `easy:30,medium:50,hard:20`.
    #[schema(schema_with = crate::schema::mix_or_null)]
    #[serde(default)]
    pub mix: Option<String>,
    /// Seconds, 60 to 86400: required for a timed exam, refused for practice.
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub time_limit_seconds: Option<u32>,
    /// Percent needed to pass, 0 to 100 (default 50).
    #[schema(minimum = 0, maximum = 100)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub pass_mark: Option<u8>,
    /// Shuffle the questions (default true).
    #[serde(default)]
    pub shuffle_questions: Option<bool>,
    /// Shuffle each choice question's options (default true).
    #[serde(default)]
    pub shuffle_options: Option<bool>,
    #[serde(default)]
    pub navigation: Navigation,
    /// Passing issues a signed certificate for the course (default false). Only a timed exam drawn from a
    /// `course` may certify: the certificate names that course, and nothing is revealed before it is submitted.
    #[serde(default)]
    pub certifying: Option<bool>,
    /// With mode `assignment`: the assignment to attempt (nothing else is given: its settings are the
    /// assignment's).
    #[schema(value_type = Option<String>, schema_with = crate::schema::id_or_null)]
    #[serde(default)]
    pub assignment_id: Option<lectern_shared::ids::Id>,
}

/// `POST /v1/exams/{id}/answer`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    #[schema(value_type = String, schema_with = lectern_shared::http::constraints::id)]
    pub question_id: lectern_shared::ids::Id,
    #[schema(schema_with = crate::schema::exam_response)]
    pub response: Response,
}

/// Most grades in one request.
pub const MAX_GRADES: usize = 50;
/// Longest grading feedback.
pub const MAX_FEEDBACK: usize = 2000;

/// One essay's grade.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    #[schema(value_type = String, schema_with = lectern_shared::http::constraints::id)]
    pub question_id: lectern_shared::ids::Id,
    /// 0 to 1 (the question's whole mark).
    #[schema(minimum = 0, maximum = 1)]
    pub mark: f64,
    /// A note for the learner.
    #[schema(schema_with = crate::schema::feedback)]
    #[serde(default)]
    pub feedback: Option<String>,
}

/// `POST /v1/exams/{id}/grade`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeInput {
    #[schema(schema_with = crate::schema::grades)]
    pub grades: Vec<Grade>,
}
