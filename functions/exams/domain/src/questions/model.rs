//! What a question is: its type, its answer key, and the validation of what authors send.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::questions::sanitize;
use crate::text;

/// How hard a question is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

/// The kinds of question.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    SingleChoice,
    MultipleChoice,
    TrueFalse,
    Numeric,
    ShortText,
    Essay,
}

impl QuestionType {
    pub const ALL: [QuestionType; 6] = [
        QuestionType::SingleChoice,
        QuestionType::MultipleChoice,
        QuestionType::TrueFalse,
        QuestionType::Numeric,
        QuestionType::ShortText,
        QuestionType::Essay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionType::SingleChoice => "single_choice",
            QuestionType::MultipleChoice => "multiple_choice",
            QuestionType::TrueFalse => "true_false",
            QuestionType::Numeric => "numeric",
            QuestionType::ShortText => "short_text",
            QuestionType::Essay => "essay",
        }
    }
}

/// Where a question is in review. Only `approved` questions reach learners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = QuestionStatus)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Pending,
    Approved,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Draft,
        Status::Pending,
        Status::Approved,
        Status::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }
}

/// Limits of a question's parts.
pub const MAX_RICH_TEXT: usize = 20_000;
pub const MAX_OPTION: usize = 500;
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 10;
pub const MAX_ACCEPTED: usize = 20;
pub const MAX_ACCEPTED_TEXT: usize = 200;
pub const MAX_TAGS: usize = 10;
pub const MAX_RUBRIC: usize = 5_000;
pub const MAX_WORDS: u32 = 10_000;

/// One choice of a choice question. Ids are random per version, so their order says nothing of the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = QuestionOption)]
pub struct Choice {
    pub id: String,
    /// Plain text.
    pub text: String,
}

/// A question's answer key, by type: what is right, and how an answer is compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerKey {
    /// One option is right.
    SingleChoice {
        options: Vec<Choice>,
        correct: String,
    },
    /// One or more options are right.
    MultipleChoice {
        options: Vec<Choice>,
        correct: Vec<String>,
    },
    TrueFalse {
        correct: bool,
    },
    /// Right within `tolerance` (absolute) of `value`.
    Numeric {
        value: f64,
        tolerance: f64,
    },
    /// Right when equal to one of `accepted` after trimming and collapsing inner white space, and ignoring case
    /// unless `case_sensitive`.
    ShortText {
        accepted: Vec<String>,
        case_sensitive: bool,
    },
    /// Graded by an instructor.
    Essay {
        rubric: Option<String>,
        max_words: Option<u32>,
    },
}

impl AnswerKey {
    pub fn kind(&self) -> QuestionType {
        match self {
            AnswerKey::SingleChoice { .. } => QuestionType::SingleChoice,
            AnswerKey::MultipleChoice { .. } => QuestionType::MultipleChoice,
            AnswerKey::TrueFalse { .. } => QuestionType::TrueFalse,
            AnswerKey::Numeric { .. } => QuestionType::Numeric,
            AnswerKey::ShortText { .. } => QuestionType::ShortText,
            AnswerKey::Essay { .. } => QuestionType::Essay,
        }
    }

    /// The options a learner chooses from, if any (without what is right).
    pub fn options(&self) -> Option<&[Choice]> {
        match self {
            AnswerKey::SingleChoice { options, .. } | AnswerKey::MultipleChoice { options, .. } => {
                Some(options)
            }
            _ => None,
        }
    }
}

/// The content of one version of a question, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = QuestionContent)]
pub struct Content {
    pub topic_id: String,
    /// The topic's course, copied when the version is saved.
    pub course_id: String,
    /// The course's level when the version was saved.
    pub level: u16,
    /// Sanitized HTML.
    pub stem: String,
    /// Sanitized HTML.
    pub explanation: Option<String>,
    pub difficulty: Difficulty,
    pub subject: Option<String>,
    pub tags: Vec<String>,
    pub answer: AnswerKey,
}

