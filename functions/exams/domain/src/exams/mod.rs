//! Exams: a learner starts one (practice or timed; drawn from a course or topics, or an explicit list), answers its
//! questions, submits it (or its deadline does), and reads the result.
//!
//! - **Fixed at start.** The question list, each question's version and each choice question's option order are
//!   stored with the exam, so later edits, re-reviews and shuffles change nothing for it.
//! - **The server's clock decides.** A timed exam's deadline is `started_at + time_limit_seconds`. From then on no
//!   answer is accepted (409 `deadline-passed`); the exam is submitted as it stood, by the first request that finds
//!   it overdue or by the deadline job (`submit_overdue`, every minute), whichever comes first — the same write.
//! - **One consistent result.** Every answer adds 1 to the exam's `revision` in the transaction that stores it,
//!   conditioned on the exam being in progress (and, in sequential mode, on it being the next question).
//!   Submitting writes the result conditioned on the revision it read: an answer that lands in between makes it
//!   read again; an answer after it finds the exam submitted. A second submit answers the stored result.
//! - **Idempotent answers.** Sending the same response again answers what the first did. A different response to
//!   an answered question is refused in practice (the learner has seen what was right) and in sequential mode (no
//!   going back); in a free timed exam it replaces the earlier one until the exam is submitted.
//! - **What learners see** is always built by `disclosure::learner_view`: nothing right before answering; in
//!   practice, after answering, what was right (the explanation on premium accounts); everything once submitted.

pub mod calibration;
pub mod jobs;
pub mod model;
pub mod queue;
pub mod scoring;
pub mod statistics;
pub mod store;
pub mod views;

use std::collections::{BTreeMap, HashMap};

use lectern_messages::exams::ExamCompleted;
use lectern_messages::webhooks::{self, WebhookEvent};
use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::{self, OutboxEntry};
use lectern_shared::table::{Condition, Entity, SortKey, TableError, TxOp};
use rand::seq::SliceRandom;

use crate::errors::{ExamError, Result};
use crate::exams::model::{
    AnswerInput, DEFAULT_PASS_MARK, GradeInput, MAX_FEEDBACK, MAX_GRADES, MAX_QUESTIONS,
    MAX_TIME_LIMIT, MIN_TIME_LIMIT, Mode, Navigation, StartExam,
};
use crate::exams::scoring::mark;
use crate::exams::store::{
    AnswerRecord, EXAMS_BY_USER, EXAMS_DUE, Exam, ExamStatus, Outcome, Slot, SubmittedBy, at_label,
};
use crate::exams::views::{AnswerOutcome, ExamView, HistoryRow, Summary};
use crate::questions::model::{QuestionType, Status};
use crate::questions::pool::{PoolEntry, Seen};
use crate::questions::selection::{Draw, Mix, Scope};
use crate::questions::store::{Question, QuestionVersion};
use crate::{Exams, Viewer, text};

/// How often submitting re-reads after an answer landed meanwhile.
const SUBMIT_ATTEMPTS: usize = 5;

impl Exams {
    /// Starts an exam for the caller: picks its questions and fixes them, with their versions and option order. An
    /// assignment's attempt takes the assignment's settings (see [`crate::assignments`]).
    pub async fn start_exam(&self, viewer: &Viewer, input: StartExam) -> Result<ExamView> {
        match (input.mode, &input.assignment_id) {
            (Mode::Assignment, _) => self.start_attempt(viewer, input).await,
            (_, Some(_)) => Err(ExamError::field(
                "assignment_id",
                "only with mode assignment",
            )),
            _ => self.start_with(viewer, input, None).await,
        }
    }

