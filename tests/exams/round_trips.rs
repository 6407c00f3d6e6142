//! Storage round trips per hot route of the exams domain, held at their budget (authentication is one read).

use lectern_e2e::api::Api;
use lectern_e2e::exams::{Cast, approved_question, course, question};
use lectern_shared::testing::counting::Summary;

fn budget(reads: usize, writes: usize) -> Summary {
    Summary {
        reads,
        writes,
        sends: 0,
        blobs: 0,
    }
}

#[tokio::test]
async fn question_bank_routes_stay_within_their_round_trip_budget() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let id = approved_question(
        &api,
        &cast,
        question(&built.topics[0], "single_choice", "easy"),
    )
    .await;

    let cases: Vec<(&str, Summary)> = vec![
        ("GET /v1/questions/{id} (learner)", budget(2, 0)),
        ("GET /v1/questions?topic= (filtered)", budget(2, 0)),
        ("POST /v1/questions", budget(3, 1)),
        ("GET /v1/hierarchy/nodes/{id}", budget(2, 0)),
        // Sizes, the pool read from a random slot and wrapped round (a pool smaller than a probe), the learner's
        // seen records, the heads; one transaction records the draw. The same for any size of pool (see the
        // domain's selection test).
        (
            "GET /v1/questions/random?topic=&mix=easy:1 (learner)",
            budget(6, 1),
        ),
        ("POST /v1/hierarchy/nodes", budget(2, 1)),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        match what {
            "GET /v1/questions/{id} (learner)" => {
                api.get(&format!("/v1/questions/{id}"), Some(&cast.learner.access))
                    .await
                    .expect_status(200);
            }
            "GET /v1/questions?topic= (filtered)" => {
                let path = format!("/v1/questions?topic={}&difficulty=easy", built.topics[0]);
                api.get(&path, Some(&cast.moderator.access))
                    .await
                    .expect_status(200);
            }
            "POST /v1/questions" => {
                api.post(
                    "/v1/questions",
                    Some(&cast.instructor.access),
                    question(&built.topics[0], "essay", "hard"),
                )
                .await
                .expect_status(201);
            }
            "GET /v1/questions/random?topic=&mix=easy:1 (learner)" => {
                let path = format!(
                    "/v1/questions/random?topic={}&count=1&mix=easy:1",
                    built.topics[0]
                );
                api.get(&path, Some(&cast.learner.access))
                    .await
                    .expect_status(200);
            }
            "GET /v1/hierarchy/nodes/{id}" => {
                api.get(
                    &format!("/v1/hierarchy/nodes/{}", built.course),
                    Some(&cast.learner.access),
                )
                .await
                .expect_status(200);
            }
            _ => {
                let body =
                    serde_json::json!({"kind": "topic", "parent_id": built.course, "name": "More"});
                api.post("/v1/hierarchy/nodes", Some(&cast.instructor.access), body)
                    .await
                    .expect_status(201);
            }
        }
        let ops = api.server.ops.take();
        assert_eq!(ops.summary(), expected, "{what}: {:?}", ops.names());
    }
}

