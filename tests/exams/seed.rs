//! The demo seed: Demo University with two courses, several topics and more than 200 approved questions of every
//! type, some pending review, some drafts; once only.

use std::collections::BTreeMap;

use lectern_e2e::api::Api;
use lectern_exams::questions::listing::Filter;
use lectern_exams::questions::model::{QuestionType, Status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seed_builds_a_university_with_every_type_of_question_once() {
    let api = Api::start().await;
    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    let report = lectern_local::seed::run(&api.server.platform, &accounts)
        .await
        .expect("seed");
    assert!(report.applied.contains(&"exams-demo"), "{report:?}");
    let again = lectern_local::seed::run(&api.server.platform, &accounts)
        .await
        .expect("seed again");
    assert!(again.skipped.contains(&"exams-demo") && !again.applied.contains(&"exams-demo"));

    // A learner finds the university and its courses.
    let learner = api.signed_up("learner@example.com").await;
    let institutions = api
        .get("/v1/hierarchy/institutions", Some(&learner.access))
        .await
        .expect_status(200)
        .items();
    assert_eq!(institutions.len(), 1, "seeded once");
    assert_eq!(institutions[0]["name"], "Demo University");

    let exams = lectern_exams::Exams::new(api.server.platform.clone());
    let mut by_course: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_type: BTreeMap<QuestionType, usize> = BTreeMap::new();
    for status in [Status::Approved, Status::Pending, Status::Draft] {
        let filter = Filter {
            status: Some(status),
            ..Filter::default()
        };
        let mut cursor = None;
        loop {
            let (items, next) = exams
                .list_questions(&filter, 100, cursor)
                .await
                .expect("list");
            for q in items.iter().filter(|_| status == Status::Approved) {
                *by_course.entry(q.course_id.clone()).or_default() += 1;
                *by_type.entry(q.kind).or_default() += 1;
            }
            if status != Status::Approved {
                assert!(
                    !items.is_empty() || next.is_some(),
                    "some {status:?} questions for the review queue"
                );
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    assert_eq!(by_course.len(), 2, "two courses: {by_course:?}");
    assert!(by_course.values().sum::<usize>() >= 200, "{by_course:?}");
    assert_eq!(
        by_type.len(),
        QuestionType::ALL.len(),
        "every type: {by_type:?}"
    );
    // And they can be drawn.
    let course = by_course.keys().next().unwrap();
    let draw = api
        .get(
            &format!("/v1/questions/random?course={course}&count=20"),
            Some(&learner.access),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(draw["complete"], true);
    api.stop().await;
}
