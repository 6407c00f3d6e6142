//! Question statistics, item analysis and calibration, fed by completed exams (the `exams.exam-completed` job).
//!
//! - `question_stats` (`QSTATS#<question_id>` / `STATS`; gsi1 `QMISSC#<course_id>` and gsi2 `QMISST#<topic_id>`,
//!   both `/ <success per 10,000>#<question_id>`, so a query reads a course's or topic's most-missed questions
//!   first): attempts, right (mark 1) and wrong (less than 1), the sums behind the mean mark and time, the sums
//!   behind the discrimination index, and the question's Elo difficulty.
//! - `ability` (`ABILITY#<user_id>` / `<topic_id>`): a learner's Elo ability in a topic.
//! - `stats_applied` (`QSTATDONE#<exam_id>` / `<position>`): an answer already taken in, and what the figures hold
//!   of it (its mark, the rest of the exam's mark, the exam's revision they come from, the `K` of its estimates'
//!   update), written in the same transaction as the figures it moved, so a redelivered job moves nothing twice.
//!
//! **A grade changed after the exam was complete** feeds the figures again. The grading transaction writes the
//! same job again (keyed by the exam's new revision, so it is not taken for a copy of the first); the job brings
//! every answer of the exam in line with the exam as it now stands. The changed essay's own mark moves its
//! question's right/wrong and mark sums, and the exam's score moves the rest-of-exam fraction of *every* answer,
//! so each answer's contribution is taken out of the sums and put back as it is now: the figures stay what a
//! recomputation over the current marks gives. The estimates are corrected as [`calibration`] explains (the
//! answer's own step, with the `K` it had). A marker only ever moves to a later revision of its exam, so a job
//! that read the exam before a later grade, and runs last, changes nothing; a grade given again with the same
//! mark sends no job at all.
//!
//! Definitions (Moodle's quiz statistics): the **facility index** is the mean mark over the maximum (1); the
//! **discrimination index** is the correlation between the question's mark `x` and the rest of the exam's mark `y`
//! (the exam's other questions, as a fraction of their maximum) over the completed exams holding the question —
//! undefined (null) below two such exams or when either varies not at all. Only answered questions count: a
//! question left blank is neither an attempt nor evidence for the estimates.

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, TableError,
    TxOp,
};
use serde::{Deserialize, Serialize};

use crate::Exams;
use crate::errors::{ExamError, Result};
use crate::exams::calibration;
use crate::exams::store::{AnswerRecord, Exam, ExamStatus};

/// A question's running statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuestionStats {
    pub question_id: String,
    pub course_id: String,
    pub topic_id: String,
    pub attempts: u64,
    pub correct: u64,
    pub incorrect: u64,
    pub mark_sum: f64,
    pub seconds_sum: i64,
    /// Item analysis: pairs (question mark, rest-of-exam fraction) over completed exams of two questions or more.
    pub pairs: u64,
    pub sum_x: f64,
    pub sum_y: f64,
    pub sum_xx: f64,
    pub sum_yy: f64,
    pub sum_xy: f64,
    /// The Elo difficulty and how many answers it has taken in.
    pub difficulty: f64,
    pub difficulty_answers: u64,
    /// Every write adds 1; writes are conditioned on the version read.
    pub version: u64,
}

/// Most missed first, per course.
pub const MISSED_BY_COURSE: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("QMISSC", &["course_id"]),
        Shape::values(&["success", "question_id"]),
    ),
);

/// Most missed first, per topic.
pub const MISSED_BY_TOPIC: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("QMISST", &["topic_id"]),
        Shape::values(&["success", "question_id"]),
    ),
);

impl QuestionStats {
    pub fn key_of(question_id: &str) -> Key {
        Self::INFO.key(&[question_id], &[])
    }

    /// The share of attempts answered right, per 10,000, zero-padded (the most-missed indexes sort by it).
    fn success_label(&self) -> String {
        let per = (self.correct * 10_000)
            .checked_div(self.attempts)
            .unwrap_or(0);
        format!("{per:05}")
    }

