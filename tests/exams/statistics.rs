//! Statistics on the dev server: a completed exam reaches the statistics worker through the outbox and the jobs
//! queue; a grade changed after the exam is complete reaches it again and corrects the figures; instructors read a
//! question's figures and the most missed questions; learners read their own abilities and nobody else's. (The
//! figures themselves are checked against a brute-force recomputation in the domain's `tests/statistics.rs`.)

use lectern_e2e::api::{Api, Signed, assert_problem, assert_validation};
use lectern_e2e::exams::{
    Cast, approved_question, course, grade, question, right_response, sit_exam, start_exam,
    submit_exam, wrong_response,
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

/// `GET /v1/users/me/abilities` as `who`.
async fn abilities(api: &Api, who: &Signed) -> Vec<Value> {
    api.get("/v1/users/me/abilities", Some(&who.access))
        .await
        .expect_status(200)
        .items()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grade_changed_after_the_exam_is_complete_corrects_the_statistics() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let essay = approved_question(&api, &cast, question(topic, "essay", "medium")).await;
    let true_false = approved_question(&api, &cast, question(topic, "true_false", "easy")).await;
    let body = json!({"mode": "practice", "source": {"questions": [essay, true_false]}, "shuffle_questions": false});
    let learner = &cast.learner;
    let (exam_id, submitted) = sit_exam(&api, learner, body, right_response).await;
    let exam_id = exam_id.as_str();
    assert_eq!(submitted["status"], "grading");

    // Graded: the exam completes and the worker takes it in.
    let grader = &cast.instructor;
    let graded = grade(&api, grader, exam_id, &essay, 0.5)
        .await
        .expect_status(200)
        .body;
    assert_eq!(graded["status"], "completed");
    let instructor = Some(grader.access.as_str());
    let stats_of = |id: &str| format!("/v1/questions/{id}/stats");
    let taken_in = lectern_e2e::eventually(async || {
        api.get(&stats_of(&essay), instructor).await.body["attempts"] == 1
    })
    .await;
    assert!(taken_in, "the statistics worker never took the exam in");
    let first = api
        .get(&stats_of(&essay), instructor)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (first["correct"].clone(), first["incorrect"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(first["facility"].as_f64(), Some(0.5));
    let before = abilities(&api, learner).await;
    let other_question = api
        .get(&stats_of(&true_false), instructor)
        .await
        .expect_status(200)
        .body;

    // Changed once complete: the figures follow — the same attempt, now right — and the estimates move by the
    // answer's own step (taken in first of the learner's and of the question's: K = 0.8, times 1 − 0.5).
    let regraded = grade(&api, grader, exam_id, &essay, 1.0)
        .await
        .expect_status(200)
        .body;
    assert_eq!(regraded["result"]["score"].as_f64(), Some(2.0));
    let corrected = lectern_e2e::eventually(async || {
        api.get(&stats_of(&essay), instructor).await.body["correct"] == 1
    })
    .await;
    assert!(corrected, "the changed grade never reached the statistics");
    let now = api
        .get(&stats_of(&essay), instructor)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (
            now["attempts"].clone(),
            now["correct"].clone(),
            now["incorrect"].clone(),
            now["estimate_answers"].clone()
        ),
        (json!(1), json!(1), json!(0), json!(1)),
        "{now}"
    );
    assert_eq!(now["facility"].as_f64(), Some(1.0));
    let moved = first["difficulty_estimate"].as_f64().unwrap() - 0.4;
    assert!(
        (now["difficulty_estimate"].as_f64().unwrap() - moved).abs() < 1e-9,
        "{first} → {now}"
    );
    let after = abilities(&api, learner).await;
    assert_eq!(after[0]["answers"], before[0]["answers"], "counted once");
    let raised = before[0]["theta"].as_f64().unwrap() + 0.4;
    assert!((after[0]["theta"].as_f64().unwrap() - raised).abs() < 1e-9);
    let other_now = api
        .get(&stats_of(&true_false), instructor)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (other_now["attempts"].clone(), other_now["correct"].clone()),
        (
            other_question["attempts"].clone(),
            other_question["correct"].clone()
        ),
        "the other question's attempt is the same one"
    );

    // The same grade again: no job leaves, and no figure moves.
    api.server.ops.reset();
    grade(&api, grader, exam_id, &essay, 1.0)
        .await
        .expect_status(200);
    let ops = api.server.ops.take();
    assert_eq!(ops.summary().sends, 0, "{:?}", ops.names());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        api.get(&stats_of(&essay), instructor).await.body,
        now,
        "unchanged"
    );
    assert_eq!(abilities(&api, learner).await, after);
    api.stop().await;
}
