//! The exams flows on DynamoDB (moto). The core flow, on the domain: an instructor builds a course and writes
//! questions of every type, a moderator approves some and rejects one, a learner draws questions at random, takes
//! a practice exam scored right for every type and a timed exam that the deadline job submits, and an instructor
//! grades the essay. Then over the whole API on the AWS adapters, with every key ring read from Secrets Manager: a
//! passed certifying exam's certificate issued by the jobs worker from the jobs SQS holds, read by its owner,
//! verified publicly and offline; an essay regraded once its exam is complete, the statistics corrected once; an
//! assignment attempted up to `max_attempts` and refused after, a race for the last attempt starting one. The key
//! layout, conditional writes, transactions and the sparse deadline index behave on DynamoDB as on the embedded
//! store. Skipped when moto is not available (unless `LECTERN_REQUIRE_AWS=1`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lectern_accounts::permissions::Role;
use lectern_e2e::api::{Client, Signed, assert_problem};
use lectern_e2e::exams::{
    Cast, answer, approved_question, approved_questions, attempt, course, create_assignment, grade,
    issued_certificate, pass_certifying_exam, question, right_response, start_attempt, start_exam,
    submit_exam,
};
use lectern_e2e::moto_stack::MotoStack;
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
use lectern_shared::queue::{Delivery, queues};
use lectern_shared::secrets::Purpose;
use lectern_shared::testing::aws;
use lectern_shared::{Config, Platform};
use serde_json::{Value, json};

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

/// The jobs SQS holds now (no poller runs here), each hidden from other receivers for ten minutes.
async fn jobs(stack: &MotoStack) -> Vec<Delivery> {
    let mut jobs = Vec::new();
    for _ in 0..20 {
        let got = stack
            .platform
            .queue
            .receive(queues::JOBS, 10, Duration::from_secs(600))
            .await
            .expect("receive");
        if got.is_empty() {
            break;
        }
        jobs.extend(got);
    }
    jobs
}

/// Runs the jobs SQS holds through the jobs worker, each delivered twice (a redelivery, or the fast path and the
/// relay both sending): answers their kinds.
async fn run_jobs(stack: &MotoStack) -> Vec<String> {
    let jobs = jobs(stack).await;
    let worker = lectern_platform_jobs::worker(&stack.platform);
    lectern_e2e::moto_stack::run_twice(&worker, &jobs).await;
    // The exams' own jobs; the webhook events the same changes publish (run above, to no endpoint) are not theirs.
    let mut kinds: Vec<String> = jobs
        .iter()
        .map(|d| d.job.kind.clone())
        .filter(|kind| kind != "webhooks.event")
        .collect();
    kinds.sort();
    kinds
}