    /// Starts an exam with these settings; for an assignment's attempt, counted against its attempts in the
    /// transaction that stores the exam.
    pub(crate) async fn start_with(
        &self,
        viewer: &Viewer,
        input: StartExam,
        assignment: Option<&crate::assignments::Assignment>,
    ) -> Result<ExamView> {
        let now = self.epoch();
        let time_limit = match (input.mode, input.time_limit_seconds) {
            (Mode::Timed, None) => {
                return Err(ExamError::field(
                    "time_limit_seconds",
                    "a timed exam needs one",
                ));
            }
            (Mode::Practice, Some(_)) => {
                return Err(ExamError::field(
                    "time_limit_seconds",
                    "practice has no time limit",
                ));
            }
            (_, Some(t)) if !(MIN_TIME_LIMIT..=MAX_TIME_LIMIT).contains(&t) => {
                return Err(ExamError::field(
                    "time_limit_seconds",
                    format!("{MIN_TIME_LIMIT} to {MAX_TIME_LIMIT} seconds"),
                ));
            }
            (_, t) => t,
        };
        // Who may certify (see `crate::certificates`): a timed exam drawn from a course.
        let certifies_course = match (input.certifying, &input.source.course) {
            (Some(true), _) if input.mode != Mode::Timed => {
                return Err(ExamError::field(
                    "certifying",
                    "only a timed exam certifies",
                ));
            }
            (Some(true), None) => {
                return Err(ExamError::field(
                    "certifying",
                    "only an exam drawn from a course certifies (source.course)",
                ));
            }
            (Some(true), Some(course)) => Some(course.to_string()),
            _ => None,
        };
        let pass_mark = input.pass_mark.unwrap_or(DEFAULT_PASS_MARK);
        if pass_mark > 100 {
            return Err(ExamError::field("pass_mark", "0 to 100"));
        }
        input.source.check(input.count, input.mix.is_some())?;
        let mix = input
            .mix
            .as_deref()
            .map(|m| Mix::parse("mix", m))
            .transpose()?;
        let (heads, drawn) = self.pick(viewer, &input, mix).await?;
        let shuffle_options = input.shuffle_options.unwrap_or(true);
        let mut questions: Vec<Slot> = heads
            .iter()
            .map(|q| {
                let mut options: Option<Vec<String>> = q
                    .content
                    .answer
                    .options()
                    .map(|o| o.iter().map(|c| c.id.clone()).collect());
                if let (true, Some(options)) = (shuffle_options, options.as_mut()) {
                    options.shuffle(&mut rand::rng());
                }
                Slot {
                    question_id: q.question_id.clone(),
                    version: q.version,
                    kind: q.content.answer.kind(),
                    difficulty: q.content.difficulty,
                    topic_id: q.content.topic_id.clone(),
                    course_id: q.content.course_id.clone(),
                    options,
                }
            })
            .collect();
        if input.shuffle_questions.unwrap_or(true) {
            questions.shuffle(&mut rand::rng());
        }
        let exam = Exam {
            exam_id: lectern_shared::ids::new_id(),
            user_id: viewer.user_id.clone(),
            mode: input.mode,
            navigation: input.navigation,
            pass_mark,
            time_limit_seconds: time_limit,
            started_at: now,
            deadline: time_limit.map(|t| now + i64::from(t)),
            questions,
            status: ExamStatus::InProgress,
            answered: 0,
            last_answer_at: now,
            revision: 0,
            outcome: None,
            certifies_course,
            assignment_id: None,
            attempt: None,
        };
        let exam = match assignment {
            None => {
                self.table()
                    .put(exam.to_item()?, Condition::NotExists)
                    .await?;
                exam
            }
            Some(assignment) => self.store_attempt(viewer, assignment, exam).await?,
        };
        // What the learner has now seen, so later draws prefer other questions. After the exam is stored and in
        // chunks (an exam may hold more questions than a transaction): a lost sighting only weakens a preference.
        let sightings: Vec<TxOp> = drawn
            .iter()
            .map(|(entry, times)| {
                Ok(TxOp::Put {
                    item: Seen::sighting(&viewer.user_id, entry, *times, now).to_item()?,
                    condition: Condition::Always,
                })
            })
            .collect::<Result<_>>()?;
        for chunk in sightings.chunks(lectern_shared::table::MAX_TRANSACTION_OPS) {
            self.table().transact(chunk.to_vec()).await?;
        }
        let versions = self.versions_of(&exam).await?;
        Ok(views::exam_view(&exam, &[], &versions, viewer.tier, now))
    }

