//! The grading queue: exams whose essays wait for grading, oldest first, for graders only; an exam leaves it when
//! its last essay is graded.

use std::time::Duration;

use lectern_e2e::api::{Api, Signed, assert_problem};
use lectern_e2e::exams::{
    Cast, answer, approved_question, course, question, right_response, start_exam, submit_exam,
};
use serde_json::json;

/// A practice exam of an essay and a true/false, both answered, submitted: it waits for a grade. Answers its id.
async fn submitted_essay(api: &Api, who: &Signed, ids: &[String]) -> String {
    let body =
        json!({"mode": "practice", "source": {"questions": ids}, "shuffle_questions": false});
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
    let done = submit_exam(api, who, &exam_id)
        .await
        .expect_status(200)
        .body;
    assert_eq!(done["status"], "grading");
    exam_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graders_see_exams_waiting_for_essays_oldest_first_until_graded() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let essay = approved_question(&api, &cast, question(topic, "essay", "easy")).await;
    let tf = approved_question(&api, &cast, question(topic, "true_false", "easy")).await;
    let ids = [essay.clone(), tf];
    let first = submitted_essay(&api, &cast.learner, &ids).await;
    api.clock().advance(Duration::from_secs(5));
    let second = submitted_essay(&api, &cast.other_learner, &ids).await;

    for who in [&cast.learner, &cast.moderator] {
        assert_problem(
            &api.get("/v1/exams/grading-queue", Some(&who.access)).await,
            403,
            "forbidden",
        );
    }
    let grader = Some(cast.instructor.access.as_str());
    let page = api
        .get("/v1/exams/grading-queue?limit=1", grader)
        .await
        .expect_status(200);
    let items = page.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["exam_id"], first.as_str(), "oldest first");
    assert_eq!(items[0]["pending_grading"], 1);
    assert_eq!(items[0]["user_id"], cast.learner.user_id.as_str());
    let cursor = page.body["next_cursor"].as_str().expect("a next page");
    let next = api
        .get(
            &format!("/v1/exams/grading-queue?limit=1&cursor={cursor}"),
            grader,
        )
        .await
        .expect_status(200)
        .items();
    assert_eq!(next[0]["exam_id"], second.as_str());

    // Graded: off the queue.
    let grades = json!({"grades": [{"question_id": essay, "mark": 0.5}]});
    api.post(&format!("/v1/exams/{first}/grade"), grader, grades)
        .await
        .expect_status(200);
    let left = api
        .get("/v1/exams/grading-queue", grader)
        .await
        .expect_status(200)
        .items();
    let left: Vec<&str> = left
        .iter()
        .map(|i| i["exam_id"].as_str().unwrap())
        .collect();
    assert_eq!(left, [second.as_str()]);
}
