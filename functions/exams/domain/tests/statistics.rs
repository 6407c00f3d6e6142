//! Statistics and calibration against a brute-force recomputation over the same answers: learners take exams of
//! random subsets of a bank and answer at random (right, wrong, half right, blank, essays graded at random, at
//! random speeds); each completed exam is taken in (twice, as a redelivered job would be); then graders change
//! essays' grades after the exams are complete (to another mark, back again, or to the same mark), each change
//! taken in twice too; then every figure is recomputed from the exams as they now stand and compared. A second
//! test follows one exam through the jobs queue and worker: graded once, re-graded, the same job again, the same
//! grade again.

mod common;

use common::{id, node, staff};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use lectern_exams::exams::calibration;
use lectern_exams::exams::jobs::ExamCompletedHandler;
use lectern_exams::exams::model::{
    AnswerInput, Grade, GradeInput, Mode, Navigation, Source, StartExam,
};
use lectern_exams::exams::scoring::Response;
use lectern_exams::exams::statistics::{Ability, QuestionStats};
use lectern_exams::exams::store::ExamStatus;
use lectern_exams::hierarchy::NodeKind;
use lectern_exams::questions::model::{AnswerInput as Key, AnswerKey, Difficulty, QuestionInput};
use lectern_exams::questions::moderation::BatchApprove;
use lectern_exams::questions::selection::Scope;
use lectern_exams::{Exams, Tier, Viewer};
use lectern_shared::clock::ManualClock;
use lectern_shared::queue::worker::Worker;
use lectern_shared::queue::{Delivery, queues};
use lectern_shared::table::Entity;
use lectern_shared::{Config, Platform};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The marks graders give essays.
const ESSAY_MARKS: [f64; 4] = [0.0, 0.25, 0.5, 1.0];

#[derive(Default, Debug)]
struct Expected {
    attempts: u64,
    correct: u64,
    mark_sum: f64,
    seconds: i64,
    pairs: Vec<(f64, f64)>,
    d: f64,
    nd: u64,
}

/// A completed exam, and the mark of each question when the exam was first taken in (what the estimates' steps
/// were computed from; later grades correct them).
struct Sitting {
    learner: Viewer,
    exam_id: String,
    first: HashMap<String, f64>,
}

/// Every figure recomputed from the sittings as they stand now: the statistics over the current marks, the
/// estimates stepped through every answer in the order they were taken in with its first mark, then each step
/// corrected by `K(n then) · (mark now − first mark)` (the documented rule of `calibration`).
#[derive(Default)]
struct Recomputed {
    questions: BTreeMap<String, Expected>,
    theta: HashMap<(String, String), (f64, u64)>,
}

async fn recompute(exams: &Exams, sittings: &[Sitting]) -> Recomputed {
    let k = |n: u64| 0.8 / (1.0 + 0.05 * n as f64);
    let mut r = Recomputed::default();
    let mut corrections = Vec::new();
    for sitting in sittings {
        let summary = exams
            .summary(&sitting.learner, &sitting.exam_id)
            .await
            .unwrap();
        assert_eq!(summary.status, ExamStatus::Completed);
        let score = summary.result.as_ref().unwrap().score;
        let count = summary.items.len();
        for item in &summary.items {
            if !item.answered {
                continue;
            }
            let q = item.question.as_ref().unwrap();
            let mark = item.mark.unwrap();
            let e = r
                .questions
                .entry(q.question_id.clone())
                .or_insert_with(|| Expected {
                    d: calibration::prior(q.difficulty),
                    ..Expected::default()
                });
            e.attempts += 1;
            e.correct += u64::from(mark >= 1.0);
            e.mark_sum += mark;
            e.seconds += item.seconds.unwrap();
            if count > 1 {
                e.pairs.push((mark, (score - mark) / (count - 1) as f64));
            }
            let who = (sitting.learner.user_id.clone(), q.topic_id.clone());
            let (t, nt) = r.theta.entry(who.clone()).or_insert((0.0, 0));
            let first = sitting.first[&q.question_id];
            let p = 1.0 / (1.0 + (-(*t - e.d)).exp());
            corrections.push((who, q.question_id.clone(), *nt, e.nd, mark - first));
            let (new_t, new_d) = (*t + k(*nt) * (first - p), e.d - k(e.nd) * (first - p));
            (*t, *nt, e.d, e.nd) = (new_t, *nt + 1, new_d, e.nd + 1);
        }
    }
    for (who, question_id, nt, nd, change) in corrections {
        r.theta.get_mut(&who).unwrap().0 += k(nt) * change;
        r.questions.get_mut(&question_id).unwrap().d -= k(nd) * change;
    }
    r
}

fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let (vx, vy): (f64, f64) = (
        pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum(),
        pairs.iter().map(|(_, y)| (y - my).powi(2)).sum(),
    );
    if vx <= 1e-12 / n || vy <= 1e-12 / n {
        return None;
    }
    Some(cov / (vx * vy).sqrt())
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
        (None, None) => true,
        _ => false,
    }
}

/// Every question's figures and every learner's abilities are the recomputation's.
async fn assert_figures(exams: &Exams, r: &Recomputed, learners: &[Viewer]) {
    for (question_id, e) in &r.questions {
        let got = exams.question_stats(&staff(), question_id).await.unwrap();
        assert_eq!(
            (got.attempts, got.correct, got.incorrect),
            (e.attempts, e.correct, e.attempts - e.correct),
            "{question_id}"
        );
        let n = e.attempts as f64;
        assert!(
            close(got.facility, Some(e.mark_sum / n)),
            "facility {question_id}: {got:?} vs {e:?}"
        );
        assert!(close(got.success_rate, Some(e.correct as f64 / n)));
        assert!(close(got.average_seconds, Some(e.seconds as f64 / n)));
        assert!(
            close(got.discrimination, pearson(&e.pairs)),
            "discrimination {question_id}: {got:?} vs {:?}",
            pearson(&e.pairs)
        );
        assert!(
            (got.difficulty_estimate - e.d).abs() < 1e-9,
            "difficulty {question_id}: {} vs {}",
            got.difficulty_estimate,
            e.d
        );
        assert_eq!(got.estimate_answers, e.nd);
    }
    for learner in learners {
        let (abilities, _) = exams.abilities(learner, 50, None).await.unwrap();
        for a in abilities {
            let (t, n) = r.theta[&(learner.user_id.clone(), a.topic_id.clone())];
            assert!(
                (a.theta - t).abs() < 1e-9 && a.answers == n,
                "ability {a:?} vs {t} after {n}"
            );
        }
    }
}

