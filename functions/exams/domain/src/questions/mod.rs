//! The question bank: questions of every type, their versions, review and comments.
//!
//! Lifecycle: a new question is a `draft`; its author submits it (`pending`); a moderator approves it
//! (`approved`, the only status learners ever see) or rejects it with a reason (`rejected`, which the author may
//! edit and submit again). Saving a new version puts any question back to `draft`: what learners see has always
//! been reviewed. Every save writes a new immutable version; exams keep pointing at the version they served.
//!
//! Authors (`content:write`) create questions and edit and submit their own; moderators
//! (`content:moderate`) review anyone's and may edit them when they can also author.

pub mod listing;
pub mod model;
pub mod moderation;
pub mod pool;
pub mod random;
pub mod sanitize;
pub mod selection;
pub mod store;

use lectern_shared::table::{Condition, Entity, TableError, TxOp};
use serde::{Deserialize, Serialize};

use crate::disclosure::{self, LearnerQuestion, Stage};
use crate::errors::{ExamError, Result};
use crate::hierarchy::{Node, NodeKind};
use crate::questions::model::{Content, QuestionInput, Status, check_rich_text, check_tags};
use crate::questions::pool::PoolEntry;
use crate::questions::store::{Comment, Listing, Question, QuestionVersion};
use crate::{Exams, Viewer, text};

/// Longest comment.
pub const MAX_COMMENT: usize = 2000;

/// A new comment.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    #[schema(schema_with = crate::schema::comment_body)]
    pub body: String,
}

/// A new version of a question: the version it replaces and the whole new content.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionEdit {
    /// The version you read (409 `stale-version` when it changed since).
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "crate::schema::whole_u64")]
    pub version: u64,
    pub question: QuestionInput,
}

/// What a caller gets for `GET /v1/questions/{id}`: everything for staff, the learner's view otherwise.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum QuestionAnswer {
    Staff(Box<Question>),
    Learner(Box<LearnerQuestion>),
}

impl Exams {
    /// The current head of a question, as stored.
    pub async fn question(&self, question_id: &str) -> Result<Question> {
        let item = self
            .table()
            .get(&Question::key_of(question_id))
            .await?
            .ok_or(ExamError::NotFound("question"))?;
        Ok(Question::from_item(item)?)
    }

    /// A question as the caller may see it: staff everything, learners an approved question without its
    /// answers (404 for anything else, so unreviewed questions cannot be probed).
    pub async fn question_for(&self, viewer: &Viewer, question_id: &str) -> Result<QuestionAnswer> {
        let question = self.question(question_id).await?;
        if viewer.staff() {
            return Ok(QuestionAnswer::Staff(Box::new(question)));
        }
        if question.status != Status::Approved {
            return Err(ExamError::NotFound("question"));
        }
        Ok(QuestionAnswer::Learner(Box::new(disclosure::learner_view(
            &question.question_id,
            question.version,
            &question.content,
            None,
            viewer.tier,
            Stage::Unanswered,
        ))))
    }

    /// Validates an author's input into stored content (reads the topic for its course and level).
    async fn content(&self, input: QuestionInput) -> Result<Content> {
        let stem = check_rich_text("stem", &input.stem)?;
        let explanation = input
            .explanation
            .as_deref()
            .map(|e| check_rich_text("explanation", e))
            .transpose()?;
        let subject = input
            .subject
            .as_deref()
            .map(|s| text::slug("subject", s))
            .transpose()?;
        let tags = check_tags(&input.tags)?;
        let answer = input.answer.into_key()?;
        let topic = match self.node(input.topic_id.as_str()).await {
            Err(ExamError::NotFound(_)) => {
                return Err(ExamError::field("topic_id", "no such topic"));
            }
            other => other?,
        };
        if topic.kind != NodeKind::Topic {
            return Err(ExamError::field(
                "topic_id",
                format!("a {}, not a topic", topic.kind.as_str()),
            ));
        }
        let course_id = topic
            .parent_id
            .clone()
            .ok_or_else(|| ExamError::Internal("topic without a course".into()))?;
        let course = self.node(&course_id).await?;
        Ok(Content {
            topic_id: topic.node_id,
            course_id,
            level: course.level.unwrap_or_default(),
            stem,
            explanation,
            difficulty: input.difficulty,
            subject,
            tags,
            answer,
        })
    }

