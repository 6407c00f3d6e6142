//! The exams domain, shared by the `hierarchy` and `questions` functions: the academic hierarchy, the question
//! bank with its versions and moderation, and what learners may see of it. Written once on the ports, so it runs on
//! Lambda and in the dev server alike.
//!
//! # Key design
//!
//! One table, no scans: every read a route makes is a get, a batch get or a query of one partition.
//!
//! | Entity | Key (`pk` / `sk`) | Index | Serves |
//! | --- | --- | --- | --- |
//! | `hierarchy_node` | `NODE#<node_id>` / `NODE` | gsi1 `NODES#<parent_id>` / `<node_id>` | a node; the children of a node (institutions under `root`) |
//! | `question` | `QUESTION#<question_id>` / `HEAD` | — | the current version of a question and its review state |
//! | `question_version` | `QUESTION#<question_id>` / `VERSION#<nnnnnnnn>` | — | every version ever saved (history; exams keep pointing at the one they served) |
//! | `question_comment` | `QUESTION#<question_id>` / `COMMENT#<comment_id>` | — | the review discussion, oldest first |
//! | `question_listing` | `QLIST#<status>#<facet>#<value>` / `<difficulty>#<type>#<question_id>` | — | `GET /v1/questions` filters and the moderation queue |
//! | `question_pool_entry` | `QPOOL#<facet>#<difficulty>#<value>` / `<slot>#<question_id>` | — | random selection: an approved question in its course and topic pools, at a pseudo-random slot |
//! | `question_pool_size` | `QPOOLSIZE#<facet>#<value>` / `<difficulty>` | — | the exact size of each pool (changed in the approving transaction) |
//! | `question_seen` | `SEEN#<user_id>` / `<question_id>` | gsi1 `SEENC#<user_id>#<difficulty>#<course_id>` / `<at>#<question_id>`, gsi2 `SEENT#…#<topic_id>` | whether and when a learner last saw a question; their least recently seen first |
//! | `selection_session` | `RSESSION#<session_id>` / `RSESSION` | — | what a selection session has served |
//! | `exam` | `EXAM#<exam_id>` / `EXAM` | gsi1 `EXAMS#<user_id>` / `<started_at>#<exam_id>`; gsi2 (sparse, while a timed exam runs) `EXAMDUE` / `<deadline>#<exam_id>` | an exam with its fixed question list and result; a learner's history, newest first; overdue exams for the deadline job |
//! | `exam_answer` | `EXAM#<exam_id>` / `ANSWER#<nnn>` | — | the response to the question at position `nnn`, its mark and time |
//! | `question_stats` | `QSTATS#<question_id>` / `STATS` | gsi1 `QMISSC#<course_id>`, gsi2 `QMISST#<topic_id>`, both `/ <success per 10,000>#<question_id>` | attempts, item analysis sums, Elo difficulty; the most missed questions of a course or topic first |
//! | `ability` | `ABILITY#<user_id>` / `<topic_id>` | — | a learner's Elo ability per topic |
//! | `stats_applied` | `QSTATDONE#<exam_id>` / `<nnn>` | — | an answer already taken into the statistics, and what they hold of it (a redelivered job moves nothing twice; a changed grade is corrected) |
//! | `assignment` | `ASSIGNMENT#<assignment_id>` / `ASSIGNMENT` | — | an instructor's assignment: the settings of its attempts, attempts allowed, grading method, due date |
//! | `assignment_attempts` | `ASSIGNMENT#<assignment_id>` / `ATTEMPTS#<user_id>` | gsi1 `ASSIGNED#<user_id>` / `<assignment_id>` | a learner's attempts at it (count and exam ids; each start conditioned on the count); the eraser's list |
//! | `grading_entry` | `GRADEQ` / `<submitted_at>#<exam_id>` | — | an exam whose essays wait for grading, oldest first (the grading queue; written and removed in the exams' own transactions) |
//! | `certificate` | `CERT#<certificate_id>` / `CERT` | gsi1 `CERTS#<user_id>` / `<issued_at>#<certificate_id>` | a passed certifying exam's signed certificate (its id is the exam's); a learner's certificates for the eraser |
//!
//! **Why a question's item collection.** Head, versions and comments share `QUESTION#<id>`, so the history and the
//! comments are one query each, and an edit writes the new head and the new version in one transaction (the head
//! conditioned on the version the author read).
//!
//! **Why listings are items, not indexes.** A question is filtered by topic, course, course level, subject, tag,
//! difficulty, type and status, and only two GSIs exist. So each question writes a small summary item into one
//! partition per facet value it has (`topic`, `course`, `level`, `subject`, each `tag`, and `all`), each partition
//! holding one status; the sort key starts with difficulty then type. A list picks the most selective facet it was
//! given (topic, then course, tag, subject, level, else `all`) as its partition and the difficulty (and type) as a
//! sort-key prefix; the other filters are checked on the summaries it reads, a bounded number per request (see
//! [`questions::listing`]). Changing a question's status or facets rewrites its listings in the same transaction
//! as the head (at most 2 × 16 items, within DynamoDB's 100).
//!
//! **Why exams keep their answers beside them.** An exam and its answers share `EXAM#<id>`: one query reads every
//! answer (at most 100), and each answer is written in one transaction with an update of the exam conditioned on it
//! being in progress (see [`exams`]). The deadline index is one fixed gsi2 partition holding only running timed
//! exams (submitting rewrites the exam without it), read oldest deadline first by a job that runs every minute.
//!
//! **Why counters guard deletes.** A node counts its children (child nodes, and a topic its questions); a child is
//! added in a transaction with the count, and a delete requires the count to be 0 (see [`hierarchy`]).