/// A domain on a fresh embedded store with a clock the test moves.
async fn domain() -> (Exams, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let platform = Platform::with_clock(
        Config::for_tests(dir.path().into()),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    (Exams::new(platform), clock, dir)
}

/// A course with `topics` topics.
async fn course(exams: &Exams, topics: usize) -> (String, Vec<String>) {
    let institution = node(exams, NodeKind::Institution, None).await;
    let faculty = node(exams, NodeKind::Faculty, Some(&institution)).await;
    let department = node(exams, NodeKind::Department, Some(&faculty)).await;
    let course = node(exams, NodeKind::Course, Some(&department)).await;
    let mut ids = Vec::new();
    for _ in 0..topics {
        ids.push(node(exams, NodeKind::Topic, Some(&course)).await);
    }
    (course, ids)
}

/// Approved questions of these answers, difficulties and topics; answers their ids and keys.
async fn approved(
    exams: &Exams,
    questions: Vec<(Key, Difficulty, &str)>,
) -> (Vec<String>, HashMap<String, AnswerKey>) {
    let mut ids = Vec::new();
    for (i, (answer, difficulty, topic)) in questions.into_iter().enumerate() {
        let input = QuestionInput {
            topic_id: id(topic),
            stem: format!("Q{i}"),
            explanation: None,
            difficulty,
            subject: None,
            tags: Vec::new(),
            answer,
        };
        let q = exams.create_question(&staff(), input).await.unwrap();
        exams
            .submit_question(&staff(), &q.question_id)
            .await
            .unwrap();
        ids.push(q.question_id);
    }
    exams
        .batch_approve(
            &staff(),
            BatchApprove {
                ids: ids.iter().map(|q| id(q)).collect(),
            },
        )
        .await
        .unwrap();
    let mut keys = HashMap::new();
    for q in &ids {
        keys.insert(q.clone(), exams.question(q).await.unwrap().content.answer);
    }
    (ids, keys)
}

/// A practice exam of exactly these questions, in this order.
fn listed(questions: &[String]) -> StartExam {
    StartExam {
        mode: Mode::Practice,
        source: Source {
            course: None,
            topics: None,
            questions: Some(questions.iter().map(|q| id(q)).collect()),
        },
        count: None,
        mix: None,
        time_limit_seconds: None,
        pass_mark: None,
        shuffle_questions: Some(false),
        shuffle_options: Some(true),
        navigation: Navigation::Free,
        certifying: None,
        assignment_id: None,
    }
}

/// One essay's grade.
fn grade(question_id: &str, mark: f64) -> GradeInput {
    GradeInput {
        grades: vec![Grade {
            question_id: id(question_id),
            mark,
            feedback: None,
        }],
    }
}

/// Each answered question's mark in the exam as it stands.
async fn marks(exams: &Exams, learner: &Viewer, exam_id: &str) -> HashMap<String, f64> {
    let summary = exams.summary(learner, exam_id).await.unwrap();
    summary
        .items
        .iter()
        .filter(|i| i.answered)
        .filter_map(|i| Some((i.question.as_ref()?.question_id.clone(), i.mark?)))
        .collect()
}

#[tokio::test]
async fn statistics_and_estimates_match_a_brute_force_recomputation() {
    let (exams, clock, _dir) = domain().await;
    let (course, topics) = course(&exams, 2).await;
    // Eight marked automatically (true/false, multiple choice with partial credit) and two essays, over both
    // topics and every difficulty.
    let questions = (0..10)
        .map(|i| {
            let answer = if i >= 8 {
                Key::Essay {
                    rubric: None,
                    max_words: None,
                }
            } else if i % 2 == 0 {
                Key::TrueFalse {
                    correct: i % 4 == 0,
                }
            } else {
                Key::MultipleChoice {
                    options: vec!["a".into(), "b".into(), "c".into(), "d".into()],
                    correct: vec![0, 2],
                }
            };
            (answer, Difficulty::ALL[i % 3], topics[i % 2].as_str())
        })
        .collect();
    let (bank, keys) = approved(&exams, questions).await;

    let mut rng = StdRng::seed_from_u64(20_160_101);
    let learners: Vec<Viewer> = (0..6)
        .map(|i| Viewer::learner(format!("01JLEARNER{i:016}"), Tier::Free))
        .collect();
    let mut sittings = Vec::new();
    for round in 0..4 {
        for learner in &learners {
            let mut picked: Vec<String> = bank
                .iter()
                .filter(|_| rng.random_bool(0.6))
                .cloned()
                .collect();
            if picked.is_empty() {
                picked.push(bank[round % bank.len()].clone());
            }
            picked.shuffle(&mut rng);
            let exam = exams.start_exam(learner, listed(&picked)).await.unwrap();
            let mut essays = Vec::new();
            for item in &exam.items {
                let q = item.question.as_ref().unwrap();
                clock.advance(Duration::from_secs(rng.random_range(1..90)));
                if rng.random_bool(0.15) {
                    continue; // left blank
                }
                let response = match &keys[&q.question_id] {
                    AnswerKey::TrueFalse { .. } => Response::TrueFalse {
                        value: rng.random_bool(0.5),
                    },
                    AnswerKey::MultipleChoice { options, .. } => Response::MultipleChoice {
                        choices: options
                            .iter()
                            .filter(|_| rng.random_bool(0.5))
                            .map(|o| o.id.clone())
                            .collect(),
                    },
                    AnswerKey::Essay { .. } => {
                        essays.push(q.question_id.clone());
                        Response::Essay {
                            text: "Both sides.".into(),
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                };
                let input = AnswerInput {
                    question_id: id(&q.question_id),
                    response,
                };
                exams.answer(learner, &exam.exam_id, input).await.unwrap();
            }
            exams.submit_exam(learner, &exam.exam_id).await.unwrap();
            // The essays answered are graded: the last grade completes the exam.
            for essay in &essays {
                let mark = ESSAY_MARKS[rng.random_range(0..ESSAY_MARKS.len())];
                exams
                    .grade(&staff(), &exam.exam_id, grade(essay, mark))
                    .await
                    .unwrap();
            }
            // Taken in twice, as a redelivered job would be: the second run changes nothing.
            let first = exams.apply_completed_exam(&exam.exam_id).await.unwrap();
            assert_eq!(
                exams.apply_completed_exam(&exam.exam_id).await.unwrap(),
                0,
                "taken in once ({first} answers)"
            );
            sittings.push(Sitting {
                first: marks(&exams, learner, &exam.exam_id).await,
                learner: learner.clone(),
                exam_id: exam.exam_id,
            });
        }
    }

    // Graders change essays' grades once the exams are complete: to another mark, then some back or on again, or
    // to the same mark. Each change is taken in twice as well.
    let (mut changed, mut same) = (0, 0);
    for sitting in &sittings {
        let essays: Vec<(String, f64)> = sitting
            .first
            .iter()
            .filter(|(q, _)| matches!(keys[*q], AnswerKey::Essay { .. }))
            .map(|(q, m)| (q.clone(), *m))
            .collect();
        for (essay, was) in essays {
            let times = rng.random_range(0..3);
            for _ in 0..times {
                let mark = ESSAY_MARKS[rng.random_range(0..ESSAY_MARKS.len())];
                let now = marks(&exams, &sitting.learner, &sitting.exam_id).await[&essay];
                exams
                    .grade(&staff(), &sitting.exam_id, grade(&essay, mark))
                    .await
                    .unwrap();
                let corrected = exams.apply_completed_exam(&sitting.exam_id).await.unwrap();
                if mark == now {
                    same += 1;
                    assert_eq!(corrected, 0, "the same mark again moves no figure");
                } else {
                    changed += 1;
                    assert!(corrected > 0, "{essay}: {now} → {mark} (first {was})");
                }
                assert_eq!(
                    exams.apply_completed_exam(&sitting.exam_id).await.unwrap(),
                    0,
                    "corrected once"
                );
            }
        }
    }
    assert!(
        changed >= 5 && same >= 1,
        "grades changed ({changed}) and given again ({same})"
    );

    // Brute force, from the exams as they stand, in the order they were taken in.
    let expected = recompute(&exams, &sittings).await;
    assert!(
        expected.questions.values().map(|e| e.attempts).sum::<u64>() > 60,
        "enough evidence to mean something"
    );
    assert_figures(&exams, &expected, &learners).await;
    // The most missed first, per course.
    let (missed, _) = exams
        .most_missed(&staff(), &Scope::Course(course.clone()), 50, None)
        .await
        .unwrap();
    assert_eq!(missed.len(), expected.questions.len());
    let rates: Vec<f64> = missed.iter().map(|m| m.success_rate.unwrap()).collect();
    assert!(rates.windows(2).all(|w| w[0] <= w[1] + 1e-4), "{rates:?}");
}

/// What the jobs queue holds now.
async fn jobs(exams: &Exams) -> Vec<Delivery> {
    // The `exam.submitted` webhook events the same transactions publish are not the statistics' jobs.
    exams
        .platform
        .queue
        .receive(queues::JOBS, 10, Duration::from_secs(600))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.job.kind != "webhooks.event")
        .collect()
}

/// The stored statistics of these questions and the learner's abilities: every figure and its version.
async fn stored(
    exams: &Exams,
    questions: &[String],
    learner: &Viewer,
) -> (Vec<QuestionStats>, Vec<Ability>) {
    let mut stats = Vec::new();
    for q in questions {
        let item = exams
            .platform
            .table
            .get(&QuestionStats::key_of(q))
            .await
            .unwrap()
            .expect("taken in");
        stats.push(QuestionStats::from_item(item).unwrap());
    }
    (stats, exams.abilities(learner, 50, None).await.unwrap().0)
}

#[tokio::test]
async fn a_changed_grade_corrects_the_figures_through_one_job_that_counts_once() {
    let (exams, clock, _dir) = domain().await;
    let (_, topics) = course(&exams, 1).await;
    let topic = topics[0].as_str();
    let essay_key = Key::Essay {
        rubric: None,
        max_words: None,
    };
    let (bank, _) = approved(
        &exams,
        vec![
            (essay_key, Difficulty::Medium, topic),
            (Key::TrueFalse { correct: true }, Difficulty::Easy, topic),
        ],
    )
    .await;
    let (essay, true_false) = (bank[0].clone(), bank[1].clone());
    let worker = Worker::new(exams.platform.table.clone(), exams.platform.clock.clone())
        .with(Arc::new(ExamCompletedHandler::new(&exams.platform)));
    let learner = Viewer::learner("01JLEARNER0000000000000000", Tier::Free);
    // Another learner's exam first, so the discrimination index has two exams to correlate.
    let other = Viewer::learner("01JLEARNER0000000000000001", Tier::Free);
    let mut sittings = Vec::new();
    for (who, essay_mark, right) in [(&other, 1.0, false), (&learner, 0.25, true)] {
        let exam = exams.start_exam(who, listed(&bank)).await.unwrap();
        for (question, response) in [
            (
                &essay,
                Response::Essay {
                    text: "Yes.".into(),
                },
            ),
            (&true_false, Response::TrueFalse { value: right }),
        ] {
            clock.advance(Duration::from_secs(30));
            let input = AnswerInput {
                question_id: id(question),
                response,
            };
            exams.answer(who, &exam.exam_id, input).await.unwrap();
        }
        let submitted = exams.submit_exam(who, &exam.exam_id).await.unwrap();
        assert_eq!(submitted.status, ExamStatus::Grading, "the essay waits");
        assert!(jobs(&exams).await.is_empty(), "nothing final: no job");

        // Graded once: the exam completes and its one job takes it in.
        exams
            .grade(&staff(), &exam.exam_id, grade(&essay, essay_mark))
            .await
            .unwrap();
        let completed = jobs(&exams).await;
        assert_eq!(completed.len(), 1);
        assert_eq!(
            completed[0].job.idempotency_key.as_deref(),
            Some(format!("exam-completed:{}", exam.exam_id).as_str())
        );
        let outcome = worker.process_batch(completed).await;
        assert!(outcome.failed.is_empty(), "{outcome:?}");
        sittings.push(Sitting {
            first: marks(&exams, who, &exam.exam_id).await,
            learner: who.clone(),
            exam_id: exam.exam_id,
        });
    }
    let learners = [other.clone(), learner.clone()];
    assert_figures(&exams, &recompute(&exams, &sittings).await, &learners).await;
    let exam_id = sittings[1].exam_id.clone();
    let before = stored(&exams, &bank, &learner).await;
    assert_eq!(
        (before.0[0].correct, before.0[0].incorrect),
        (1, 1),
        "one essay at 1, one at 0.25"
    );

    // The grade changed once the exam is complete: one job, keyed by the change, corrects every figure the mark
    // moves — the essay's right and wrong, its mark and the rest-of-exam sums of both questions — to what a
    // recomputation over the marks now gives, and the estimates by the answer's own step.
    exams
        .grade(&staff(), &exam_id, grade(&essay, 1.0))
        .await
        .unwrap();
    let regraded = jobs(&exams).await;
    assert_eq!(regraded.len(), 1);
    let key = regraded[0].job.idempotency_key.clone().unwrap();
    assert!(
        key.starts_with(&format!("exam-regraded:{exam_id}:")),
        "{key}"
    );
    let outcome = worker.process_batch(regraded.clone()).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    let expected = recompute(&exams, &sittings).await;
    assert_figures(&exams, &expected, &learners).await;
    let after = stored(&exams, &bank, &learner).await;
    assert_eq!(
        (
            after.0[0].correct,
            after.0[0].incorrect,
            after.0[0].attempts
        ),
        (2, 0, 2),
        "the same answers, now both right"
    );
    assert_eq!(
        after.0[0].difficulty_answers, before.0[0].difficulty_answers,
        "the answer is not counted again"
    );
    let was = &before.1[0];
    let (theta, d) = calibration::correct(was.theta, 0, before.0[0].difficulty, 1, 0.25, 1.0);
    assert!((after.1[0].theta - theta).abs() < 1e-12, "{after:?}");
    assert!((after.0[0].difficulty - d).abs() < 1e-12);
    assert_eq!(after.1[0].answers, was.answers);

    // The same job again (redelivered, or sent twice): nothing moves, not even a version.
    let outcome = worker.process_batch(regraded).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(exams.apply_completed_exam(&exam_id).await.unwrap(), 0);
    assert_eq!(stored(&exams, &bank, &learner).await, after);

    // The same grade again: no job, no figure moves.
    exams
        .grade(&staff(), &exam_id, grade(&essay, 1.0))
        .await
        .unwrap();
    assert!(jobs(&exams).await.is_empty(), "the same mark sends no job");
    assert_eq!(exams.apply_completed_exam(&exam_id).await.unwrap(), 0);
    assert_eq!(stored(&exams, &bank, &learner).await, after);

    // Back to the first grade: the statistics are the first ones again, the estimates where they were.
    exams
        .grade(&staff(), &exam_id, grade(&essay, 0.25))
        .await
        .unwrap();
    let outcome = worker.process_batch(jobs(&exams).await).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_figures(&exams, &recompute(&exams, &sittings).await, &learners).await;
    let back = stored(&exams, &bank, &learner).await;
    assert!((back.1[0].theta - was.theta).abs() < 1e-12);
    assert!((back.0[0].difficulty - before.0[0].difficulty).abs() < 1e-12);
    assert_eq!(
        (back.0[0].correct, back.0[0].incorrect),
        (before.0[0].correct, before.0[0].incorrect)
    );
}