#[tokio::test]
async fn exam_routes_stay_within_their_round_trip_budget() {
    use lectern_e2e::exams::{answer, approved_questions, right_response, start_exam, submit_exam};
    use serde_json::json;

    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 2).await;
    // Topic 0: single choice, multiple choice, true/false. Topic 1: an essay, which keeps an exam ungraded (no
    // statistics job, so no background work lands in a measurement below).
    let ids = approved_questions(&api, &cast, &built.topics[0], &[("easy", 3)]).await;
    let essay = approved_question(&api, &cast, question(&built.topics[1], "essay", "easy")).await;
    let learner = &cast.learner;
    let timed = |source: serde_json::Value| json!({"mode": "timed", "source": source, "count": 2, "time_limit_seconds": 600, "shuffle_questions": false});

    // A drawn exam: the pool sizes, the pool read from a random slot and wrapped round, the learner's seen
    // records, the heads, the versions served; the exam, then the sightings in one transaction.
    api.server.ops.reset();
    let drawn = start_exam(&api, learner, timed(json!({"topics": [built.topics[0]]})))
        .await
        .expect_status(201)
        .body;
    let ops = api.server.ops.take();
    assert_eq!(
        ops.summary(),
        budget(7, 2),
        "POST /v1/exams/start (drawn): {:?}",
        ops.names()
    );

    // A listed exam: the heads, the versions; the exam.
    api.server.ops.reset();
    let listed = start_exam(&api, learner, timed(json!({"questions": [ids[0], essay]})))
        .await
        .expect_status(201)
        .body;
    let ops = api.server.ops.take();
    assert_eq!(
        ops.summary(),
        budget(3, 1),
        "POST /v1/exams/start (listed): {:?}",
        ops.names()
    );

    let exam_id = listed["exam_id"].as_str().unwrap();
    // The essay answered (so it waits for a grade), in exam order: the listed order, unshuffled.
    let essay_item = &listed["items"][1];
    assert_eq!(essay_item["question"]["type"], "essay");
    answer(
        &api,
        learner,
        exam_id,
        &essay,
        right_response(&essay_item["question"]),
    )
    .await
    .expect_status(200);
    let item = &listed["items"][0];
    let question_id = item["question"]["question_id"].as_str().unwrap();
    let response = right_response(&item["question"]);
    let cases: Vec<(&str, Summary)> = vec![
        // The exam, the version answered, an earlier answer; one transaction.
        ("POST /v1/exams/{id}/answer", budget(4, 1)),
        // The exam, its answers, the versions it serves.
        ("GET /v1/exams/{id}", budget(4, 0)),
        // The same, and the result written conditioned on the revision read (an essay waits: no statistics job),
        // with its `exam.submitted` webhook event in the outbox; then the event sent and its entry removed.
        (
            "POST /v1/exams/{id}/submit (essay ungraded)",
            Summary {
                reads: 4,
                writes: 2,
                sends: 1,
                blobs: 0,
            },
        ),
        ("GET /v1/exams/{id}/summary", budget(4, 0)),
        ("GET /v1/exams/history", budget(2, 0)),
        // An instructor: authentication, one query of the queue's partition.
        ("GET /v1/exams/grading-queue", budget(2, 0)),
        // Complete on submit: the result and its statistics job in one transaction; then the job sent and its
        // outbox entry removed. Last, so the worker's run after it lands in no measurement.
        (
            "POST /v1/exams/{id}/submit (complete)",
            Summary {
                reads: 4,
                writes: 2,
                sends: 1,
                blobs: 0,
            },
        ),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        let reply = match what {
            "POST /v1/exams/{id}/answer" => {
                answer(&api, learner, exam_id, question_id, response.clone()).await
            }
            "GET /v1/exams/{id}" => {
                api.get(&format!("/v1/exams/{exam_id}"), Some(&learner.access))
                    .await
            }
            "POST /v1/exams/{id}/submit (essay ungraded)" => {
                submit_exam(&api, learner, exam_id).await
            }
            "GET /v1/exams/{id}/summary" => {
                api.get(
                    &format!("/v1/exams/{exam_id}/summary"),
                    Some(&learner.access),
                )
                .await
            }
            "GET /v1/exams/history" => api.get("/v1/exams/history", Some(&learner.access)).await,
            "GET /v1/exams/grading-queue" => {
                api.get("/v1/exams/grading-queue", Some(&cast.instructor.access))
                    .await
            }
            _ => submit_exam(&api, learner, drawn["exam_id"].as_str().unwrap()).await,
        };
        reply.expect_status(200);
        let ops = api.server.ops.take();
        assert_eq!(ops.summary(), expected, "{what}: {:?}", ops.names());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_routes_stay_within_their_round_trip_budget() {
    use lectern_e2e::exams::{approved_questions, issued_certificate, pass_certifying_exam};
    use reqwest::Method;

    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    approved_questions(&api, &cast, &built.topics[0], &[("easy", 2)]).await;
    let learner = &cast.learner;
    let id = pass_certifying_exam(&api, learner, &built.course, 2).await;
    issued_certificate(&api, learner, &id).await;
    // Whatever the worker still does for the exam (its statistics) lands before the measurements.
    let stats_done = lectern_e2e::eventually(async || {
        api.server.ops.reset();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        api.server.ops.take().summary() == budget(0, 0)
    })
    .await;
    assert!(stats_done, "the background work settled");

    let cases: Vec<(&str, Summary)> = vec![
        // Authentication, the certificate.
        ("GET /v1/certificates/{id}", budget(2, 0)),
        // The same, then one conditional update.
        ("PATCH /v1/certificates/{id}", budget(2, 1)),
        // No sign-in: the certificate alone.
        ("GET /v1/certificates/{id}/verify", budget(1, 0)),
        ("GET /v1/certificates/public-key", budget(0, 0)),
        // Authentication, the certificate; the revocation and its audit record in one transaction.
        ("POST /v1/admin/certificates/{id}/revoke", budget(2, 1)),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        let reply = match what {
            "GET /v1/certificates/{id}" => {
                api.get(&format!("/v1/certificates/{id}"), Some(&learner.access))
                    .await
            }
            "PATCH /v1/certificates/{id}" => {
                api.send(
                    Method::PATCH,
                    &format!("/v1/certificates/{id}"),
                    (&learner.access).into(),
                    lectern_e2e::api::Body::Json(serde_json::json!({"share_name": true})),
                )
                .await
            }
            "GET /v1/certificates/{id}/verify" => {
                api.get(&format!("/v1/certificates/{id}/verify"), None)
                    .await
            }
            "GET /v1/certificates/public-key" => api.get("/v1/certificates/public-key", None).await,
            _ => {
                api.post(
                    &format!("/v1/admin/certificates/{id}/revoke"),
                    Some(&cast.admin.access),
                    serde_json::json!({"reason": "a test"}),
                )
                .await
            }
        };
        reply.expect_status(200);
        let ops = api.server.ops.take();
        assert_eq!(ops.summary(), expected, "{what}: {:?}", ops.names());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_routes_stay_within_their_round_trip_budget() {
    use lectern_e2e::exams::{approved_questions, create_assignment, start_attempt};

    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let ids = approved_questions(&api, &cast, &built.topics[0], &[("easy", 2)]).await;
    let body =
        serde_json::json!({"title": "Week 1", "source": {"questions": ids}, "max_attempts": 2});
    let id = create_assignment(&api, &cast.instructor, body.clone()).await;
    let learner = &cast.learner;
    let cases: Vec<(&str, Summary)> = vec![
        // Authentication; the assignment.
        ("POST /v1/assignments", budget(1, 1)),
        ("GET /v1/assignments/{id}", budget(3, 0)),
        // Authentication, the assignment, the attempts read before the draw and again in the loop that stores
        // the exam and the count in one transaction, the heads, the versions.
        ("POST /v1/exams/start (assignment)", budget(6, 1)),
        // Authentication, the assignment, the attempts, their exams in one batch.
        ("GET /v1/assignments/{id}/result", budget(4, 0)),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        let reply = match what {
            "POST /v1/assignments" => {
                api.post(
                    "/v1/assignments",
                    Some(&cast.instructor.access),
                    body.clone(),
                )
                .await
            }
            "GET /v1/assignments/{id}" => {
                api.get(&format!("/v1/assignments/{id}"), Some(&learner.access))
                    .await
            }
            "POST /v1/exams/start (assignment)" => start_attempt(&api, learner, &id).await,
            _ => {
                api.get(
                    &format!("/v1/assignments/{id}/result"),
                    Some(&learner.access),
                )
                .await
            }
        };
        assert!(reply.status.is_success(), "{reply}");
        let ops = api.server.ops.take();
        assert_eq!(ops.summary(), expected, "{what}: {:?}", ops.names());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grade_routes_stay_within_their_round_trip_budget() {
    use lectern_e2e::exams::{answer, grade, right_response, start_exam, submit_exam};
    use serde_json::json;

    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let essay = approved_question(&api, &cast, question(&built.topics[0], "essay", "easy")).await;
    let learner = &cast.learner;
    let body = json!({"mode": "practice", "source": {"questions": [essay]}});
    let exam = start_exam(&api, learner, body)
        .await
        .expect_status(201)
        .body;
    let exam_id = exam["exam_id"].as_str().unwrap();
    answer(
        &api,
        learner,
        exam_id,
        &essay,
        right_response(&exam["items"][0]["question"]),
    )
    .await
    .expect_status(200);
    submit_exam(&api, learner, exam_id).await.expect_status(200);
    let grader = &cast.instructor;
    grade(&api, grader, exam_id, &essay, 0.5)
        .await
        .expect_status(200);
    // The completion's statistics job lands before the measurements.
    let settled = lectern_e2e::eventually(async || {
        api.server.ops.reset();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        api.server.ops.take().summary() == budget(0, 0)
    })
    .await;
    assert!(settled, "the background work settled");

    let cases: Vec<(&str, f64, Summary)> = vec![
        // Authentication, the exam, its answers, the versions it serves; the exam and the answer in one
        // transaction. The same mark changes no figure: no job.
        (
            "POST /v1/exams/{id}/grade (the same mark)",
            0.5,
            budget(4, 1),
        ),
        // The same, with the statistics job in the transaction's outbox; then the job sent and its entry removed.
        // Last, so the worker's run after it lands in no measurement.
        (
            "POST /v1/exams/{id}/grade (a changed mark)",
            1.0,
            Summary {
                reads: 4,
                writes: 2,
                sends: 1,
                blobs: 0,
            },
        ),
    ];
    for (what, mark, expected) in cases {
        api.server.ops.reset();
        grade(&api, grader, exam_id, &essay, mark)
            .await
            .expect_status(200);
        let ops = api.server.ops.take();
        assert_eq!(ops.summary(), expected, "{what}: {:?}", ops.names());
    }
}
