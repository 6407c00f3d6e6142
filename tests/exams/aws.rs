//! The exams core flow on DynamoDB (moto): an instructor builds a course and writes questions of every type, a
//! moderator approves some and rejects one, a learner draws questions at random, takes a practice exam scored
//! right for every type and a timed exam that the deadline job submits, and an instructor grades the essay. The
//! key layout, conditional writes, transactions and the sparse deadline index behave on DynamoDB as on the embedded
//! store. Skipped when moto is not available (unless `LECTERN_REQUIRE_AWS=1`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lectern_exams::exams::model::{
    AnswerInput, Grade, GradeInput, Mode, Navigation, Source, StartExam,
};
use lectern_exams::exams::scoring::Response;
use lectern_exams::exams::store::{ExamStatus, SubmittedBy};
use lectern_exams::hierarchy::{NewNode, NodeKind};
use lectern_exams::questions::model::{AnswerInput as Key, Difficulty, QuestionInput};
use lectern_exams::questions::moderation::{BatchApprove, BatchReject, Outcome};
use lectern_exams::questions::random::RandomRequest;
use lectern_exams::questions::selection::Scope;
use lectern_exams::{Exams, Tier, Viewer};
use lectern_shared::clock::{ManualClock, SharedClock};
use lectern_shared::ids::Id;
use lectern_shared::testing::aws;
use lectern_shared::{Config, Platform};

fn id(s: &str) -> Id {
    serde_json::from_value(serde_json::json!(s)).expect("an id")
}

fn staff() -> Viewer {
    Viewer {
        user_id: lectern_shared::ids::new_id(),
        author: true,
        moderator: true,
        tier: Tier::Premium,
    }
}

/// The right response to a question made by `key_of`.
fn right(view: &lectern_exams::disclosure::LearnerQuestion) -> Response {
    use lectern_exams::questions::model::QuestionType as T;
    let option = |text: &str| {
        view.options
            .as_ref()
            .expect("options")
            .iter()
            .find(|o| o.text == text)
            .expect("option")
            .id
            .clone()
    };
    match view.kind {
        T::SingleChoice => Response::SingleChoice {
            choice: option("4"),
        },
        T::MultipleChoice => Response::MultipleChoice {
            choices: vec![option("2"), option("3")],
        },
        T::TrueFalse => Response::TrueFalse { value: true },
        T::Numeric => Response::Numeric { value: 9.8 },
        T::ShortText => Response::ShortText {
            text: "paris".into(),
        },
        T::Essay => Response::Essay {
            text: "Both sides.".into(),
        },
    }
}