    /// Creates a question (a draft, version 1) under its topic.
    pub async fn create_question(&self, viewer: &Viewer, input: QuestionInput) -> Result<Question> {
        viewer.require_author()?;
        let content = self.content(input).await?;
        let now = self.epoch();
        let question = Question {
            question_id: lectern_shared::ids::new_id(),
            version: 1,
            status: Status::Draft,
            author_id: viewer.user_id.clone(),
            content,
            created_at: now,
            updated_at: now,
            reviewed_by: None,
            reviewed_at: None,
            rejection_reason: None,
        };
        let version = version_of(&question, &viewer.user_id, now);
        let mut ops = vec![
            TxOp::Put {
                item: question.to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: version.to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Update {
                key: Node::key_of(&question.content.topic_id),
                update: Node::INFO.update().add("children", 1),
                condition: Condition::Exists,
            },
        ];
        for listing in Listing::of(&question) {
            ops.push(TxOp::Put {
                item: listing.to_item()?,
                condition: Condition::Always,
            });
        }
        match self.table().transact(ops).await {
            Ok(()) => Ok(question),
            Err(TableError::TransactionCancelled { index: Some(2), .. }) => {
                Err(ExamError::field("topic_id", "no such topic"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Saves a new version of a question; it goes back to `draft`.
    pub async fn edit_question(
        &self,
        viewer: &Viewer,
        question_id: &str,
        edit: QuestionEdit,
    ) -> Result<Question> {
        viewer.require_author()?;
        let old = self.question(question_id).await?;
        may_change(viewer, &old)?;
        if old.version != edit.version {
            return Err(ExamError::StaleVersion {
                current: old.version,
            });
        }
        let content = self
            .content(edit.question)
            .await
            .map_err(|e| e.within("question"))?;
        let now = self.epoch();
        let new = Question {
            version: old.version + 1,
            status: Status::Draft,
            content,
            updated_at: now,
            reviewed_by: None,
            reviewed_at: None,
            rejection_reason: None,
            ..old.clone()
        };
        let mut ops = vec![TxOp::Put {
            item: version_of(&new, &viewer.user_id, now).to_item()?,
            condition: Condition::NotExists,
        }];
        if new.content.topic_id != old.content.topic_id {
            ops.push(TxOp::Update {
                key: Node::key_of(&new.content.topic_id),
                update: Node::INFO.update().add("children", 1),
                condition: Condition::Exists,
            });
            ops.push(TxOp::Update {
                key: Node::key_of(&old.content.topic_id),
                update: Node::INFO.update().add("children", -1),
                condition: Condition::Always,
            });
        }
        self.replace(&old, &new, ops).await?;
        Ok(new)
    }

    /// Writes `new` over `old` (which must still be the stored head, same version and status) with its listings,
    /// plus `extra` operations, in one transaction. A lost race answers 409 `stale-version`.
    pub(crate) async fn replace(
        &self,
        old: &Question,
        new: &Question,
        extra: Vec<TxOp>,
    ) -> Result<()> {
        let mut ops = vec![TxOp::Put {
            item: new.to_item()?,
            condition: Condition::All(vec![
                Condition::equals("version", old.version),
                Condition::equals("status", old.status.as_str()),
            ]),
        }];
        let fresh: Vec<_> = Listing::of(new).into_iter().map(|l| l.key()).collect();
        for listing in Listing::of(old) {
            if !fresh.contains(&listing.key()) {
                ops.push(TxOp::Delete {
                    key: listing.key(),
                    condition: Condition::Always,
                });
            }
        }
        for listing in Listing::of(new) {
            ops.push(TxOp::Put {
                item: listing.to_item()?,
                condition: Condition::Always,
            });
        }
        // The random-selection pools and their sizes follow the approved status, in the same transaction.
        let (was, is) = (PoolEntry::of(old), PoolEntry::of(new));
        for entry in was.iter().filter(|e| !is.contains(e)) {
            ops.push(TxOp::Delete {
                key: entry.key(),
                condition: Condition::Always,
            });
            ops.push(TxOp::Update {
                key: pool::size_key(&entry.facet, &entry.value, entry.difficulty),
                update: pool::size_change(-1),
                condition: Condition::Always,
            });
        }
        for entry in is.iter().filter(|e| !was.contains(e)) {
            ops.push(TxOp::Put {
                item: entry.to_item()?,
                condition: Condition::Always,
            });
            ops.push(TxOp::Update {
                key: pool::size_key(&entry.facet, &entry.value, entry.difficulty),
                update: pool::size_change(1),
                condition: Condition::Always,
            });
        }
        ops.extend(extra);
        match self.table().transact(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                let current = self.question(&old.question_id).await?;
                Err(ExamError::StaleVersion {
                    current: current.version,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a draft or rejected question to review.
    pub async fn submit_question(&self, viewer: &Viewer, question_id: &str) -> Result<Question> {
        viewer.require_author()?;
        let old = self.question(question_id).await?;
        may_change(viewer, &old)?;
        if !matches!(old.status, Status::Draft | Status::Rejected) {
            return Err(ExamError::InvalidState(format!(
                "a {} question cannot be submitted",
                old.status.as_str()
            )));
        }
        let new = Question {
            status: Status::Pending,
            updated_at: self.epoch(),
            ..old.clone()
        };
        self.replace(&old, &new, Vec::new()).await?;
        Ok(new)
    }

    /// One page of a question's versions, newest first (staff only).
    pub async fn history(
        &self,
        viewer: &Viewer,
        question_id: &str,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<QuestionVersion>, Option<String>)> {
        viewer.require_staff()?;
        let query = QuestionVersion::INFO
            .query(&[question_id])
            .backwards()
            .limit(limit)
            .after(cursor);
        let page = self.table().query(query).await?;
        if page.items.is_empty()
            && self
                .table()
                .get(&Question::key_of(question_id))
                .await?
                .is_none()
        {
            return Err(ExamError::NotFound("question"));
        }
        let versions = page
            .items
            .into_iter()
            .map(QuestionVersion::from_item)
            .collect::<std::result::Result<_, _>>()?;
        Ok((versions, page.cursor))
    }

    /// One version of a question as stored (exams read the version they served).
    pub async fn question_version(
        &self,
        question_id: &str,
        version: u64,
    ) -> Result<QuestionVersion> {
        let item = self
            .table()
            .get(&QuestionVersion::key_of(question_id, version))
            .await?
            .ok_or(ExamError::NotFound("question version"))?;
        Ok(QuestionVersion::from_item(item)?)
    }

    /// Adds a comment to a question's review discussion (staff only).
    pub async fn add_comment(
        &self,
        viewer: &Viewer,
        question_id: &str,
        input: NewComment,
    ) -> Result<Comment> {
        viewer.require_staff()?;
        let body = text::trimmed("body", &input.body, MAX_COMMENT)?;
        let question = self.question(question_id).await?;
        let comment = Comment {
            question_id: question.question_id,
            comment_id: lectern_shared::ids::new_id(),
            author_id: viewer.user_id.clone(),
            body,
            version: question.version,
            created_at: self.epoch(),
        };
        self.table()
            .put(comment.to_item()?, Condition::NotExists)
            .await?;
        Ok(comment)
    }

    /// One page of a question's comments, oldest first (staff only).
    pub async fn comments(
        &self,
        viewer: &Viewer,
        question_id: &str,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<Comment>, Option<String>)> {
        viewer.require_staff()?;
        let page = self
            .table()
            .query(
                Comment::INFO
                    .query(&[question_id])
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        if page.items.is_empty()
            && self
                .table()
                .get(&Question::key_of(question_id))
                .await?
                .is_none()
        {
            return Err(ExamError::NotFound("question"));
        }
        let comments = page
            .items
            .into_iter()
            .map(Comment::from_item)
            .collect::<std::result::Result<_, _>>()?;
        Ok((comments, page.cursor))
    }
}

fn version_of(question: &Question, by: &str, at: i64) -> QuestionVersion {
    QuestionVersion {
        question_id: question.question_id.clone(),
        version: question.version,
        content: question.content.clone(),
        edited_by: by.to_string(),
        edited_at: at,
    }
}

/// Authors change their own questions; moderators anyone's.
fn may_change(viewer: &Viewer, question: &Question) -> Result<()> {
    if question.author_id == viewer.user_id || viewer.moderator {
        Ok(())
    } else {
        Err(ExamError::Forbidden(
            "only its author or a moderator may change this question".into(),
        ))
    }
}