/// The answer part of a question as sent, by `type`. Choice options are plain text; right answers are their
/// positions.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnswerInput {
    SingleChoice {
        #[schema(schema_with = crate::schema::options)]
        options: Vec<String>,
        /// The position in `options` (from 0) of the right answer, as a one-item list.
        #[schema(schema_with = crate::schema::correct_positions)]
        #[serde(deserialize_with = "crate::schema::whole_positions")]
        correct: Vec<usize>,
    },
    MultipleChoice {
        #[schema(schema_with = crate::schema::options)]
        options: Vec<String>,
        /// Positions in `options` (from 0) of the right answers; duplicates count once.
        #[schema(schema_with = crate::schema::correct_positions)]
        #[serde(deserialize_with = "crate::schema::whole_positions")]
        correct: Vec<usize>,
    },
    TrueFalse {
        correct: bool,
    },
    Numeric {
        #[schema(schema_with = crate::schema::finite_number)]
        value: f64,
        /// Absolute tolerance, 0 or more.
        #[schema(schema_with = crate::schema::tolerance)]
        tolerance: f64,
    },
    ShortText {
        #[schema(schema_with = crate::schema::accepted)]
        accepted: Vec<String>,
        /// Compare case as well (default: ignore case). Surrounding white space is always ignored and inner runs
        /// of white space count as one space.
        #[serde(default)]
        case_sensitive: bool,
    },
    Essay {
        #[schema(schema_with = crate::schema::rubric)]
        #[serde(default)]
        rubric: Option<String>,
        #[schema(schema_with = crate::schema::max_words)]
        #[serde(
            default,
            deserialize_with = "lectern_shared::http::extract::whole_number"
        )]
        max_words: Option<u32>,
    },
}

/// A question as an author sends it (to create it or to save a new version).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionInput {
    /// The topic (its course follows).
    #[schema(value_type = String, schema_with = lectern_shared::http::constraints::id)]
    pub topic_id: lectern_shared::ids::Id,
    /// Rich text (HTML); sanitized: no script, no event handlers.
    #[schema(schema_with = crate::schema::rich_text)]
    pub stem: String,
    /// Rich text shown once a learner may see it (see the tier rule).
    #[schema(schema_with = crate::schema::rich_text_or_null)]
    #[serde(default)]
    pub explanation: Option<String>,
    pub difficulty: Difficulty,
    /// Subject area, a slug such as `linear-algebra`.
    #[schema(schema_with = crate::schema::slug_or_null)]
    #[serde(default)]
    pub subject: Option<String>,
    /// Slugs; duplicates count once.
    #[schema(schema_with = crate::schema::tags)]
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(schema_with = crate::schema::answer_input)]
    pub answer: AnswerInput,
}

/// Checks rich text: 1 to [`MAX_RICH_TEXT`] characters, not only white space (`schema::rich_text`).
pub fn check_rich_text(field: &str, html: &str) -> Result<String> {
    if html.trim().is_empty() {
        return Err(ExamError::field(field, "must not be empty"));
    }
    if html.chars().count() > MAX_RICH_TEXT {
        return Err(ExamError::field(
            field,
            format!("at most {MAX_RICH_TEXT} characters"),
        ));
    }
    Ok(sanitize::rich_text(html))
}

/// A short random option id (6 lowercase letters and digits).
fn option_id(taken: &BTreeSet<String>) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    loop {
        let id: String = (0..6)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        if !taken.contains(&id) {
            return id;
        }
    }
}