fn key_of(i: usize) -> Key {
    match i % 6 {
        0 => Key::SingleChoice {
            options: vec!["4".into(), "5".into()],
            correct: vec![0],
        },
        1 => Key::MultipleChoice {
            options: vec!["2".into(), "3".into(), "4".into()],
            correct: vec![0, 1],
        },
        2 => Key::TrueFalse { correct: true },
        3 => Key::Numeric {
            value: 9.81,
            tolerance: 0.05,
        },
        4 => Key::ShortText {
            accepted: vec!["Paris".into()],
            case_sensitive: false,
        },
        _ => Key::Essay {
            rubric: None,
            max_words: Some(100),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_exam_flow_on_dynamodb() {
    let clock = ManualClock::starting_now();
    let shared: SharedClock = Arc::new(clock.clone());
    let Some(table) = aws::table(shared.clone()).await else {
        eprintln!("moto is not available: AWS exams flow skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut platform = Platform::with_clock(Config::for_tests(dir.path().into()), shared)
        .await
        .expect("platform");
    platform.table = table;
    let exams = Exams::new(platform.clone());
    let (instructor, learner) = (
        staff(),
        Viewer::learner(lectern_shared::ids::new_id(), Tier::Free),
    );

    // The hierarchy, on DynamoDB.
    let mut parent: Option<String> = None;
    for kind in [
        NodeKind::Institution,
        NodeKind::Faculty,
        NodeKind::Department,
        NodeKind::Course,
        NodeKind::Topic,
    ] {
        let node = NewNode {
            kind,
            parent_id: parent.as_deref().map(id),
            name: format!("{kind:?}"),
            code: None,
            description: None,
            level: (kind == NodeKind::Course).then_some(100),
        };
        parent = Some(
            exams
                .create_node(&instructor, node)
                .await
                .expect("node")
                .node_id,
        );
    }
    let topic = parent.expect("a topic");

    // Seven questions: six types approved, one rejected.
    let mut ids = Vec::new();
    for i in 0..7 {
        let input = QuestionInput {
            topic_id: id(&topic),
            stem: format!("<p>Question {i}</p>"),
            explanation: Some("<p>Why.</p>".into()),
            difficulty: if i < 3 {
                Difficulty::Easy
            } else {
                Difficulty::Medium
            },
            subject: None,
            tags: Vec::new(),
            answer: key_of(i),
        };
        let q = exams
            .create_question(&instructor, input)
            .await
            .expect("question");
        exams
            .submit_question(&instructor, &q.question_id)
            .await
            .expect("submitted");
        ids.push(q.question_id);
    }
    let approved = exams
        .batch_approve(
            &instructor,
            BatchApprove {
                ids: ids[..6].iter().map(|i| id(i)).collect(),
            },
        )
        .await
        .expect("approve");
    assert!(
        approved
            .results
            .iter()
            .all(|r| r.outcome == Outcome::Approved),
        "{approved:?}"
    );
    let rejected = exams
        .batch_reject(
            &instructor,
            BatchReject {
                ids: vec![id(&ids[6])],
                reason: "Unclear.".into(),
            },
        )
        .await
        .expect("reject");
    assert_eq!(rejected.results[0].outcome, Outcome::Rejected);

    // Random selection draws only approved questions, never the same twice in a session.
    let request = RandomRequest {
        scope: Scope::Topic(topic.clone()),
        count: 4,
        mix: None,
        adaptive: false,
        session_id: None,
    };
    let first = exams
        .random_questions(&learner, request)
        .await
        .expect("a draw");
    assert_eq!(first.items.len(), 4);
    let more = RandomRequest {
        scope: Scope::Topic(topic.clone()),
        count: 4,
        mix: None,
        adaptive: false,
        session_id: Some(first.session_id.clone()),
    };
    let second = exams
        .random_questions(&learner, more)
        .await
        .expect("another draw");
    assert_eq!(
        (second.items.len(), second.complete),
        (2, false),
        "six approved questions in all"
    );
    let served: BTreeSet<&str> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|q| q.question_id.as_str())
        .collect();
    assert_eq!(served.len(), 6);
    assert!(
        !served.contains(ids[6].as_str()),
        "the rejected question never reaches a learner"
    );

    // A practice exam over the six: every answer right; the essay waits for its grade.
    let start = |mode, time_limit_seconds, source: Source, count| StartExam {
        mode,
        source,
        count,
        mix: None,
        time_limit_seconds,
        pass_mark: Some(80),
        shuffle_questions: Some(true),
        shuffle_options: Some(true),
        navigation: Navigation::Free,
        certifying: None,
        assignment_id: None,
    };
    let listed = Source {
        course: None,
        topics: None,
        questions: Some(ids[..6].iter().map(|i| id(i)).collect()),
    };
    let practice = exams
        .start_exam(&learner, start(Mode::Practice, None, listed, None))
        .await
        .expect("started");
    for item in &practice.items {
        let q = item.question.as_ref().expect("shown");
        assert!(q.answer_key.is_none(), "nothing right before answering");
        let input = AnswerInput {
            question_id: id(&q.question_id),
            response: right(q),
        };
        let marked = exams
            .answer(&learner, &practice.exam_id, input)
            .await
            .expect("answered");
        assert_eq!(
            marked.item.mark,
            (q.kind != lectern_exams::questions::model::QuestionType::Essay).then_some(1.0)
        );
    }
    let done = exams
        .submit_exam(&learner, &practice.exam_id)
        .await
        .expect("submitted");
    assert_eq!(done.status, ExamStatus::Grading);
    let result = done.result.as_ref().expect("a result");
    assert_eq!((result.score, result.passed), (5.0, None));
    let essay = done
        .items
        .iter()
        .find(|i| {
            i.question
                .as_ref()
                .is_some_and(|q| q.kind == lectern_exams::questions::model::QuestionType::Essay)
        })
        .expect("the essay");
    let essay_id = essay.question.as_ref().unwrap().question_id.clone();
    let grades = GradeInput {
        grades: vec![Grade {
            question_id: id(&essay_id),
            mark: 0.5,
            feedback: None,
        }],
    };
    let graded = exams
        .grade(&instructor, &practice.exam_id, grades)
        .await
        .expect("graded");
    let result = graded.result.expect("final");
    assert_eq!(
        (result.score, result.passed, graded.status),
        (5.5, Some(true), ExamStatus::Completed)
    );

    // A timed exam left alone: the deadline job submits it from the sparse index, once.
    let drawn = Source {
        course: None,
        topics: Some(vec![id(&topic)]),
        questions: None,
    };
    let timed = exams
        .start_exam(&learner, start(Mode::Timed, Some(60), drawn, Some(3)))
        .await
        .expect("timed");
    let first_item = timed.items[0].question.clone().expect("shown");
    let input = AnswerInput {
        question_id: id(&first_item.question_id),
        response: right(&first_item),
    };
    exams
        .answer(&learner, &timed.exam_id, input)
        .await
        .expect("answered in time");
    clock.advance(Duration::from_secs(61));
    // DynamoDB's indexes are eventually consistent (moto's are not): one run is enough here.
    assert_eq!(exams.submit_overdue(10).await.expect("job"), 1);
    assert_eq!(
        exams.submit_overdue(10).await.expect("job"),
        0,
        "submitted once"
    );
    let view = exams
        .exam_view(&learner, &timed.exam_id)
        .await
        .expect("view");
    let result = view.result.expect("a result");
    assert_eq!(result.submitted_by, SubmittedBy::Deadline);
    assert_eq!(result.submitted_at, timed.deadline.expect("a deadline"));
    let history = exams
        .exam_history(&learner, 10, None)
        .await
        .expect("history")
        .0;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].exam_id, timed.exam_id, "newest first");
    // Another learner reaches none of it.
    let other = Viewer::learner(lectern_shared::ids::new_id(), Tier::Free);
    assert!(matches!(
        exams.exam_view(&other, &timed.exam_id).await,
        Err(lectern_exams::ExamError::NotFound(_))
    ));
}