pub mod assignments;
pub mod certificates;
pub mod disclosure;
pub mod erasure;
pub mod errors;
pub mod exams;
pub mod export;
pub mod hierarchy;
pub mod questions;
pub mod schema;
pub mod seed;
pub mod text;
pub mod viewer;

use std::sync::Arc;

use lectern_shared::Platform;
use lectern_shared::secrets::Purpose;
use lectern_shared::table::{Entity, EntityInfo, Table};

pub use errors::ExamError;
pub use viewer::{Tier, Viewer};

/// Every entity this domain stores. `tests/architecture/keys.rs` checks them together with every other crate's.
pub const ENTITIES: &[EntityInfo] = &[
    hierarchy::Node::INFO,
    questions::store::Question::INFO,
    questions::store::QuestionVersion::INFO,
    questions::store::Comment::INFO,
    questions::store::Listing::INFO,
    questions::pool::PoolEntry::INFO,
    questions::pool::POOL_SIZE,
    questions::pool::Seen::INFO,
    questions::pool::SelectionSession::INFO,
    exams::store::Exam::INFO,
    exams::store::AnswerRecord::INFO,
    exams::statistics::QuestionStats::INFO,
    exams::statistics::Ability::INFO,
    exams::statistics::Applied::INFO,
    certificates::Certificate::INFO,
    assignments::Assignment::INFO,
    assignments::Attempts::INFO,
    exams::queue::GradingEntry::INFO,
];

/// Everything the exams use cases need, built once per process. Cheap to clone.
#[derive(Clone)]
pub struct Exams {
    pub platform: Platform,
    /// The keys that sign certificates, when this function was given the `certificates` ring (the exams function
    /// and the jobs worker; embedded, always).
    pub certificate_keys: Option<Arc<certificates::CertificateKeys>>,
}

impl Exams {
    pub fn new(platform: Platform) -> Self {
        let certificate_keys = platform
            .keys
            .get(Purpose::Certificates)
            .map(|ring| Arc::new(certificates::CertificateKeys::from_ring(ring)));
        Self {
            platform,
            certificate_keys,
        }
    }

    fn table(&self) -> &dyn Table {
        self.platform.table.as_ref()
    }

    /// Now, in epoch seconds, from the platform's clock.
    pub fn epoch(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }
}