    pub fn success_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.correct as f64 / self.attempts as f64)
    }

    pub fn facility(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.mark_sum / self.attempts as f64)
    }

    pub fn average_seconds(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.seconds_sum as f64 / self.attempts as f64)
    }

    /// Pearson's correlation of the pairs, when defined.
    pub fn discrimination(&self) -> Option<f64> {
        let n = self.pairs as f64;
        if self.pairs < 2 {
            return None;
        }
        let vx = n * self.sum_xx - self.sum_x * self.sum_x;
        let vy = n * self.sum_yy - self.sum_y * self.sum_y;
        if vx <= 1e-12 || vy <= 1e-12 {
            return None;
        }
        Some((n * self.sum_xy - self.sum_x * self.sum_y) / (vx * vy).sqrt())
    }
}

impl Entity for QuestionStats {
    const INFO: EntityInfo = EntityInfo::new(
        "question_stats",
        KeyLayout::new(
            Shape::new("QSTATS", &["question_id"]),
            Shape::fixed("STATS"),
        ),
    )
    .indexed(&[MISSED_BY_COURSE, MISSED_BY_TOPIC]);

    fn key(&self) -> Key {
        Self::key_of(&self.question_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        let success = self.success_label();
        vec![
            MISSED_BY_COURSE.key(&[&self.course_id], &[&success, &self.question_id]),
            MISSED_BY_TOPIC.key(&[&self.topic_id], &[&success, &self.question_id]),
        ]
    }
}

/// A learner's ability in one topic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ability {
    pub user_id: String,
    pub topic_id: String,
    pub course_id: String,
    /// The Elo ability θ: 0 is even odds on a question of difficulty 0.
    pub theta: f64,
    /// Answers taken in.
    pub answers: u64,
    #[schema(ignore)]
    pub version: u64,
}

impl Entity for Ability {
    const INFO: EntityInfo = EntityInfo::new(
        "ability",
        KeyLayout::new(
            Shape::new("ABILITY", &["user_id"]),
            Shape::values(&["topic_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.user_id, &self.topic_id)
    }
}

impl Ability {
    pub fn key_of(user_id: &str, topic_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[topic_id])
    }
}

/// An answer already taken in (`QSTATDONE#<exam_id>` / `<position>`), and what the figures hold of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub exam_id: String,
    pub position: String,
    pub applied_at: i64,
    /// The exam's revision the figures hold this answer from: a correction only moves to a later one, and the
    /// write of one is conditioned on it. 0 in markers written before grades could be corrected.
    #[serde(default)]
    pub revision: u64,
    /// What the figures hold of the answer; absent from markers written before grades could be corrected (those
    /// answers stay as they were taken in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<Taken>,
}

/// What the figures hold of one answer: what a correction takes out again.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Taken {
    pub mark: f64,
    /// The rest of the exam's mark, as a fraction of its maximum; `None` in an exam of one question.
    pub rest: Option<f64>,
    /// The answers the learner's ability and the question's difficulty had taken in before this one: the `K` a
    /// correction moves them by.
    pub theta_answers: u64,
    pub difficulty_answers: u64,
}

impl Entity for Applied {
    const INFO: EntityInfo = EntityInfo::new(
        "stats_applied",
        KeyLayout::new(
            Shape::new("QSTATDONE", &["exam_id"]),
            Shape::values(&["position"]),
        ),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.exam_id], &[&self.position])
    }
}

impl Applied {
    pub fn key_of(exam_id: &str, position: usize) -> Key {
        Self::INFO.key(
            &[exam_id],
            &[&crate::exams::store::position_label(position)],
        )
    }
}

/// The condition of a write over what was read: unchanged since, or still absent.
fn unchanged(version: Option<u64>) -> Condition {
    match version {
        Some(v) => Condition::equals("version", v),
        None => Condition::NotExists,
    }
}

/// How often one answer is tried again when another worker moved the same estimates meanwhile.
const ATTEMPTS: usize = 8;

/// Adds one answer's mark (and its rest-of-exam fraction, when the exam has other questions) to the sums behind
/// right and wrong, the facility and the discrimination.
fn add(s: &mut QuestionStats, mark: f64, rest: Option<f64>) {
    if mark >= 1.0 {
        s.correct += 1;
    } else {
        s.incorrect += 1;
    }
    s.mark_sum += mark;
    if let Some(y) = rest {
        s.pairs += 1;
        s.sum_x += mark;
        s.sum_y += y;
        s.sum_xx += mark * mark;
        s.sum_yy += y * y;
        s.sum_xy += mark * y;
    }
}

