//! Review: the pending queue, batch approval and rejection answered per id, and the way back from a rejection.

use lectern_e2e::api::{Api, Body, assert_problem, assert_validation};
use lectern_e2e::exams::{Cast, course, create_question, question, submit};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn moderators_approve_and_reject_each_id_on_its_own() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let mut ids = Vec::new();
    for kind in ["single_choice", "numeric", "essay", "true_false"] {
        let q = create_question(
            &api,
            &cast.instructor,
            question(&built.topics[0], kind, "easy"),
        )
        .await;
        ids.push(q["question_id"].as_str().unwrap().to_string());
    }
    for id in &ids[..3] {
        submit(&api, &cast.instructor, id).await.expect_status(200);
    }
    let reply = submit(&api, &cast.instructor, &ids[0]).await;
    assert_problem(&reply, 409, "invalid-state");

    let (pending, _) = api
        .all_pages(
            "/v1/admin/questions/pending?limit=2",
            &cast.moderator.access,
        )
        .await;
    let pending: Vec<&str> = pending
        .iter()
        .map(|p| p["question_id"].as_str().unwrap())
        .collect();
    assert_eq!(pending.len(), 3);
    assert!(ids[..3].iter().all(|id| pending.contains(&id.as_str())));

    let unknown = "01J9Z8Q4V6Y7KX2M3N4P5R6S7T";
    let reply = api
        .post(
            "/v1/admin/questions/batch-approve",
            Some(&cast.moderator.access),
            json!({"ids": [ids[0], ids[3], unknown, ids[0], ids[1]]}),
        )
        .await
        .expect_status(200);
    let outcomes: Vec<(&str, &str)> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["question_id"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (ids[0].as_str(), "approved"),
            (ids[3].as_str(), "not_pending"),
            (unknown, "not_found"),
            (ids[1].as_str(), "approved")
        ]
    );
    assert_eq!(reply.body["results"][1]["status"], "draft");

    let reply = api
        .post(
            "/v1/admin/questions/batch-reject",
            Some(&cast.moderator.access),
            json!({"ids": [ids[2], ids[0]], "reason": "Rubric missing."}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["results"][0]["outcome"], "rejected");
    assert_eq!(reply.body["results"][1]["outcome"], "not_pending");
    let rejected = api
        .get(
            &format!("/v1/questions/{}", ids[2]),
            Some(&cast.instructor.access),
        )
        .await
        .expect_status(200);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(rejected.body["rejection_reason"], "Rubric missing.");
    assert_eq!(
        rejected.body["reviewed_by"],
        cast.moderator.user_id.as_str()
    );

    // The way back: a new version, submitted again.
    let mut fixed = question(&built.topics[0], "essay", "easy");
    fixed["answer"]["rubric"] = json!("Two arguments, one counter-argument.");
    let path = format!("/v1/questions/{}", ids[2]);
    api.send(
        Method::PUT,
        &path,
        (&cast.instructor.access).into(),
        Body::Json(json!({"version": 1, "question": fixed})),
    )
    .await
    .expect_status(200);
    let again = submit(&api, &cast.instructor, &ids[2])
        .await
        .expect_status(200);
    assert_eq!(again.body["status"], "pending");
    assert!(again.body["rejection_reason"].is_null());
    let (pending, _) = api
        .all_pages(
            "/v1/admin/questions/pending?limit=10",
            &cast.moderator.access,
        )
        .await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["version"], 2);
}

#[tokio::test]
async fn only_moderators_review() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let q = create_question(
        &api,
        &cast.instructor,
        question(&built.topics[0], "numeric", "easy"),
    )
    .await;
    let id = q["question_id"].as_str().unwrap();
    submit(&api, &cast.instructor, id).await.expect_status(200);
    for who in [&cast.instructor, &cast.learner] {
        let reply = api
            .post(
                "/v1/admin/questions/batch-approve",
                Some(&who.access),
                json!({"ids": [id]}),
            )
            .await;
        assert_problem(&reply, 403, "forbidden");
        let reply = api
            .post(
                "/v1/admin/questions/batch-reject",
                Some(&who.access),
                json!({"ids": [id], "reason": "no"}),
            )
            .await;
        assert_problem(&reply, 403, "forbidden");
        let reply = api
            .get("/v1/admin/questions/pending", Some(&who.access))
            .await;
        assert_problem(&reply, 403, "forbidden");
    }
    let reply = api
        .post(
            "/v1/admin/questions/batch-approve",
            Some(&cast.moderator.access),
            json!({"ids": []}),
        )
        .await;
    assert_validation(&reply, "ids");
    let many: Vec<&str> = std::iter::repeat_n(id, 51).collect();
    let reply = api
        .post(
            "/v1/admin/questions/batch-approve",
            Some(&cast.moderator.access),
            json!({"ids": many}),
        )
        .await;
    assert_validation(&reply, "ids");
    let reply = api
        .post(
            "/v1/admin/questions/batch-reject",
            Some(&cast.moderator.access),
            json!({"ids": [id], "reason": " "}),
        )
        .await;
    assert_validation(&reply, "reason");
    // An admin both authors and moderates.
    let reply = api
        .post(
            "/v1/admin/questions/batch-approve",
            Some(&cast.admin.access),
            json!({"ids": [id]}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["results"][0]["outcome"], "approved");
}
