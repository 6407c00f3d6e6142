//! Statistics and calibration against a brute-force recomputation over the same answers: learners take exams of
//! random subsets of a bank and answer at random (right, wrong, half right, blank, at random speeds); each
//! completed exam is taken in (twice, as a redelivered job would be); then every figure is recomputed from the
//! exams themselves and compared.

mod common;

use common::{id, node, staff};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use lectern_exams::exams::calibration;
use lectern_exams::exams::model::{AnswerInput, Mode, Navigation, Source, StartExam};
use lectern_exams::exams::scoring::Response;
use lectern_exams::exams::statistics::QuestionStats;
use lectern_exams::hierarchy::NodeKind;
use lectern_exams::questions::model::{AnswerInput as Key, AnswerKey, Difficulty, QuestionInput};
use lectern_exams::questions::moderation::BatchApprove;
use lectern_exams::questions::selection::Scope;
use lectern_exams::{Exams, Tier, Viewer};
use lectern_shared::clock::ManualClock;
use lectern_shared::{Config, Platform};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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

#[tokio::test]
async fn statistics_and_estimates_match_a_brute_force_recomputation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let platform = Platform::with_clock(
        Config::for_tests(dir.path().into()),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let exams = Exams::new(platform);
    let institution = node(&exams, NodeKind::Institution, None).await;
    let faculty = node(&exams, NodeKind::Faculty, Some(&institution)).await;
    let department = node(&exams, NodeKind::Department, Some(&faculty)).await;
    let course = node(&exams, NodeKind::Course, Some(&department)).await;
    let topics = [
        node(&exams, NodeKind::Topic, Some(&course)).await,
        node(&exams, NodeKind::Topic, Some(&course)).await,
    ];
    let mut bank = Vec::new();
    for i in 0..8 {
        let answer = if i % 2 == 0 {
            Key::TrueFalse {
                correct: i % 4 == 0,
            }
        } else {
            Key::MultipleChoice {
                options: vec!["a".into(), "b".into(), "c".into(), "d".into()],
                correct: vec![0, 2],
            }
        };
        let input = QuestionInput {
            topic_id: id(&topics[i % 2]),
            stem: format!("Q{i}"),
            explanation: None,
            difficulty: Difficulty::ALL[i % 3],
            subject: None,
            tags: Vec::new(),
            answer,
        };
        let q = exams.create_question(&staff(), input).await.unwrap();
        exams
            .submit_question(&staff(), &q.question_id)
            .await
            .unwrap();
        bank.push(q.question_id);
    }
    exams
        .batch_approve(
            &staff(),
            BatchApprove {
                ids: bank.iter().map(|q| id(q)).collect(),
            },
        )
        .await
        .unwrap();
    let keys: HashMap<String, AnswerKey> = {
        let mut keys = HashMap::new();
        for q in &bank {
            keys.insert(q.clone(), exams.question(q).await.unwrap().content.answer);
        }
        keys
    };

    let mut rng = StdRng::seed_from_u64(20_160_101);
    let learners: Vec<Viewer> = (0..6)
        .map(|i| Viewer::learner(format!("01JLEARNER{i:016}"), Tier::Free))
        .collect();
    let mut completed = Vec::new();
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
            let start = StartExam {
                mode: Mode::Practice,
                source: Source {
                    course: None,
                    topics: None,
                    questions: Some(picked.iter().map(|q| id(q)).collect()),
                },
                count: None,
                mix: None,
                time_limit_seconds: None,
                pass_mark: None,
                shuffle_questions: Some(true),
                shuffle_options: Some(true),
                navigation: Navigation::Free,
                certifying: None,
                assignment_id: None,
            };
            let exam = exams.start_exam(learner, start).await.unwrap();
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
                    other => panic!("unexpected {other:?}"),
                };
                let input = AnswerInput {
                    question_id: id(&q.question_id),
                    response,
                };
                exams.answer(learner, &exam.exam_id, input).await.unwrap();
            }
            exams.submit_exam(learner, &exam.exam_id).await.unwrap();
            // Taken in twice, as a redelivered job would be: the second run changes nothing.
            let first = exams.apply_completed_exam(&exam.exam_id).await.unwrap();
            assert_eq!(
                exams.apply_completed_exam(&exam.exam_id).await.unwrap(),
                0,
                "taken in once ({first} answers)"
            );
            completed.push((learner.clone(), exam.exam_id));
        }
    }

    // Brute force, from the exams as stored, in the order they were taken in.
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    let mut theta: HashMap<(String, String), (f64, u64)> = HashMap::new();
    for (learner, exam_id) in &completed {
        let summary = exams.summary(learner, exam_id).await.unwrap();
        let score = summary.result.as_ref().unwrap().score;
        let count = summary.items.len();
        for item in &summary.items {
            if !item.answered {
                continue;
            }
            let q = item.question.as_ref().unwrap();
            let mark = item.mark.unwrap();
            let e = expected
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
            let (t, nt) = theta
                .entry((learner.user_id.clone(), q.topic_id.clone()))
                .or_insert((0.0, 0));
            let p = 1.0 / (1.0 + (-(*t - e.d)).exp());
            let k = |n: u64| 0.8 / (1.0 + 0.05 * n as f64);
            let (new_t, new_d) = (*t + k(*nt) * (mark - p), e.d - k(e.nd) * (mark - p));
            (*t, *nt, e.d, e.nd) = (new_t, *nt + 1, new_d, e.nd + 1);
        }
    }
    assert!(
        expected.values().map(|e| e.attempts).sum::<u64>() > 60,
        "enough evidence to mean something"
    );
    for (question_id, e) in &expected {
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
    for learner in &learners {
        let (abilities, _) = exams.abilities(learner, 50, None).await.unwrap();
        for a in abilities {
            let (t, n) = theta[&(learner.user_id.clone(), a.topic_id.clone())];
            assert!(
                (a.theta - t).abs() < 1e-9 && a.answers == n,
                "ability {a:?} vs {t} after {n}"
            );
        }
    }
    // The most missed first, per course.
    let (missed, _) = exams
        .most_missed(&staff(), &Scope::Course(course.clone()), 50, None)
        .await
        .unwrap();
    assert_eq!(missed.len(), expected.len());
    let rates: Vec<f64> = missed.iter().map(|m| m.success_rate.unwrap()).collect();
    assert!(rates.windows(2).all(|w| w[0] <= w[1] + 1e-4), "{rates:?}");
    let _ = QuestionStats::default();
}