/// Takes out of those sums what [`add`] put in.
fn remove(s: &mut QuestionStats, mark: f64, rest: Option<f64>) {
    if mark >= 1.0 {
        s.correct = s.correct.saturating_sub(1);
    } else {
        s.incorrect = s.incorrect.saturating_sub(1);
    }
    s.mark_sum -= mark;
    if let Some(y) = rest {
        s.pairs = s.pairs.saturating_sub(1);
        s.sum_x -= mark;
        s.sum_y -= y;
        s.sum_xx -= mark * mark;
        s.sum_yy -= y * y;
        s.sum_xy -= mark * y;
    }
}

/// The statistics and estimates after taking in one answer.
pub fn take_in(
    stats: &QuestionStats,
    ability: &Ability,
    answer: &AnswerRecord,
    mark: f64,
    rest: Option<f64>,
) -> (QuestionStats, Ability) {
    let (theta, d) = calibration::update(
        ability.theta,
        ability.answers,
        stats.difficulty,
        stats.difficulty_answers,
        mark,
    );
    let mut s = stats.clone();
    s.attempts += 1;
    add(&mut s, mark, rest);
    s.seconds_sum += answer.seconds;
    s.difficulty = d;
    s.difficulty_answers += 1;
    s.version += 1;
    let a = Ability {
        theta,
        answers: ability.answers + 1,
        version: ability.version + 1,
        ..ability.clone()
    };
    (s, a)
}

/// The statistics and estimates after an answer taken in as `was` is held as `mark` and `rest` instead: the
/// answer's old contribution out of the sums and its new one in, the estimates corrected by the answer's own step
/// (see [`calibration`]). Attempts, time and the answers behind the estimates stay: it is the same answer.
pub fn correct(
    stats: &QuestionStats,
    ability: &Ability,
    was: &Taken,
    mark: f64,
    rest: Option<f64>,
) -> (QuestionStats, Ability) {
    let (theta, d) = calibration::correct(
        ability.theta,
        was.theta_answers,
        stats.difficulty,
        was.difficulty_answers,
        was.mark,
        mark,
    );
    let mut s = stats.clone();
    remove(&mut s, was.mark, was.rest);
    add(&mut s, mark, rest);
    s.difficulty = d;
    s.version += 1;
    let a = Ability {
        theta,
        version: ability.version + 1,
        ..ability.clone()
    };
    (s, a)
}

