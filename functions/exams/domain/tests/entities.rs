//! Golden files of the items the exams domain stores: one per entity, the whole item, in `golden/<entity>.json`.
//! Rewrite them with `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::path::PathBuf;

use lectern_exams::hierarchy::{Node, NodeKind};
use lectern_exams::questions::model::{
    AnswerKey, Choice, Content, Difficulty, QuestionType, Status,
};
use lectern_exams::questions::pool::{self, PoolEntry, Seen, SelectionSession};
use lectern_exams::questions::store::{Comment, Listing, Question, QuestionVersion};
use lectern_shared::table::{Condition, Table};
use lectern_shared::testing::golden::{assert_stored, assert_stored_item};

const NOW: i64 = 1_900_000_000;
const AUTHOR: &str = "01JAD4LOVELACE0000000000AA";
const QUESTION: &str = "01JQUEST10N000000000000000";
const TOPIC: &str = "01JT0P1C000000000000000000";
const COURSE: &str = "01JC0VRSE00000000000000000";

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn content() -> Content {
    Content {
        topic_id: TOPIC.into(),
        course_id: COURSE.into(),
        level: 200,
        stem: "<p>Which are primes?</p>".into(),
        explanation: Some("<p>2 and 3 have no divisors but 1 and themselves.</p>".into()),
        difficulty: Difficulty::Medium,
        subject: Some("number-theory".into()),
        tags: vec!["primes".into()],
        answer: AnswerKey::MultipleChoice {
            options: vec![
                Choice {
                    id: "k3v9qa".into(),
                    text: "2".into(),
                },
                Choice {
                    id: "m2x7pd".into(),
                    text: "3".into(),
                },
                Choice {
                    id: "z8c4rt".into(),
                    text: "4".into(),
                },
            ],
            correct: vec!["k3v9qa".into(), "m2x7pd".into()],
        },
    }
}

fn question() -> Question {
    Question {
        question_id: QUESTION.into(),
        version: 2,
        status: Status::Rejected,
        author_id: AUTHOR.into(),
        content: content(),
        created_at: NOW - 3_600,
        updated_at: NOW,
        reviewed_by: Some("01JM0DERAT0R00000000000000".into()),
        reviewed_at: Some(NOW),
        rejection_reason: Some("4 is listed twice".into()),
    }
}

#[test]
fn hierarchy_node() {
    assert_stored(
        &golden(),
        &Node {
            node_id: COURSE.into(),
            kind: NodeKind::Course,
            parent_id: Some("01JDEPARTMENT0000000000000".into()),
            path: vec![
                "01JNST1TVT10N0000000000000".into(),
                "01JFACVLTY0000000000000000".into(),
                "01JDEPARTMENT0000000000000".into(),
            ],
            name: "Discrete Mathematics".into(),
            code: Some("MTH 201".into()),
            description: None,
            level: Some(200),
            children: 4,
            created_by: AUTHOR.into(),
            created_at: NOW - 86_400,
            updated_at: NOW,
            version: 2,
        },
    );
}

#[test]
fn question_head() {
    assert_stored(&golden(), &question());
}

#[test]
fn question_version() {
    assert_stored(
        &golden(),
        &QuestionVersion {
            question_id: QUESTION.into(),
            version: 2,
            content: Content {
                answer: AnswerKey::Numeric {
                    value: 9.81,
                    tolerance: 0.05,
                },
                ..content()
            },
            edited_by: AUTHOR.into(),
            edited_at: NOW,
        },
    );
}

#[test]
fn question_comment() {
    assert_stored(
        &golden(),
        &Comment {
            question_id: QUESTION.into(),
            comment_id: "01JC0MMENT0000000000000000".into(),
            author_id: AUTHOR.into(),
            body: "Option 3 is ambiguous.".into(),
            version: 2,
            created_at: NOW,
        },
    );
}

#[test]
fn question_listing() {
    let listings = Listing::of(&question());
    assert_eq!(
        listings.len(),
        6,
        "topic, course, level, all, subject and one tag"
    );
    let tag = listings
        .into_iter()
        .find(|l| l.facet == "tag")
        .expect("a tag listing");
    assert_eq!(tag.kind, QuestionType::MultipleChoice);
    assert_stored(&golden(), &tag);
}

fn approved() -> Question {
    Question {
        status: Status::Approved,
        rejection_reason: None,
        ..question()
    }
}

#[test]
fn question_pool_entry() {
    let entries = PoolEntry::of(&approved());
    assert_eq!(entries.len(), 2, "one per pool: the course and the topic");
    assert!(
        PoolEntry::of(&question()).is_empty(),
        "only approved questions are in a pool"
    );
    let topic = entries
        .into_iter()
        .find(|e| e.facet == "topic")
        .expect("a topic entry");
    assert_stored(&golden(), &topic);
}

