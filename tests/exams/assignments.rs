//! Assignments on the dev server: instructors create them, learners attempt them up to `max_attempts` (a race for
//! the last attempt starts one), the grade follows the grading method, a due date closes them, and each learner
//! sees only their own attempts.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::exams::{
    Cast, approved_questions, attempt, course, create_assignment, start_attempt, start_exam,
};
use lectern_shared::clock::Clock;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_limited_and_graded_by_the_assignments_method() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    approved_questions(&api, &cast, &built.topics[0], &[("easy", 2)]).await;
    let settings = |method: &str, attempts: u32| {
        json!({"title": "Week 1", "source": {"course": built.course}, "count": 2, "time_limit_seconds": 600,
            "pass_mark": 75, "max_attempts": attempts, "grading_method": method, "shuffle_questions": false})
    };

    // Only authors create; settings are checked.
    assert_problem(
        &api.post(
            "/v1/assignments",
            Some(&cast.learner.access),
            settings("highest", 2),
        )
        .await,
        403,
        "forbidden",
    );
    for (field, body) in [
        (
            "max_attempts",
            json!({"title": "x", "source": {"course": built.course}, "count": 2, "max_attempts": 0}),
        ),
        (
            "max_attempts",
            json!({"title": "x", "source": {"course": built.course}, "count": 2, "max_attempts": 21}),
        ),
        (
            "count",
            json!({"title": "x", "source": {"course": built.course}}),
        ),
        ("source", json!({"title": "x", "source": {}, "count": 2})),
        // What a start would refuse is refused here, so no accepted assignment is impossible to attempt.
        (
            "count",
            json!({"title": "x", "source": {"questions": [built.course]}, "count": 2}),
        ),
        (
            "mix",
            json!({"title": "x", "source": {"questions": [built.course]}, "mix": "easy:1"}),
        ),
        (
            "source.topics[1]",
            json!({"title": "x", "source": {"topics": [built.course, built.course]}, "count": 2}),
        ),
        (
            "due_at",
            json!({"title": "x", "source": {"course": built.course}, "count": 2, "due_at": 1}),
        ),
        (
            "title",
            json!({"title": " ", "source": {"course": built.course}, "count": 2}),
        ),
    ] {
        let reply = api
            .post("/v1/assignments", Some(&cast.instructor.access), body)
            .await;
        assert_validation(&reply, field);
    }

    let highest = create_assignment(&api, &cast.instructor, settings("highest", 2)).await;
    let learner = &cast.learner;
    let first = attempt(&api, learner, &highest, 0).await;
    assert_eq!(
        (first["mode"].clone(), first["attempt"].clone()),
        (json!("assignment"), json!(1))
    );
    assert_eq!(first["assignment_id"], highest.as_str());
    assert_eq!(
        first["time_limit_seconds"], 600,
        "the assignment's settings"
    );
    let second = attempt(&api, learner, &highest, 2).await;
    assert_eq!(second["attempt"], 2);
    assert_problem(
        &start_attempt(&api, learner, &highest).await,
        409,
        "attempts-exhausted",
    );
    let result = api
        .get(
            &format!("/v1/assignments/{highest}/result"),
            Some(&learner.access),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(result["grade_percent"], 100.0);
    assert_eq!(result["passed"], true);
    assert_eq!(result["provisional"], false);
    assert_eq!(
        (
            result["attempts_used"].clone(),
            result["attempts_left"].clone()
        ),
        (json!(2), json!(0))
    );
    assert_eq!(result["attempts"].as_array().unwrap().len(), 2);

    // A learner's settings are refused: the assignment decides them.
    let chosen = json!({"mode": "assignment", "assignment_id": highest, "count": 1});
    assert_validation(
        &start_exam(&api, &cast.other_learner, chosen).await,
        "count",
    );
    let stray = json!({"mode": "timed", "assignment_id": highest, "source": {"course": built.course}, "count": 1, "time_limit_seconds": 600});
    assert_validation(
        &start_exam(&api, &cast.other_learner, stray).await,
        "assignment_id",
    );

    // Another learner: their own (no) attempts, never the first learner's.
    let other = &cast.other_learner;
    let theirs = api
        .get(&format!("/v1/assignments/{highest}"), Some(&other.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (
            theirs["attempts_used"].clone(),
            theirs["attempts_left"].clone()
        ),
        (json!(0), json!(2))
    );
    let theirs = api
        .get(
            &format!("/v1/assignments/{highest}/result"),
            Some(&other.access),
        )
        .await
        .expect_status(200)
        .body;
    assert!(theirs["attempts"].as_array().unwrap().is_empty());
    assert!(theirs["grade_percent"].is_null() && theirs["passed"].is_null());
    let first_id = first["exam_id"].as_str().unwrap();
    assert_problem(
        &api.get(&format!("/v1/exams/{first_id}"), Some(&other.access))
            .await,
        404,
        "not-found",
    );
    assert_problem(
        &api.get(
            "/v1/assignments/01JNKN0WN00000000000000000",
            Some(&other.access),
        )
        .await,
        404,
        "not-found",
    );

    // Average, first and last over two attempts: all wrong (a wrong multiple choice may earn partial credit, so
    // under 75%), then all right.
    for method in ["average", "first", "last"] {
        let id = create_assignment(&api, &cast.instructor, settings(method, 3)).await;
        let low = attempt(&api, other, &id, 0).await["result"]["percent"]
            .as_f64()
            .unwrap();
        assert!(low < 75.0);
        attempt(&api, other, &id, 2).await;
        let result = api
            .get(&format!("/v1/assignments/{id}/result"), Some(&other.access))
            .await
            .expect_status(200)
            .body;
        let expected = match method {
            "average" => (low + 100.0) / 2.0,
            "first" => low,
            _ => 100.0,
        };
        assert_eq!(
            result["grade_percent"].as_f64(),
            Some(expected),
            "{method}: {result}"
        );
        assert_eq!(result["passed"], expected >= 75.0, "{method}");
        assert_eq!(result["attempts_left"], 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_for_the_last_attempt_starts_one_and_a_due_date_closes_the_assignment() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    approved_questions(&api, &cast, &built.topics[0], &[("easy", 2)]).await;
    let id = create_assignment(
        &api,
        &cast.instructor,
        json!({"title": "Quiz", "source": {"course": built.course}, "count": 1, "max_attempts": 1}),
    )
    .await;
    let learner = &cast.learner;
    let (a, b) = tokio::join!(
        start_attempt(&api, learner, &id),
        start_attempt(&api, learner, &id)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a} / {b}");
    let loser = if a.status == 409 { &a } else { &b };
    assert_problem(loser, 409, "attempts-exhausted");
    let history = api
        .get("/v1/exams/history", Some(&learner.access))
        .await
        .expect_status(200)
        .items();
    assert_eq!(history.len(), 1, "one exam was stored");

    // Due in two minutes (the access tokens outlive that); started after it, refused.
    let due = api.clock().now().unix_timestamp() + 120;
    let closing = create_assignment(
        &api,
        &cast.instructor,
        json!({"title": "Due", "source": {"course": built.course}, "count": 1, "max_attempts": 3, "due_at": due}),
    )
    .await;
    start_attempt(&api, &cast.other_learner, &closing)
        .await
        .expect_status(201);
    api.clock().advance(Duration::from_secs(121));
    assert_problem(
        &start_attempt(&api, &cast.other_learner, &closing).await,
        409,
        "assignment-closed",
    );
}