impl Exams {
    /// Brings the statistics and estimates in line with a completed exam's answers as they now stand (the
    /// `exams.exam-completed` job, sent when the exam completes and again when a grade changes after): each answer
    /// not taken in yet is taken in, and each taken in from an earlier revision of the exam is corrected. Safe to
    /// run again, and alongside another run. An exam not completed yet is left alone: its completion sends the job
    /// again. Answers how many answers this run changed the figures of.
    pub async fn apply_completed_exam(&self, exam_id: &str) -> Result<usize> {
        let exam = match self.exam(exam_id).await {
            Ok(exam) => exam,
            Err(ExamError::NotFound(_)) => return Ok(0),
            Err(e) => return Err(e),
        };
        if exam.status != ExamStatus::Completed {
            return Ok(0);
        }
        let answers = self.answers(exam_id).await?;
        let mut applied = 0;
        for answer in &answers {
            if self.apply_answer(&exam, answer).await? {
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// One answer: read the question's statistics, the learner's ability and the marker; write them conditioned
    /// on what was read. Answers whether this call changed the figures.
    async fn apply_answer(&self, exam: &Exam, answer: &AnswerRecord) -> Result<bool> {
        let Some(mark) = answer.mark else {
            return Ok(false);
        };
        let slot = &exam.questions[answer.position];
        let score = exam.outcome.as_ref().map_or(0.0, |o| o.score);
        let others = exam.questions.len().saturating_sub(1);
        let rest = (others > 0).then(|| (score - mark) / others as f64);
        let stats_key = QuestionStats::key_of(&answer.question_id);
        let ability_key = Ability::key_of(&exam.user_id, &slot.topic_id);
        let marker_key = Applied::key_of(&exam.exam_id, answer.position);
        for _ in 0..ATTEMPTS {
            let items = self
                .table()
                .batch_get(&[stats_key.clone(), ability_key.clone(), marker_key.clone()])
                .await?;
            let mut stats = None;
            let mut ability = None;
            let mut marker = None;
            for item in items {
                match item
                    .get(lectern_shared::table::ENTITY)
                    .and_then(|v| v.as_str())
                {
                    Some(name) if name == Applied::INFO.name => {
                        marker = Some(Applied::from_item(item)?)
                    }
                    Some(name) if name == QuestionStats::INFO.name => {
                        stats = Some(QuestionStats::from_item(item)?)
                    }
                    Some(name) if name == Ability::INFO.name => {
                        ability = Some(Ability::from_item(item)?)
                    }
                    _ => {}
                }
            }
            let ops = match marker {
                None => self.take_in_ops(exam, answer, mark, rest, stats, ability)?,
                // The figures hold this revision of the exam already, or a later one.
                Some(marker) if marker.revision >= exam.revision => return Ok(false),
                Some(Applied { taken: None, .. }) => {
                    tracing::info!(
                        exam_id = %exam.exam_id,
                        position = answer.position,
                        "taken in before grades could be corrected: left as it was"
                    );
                    return Ok(false);
                }
                Some(marker) => self.correction_ops(exam, marker, mark, rest, stats, ability)?,
            };
            let changes_figures = ops.len() > 1;
            match self.table().transact(ops).await {
                Ok(()) => return Ok(changes_figures),
                // The marker moved meanwhile (another run took the answer in or corrected it): read it again,
                // and the figures with it.
                Err(TableError::TransactionCancelled { .. } | TableError::Retryable(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExamError::Busy)
    }

    /// The writes that take an answer in for the first time: its marker (which must still be absent), the
    /// statistics and the ability, each conditioned on what was read.
    fn take_in_ops(
        &self,
        exam: &Exam,
        answer: &AnswerRecord,
        mark: f64,
        rest: Option<f64>,
        stats: Option<QuestionStats>,
        ability: Option<Ability>,
    ) -> Result<Vec<TxOp>> {
        let slot = &exam.questions[answer.position];
        let (stats_version, ability_version) = (
            stats.as_ref().map(|s| s.version),
            ability.as_ref().map(|a| a.version),
        );
        let stats = stats.unwrap_or_else(|| QuestionStats {
            question_id: answer.question_id.clone(),
            course_id: slot.course_id.clone(),
            topic_id: slot.topic_id.clone(),
            difficulty: calibration::prior(slot.difficulty),
            ..QuestionStats::default()
        });
        let ability = ability.unwrap_or_else(|| Ability {
            user_id: exam.user_id.clone(),
            topic_id: slot.topic_id.clone(),
            course_id: slot.course_id.clone(),
            ..Ability::default()
        });
        let taken = Taken {
            mark,
            rest,
            theta_answers: ability.answers,
            difficulty_answers: stats.difficulty_answers,
        };
        let (stats, ability) = take_in(&stats, &ability, answer, mark, rest);
        let marker = Applied {
            exam_id: exam.exam_id.clone(),
            position: crate::exams::store::position_label(answer.position),
            applied_at: self.epoch(),
            revision: exam.revision,
            taken: Some(taken),
        };
        Ok(vec![
            TxOp::Put {
                item: marker.to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: stats.to_item()?,
                condition: unchanged(stats_version),
            },
            TxOp::Put {
                item: ability.to_item()?,
                condition: unchanged(ability_version),
            },
        ])
    }

    /// The writes that bring an answer taken in from an earlier revision of its exam in line with this one: its
    /// marker (conditioned on the revision read), and — when its mark or the rest of the exam's changed — the
    /// statistics, and when its own mark changed the learner's ability, each conditioned on what was read.
    fn correction_ops(
        &self,
        exam: &Exam,
        marker: Applied,
        mark: f64,
        rest: Option<f64>,
        stats: Option<QuestionStats>,
        ability: Option<Ability>,
    ) -> Result<Vec<TxOp>> {
        let Some(was) = marker.taken else {
            return Err(ExamError::Internal(
                "a correction of an answer whose marker holds nothing".into(),
            ));
        };
        let moved = Applied {
            revision: exam.revision,
            taken: Some(Taken { mark, rest, ..was }),
            ..marker.clone()
        };
        let mut ops = vec![TxOp::Put {
            item: moved.to_item()?,
            condition: Condition::equals("revision", marker.revision),
        }];
        // Another answer of the exam regraded to what it was: nothing this answer holds has changed.
        if was.mark == mark && was.rest == rest {
            return Ok(ops);
        }
        let (Some(stats), Some(ability)) = (stats, ability) else {
            // Both were written with the marker; only an eraser removes an ability, and with it the exam.
            return Err(ExamError::Internal(format!(
                "the figures of an answer taken in are missing (exam {}, position {})",
                exam.exam_id, marker.position
            )));
        };
        let (stats_version, ability_version) = (stats.version, ability.version);
        let (stats, ability) = correct(&stats, &ability, &was, mark, rest);
        ops.push(TxOp::Put {
            item: stats.to_item()?,
            condition: Condition::equals("version", stats_version),
        });
        if was.mark != mark {
            ops.push(TxOp::Put {
                item: ability.to_item()?,
                condition: Condition::equals("version", ability_version),
            });
        }
        Ok(ops)
    }
}

/// `GET /v1/questions/{id}/stats`: what instructors read of a question's record.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QuestionStatsView {
    pub question_id: String,
    pub course_id: String,
    pub topic_id: String,
    /// Answers taken in (from completed exams).
    pub attempts: u64,
    /// Answers with the whole mark.
    pub correct: u64,
    /// Answers with less (partial credit included).
    pub incorrect: u64,
    /// `correct / attempts`; `null` before any attempt.
    pub success_rate: Option<f64>,
    /// Facility index: mean mark ÷ maximum mark.
    pub facility: Option<f64>,
    /// Discrimination index: correlation of the question's mark with the rest of the exam's (−1 to 1); `null`
    /// below two completed exams or without variation.
    pub discrimination: Option<f64>,
    pub average_seconds: Option<f64>,
    /// The Elo difficulty (logit scale; 0 is even odds for a learner of ability 0).
    pub difficulty_estimate: f64,
    /// Answers the estimate has taken in.
    pub estimate_answers: u64,
}

impl From<&QuestionStats> for QuestionStatsView {
    fn from(s: &QuestionStats) -> Self {
        Self {
            question_id: s.question_id.clone(),
            course_id: s.course_id.clone(),
            topic_id: s.topic_id.clone(),
            attempts: s.attempts,
            correct: s.correct,
            incorrect: s.incorrect,
            success_rate: s.success_rate(),
            facility: s.facility(),
            discrimination: s.discrimination(),
            average_seconds: s.average_seconds(),
            difficulty_estimate: s.difficulty,
            estimate_answers: s.difficulty_answers,
        }
    }
}

impl Exams {
    /// A question's statistics (staff): zeros and the authors' prior difficulty before any completed exam.
    pub async fn question_stats(
        &self,
        viewer: &crate::Viewer,
        question_id: &str,
    ) -> Result<QuestionStatsView> {
        viewer.require_staff()?;
        if let Some(item) = self
            .table()
            .get(&QuestionStats::key_of(question_id))
            .await?
        {
            return Ok(QuestionStatsView::from(&QuestionStats::from_item(item)?));
        }
        let question = self.question(question_id).await?;
        let empty = QuestionStats {
            question_id: question.question_id,
            course_id: question.content.course_id,
            topic_id: question.content.topic_id,
            difficulty: calibration::prior(question.content.difficulty),
            ..QuestionStats::default()
        };
        Ok(QuestionStatsView::from(&empty))
    }

    /// The questions of a course or topic by success rate, lowest first (staff); only questions with attempts.
    pub async fn most_missed(
        &self,
        viewer: &crate::Viewer,
        scope: &crate::questions::selection::Scope,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<QuestionStatsView>, Option<String>)> {
        use crate::questions::selection::Scope;
        viewer.require_staff()?;
        let query = match scope {
            Scope::Course(id) => MISSED_BY_COURSE.query(&[id]),
            Scope::Topic(id) => MISSED_BY_TOPIC.query(&[id]),
        };
        let page = self.table().query(query.limit(limit).after(cursor)).await?;
        let rows = page
            .items
            .into_iter()
            .map(|item| QuestionStats::from_item(item).map(|s| QuestionStatsView::from(&s)))
            .collect::<std::result::Result<_, _>>()?;
        Ok((rows, page.cursor))
    }

    /// The caller's abilities, by topic.
    pub async fn abilities(
        &self,
        viewer: &crate::Viewer,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<Ability>, Option<String>)> {
        let page = self
            .table()
            .query(
                Ability::INFO
                    .query(&[&viewer.user_id])
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        let rows = page
            .items
            .into_iter()
            .map(Ability::from_item)
            .collect::<std::result::Result<_, _>>()?;
        Ok((rows, page.cursor))
    }
}
