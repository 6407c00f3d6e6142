//! What the exam routes answer, built from the stored exam, its answers and the versions it serves. Question
//! content goes through `disclosure::learner_view`, with the stage this module works out for each question.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::Tier;
use crate::disclosure::{self, LearnerQuestion, Stage};
use crate::exams::model::{Mode, Navigation};
use crate::exams::scoring::Response;
use crate::exams::store::{AnswerRecord, Exam, ExamStatus, SubmittedBy};
use crate::questions::store::QuestionVersion;

/// One question of an exam as its learner sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExamItem {
    /// From 0, in the order the exam shows them.
    pub position: usize,
    /// The question (without what is right until the learner may know it); `null` for the questions after the
    /// current one of a sequential exam in progress.
    pub question: Option<LearnerQuestion>,
    pub answered: bool,
    /// The learner's answer.
    pub response: Option<Response>,
    /// 0 to 1: in practice once answered, otherwise once submitted; `null` for an essay not graded yet.
    pub mark: Option<f64>,
    /// Seconds spent on it (from the previous answer, by the server's clock).
    pub seconds: Option<i64>,
    /// An instructor's note on a graded essay.
    pub feedback: Option<String>,
}

/// The result of a submitted exam.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ExamResult)]
pub struct ResultView {
    pub submitted_at: i64,
    pub submitted_by: SubmittedBy,
    /// Marks so far (each question is worth 1; essays count once graded).
    pub score: f64,
    pub max_score: f64,
    /// `score / max_score` in percent.
    pub percent: f64,
    /// Against the pass mark; `null` while essays wait for grading.
    pub passed: Option<bool>,
    pub pending_grading: u32,
}

/// An exam as its learner sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExamView {
    pub exam_id: String,
    pub mode: Mode,
    pub navigation: Navigation,
    pub status: ExamStatus,
    pub pass_mark: u8,
    pub time_limit_seconds: Option<u32>,
    pub started_at: i64,
    /// When a timed exam ends, by the server's clock.
    pub deadline: Option<i64>,
    /// The server's clock now (epoch seconds), to count down against.
    pub now: i64,
    /// Seconds left of a timed exam in progress.
    pub remaining_seconds: Option<i64>,
    pub count: usize,
    pub answered: u32,
    /// Sequential exams in progress: the position to answer next.
    pub current: Option<usize>,
    pub items: Vec<ExamItem>,
    pub result: Option<ResultView>,
    /// A certifying exam: once passed, its certificate is `GET /v1/certificates/{exam_id}` (issued moments after
    /// the result is final).
    pub certifying: bool,
    /// An assignment's attempt: the assignment and the attempt's number (1, 2, ...).
    pub assignment_id: Option<String>,
    pub attempt: Option<u32>,
}

/// How far the learner is with the question at `answer`.
fn stage(exam: &Exam, answered: bool) -> Stage {
    match (exam.status, exam.mode, answered) {
        (ExamStatus::Grading | ExamStatus::Completed, _, _) => Stage::Submitted,
        (ExamStatus::InProgress, Mode::Practice, true) => Stage::Answered,
        _ => Stage::Unanswered,
    }
}

fn item(
    exam: &Exam,
    position: usize,
    answer: Option<&AnswerRecord>,
    version: Option<&QuestionVersion>,
    tier: Tier,
) -> ExamItem {
    let slot = &exam.questions[position];
    let hidden = exam.status == ExamStatus::InProgress
        && exam.navigation == Navigation::Sequential
        && position > exam.answered as usize;
    let stage = stage(exam, answer.is_some());
    let question = match (hidden, version) {
        (false, Some(v)) => Some(disclosure::learner_view(
            &slot.question_id,
            slot.version,
            &v.content,
            slot.options.as_deref(),
            tier,
            stage,
        )),
        _ => None,
    };
    let marked = stage != Stage::Unanswered;
    ExamItem {
        position,
        question,
        answered: answer.is_some(),
        response: answer.map(|a| a.response.clone()),
        mark: if marked {
            answer
                .and_then(|a| a.mark)
                .or((stage == Stage::Submitted && answer.is_none()).then_some(0.0))
        } else {
            None
        },
        seconds: answer.map(|a| a.seconds),
        feedback: if stage == Stage::Submitted {
            answer.and_then(|a| a.feedback.clone())
        } else {
            None
        },
    }
}