#[tokio::test]
async fn question_pool_size() {
    let clock = lectern_shared::clock::ManualClock::new(
        time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
    );
    let (table, _dir) = lectern_shared::testing::embedded::table(std::sync::Arc::new(clock));
    let key = pool::size_key("course", COURSE, Difficulty::Medium);
    for by in [1, 1, -1, 1] {
        table
            .update(&key, pool::size_change(by), Condition::Always)
            .await
            .unwrap();
    }
    let item = table.get(&key).await.unwrap().expect("a size");
    assert_eq!(item["size"], 2);
    assert_stored_item(&golden(), &pool::POOL_SIZE, &item);
}

#[test]
fn question_seen() {
    assert_stored(
        &golden(),
        &Seen {
            user_id: "01JLEARNER0000000000000000".into(),
            question_id: QUESTION.into(),
            course_id: COURSE.into(),
            topic_id: TOPIC.into(),
            difficulty: Difficulty::Hard,
            last_seen_at: NOW,
            times: 3,
        },
    );
}

#[test]
fn selection_session() {
    assert_stored(
        &golden(),
        &SelectionSession {
            session_id: "01JSESS10N0000000000000000".into(),
            user_id: "01JLEARNER0000000000000000".into(),
            served: vec![QUESTION.into()],
            version: 1,
            updated_at: NOW,
        },
    );
}

fn exam() -> lectern_exams::exams::store::Exam {
    use lectern_exams::exams::model::{Mode, Navigation};
    use lectern_exams::exams::store::{Exam, ExamStatus, Slot};
    Exam {
        exam_id: "01JEXAM0000000000000000000".into(),
        user_id: "01JLEARNER0000000000000000".into(),
        mode: Mode::Timed,
        navigation: Navigation::Sequential,
        pass_mark: 60,
        time_limit_seconds: Some(1800),
        started_at: NOW,
        deadline: Some(NOW + 1800),
        questions: vec![Slot {
            question_id: QUESTION.into(),
            version: 2,
            kind: QuestionType::MultipleChoice,
            difficulty: Difficulty::Medium,
            topic_id: TOPIC.into(),
            course_id: COURSE.into(),
            options: Some(vec!["z8c4rt".into(), "k3v9qa".into(), "m2x7pd".into()]),
        }],
        status: ExamStatus::InProgress,
        answered: 1,
        last_answer_at: NOW + 40,
        revision: 1,
        outcome: None,
        certifies_course: None,
        assignment_id: None,
        attempt: None,
    }
}

#[test]
fn exam_in_progress() {
    // In progress with a deadline: on the overdue index (gsi2) too.
    let item = lectern_shared::table::Entity::to_item(&exam()).unwrap();
    assert_eq!(item["gsi2pk"], "EXAMDUE");
    assert_stored(&golden(), &exam());
}

#[test]
fn a_submitted_exam_leaves_the_overdue_index() {
    use lectern_exams::exams::store::{ExamStatus, Outcome, SubmittedBy};
    let done = lectern_exams::exams::store::Exam {
        status: ExamStatus::Completed,
        outcome: Some(Outcome {
            submitted_at: NOW + 1800,
            submitted_by: SubmittedBy::Deadline,
            score: 0.5,
            pending_grading: 0,
        }),
        ..exam()
    };
    let item = lectern_shared::table::Entity::to_item(&done).unwrap();
    assert!(
        item.get("gsi2pk").is_none() && item.get("gsi1pk").is_some(),
        "{item:?}"
    );
}

#[test]
fn exam_answer() {
    use lectern_exams::exams::scoring::Response;
    use lectern_exams::exams::store::AnswerRecord;
    assert_stored(
        &golden(),
        &AnswerRecord {
            exam_id: "01JEXAM0000000000000000000".into(),
            position: 0,
            question_id: QUESTION.into(),
            response: Response::MultipleChoice {
                choices: vec!["k3v9qa".into()],
            },
            mark: Some(0.5),
            answered_at: NOW + 40,
            seconds: 40,
            feedback: None,
            graded_by: None,
        },
    );
}