    /// The approved heads an exam will hold, and the pool entries drawn (with earlier sightings) when drawn.
    async fn pick(
        &self,
        viewer: &Viewer,
        input: &StartExam,
        mix: Option<Mix>,
    ) -> Result<(Vec<Question>, Vec<(PoolEntry, u64)>)> {
        // The source's shape was checked when the exam was started (`Source::check`).
        let source = &input.source;
        if let Some(ids) = &source.questions {
            let keys: Vec<_> = ids.iter().map(|id| Question::key_of(id.as_str())).collect();
            let found = self.heads(&keys).await?;
            let mut heads = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                match found.get(id.as_str()) {
                    Some(q) if q.status == Status::Approved => heads.push(q.clone()),
                    _ => {
                        return Err(ExamError::field(
                            &format!("source.questions[{i}]"),
                            "no such approved question",
                        ));
                    }
                }
            }
            return Ok((heads, Vec::new()));
        }
        let count = input
            .count
            .ok_or_else(|| ExamError::field("count", "how many questions to draw"))?
            as usize;
        let scopes: Vec<Scope> = match (&source.course, &source.topics) {
            (Some(course), _) => vec![Scope::Course(course.to_string())],
            (_, Some(topics)) => topics.iter().map(|t| Scope::Topic(t.to_string())).collect(),
            _ => {
                return Err(ExamError::field(
                    "source",
                    "exactly one of course, topics and questions",
                ));
            }
        };
        // Several topics share the count in proportion to their pools (largest remainder), each drawn with the
        // mix; one scope draws it all (and its draw reads the pool sizes itself).
        let shares = if scopes.len() == 1 {
            vec![count]
        } else {
            let mut sizes = Vec::with_capacity(scopes.len());
            for scope in &scopes {
                sizes.push(self.pool_sizes(scope).await?.values().sum::<u64>());
            }
            let available: u64 = sizes.iter().sum();
            if (available as usize) < count {
                return Err(ExamError::NotEnough {
                    asked: count,
                    available: available as usize,
                });
            }
            share(count, &sizes)
        };
        let mut drawn: Vec<(PoolEntry, u64)> = Vec::new();
        for (scope, n) in scopes.into_iter().zip(shares) {
            if n == 0 {
                continue;
            }
            let draw = Draw {
                scope,
                count: n,
                mix: mix.clone(),
                exclude: Default::default(),
            };
            drawn.extend(self.draw(&viewer.user_id, &draw).await?.picked);
        }
        let keys: Vec<_> = drawn
            .iter()
            .map(|(e, _)| Question::key_of(&e.question_id))
            .collect();
        let found = self.heads(&keys).await?;
        let mut heads = Vec::new();
        let mut kept = Vec::new();
        for pick in drawn {
            if let Some(q) = found
                .get(&pick.0.question_id)
                .filter(|q| q.status == Status::Approved)
            {
                heads.push(q.clone());
                kept.push(pick);
            }
        }
        if heads.len() < count {
            // The mix leaves out some difficulties, or questions left the pool as the draw read it.
            return Err(ExamError::NotEnough {
                asked: count,
                available: heads.len(),
            });
        }
        Ok((heads, kept))
    }

    /// Question heads by id.
    async fn heads(
        &self,
        keys: &[lectern_shared::table::Key],
    ) -> Result<HashMap<String, Question>> {
        let items = self.table().batch_get(keys).await?;
        items
            .into_iter()
            .map(|item| {
                Question::from_item(item)
                    .map(|q| (q.question_id.clone(), q))
                    .map_err(Into::into)
            })
            .collect()
    }

    /// The versions an exam serves, by question id.
    async fn versions_of(&self, exam: &Exam) -> Result<HashMap<String, QuestionVersion>> {
        let keys: Vec<_> = exam
            .questions
            .iter()
            .map(|s| QuestionVersion::key_of(&s.question_id, s.version))
            .collect();
        let items = self.table().batch_get(&keys).await?;
        items
            .into_iter()
            .map(|item| {
                QuestionVersion::from_item(item)
                    .map(|v| (v.question_id.clone(), v))
                    .map_err(Into::into)
            })
            .collect()
    }

    /// An exam of the caller (404 for anyone else's: it is nobody's as far as they can tell).
    async fn own_exam(&self, viewer: &Viewer, exam_id: &str) -> Result<Exam> {
        let exam = self.exam(exam_id).await?;
        if exam.user_id != viewer.user_id {
            return Err(ExamError::NotFound("exam"));
        }
        Ok(exam)
    }

    pub(crate) async fn exam(&self, exam_id: &str) -> Result<Exam> {
        let item = self
            .table()
            .get(&Exam::key_of(exam_id))
            .await?
            .ok_or(ExamError::NotFound("exam"))?;
        Ok(Exam::from_item(item)?)
    }

    /// An exam's answers, in exam order (one query: an exam holds at most 100).
    pub(crate) async fn answers(&self, exam_id: &str) -> Result<Vec<AnswerRecord>> {
        let page = self
            .table()
            .query(AnswerRecord::INFO.query(&[exam_id]).limit(MAX_QUESTIONS))
            .await?;
        page.items
            .into_iter()
            .map(|i| AnswerRecord::from_item(i).map_err(Into::into))
            .collect()
    }

    /// The exam as its learner sees it now (submitted first if its deadline has passed).
    pub async fn exam_view(&self, viewer: &Viewer, exam_id: &str) -> Result<ExamView> {
        let now = self.epoch();
        let mut exam = self.own_exam(viewer, exam_id).await?;
        let mut answers = self.answers(exam_id).await?;
        if exam.overdue(now) {
            (exam, answers) = self.close(exam, answers, SubmittedBy::Deadline).await?;
        }
        let versions = self.versions_of(&exam).await?;
        Ok(views::exam_view(
            &exam,
            &answers,
            &versions,
            viewer.tier,
            now,
        ))
    }

    /// Records the caller's answer to one question of their exam.
    pub async fn answer(
        &self,
        viewer: &Viewer,
        exam_id: &str,
        input: AnswerInput,
    ) -> Result<AnswerOutcome> {
        let now = self.epoch();
        let exam = self.own_exam(viewer, exam_id).await?;
        if exam.overdue(now) {
            let answers = self.answers(exam_id).await?;
            self.close(exam, answers, SubmittedBy::Deadline).await?;
            return Err(ExamError::DeadlinePassed);
        }
        if exam.status != ExamStatus::InProgress {
            return Err(ExamError::ExamClosed);
        }
        let question_id = input.question_id.to_string();
        let position = exam
            .position(&question_id)
            .ok_or_else(|| ExamError::field("question_id", "not a question of this exam"))?;
        let slot = &exam.questions[position];
        let version = self
            .question_version(&slot.question_id, slot.version)
            .await?;
        let response = input
            .response
            .checked(&version.content.answer, "response")?;
        let existing = self
            .table()
            .get(&AnswerRecord::key_of(exam_id, position))
            .await?
            .map(AnswerRecord::from_item)
            .transpose()?;
        if let Some(old) = &existing {
            if old.response == response {
                // A retry: the same answer again changes nothing.
                return Ok(views::answer_outcome(&exam, old, &version, viewer.tier));
            }
            if exam.mode == Mode::Practice || exam.navigation == Navigation::Sequential {
                return Err(ExamError::AlreadyAnswered);
            }
        } else if exam.navigation == Navigation::Sequential && position != exam.answered as usize {
            return Err(ExamError::OutOfOrder {
                next: exam.answered as usize,
                asked: position,
            });
        }
        let record = AnswerRecord {
            exam_id: exam.exam_id.clone(),
            position,
            question_id,
            mark: mark(&version.content.answer, &response),
            response,
            answered_at: now,
            seconds: (now - exam.last_answer_at.max(exam.started_at)).max(0),
            feedback: None,
            graded_by: None,
        };
        let mut update = Exam::INFO
            .update()
            .add("revision", 1)
            .set("last_answer_at", now);
        let mut in_progress = vec![Condition::equals("status", ExamStatus::InProgress.as_str())];
        let answer_condition = match &existing {
            None => {
                update = update.add("answered", 1);
                if exam.navigation == Navigation::Sequential {
                    in_progress.push(Condition::equals("answered", position as u64));
                }
                Condition::NotExists
            }
            Some(old) => Condition::equals("answered_at", old.answered_at),
        };
        let ops = vec![
            TxOp::Update {
                key: Exam::key_of(exam_id),
                update,
                condition: Condition::All(in_progress),
            },
            TxOp::Put {
                item: record.to_item()?,
                condition: answer_condition,
            },
        ];
        match self.table().transact(ops).await {
            Ok(()) => {}
            Err(TableError::TransactionCancelled { .. }) => {
                // Submitted, answered elsewhere or overtaken meanwhile: say which from what is stored now.
                let now_exam = self.exam(exam_id).await?;
                if now_exam.status != ExamStatus::InProgress {
                    return Err(ExamError::ExamClosed);
                }
                let stored = self
                    .table()
                    .get(&AnswerRecord::key_of(exam_id, position))
                    .await?;
                if let Some(stored) = stored.map(AnswerRecord::from_item).transpose()? {
                    if stored.response == record.response {
                        return Ok(views::answer_outcome(
                            &now_exam,
                            &stored,
                            &version,
                            viewer.tier,
                        ));
                    }
                    return Err(ExamError::AlreadyAnswered);
                }
                return Err(ExamError::OutOfOrder {
                    next: now_exam.answered as usize,
                    asked: position,
                });
            }
            Err(e) => return Err(e.into()),
        }
        let after = Exam {
            answered: exam.answered + u32::from(existing.is_none()),
            revision: exam.revision + 1,
            last_answer_at: now,
            ..exam
        };
        Ok(views::answer_outcome(
            &after,
            &record,
            &version,
            viewer.tier,
        ))
    }

    /// Submits the caller's exam; a second submit answers the stored result.
    pub async fn submit_exam(&self, viewer: &Viewer, exam_id: &str) -> Result<ExamView> {
        let now = self.epoch();
        let mut exam = self.own_exam(viewer, exam_id).await?;
        let mut answers = self.answers(exam_id).await?;
        if exam.status == ExamStatus::InProgress {
            let by = if exam.overdue(now) {
                SubmittedBy::Deadline
            } else {
                SubmittedBy::Learner
            };
            (exam, answers) = self.close(exam, answers, by).await?;
        }
        let versions = self.versions_of(&exam).await?;
        Ok(views::exam_view(
            &exam,
            &answers,
            &versions,
            viewer.tier,
            now,
        ))
    }

    /// Writes the result of an in-progress exam from its answers (as read with it), conditioned on the revision
    /// read; reads both again when an answer landed meanwhile. Answers the exam as stored after, submitted by
    /// whoever got there first.
    pub(crate) async fn close(
        &self,
        mut exam: Exam,
        mut answers: Vec<AnswerRecord>,
        by: SubmittedBy,
    ) -> Result<(Exam, Vec<AnswerRecord>)> {
        for _ in 0..SUBMIT_ATTEMPTS {
            if exam.status != ExamStatus::InProgress {
                return Ok((exam, answers));
            }
            let submitted_at = match (by, exam.deadline) {
                (SubmittedBy::Deadline, Some(deadline)) => deadline,
                _ => self.epoch(),
            };
            let read_revision = exam.revision;
            let closed = with_outcome(exam.clone(), &answers, submitted_at, by);
            let condition = Condition::All(vec![
                Condition::equals("revision", read_revision),
                Condition::equals("status", ExamStatus::InProgress.as_str()),
            ]);
            let mut ops = vec![TxOp::Put {
                item: closed.to_item()?,
                condition,
            }];
            // Essays to grade: the exam joins the grading queue in the same transaction.
            ops.extend(queue::GradingEntry::change_for(&closed)?);
            let mut completion = self.completion(&closed)?;
            completion.push(self.submitted_event(&closed, submitted_at)?);
            ops.extend(
                completion
                    .iter()
                    .map(OutboxEntry::put)
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            );
            match self.table().transact(ops).await {
                Ok(()) => {
                    tracing::info!(exam_id = %closed.exam_id, by = ?by, "exam submitted");
                    self.send_committed(&completion).await;
                    return Ok((closed, answers));
                }
                Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                    exam = self.exam(&exam.exam_id).await?;
                    answers = self.answers(&exam.exam_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExamError::Busy)
    }

    /// Submits in-progress timed exams whose deadline has passed, oldest first, at most `limit`; answers how many
    /// this run submitted. Run every minute (the `exam-deadlines` schedule); safe to run twice at once.
    pub async fn submit_overdue(&self, limit: usize) -> Result<usize> {
        let now = self.epoch();
        let query = EXAMS_DUE
            .query(&[])
            .sk(SortKey::LessThan(at_label(now + 1)))
            .limit(limit.max(1));
        let page = self.table().query(query).await?;
        let mut submitted = 0;
        for item in page.items {
            let exam_id = match item.get("exam_id").and_then(|v| v.as_str()) {
                Some(id) => id.to_string(),
                None => continue,
            };
            // The index is eventually consistent on DynamoDB: read the exam itself before acting.
            let exam = match self.exam(&exam_id).await {
                Ok(exam) => exam,
                Err(ExamError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            if exam.overdue(now) {
                let answers = self.answers(&exam_id).await?;
                let (closed, _) = self.close(exam, answers, SubmittedBy::Deadline).await?;
                if closed
                    .outcome
                    .as_ref()
                    .is_some_and(|o| o.submitted_by == SubmittedBy::Deadline)
                {
                    submitted += 1;
                }
            }
        }
        Ok(submitted)
    }

    /// The result of a submitted exam: every question with what was right, marks, and a breakdown by topic.
    pub async fn summary(&self, viewer: &Viewer, exam_id: &str) -> Result<Summary> {
        let now = self.epoch();
        let mut exam = self.own_exam(viewer, exam_id).await?;
        let mut answers = self.answers(exam_id).await?;
        if exam.overdue(now) {
            (exam, answers) = self.close(exam, answers, SubmittedBy::Deadline).await?;
        }
        if exam.status == ExamStatus::InProgress {
            return Err(ExamError::InvalidState(
                "the exam is in progress: submit it first".into(),
            ));
        }
        let versions = self.versions_of(&exam).await?;
        let view = views::exam_view(&exam, &answers, &versions, viewer.tier, now);
        Ok(views::summary(&exam, view))
    }

    /// One page of the caller's exams, newest first.
    pub async fn exam_history(
        &self,
        viewer: &Viewer,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<HistoryRow>, Option<String>)> {
        let query = EXAMS_BY_USER
            .query(&[&viewer.user_id])
            .backwards()
            .limit(limit)
            .after(cursor);
        let page = self.table().query(query).await?;
        let rows = page
            .items
            .into_iter()
            .map(|item| Exam::from_item(item).map(|e| views::history_row(&e)))
            .collect::<std::result::Result<_, _>>()?;
        Ok((rows, page.cursor))
    }

    /// An instructor's grades of essays in a submitted exam; when none is left to grade, the result is final.
    pub async fn grade(
        &self,
        grader: &Viewer,
        exam_id: &str,
        input: GradeInput,
    ) -> Result<Summary> {
        if !(1..=MAX_GRADES).contains(&input.grades.len()) {
            return Err(ExamError::field(
                "grades",
                format!("1 to {MAX_GRADES} grades"),
            ));
        }
        let now = self.epoch();
        let mut exam = self.exam(exam_id).await?;
        let mut answers = self.answers(exam_id).await?;
        if exam.overdue(now) {
            (exam, answers) = self.close(exam, answers, SubmittedBy::Deadline).await?;
        }
        if exam.status == ExamStatus::InProgress {
            return Err(ExamError::InvalidState(
                "the exam is in progress: it is graded once submitted".into(),
            ));
        }
        let mut graded = BTreeMap::new();
        // Whether a mark changed (a grade given again with the same mark changes no figure).
        let mut remarked = false;
        for (i, grade) in input.grades.into_iter().enumerate() {
            let field = |f: &str| format!("grades[{i}].{f}");
            if !(grade.mark.is_finite() && (0.0..=1.0).contains(&grade.mark)) {
                return Err(ExamError::field(&field("mark"), "0 to 1"));
            }
            let feedback =
                text::trimmed_opt(&field("feedback"), grade.feedback.as_deref(), MAX_FEEDBACK)?;
            let question_id = grade.question_id.to_string();
            let position = exam.position(&question_id).ok_or_else(|| {
                ExamError::field(&field("question_id"), "not a question of this exam")
            })?;
            if exam.questions[position].kind != QuestionType::Essay {
                return Err(ExamError::field(
                    &field("question_id"),
                    "only essays are graded by hand",
                ));
            }
            let answer = answers
                .iter_mut()
                .find(|a| a.position == position)
                .ok_or_else(|| {
                    ExamError::field(&field("question_id"), "the learner did not answer it")
                })?;
            if graded.insert(position, ()).is_some() {
                return Err(ExamError::field(
                    &field("question_id"),
                    "graded twice in one request",
                ));
            }
            remarked |= answer.mark != Some(grade.mark);
            answer.mark = Some(grade.mark);
            answer.feedback = feedback;
            answer.graded_by = Some(grader.user_id.clone());
        }
        let outcome = exam
            .outcome
            .clone()
            .ok_or_else(|| ExamError::Internal("a submitted exam without outcome".into()))?;
        let read_revision = exam.revision;
        let was = exam.status;
        let regraded = with_outcome(exam, &answers, outcome.submitted_at, outcome.submitted_by);
        let mut ops = vec![TxOp::Put {
            item: regraded.to_item()?,
            condition: Condition::equals("revision", read_revision),
        }];
        for answer in answers.iter().filter(|a| graded.contains_key(&a.position)) {
            ops.push(TxOp::Put {
                item: answer.to_item()?,
                condition: Condition::Exists,
            });
        }
        // The grading queue follows: what is left to grade, or off the queue once complete.
        ops.extend(queue::GradingEntry::change_for(&regraded)?);
        // The jobs of a final result: when this grade completes the exam, and again when it changes a mark of an
        // exam complete already, so the statistics are corrected (see `statistics`).
        let completion = match was {
            ExamStatus::Grading => self.completion(&regraded)?,
            ExamStatus::Completed if remarked => self.regrade(&regraded)?,
            _ => Vec::new(),
        };
        for entry in &completion {
            ops.push(entry.put()?);
        }
        match self.table().transact(ops).await {
            Ok(()) => self.send_committed(&completion).await,
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                return Err(ExamError::InvalidState(
                    "another grade of this exam landed at the same time: read it and retry".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let versions = self.versions_of(&regraded).await?;
        let view = views::exam_view(&regraded, &answers, &versions, crate::Tier::Premium, now);
        Ok(views::summary(&regraded, view))
    }
}

impl Exams {
    /// The jobs a completed exam causes (its statistics; a passed certifying exam's certificate), for the outbox of
    /// the transaction that completes it.
    fn completion(&self, exam: &Exam) -> Result<Vec<OutboxEntry>> {
        // One completion per exam: a second copy (the fast path and the relay both sent it) is skipped.
        self.final_result_jobs(exam, format!("exam-completed:{}", exam.exam_id))
    }

    /// The same jobs when a grade changes a mark of an exam complete already, for the outbox of the grading
    /// transaction: the statistics job again, keyed by the exam's new revision, so it is not skipped as a copy of
    /// the completion's (each re-grade is its own job; a copy of one is skipped, and running one twice corrects
    /// nothing twice anyway). A certificate the new result earns is issued; one issued already stands.
    fn regrade(&self, exam: &Exam) -> Result<Vec<OutboxEntry>> {
        self.final_result_jobs(
            exam,
            format!("exam-regraded:{}:{}", exam.exam_id, exam.revision),
        )
    }

    /// The statistics job of a completed exam under `idempotency_key`, and its certificate's when it earns one.
    fn final_result_jobs(&self, exam: &Exam, idempotency_key: String) -> Result<Vec<OutboxEntry>> {
        if exam.status != ExamStatus::Completed {
            return Ok(Vec::new());
        }
        let mut job = NewJob::new(&ExamCompleted {
            exam_id: exam.exam_id.clone(),
        })
        .map_err(|e| ExamError::Internal(e.to_string()))?;
        job.job.idempotency_key = Some(idempotency_key);
        let entry = OutboxEntry::new::<ExamCompleted>(job, self.epoch(), &self.platform.outbox_key)
            .map_err(|e| ExamError::Internal(e.to_string()))?;
        // A passed certifying exam's certificate is issued by its own job, so a failure there (e.g. the account
        // read) never holds the statistics back, and the reverse.
        let mut entries = vec![entry];
        entries.extend(self.certificate_due(exam)?);
        Ok(entries)
    }

    /// Integrators' `exam.submitted` webhook event, for the outbox of the submitting transaction.
    fn submitted_event(&self, exam: &Exam, submitted_at: i64) -> Result<OutboxEntry> {
        let event = WebhookEvent::of(
            webhooks::EXAM_SUBMITTED,
            &exam.exam_id,
            submitted_at,
            &webhooks::ExamSubmittedData {
                exam_id: exam.exam_id.clone(),
                user_id: exam.user_id.clone(),
            },
        );
        event
            .job()
            .and_then(|job| {
                OutboxEntry::new::<WebhookEvent>(job, self.epoch(), &self.platform.outbox_key)
            })
            .map_err(|e| ExamError::Internal(e.to_string()))
    }

    /// Sends committed outbox entries now (what this does not finish, the relay sends).
    async fn send_committed(&self, entries: &[OutboxEntry]) {
        if entries.is_empty() {
            return;
        }
        let p = &self.platform;
        outbox::deliver(
            p.table.as_ref(),
            p.queue.as_ref(),
            &p.outbox_key,
            entries,
            self.epoch(),
        )
        .await;
    }
}

/// The exam with its result from `answers`: the score so far, essays left to grade, and the status that follows.
fn with_outcome(exam: Exam, answers: &[AnswerRecord], submitted_at: i64, by: SubmittedBy) -> Exam {
    let score: f64 = answers.iter().filter_map(|a| a.mark).sum();
    let pending = answers.iter().filter(|a| a.mark.is_none()).count() as u32;
    Exam {
        status: if pending == 0 {
            ExamStatus::Completed
        } else {
            ExamStatus::Grading
        },
        revision: exam.revision + 1,
        outcome: Some(Outcome {
            submitted_at,
            submitted_by: by,
            score,
            pending_grading: pending,
        }),
        ..exam
    }
}

/// `count` shared in proportion to `sizes` by largest remainder (ties: the earlier first). With `count` at most
/// the sum of `sizes`, no share exceeds its size.
fn share(count: usize, sizes: &[u64]) -> Vec<usize> {
    let total: u64 = sizes.iter().sum();
    if total == 0 {
        return vec![0; sizes.len()];
    }
    let exact: Vec<u64> = sizes.iter().map(|s| count as u64 * s).collect();
    let mut out: Vec<usize> = exact.iter().map(|e| (e / total) as usize).collect();
    let left = count.saturating_sub(out.iter().sum());
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|i| (std::cmp::Reverse(exact[*i] % total), *i));
    for i in order.into_iter().take(left) {
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn topics_share_the_count_in_proportion_and_within_their_pools(
            sizes in proptest::collection::vec(0u64..50, 1..6),
            count in 0usize..200,
        ) {
            let total: u64 = sizes.iter().sum();
            prop_assume!(count as u64 <= total);
            let shares = share(count, &sizes);
            prop_assert_eq!(shares.iter().sum::<usize>(), count);
            for (n, size) in shares.iter().zip(&sizes) {
                prop_assert!(*n as u64 <= *size);
                let exact = count as f64 * *size as f64 / total as f64;
                prop_assert!((*n as f64 - exact).abs() < 1.0);
            }
        }
    }
}
