//! The stored items of the question bank (see the key design in the crate docs).

use lectern_shared::table::{Entity, EntityInfo, Key, KeyLayout, Shape};
use serde::{Deserialize, Serialize};

use crate::questions::model::{Content, Difficulty, QuestionType, Status};

const QUESTION: Shape = Shape::new("QUESTION", &["question_id"]);

/// A question's current version and review state (`QUESTION#<id>` / `HEAD`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Question {
    pub question_id: String,
    /// The current version (1 for a new question; every save adds 1).
    pub version: u64,
    pub status: Status,
    pub author_id: String,
    #[serde(flatten)]
    pub content: Content,
    pub created_at: i64,
    pub updated_at: i64,
    /// Who approved or rejected the current version, and when.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    /// Why the current version was rejected.
    pub rejection_reason: Option<String>,
}

impl Entity for Question {
    const INFO: EntityInfo =
        EntityInfo::new("question", KeyLayout::new(QUESTION, Shape::fixed("HEAD")));

    fn key(&self) -> Key {
        Self::key_of(&self.question_id)
    }
}

impl Question {
    pub fn key_of(question_id: &str) -> Key {
        Self::INFO.key(&[question_id], &[])
    }
}

/// Versions are zero-padded so they sort as numbers.
pub fn version_label(version: u64) -> String {
    format!("{version:08}")
}

/// One saved version of a question, never changed once written (`QUESTION#<id>` / `VERSION#<nnnnnnnn>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuestionVersion {
    pub question_id: String,
    pub version: u64,
    #[serde(flatten)]
    pub content: Content,
    pub edited_by: String,
    pub edited_at: i64,
}

impl Entity for QuestionVersion {
    const INFO: EntityInfo = EntityInfo::new(
        "question_version",
        KeyLayout::new(QUESTION, Shape::new("VERSION", &["label"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.question_id, self.version)
    }
}

impl QuestionVersion {
    pub fn key_of(question_id: &str, version: u64) -> Key {
        Self::INFO.key(&[question_id], &[&version_label(version)])
    }
}

/// A comment in a question's review discussion (`QUESTION#<id>` / `COMMENT#<comment_id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = QuestionComment)]
pub struct Comment {
    pub question_id: String,
    pub comment_id: String,
    pub author_id: String,
    /// Plain text.
    pub body: String,
    /// The question's version when the comment was written.
    pub version: u64,
    pub created_at: i64,
}

impl Entity for Comment {
    const INFO: EntityInfo = EntityInfo::new(
        "question_comment",
        KeyLayout::new(QUESTION, Shape::new("COMMENT", &["comment_id"])),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.question_id], &[&self.comment_id])
    }
}

/// The facets a question is listed under (one listing partition per facet value).
pub const FACETS: [&str; 6] = ["topic", "course", "level", "subject", "tag", "all"];

/// The value of the `all` facet.
pub const ALL: &str = "all";

/// A question's summary in one listing partition (`QLIST#<status>#<facet>#<value>` /
/// `<difficulty>#<type>#<question_id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = QuestionSummary)]
pub struct Listing {
    /// Which facet and value this copy is listed under (part of the key only).
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub facet: String,
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub value: String,
    pub question_id: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    pub difficulty: Difficulty,
    pub status: Status,
    pub topic_id: String,
    pub course_id: String,
    pub level: u16,
    pub subject: Option<String>,
    pub tags: Vec<String>,
    pub author_id: String,
    /// The stem as plain text, shortened.
    pub preview: String,
    pub updated_at: i64,
}

/// The sort key shape of listings: difficulty, then type, then id.
pub const LISTING_SORT: Shape = Shape::values(&["difficulty", "type", "question_id"]);

impl Entity for Listing {
    const INFO: EntityInfo = EntityInfo::new(
        "question_listing",
        KeyLayout::new(
            Shape::new("QLIST", &["status", "facet", "value"]),
            LISTING_SORT,
        ),
    );

    fn key(&self) -> Key {
        Self::INFO.key(
            &[self.status.as_str(), &self.facet, &self.value],
            &[
                self.difficulty.as_str(),
                self.kind.as_str(),
                &self.question_id,
            ],
        )
    }
}

impl Listing {
    /// The listing copies of a question: one per facet value it has.
    pub fn of(question: &Question) -> Vec<Listing> {
        let c = &question.content;
        let summary = |facet: &str, value: &str| Listing {
            facet: facet.to_string(),
            value: value.to_string(),
            question_id: question.question_id.clone(),
            version: question.version,
            kind: c.answer.kind(),
            difficulty: c.difficulty,
            status: question.status,
            topic_id: c.topic_id.clone(),
            course_id: c.course_id.clone(),
            level: c.level,
            subject: c.subject.clone(),
            tags: c.tags.clone(),
            author_id: question.author_id.clone(),
            preview: crate::questions::sanitize::preview(&c.stem, 160),
            updated_at: question.updated_at,
        };
        let mut all = vec![
            summary("topic", &c.topic_id),
            summary("course", &c.course_id),
            summary("level", &c.level.to_string()),
            summary("all", ALL),
        ];
        if let Some(subject) = &c.subject {
            all.push(summary("subject", subject));
        }
        all.extend(c.tags.iter().map(|t| summary("tag", t)));
        all
    }
}