fn choices(given: &[String], right: &[usize], single: bool) -> Result<(Vec<Choice>, Vec<String>)> {
    let n = given.len();
    if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&n) {
        return Err(ExamError::field(
            "answer.options",
            format!("{MIN_OPTIONS} to {MAX_OPTIONS} options"),
        ));
    }
    let mut taken = BTreeSet::new();
    let mut options = Vec::with_capacity(n);
    for (i, text) in given.iter().enumerate() {
        let text = text::trimmed(&format!("answer.options[{i}]"), text, MAX_OPTION)?;
        let id = option_id(&taken);
        taken.insert(id.clone());
        options.push(Choice { id, text });
    }
    if right.len() > MAX_OPTIONS {
        return Err(ExamError::field(
            "answer.correct",
            format!("at most {MAX_OPTIONS} positions"),
        ));
    }
    let positions: BTreeSet<usize> = right.iter().copied().collect();
    if positions.iter().any(|p| *p >= n) {
        return Err(ExamError::field(
            "answer.correct",
            "a position past the last option",
        ));
    }
    match (single, positions.len()) {
        (_, 0) => {
            return Err(ExamError::field(
                "answer.correct",
                "at least one option must be right",
            ));
        }
        (true, k) if k > 1 => {
            return Err(ExamError::field(
                "answer.correct",
                "a single-choice question has one right option",
            ));
        }
        _ => {}
    }
    let correct = positions
        .into_iter()
        .map(|p| options[p].id.clone())
        .collect();
    Ok((options, correct))
}

/// Normalizes a short-text answer for comparison: trimmed, inner white space as one space, lowercased unless
/// case matters. Scoring compares learners' answers the same way.
pub fn normalize_text(s: &str, case_sensitive: bool) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if case_sensitive {
        joined
    } else {
        joined.to_lowercase()
    }
}

impl AnswerInput {
    /// The stored key, with option ids assigned.
    pub fn into_key(self) -> Result<AnswerKey> {
        Ok(match self {
            AnswerInput::SingleChoice { options, correct } => {
                let (options, mut correct) = choices(&options, &correct, true)?;
                AnswerKey::SingleChoice {
                    options,
                    correct: correct.remove(0),
                }
            }
            AnswerInput::MultipleChoice { options, correct } => {
                let (options, correct) = choices(&options, &correct, false)?;
                AnswerKey::MultipleChoice { options, correct }
            }
            AnswerInput::TrueFalse { correct } => AnswerKey::TrueFalse { correct },
            AnswerInput::Numeric { value, tolerance } => {
                if !value.is_finite() {
                    return Err(ExamError::field("answer.value", "must be a finite number"));
                }
                if !(tolerance.is_finite() && tolerance >= 0.0) {
                    return Err(ExamError::field("answer.tolerance", "must be 0 or more"));
                }
                AnswerKey::Numeric { value, tolerance }
            }
            AnswerInput::ShortText {
                accepted: given,
                case_sensitive,
            } => {
                if !(1..=MAX_ACCEPTED).contains(&given.len()) {
                    return Err(ExamError::field(
                        "answer.accepted",
                        format!("1 to {MAX_ACCEPTED} answers"),
                    ));
                }
                let mut accepted = Vec::new();
                for (i, a) in given.iter().enumerate() {
                    let a = text::trimmed(&format!("answer.accepted[{i}]"), a, MAX_ACCEPTED_TEXT)?;
                    let a = normalize_text(&a, true);
                    if !accepted.contains(&a) {
                        accepted.push(a);
                    }
                }
                AnswerKey::ShortText {
                    accepted,
                    case_sensitive,
                }
            }
            AnswerInput::Essay { rubric, max_words } => {
                let rubric = text::trimmed_opt("answer.rubric", rubric.as_deref(), MAX_RUBRIC)?;
                if max_words.is_some_and(|w| !(1..=MAX_WORDS).contains(&w)) {
                    return Err(ExamError::field(
                        "answer.max_words",
                        format!("1 to {MAX_WORDS}"),
                    ));
                }
                AnswerKey::Essay { rubric, max_words }
            }
        })
    }
}

/// Checks tags: at most [`MAX_TAGS`] slugs (duplicates count once), kept in the order given.
pub fn check_tags(tags: &[String]) -> Result<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(ExamError::field("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let tag = text::slug(&format!("tags[{i}]"), tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}
