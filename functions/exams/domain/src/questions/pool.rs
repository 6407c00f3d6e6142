//! The stored items random selection reads: the approved pool of each course and topic by difficulty, its exact
//! sizes, what each learner has seen, and what a selection session has served (see [`super::selection`]).

use lectern_shared::table::{
    Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, Update,
};
use serde::{Deserialize, Serialize};

use crate::questions::model::{Difficulty, Status};
use crate::questions::store::Question;

/// Where a question sits in its pools: a stable pseudo-random 64-bit position from its id (FNV-1a), as 16 hex
/// digits. Uniform over the key space, so a query from a random position reads a random sample of the pool.
pub fn slot(question_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in question_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The scopes selection draws from.
pub const POOL_FACETS: [&str; 2] = ["course", "topic"];

/// One approved question in one pool (`QPOOL#<facet>#<difficulty>#<value>` / `<slot>#<question_id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntry {
    #[serde(skip_serializing)]
    pub facet: String,
    #[serde(skip_serializing)]
    pub value: String,
    #[serde(skip_serializing)]
    pub slot: String,
    pub question_id: String,
    pub version: u64,
    pub difficulty: Difficulty,
    pub course_id: String,
    pub topic_id: String,
}

impl Entity for PoolEntry {
    const INFO: EntityInfo = EntityInfo::new(
        "question_pool_entry",
        KeyLayout::new(
            Shape::new("QPOOL", &["facet", "difficulty", "value"]),
            Shape::values(&["slot", "question_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.facet, self.difficulty, &self.value, &self.question_id)
    }
}

impl PoolEntry {
    pub fn key_of(facet: &str, difficulty: Difficulty, value: &str, question_id: &str) -> Key {
        Self::INFO.key(
            &[facet, difficulty.as_str(), value],
            &[&slot(question_id), question_id],
        )
    }

    /// The pool entries of a question: one per pool facet while it is approved, none otherwise.
    pub fn of(question: &Question) -> Vec<PoolEntry> {
        if question.status != Status::Approved {
            return Vec::new();
        }
        let c = &question.content;
        [("course", &c.course_id), ("topic", &c.topic_id)]
            .into_iter()
            .map(|(facet, value)| PoolEntry {
                facet: facet.to_string(),
                value: value.clone(),
                slot: slot(&question.question_id),
                question_id: question.question_id.clone(),
                version: question.version,
                difficulty: c.difficulty,
                course_id: c.course_id.clone(),
                topic_id: c.topic_id.clone(),
            })
            .collect()
    }
}

/// The size of one pool, kept exact by the transactions that add and remove its entries
/// (`QPOOLSIZE#<facet>#<value>` / `<difficulty>`). Written only by updates.
pub const POOL_SIZE: EntityInfo = EntityInfo::new(
    "question_pool_size",
    KeyLayout::new(
        Shape::new("QPOOLSIZE", &["facet", "value"]),
        Shape::values(&["difficulty"]),
    ),
);

/// The key of a pool's size.
pub fn size_key(facet: &str, value: &str, difficulty: Difficulty) -> Key {
    POOL_SIZE.key(&[facet, value], &[difficulty.as_str()])
}

/// The update that moves a pool's size by `by`.
pub fn size_change(by: i64) -> Update {
    POOL_SIZE.update().add("size", by)
}

/// The learner's last sight of a question (`SEEN#<user_id>` / `<question_id>`), listed least recently seen first
/// per course (gsi1) and per topic (gsi2), by difficulty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub user_id: String,
    pub question_id: String,
    pub course_id: String,
    pub topic_id: String,
    pub difficulty: Difficulty,
    pub last_seen_at: i64,
    pub times: u64,
}

/// Least recently seen first, per learner, course and difficulty.
pub const SEEN_BY_COURSE: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("SEENC", &["user_id", "difficulty", "course_id"]),
        Shape::values(&["at", "question_id"]),
    ),
);

/// Least recently seen first, per learner, topic and difficulty.
pub const SEEN_BY_TOPIC: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("SEENT", &["user_id", "difficulty", "topic_id"]),
        Shape::values(&["at", "question_id"]),
    ),
);

/// Seconds since the epoch, zero-padded so they sort as numbers.
fn at_label(at: i64) -> String {
    format!("{:012}", at.max(0))
}

impl Entity for Seen {
    const INFO: EntityInfo = EntityInfo::new(
        "question_seen",
        KeyLayout::new(
            Shape::new("SEEN", &["user_id"]),
            Shape::values(&["question_id"]),
        ),
    )
    .indexed(&[SEEN_BY_COURSE, SEEN_BY_TOPIC]);

    fn key(&self) -> Key {
        Self::key_of(&self.user_id, &self.question_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        let at = at_label(self.last_seen_at);
        let d = self.difficulty.as_str();
        vec![
            SEEN_BY_COURSE.key(
                &[&self.user_id, d, &self.course_id],
                &[&at, &self.question_id],
            ),
            SEEN_BY_TOPIC.key(
                &[&self.user_id, d, &self.topic_id],
                &[&at, &self.question_id],
            ),
        ]
    }
}

impl Seen {
    pub fn key_of(user_id: &str, question_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[question_id])
    }

    /// The record of `user_id` seeing a pool entry's question at `now`, after `times` earlier sights.
    pub fn sighting(user_id: &str, entry: &PoolEntry, times: u64, now: i64) -> Seen {
        Seen {
            user_id: user_id.to_string(),
            question_id: entry.question_id.clone(),
            course_id: entry.course_id.clone(),
            topic_id: entry.topic_id.clone(),
            difficulty: entry.difficulty,
            last_seen_at: now,
            times: times + 1,
        }
    }
}

/// Most questions one selection session serves.
pub const MAX_SERVED: usize = 500;

/// How long a selection session lasts after its last draw: a day of practice. (Its expiry also spares the
/// account eraser a search: it ends well inside the deletion grace period.)
pub const SESSION_TTL_SECS: i64 = 86_400;

/// What a selection session has served, so later draws in it never repeat (`RSESSION#<session_id>` /
/// `RSESSION`). Belongs to one learner; expires [`SESSION_TTL_SECS`] after its last draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionSession {
    pub session_id: String,
    pub user_id: String,
    pub served: Vec<String>,
    /// Every draw adds 1; a draw writes conditioned on the version it read.
    pub version: u64,
    pub updated_at: i64,
}

impl Entity for SelectionSession {
    const INFO: EntityInfo = EntityInfo::new(
        "selection_session",
        KeyLayout::new(
            Shape::new("RSESSION", &["session_id"]),
            Shape::fixed("RSESSION"),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.session_id)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.updated_at + SESSION_TTL_SECS)
    }
}

impl SelectionSession {
    pub fn key_of(session_id: &str) -> Key {
        Self::INFO.key(&[session_id], &[])
    }
}