/// The result of a submitted exam.
pub fn result(exam: &Exam) -> Option<ResultView> {
    let outcome = exam.outcome.as_ref()?;
    let max_score = exam.questions.len() as f64;
    let percent = if max_score > 0.0 {
        outcome.score / max_score * 100.0
    } else {
        0.0
    };
    Some(ResultView {
        submitted_at: outcome.submitted_at,
        submitted_by: outcome.submitted_by,
        score: outcome.score,
        max_score,
        percent,
        passed: (outcome.pending_grading == 0).then(|| percent + 1e-9 >= f64::from(exam.pass_mark)),
        pending_grading: outcome.pending_grading,
    })
}

/// The exam as its learner sees it at `now`.
pub fn exam_view(
    exam: &Exam,
    answers: &[AnswerRecord],
    versions: &HashMap<String, QuestionVersion>,
    tier: Tier,
    now: i64,
) -> ExamView {
    let by_position: HashMap<usize, &AnswerRecord> =
        answers.iter().map(|a| (a.position, a)).collect();
    let items = (0..exam.questions.len())
        .map(|p| {
            item(
                exam,
                p,
                by_position.get(&p).copied(),
                versions.get(&exam.questions[p].question_id),
                tier,
            )
        })
        .collect();
    let in_progress = exam.status == ExamStatus::InProgress;
    ExamView {
        exam_id: exam.exam_id.clone(),
        mode: exam.mode,
        navigation: exam.navigation,
        status: exam.status,
        pass_mark: exam.pass_mark,
        time_limit_seconds: exam.time_limit_seconds,
        started_at: exam.started_at,
        deadline: exam.deadline,
        now,
        remaining_seconds: exam
            .deadline
            .filter(|_| in_progress)
            .map(|d| (d - now).max(0)),
        count: exam.questions.len(),
        answered: exam.answered,
        current: (in_progress
            && exam.navigation == Navigation::Sequential
            && (exam.answered as usize) < exam.questions.len())
        .then_some(exam.answered as usize),
        items,
        result: result(exam),
        certifying: exam.certifies_course.is_some(),
        assignment_id: exam.assignment_id.clone(),
        attempt: exam.attempt,
    }
}

/// What answering one question answers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AnswerOutcome {
    pub exam_id: String,
    pub status: ExamStatus,
    pub answered: u32,
    pub count: usize,
    /// The question answered: in practice with its mark and what was right; in a timed exam only the response.
    pub item: ExamItem,
}

pub fn answer_outcome(
    exam: &Exam,
    answer: &AnswerRecord,
    version: &QuestionVersion,
    tier: Tier,
) -> AnswerOutcome {
    AnswerOutcome {
        exam_id: exam.exam_id.clone(),
        status: exam.status,
        answered: exam.answered,
        count: exam.questions.len(),
        item: item(exam, answer.position, Some(answer), Some(version), tier),
    }
}

/// One topic's share of a result.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TopicResult {
    pub topic_id: String,
    pub questions: usize,
    pub score: f64,
    pub max_score: f64,
    pub percent: f64,
}

/// `GET /v1/exams/{id}/summary`: the result, every question with what was right (and why), and the result by topic.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ExamSummary)]
pub struct Summary {
    pub exam_id: String,
    pub mode: Mode,
    pub status: ExamStatus,
    pub pass_mark: u8,
    pub result: Option<ResultView>,
    pub items: Vec<ExamItem>,
    pub topics: Vec<TopicResult>,
}

pub fn summary(exam: &Exam, view: ExamView) -> Summary {
    let mut topics: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for (slot, item) in exam.questions.iter().zip(&view.items) {
        let entry = topics.entry(slot.topic_id.as_str()).or_default();
        entry.0 += 1;
        entry.1 += item.mark.unwrap_or(0.0);
    }
    Summary {
        exam_id: view.exam_id,
        mode: view.mode,
        status: view.status,
        pass_mark: view.pass_mark,
        result: view.result,
        items: view.items,
        topics: topics
            .into_iter()
            .map(|(topic_id, (questions, score))| TopicResult {
                topic_id: topic_id.to_string(),
                questions,
                score,
                max_score: questions as f64,
                percent: score / questions as f64 * 100.0,
            })
            .collect(),
    }
}

/// One exam in the learner's history.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryRow {
    pub exam_id: String,
    pub mode: Mode,
    pub status: ExamStatus,
    pub started_at: i64,
    pub count: usize,
    pub answered: u32,
    pub result: Option<ResultView>,
}

pub fn history_row(exam: &Exam) -> HistoryRow {
    HistoryRow {
        exam_id: exam.exam_id.clone(),
        mode: exam.mode,
        status: exam.status,
        started_at: exam.started_at,
        count: exam.questions.len(),
        answered: exam.answered,
        result: result(exam),
    }
}
