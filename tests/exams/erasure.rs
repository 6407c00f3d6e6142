//! Forgetting a learner: after the deletion grace period the purge erases their exams, answers, seen records,
//! abilities, certificates and selection sessions; the question statistics they fed stay, naming nobody; another
//! learner's exams stay whole.

use lectern_e2e::api::{Api, Signed};
use lectern_e2e::eventually;
use lectern_e2e::exams::{
    Cast, answer, approved_questions, course, create_assignment, issued_certificate,
    pass_certifying_exam, right_response, start_attempt, start_exam, submit_exam,
};
use lectern_shared::table::Item;
use lectern_shared::testing::embedded::{all_items, db_path};
use serde_json::{Value, json};

fn mentions(item: &Item, user: &Signed) -> bool {
    Value::Object(item.clone())
        .to_string()
        .to_lowercase()
        .contains(&user.user_id.to_lowercase())
}

/// A completed practice exam and a timed one in progress, and a random draw.
async fn practise(api: &Api, who: &Signed, topic: &str, ids: &[String]) -> String {
    let body = json!({"mode": "practice", "source": {"questions": ids}});
    let exam = start_exam(api, who, body).await.expect_status(201).body;
    let exam_id = exam["exam_id"].as_str().unwrap().to_string();
    for item in exam["items"].as_array().unwrap() {
        let q = &item["question"];
        answer(
            api,
            who,
            &exam_id,
            q["question_id"].as_str().unwrap(),
            right_response(q),
        )
        .await
        .expect_status(200);
    }
    submit_exam(api, who, &exam_id).await.expect_status(200);
    let timed = json!({"mode": "timed", "source": {"topics": [topic]}, "count": 2, "time_limit_seconds": 600});
    start_exam(api, who, timed).await.expect_status(201);
    api.get(
        &format!("/v1/questions/random?topic={topic}&count=2"),
        Some(&who.access),
    )
    .await
    .expect_status(200);
    exam_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_learner_leaves_no_exam_data_behind() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    // Single choice, multiple choice, true/false: marked at once, so the exams complete and feed the statistics.
    let ids = approved_questions(&api, &cast, topic, &[("easy", 3)]).await;
    let gone = &cast.learner;
    practise(&api, gone, topic, &ids).await;
    let kept_exam = practise(&api, &cast.other_learner, topic, &ids).await;
    let platform = api.server.platform.clone();
    let instructor = Some(cast.instructor.access.as_str());
    let fed = eventually(async || {
        api.get(&format!("/v1/questions/{}/stats", ids[0]), instructor)
            .await
            .body["attempts"]
            == 2
    })
    .await;
    assert!(fed, "both exams reached the statistics");
    let abilities = api
        .get("/v1/users/me/abilities", Some(&gone.access))
        .await
        .expect_status(200)
        .items();
    assert_eq!(abilities.len(), 1);
    // A certificate, which carries their name, and an attempt at an assignment.
    let certified = pass_certifying_exam(&api, gone, &built.course, 3).await;
    issued_certificate(&api, gone, &certified).await;
    let assignment = create_assignment(
        &api,
        &cast.instructor,
        json!({"title": "Week 1", "source": {"questions": ids}, "max_attempts": 2}),
    )
    .await;
    start_attempt(&api, gone, &assignment)
        .await
        .expect_status(201);

    api.erased_after_grace(gone).await;
    // Expired items (the selection session) are swept from the file too.
    lectern_platform_housekeeping::run(&platform).await.unwrap();
    let exams = lectern_exams::Exams::new(platform.clone());
    let other = lectern_exams::Viewer::learner(
        cast.other_learner.user_id.clone(),
        lectern_exams::Tier::Free,
    );
    let theirs = exams
        .summary(&other, &kept_exam)
        .await
        .expect("the other learner's exam is whole");
    assert_eq!(theirs.items.len(), 3);
    drop((platform, exams));
    let dir = api.stop().await;

    let items = all_items(&db_path(dir.path()));
    // Only the exams domain's entities: what other domains keep (an audit record, a job claim) is theirs to test.
    let ours: Vec<&str> = lectern_exams::ENTITIES.iter().map(|e| e.name).collect();
    let left: Vec<&Item> = items
        .iter()
        .filter(|i| mentions(i, gone) && i["entity"].as_str().is_some_and(|e| ours.contains(&e)))
        .collect();
    assert!(
        left.is_empty(),
        "exam data of the purged learner is left: {left:#?}"
    );
    let entities = |name: &str| items.iter().filter(|i| i["entity"] == name).count();
    assert_eq!(entities("exam"), 2, "the other learner's two exams");
    assert_eq!(entities("certificate"), 0, "the certificate is gone");
    assert_eq!(
        entities("assignment_attempts"),
        0,
        "their attempt count is gone"
    );
    assert_eq!(
        entities("assignment"),
        1,
        "the instructor's assignment stays"
    );
    assert_eq!(entities("exam_answer"), 3, "and only their answers");
    assert_eq!(
        entities("question_stats"),
        3,
        "the statistics stay, naming nobody"
    );
}