/// A question's statistics as an instructor reads them.
async fn stats(api: &Client, instructor: &Signed, question_id: &str) -> Value {
    api.get(
        &format!("/v1/questions/{question_id}/stats"),
        Some(&instructor.access),
    )
    .await
    .expect_status(200)
    .body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_regrades_and_assignments_on_the_aws_adapters() {
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let api = &stack.api;
    let cast = Cast {
        admin: stack
            .signed_in("cloud.admin@example.com", "Admin", Role::Admin)
            .await,
        instructor: stack
            .signed_in(
                "cloud.instructor@example.com",
                "Instructor",
                Role::Instructor,
            )
            .await,
        other_instructor: stack
            .signed_in(
                "cloud.instructor2@example.com",
                "Instructor Two",
                Role::Instructor,
            )
            .await,
        moderator: stack
            .signed_in("cloud.moderator@example.com", "Moderator", Role::Moderator)
            .await,
        learner: stack
            .signed_in("cloud.learner@example.com", "Ada Lovelace", Role::Learner)
            .await,
        other_learner: stack
            .signed_in("cloud.learner2@example.com", "Somebody Else", Role::Learner)
            .await,
    };
    let (learner, instructor) = (&cast.learner, &cast.instructor);
    let built = course(api, instructor, 100, 2).await;
    let ids = approved_questions(api, &cast, &built.topics[0], &[("easy", 2)]).await;

    // A passed certifying exam: its jobs wait in SQS; the jobs worker issues the certificate once, signed with the
    // certificates ring read from Secrets Manager.
    let exam_id = pass_certifying_exam(api, learner, &built.course, 2).await;
    assert_eq!(
        run_jobs(&stack).await,
        ["exams.exam-completed", "exams.issue-certificate"]
    );
    let certificate = issued_certificate(api, learner, &exam_id).await;
    assert_eq!(certificate["learner_name"], "Ada Lovelace");
    assert_eq!(certificate["course_name"], "Algebra");
    assert_eq!(certificate["score_percent"], 100);
    let secret = &stack.platform.config.secrets.secrets[&Purpose::Certificates];
    let ring: Value = serde_json::from_str(
        aws::secrets_client()
            .await
            .expect("moto")
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .expect("the certificates secret")
            .secret_string()
            .expect("a secret string"),
    )
    .expect("a ring");
    assert_eq!(
        (
            certificate["signature"]["kid"].clone(),
            ring["active"].clone()
        ),
        (json!("k1"), json!("k1")),
        "signed with the active key of the secret, as the template generates it"
    );
    let path = format!("/v1/certificates/{exam_id}");
    assert_problem(
        &api.get(&path, Some(&cast.other_learner.access)).await,
        404,
        "not-found",
    );
    let public = api
        .get(&format!("{path}/verify"), None)
        .await
        .expect_status(200)
        .body;
    assert_eq!(public["status"], "valid", "{public}");
    assert_eq!(public["course_name"], "Algebra");
    assert_eq!(public["issued_on"], certificate["issued_on"]);
    assert!(public["learner_name"].is_null(), "not shared: {public}");
    let keys = api
        .get("/v1/certificates/public-key", None)
        .await
        .expect_status(200)
        .body;
    // And offline, with the published key alone.
    let key = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == certificate["signature"]["kid"])
        .expect("the signing key is published");
    let text = crate::certificates::canonical(&certificate);
    assert_eq!(text, certificate["canonical"].as_str().expect("canonical"));
    assert!(crate::certificates::verifies(
        key["x"].as_str().expect("x"),
        &text,
        certificate["signature"]["value"]
            .as_str()
            .expect("signature")
    ));

    // An essay graded, then regraded once the exam is complete: the statistics follow, once.
    let essay = approved_question(api, &cast, question(&built.topics[1], "essay", "medium")).await;
    let body = json!({"mode": "practice", "source": {"questions": [essay, ids[0]]}, "shuffle_questions": false});
    let exam = start_exam(api, learner, body).await.expect_status(201).body;
    let practice = exam["exam_id"].as_str().expect("exam id");
    for item in exam["items"].as_array().expect("items") {
        let q = &item["question"];
        answer(
            api,
            learner,
            practice,
            q["question_id"].as_str().expect("id"),
            right_response(q),
        )
        .await
        .expect_status(200);
    }
    submit_exam(api, learner, practice).await.expect_status(200);
    grade(api, instructor, practice, &essay, 0.5)
        .await
        .expect_status(200);
    assert_eq!(run_jobs(&stack).await, ["exams.exam-completed"]);
    let graded = stats(api, instructor, &essay).await;
    assert_eq!(
        (graded["attempts"].clone(), graded["correct"].clone()),
        (json!(1), json!(0))
    );
    grade(api, instructor, practice, &essay, 1.0)
        .await
        .expect_status(200);
    assert_eq!(run_jobs(&stack).await, ["exams.exam-completed"]);
    let regraded = stats(api, instructor, &essay).await;
    assert_eq!(
        (
            regraded["attempts"].clone(),
            regraded["correct"].clone(),
            regraded["facility"].clone(),
            regraded["estimate_answers"].clone()
        ),
        (json!(1), json!(1), json!(1.0), json!(1)),
        "{regraded}"
    );

    // An assignment of two attempts: both start and are graded, a third is refused.
    // Drawn from the first topic (the essay, in the second, would wait for a grade).
    let settings = json!({"title": "Week 1", "source": {"topics": [built.topics[0]]}, "count": 2,
        "time_limit_seconds": 600, "max_attempts": 2, "grading_method": "highest"});
    let assignment = create_assignment(api, instructor, settings).await;
    let first = attempt(api, learner, &assignment, 0).await;
    assert_eq!(first["attempt"], 1);
    let second = attempt(api, learner, &assignment, 3).await;
    assert_eq!(second["attempt"], 2);
    assert_problem(
        &start_attempt(api, learner, &assignment).await,
        409,
        "attempts-exhausted",
    );
    let result = api
        .get(
            &format!("/v1/assignments/{assignment}/result"),
            Some(&learner.access),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (
            result["attempts_used"].clone(),
            result["attempts_left"].clone(),
            result["grade_percent"].clone(),
            result["provisional"].clone()
        ),
        (json!(2), json!(0), json!(100.0), json!(false)),
        "{result}"
    );
    // Two starts racing for the last attempt: one is stored, the other refused.
    let last = create_assignment(
        api,
        instructor,
        json!({"title": "Quiz", "source": {"topics": [built.topics[0]]}, "count": 1, "max_attempts": 1}),
    )
    .await;
    let other = &cast.other_learner;
    let (a, b) = tokio::join!(
        start_attempt(api, other, &last),
        start_attempt(api, other, &last)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a} / {b}");
    assert_problem(
        if a.status == 409 { &a } else { &b },
        409,
        "attempts-exhausted",
    );
    let theirs = api
        .get(&format!("/v1/assignments/{last}"), Some(&other.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (
            theirs["attempts_used"].clone(),
            theirs["attempts_left"].clone()
        ),
        (json!(1), json!(0))
    );
}
