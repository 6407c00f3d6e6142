//! Statistics on the dev server: a completed exam reaches the statistics worker through the outbox and the jobs
//! queue; instructors read a question's figures and the most missed questions; learners read their own
//! abilities and nobody else's. (The figures themselves are checked against a brute-force recomputation in the
//! domain's `tests/statistics.rs`.)

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::exams::{
    Cast, approved_question, course, question, right_response, start_exam, submit_exam,
    wrong_response,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_exam_feeds_the_statistics_and_the_learners_ability() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let right_one = approved_question(&api, &cast, question(topic, "true_false", "easy")).await;
    let missed = approved_question(&api, &cast, question(topic, "single_choice", "hard")).await;
    let body = json!({"mode": "practice", "source": {"questions": [right_one, missed]}, "shuffle_questions": false});
    let exam = start_exam(&api, &cast.learner, body)
        .await
        .expect_status(201)
        .body;
    let exam_id = exam["exam_id"].as_str().unwrap();
    for (item, right) in exam["items"].as_array().unwrap().iter().zip([true, false]) {
        let q = &item["question"];
        let response = if right {
            right_response(q)
        } else {
            wrong_response(q)
        };
        lectern_e2e::exams::answer(
            &api,
            &cast.learner,
            exam_id,
            q["question_id"].as_str().unwrap(),
            response,
        )
        .await
        .expect_status(200);
    }
    let done = submit_exam(&api, &cast.learner, exam_id)
        .await
        .expect_status(200)
        .body;
    assert_eq!(done["status"], "completed");

    // The worker takes the exam in shortly after (the job left through the outbox at once).
    let stats_of = |id: &str| format!("/v1/questions/{id}/stats");
    let instructor = Some(cast.instructor.access.as_str());
    let taken_in = lectern_e2e::eventually(async || {
        api.get(&stats_of(&missed), instructor).await.body["attempts"] == 1
    })
    .await;
    assert!(taken_in, "the statistics worker never took the exam in");
    let stats: Value = api
        .get(&stats_of(&missed), instructor)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (stats["correct"].clone(), stats["incorrect"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(stats["facility"].as_f64(), Some(0.0));
    assert!(
        stats["difficulty_estimate"].as_f64().unwrap() > 1.0,
        "missed: harder than its prior of 1: {stats}"
    );
    let easy = api
        .get(&stats_of(&right_one), instructor)
        .await
        .expect_status(200)
        .body;
    assert!(
        easy["difficulty_estimate"].as_f64().unwrap() < -1.0,
        "answered: easier than its prior: {easy}"
    );

    let most = api
        .get(
            &format!("/v1/questions/most-missed?course={}", built.course),
            instructor,
        )
        .await
        .expect_status(200)
        .items();
    assert_eq!(
        most[0]["question_id"],
        missed.as_str(),
        "the most missed first"
    );
    assert_validation(
        &api.get("/v1/questions/most-missed", instructor).await,
        "query.course",
    );

    // The learner's ability in the topic; another learner has none, and learners read no question statistics.
    let mine = api
        .get("/v1/users/me/abilities", Some(&cast.learner.access))
        .await
        .expect_status(200)
        .items();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0]["topic_id"].as_str(), mine[0]["answers"].as_u64()),
        (Some(topic.as_str()), Some(2))
    );
    let theirs = api
        .get("/v1/users/me/abilities", Some(&cast.other_learner.access))
        .await
        .expect_status(200);
    assert!(theirs.items().is_empty());
    assert_problem(
        &api.get(&stats_of(&missed), Some(&cast.learner.access))
            .await,
        403,
        "forbidden",
    );
    // A fresh question has no attempts and its authors' difficulty.
    let fresh = approved_question(&api, &cast, question(topic, "numeric", "medium")).await;
    let none = api
        .get(&stats_of(&fresh), instructor)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (
            none["attempts"].clone(),
            none["facility"].clone(),
            none["difficulty_estimate"].as_f64()
        ),
        (json!(0), Value::Null, Some(0.0))
    );
    assert_problem(
        &api.get(&stats_of("01JNKN0WN0000000000000000Z"), instructor)
            .await,
        404,
        "not-found",
    );
    api.stop().await;
}