#[test]
fn question_stats() {
    use lectern_exams::exams::statistics::QuestionStats;
    assert_stored(
        &golden(),
        &QuestionStats {
            question_id: QUESTION.into(),
            course_id: COURSE.into(),
            topic_id: TOPIC.into(),
            attempts: 4,
            correct: 1,
            incorrect: 3,
            mark_sum: 1.5,
            seconds_sum: 120,
            pairs: 4,
            sum_x: 1.5,
            sum_y: 2.25,
            sum_xx: 1.25,
            sum_yy: 1.5,
            sum_xy: 1.0,
            difficulty: 0.75,
            difficulty_answers: 4,
            version: 4,
        },
    );
}

#[test]
fn ability() {
    use lectern_exams::exams::statistics::Ability;
    assert_stored(
        &golden(),
        &Ability {
            user_id: "01JLEARNER0000000000000000".into(),
            topic_id: TOPIC.into(),
            course_id: COURSE.into(),
            theta: -0.5,
            answers: 7,
            version: 7,
        },
    );
}

#[test]
fn stats_applied() {
    use lectern_exams::exams::statistics::{Applied, Taken};
    assert_stored(
        &golden(),
        &Applied {
            exam_id: "01JEXAM0000000000000000000".into(),
            position: "003".into(),
            applied_at: NOW,
            revision: 9,
            taken: Some(Taken {
                mark: 0.5,
                rest: Some(0.75),
                theta_answers: 3,
                difficulty_answers: 12,
            }),
        },
    );
}

#[test]
fn a_marker_stored_before_grades_could_be_corrected_still_reads() {
    use lectern_exams::exams::statistics::Applied;
    use lectern_shared::table::Entity;
    let item = serde_json::from_value(serde_json::json!({
        "applied_at": NOW,
        "entity": "stats_applied",
        "exam_id": "01JEXAM0000000000000000000",
        "pk": "QSTATDONE#01JEXAM0000000000000000000",
        "position": "003",
        "sk": "003"
    }))
    .unwrap();
    let marker = Applied::from_item(item).unwrap();
    assert_eq!((marker.revision, marker.taken), (0, None));
}

#[test]
fn certificate() {
    use lectern_exams::certificates::{Certificate, CertificateStatus};
    // Revoked and shared: every optional field present.
    assert_stored(
        &golden(),
        &Certificate {
            certificate_id: "01JEXAM0000000000000000000".into(),
            user_id: "01JLEARNER0000000000000000".into(),
            exam_id: "01JEXAM0000000000000000000".into(),
            learner_name: "Ada Lovelace".into(),
            course_id: COURSE.into(),
            course_name: "Analysis I".into(),
            score_percent: 85,
            issued_at: NOW,
            issued_on: "2030-03-17".into(),
            kid: "k1".into(),
            signature: "c2lnbmF0dXJl".into(),
            status: CertificateStatus::Revoked,
            revoked_at: Some(NOW + 60),
            revoked_by: Some("01JADM1N000000000000000000".into()),
            revocation_reason: Some("the exam was sat by someone else".into()),
            share_name: true,
            share_score: false,
        },
    );
}

#[test]
fn assignment() {
    use lectern_exams::assignments::{Assignment, GradingMethod};
    use lectern_exams::exams::model::{Navigation, Source};
    let course: lectern_shared::ids::Id =
        serde_json::from_value(serde_json::json!(COURSE)).unwrap();
    assert_stored(
        &golden(),
        &Assignment {
            assignment_id: "01JASS1GNMENT0000000000000".into(),
            title: "Week 1".into(),
            created_by: AUTHOR.into(),
            created_at: NOW,
            source: Source {
                course: Some(course),
                topics: None,
                questions: None,
            },
            count: Some(10),
            mix: Some("easy:30,medium:50,hard:20".into()),
            time_limit_seconds: Some(1800),
            pass_mark: 60,
            max_attempts: 3,
            grading_method: GradingMethod::Average,
            due_at: Some(NOW + 7 * 86_400),
            shuffle_questions: true,
            shuffle_options: false,
            navigation: Navigation::Sequential,
        },
    );
}

#[test]
fn assignment_attempts() {
    use lectern_exams::assignments::Attempts;
    assert_stored(
        &golden(),
        &Attempts {
            assignment_id: "01JASS1GNMENT0000000000000".into(),
            user_id: "01JLEARNER0000000000000000".into(),
            started: 2,
            exam_ids: vec![
                "01JEXAM0000000000000000000".into(),
                "01JEXAM0000000000000000001".into(),
            ],
        },
    );
}

#[test]
fn grading_entry() {
    use lectern_exams::exams::queue::GradingEntry;
    assert_stored(
        &golden(),
        &GradingEntry {
            exam_id: "01JEXAM0000000000000000000".into(),
            user_id: "01JLEARNER0000000000000000".into(),
            submitted_at: NOW,
            pending_grading: 2,
            count: 10,
        },
    );
}
