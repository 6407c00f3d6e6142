//! The academic hierarchy: authors build it, everyone signed in reads it, nodes with children stay.

use lectern_e2e::api::{Api, Body, assert_problem, assert_validation};
use lectern_e2e::exams::{Cast, course, node};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_instructor_builds_a_course_and_a_learner_reads_it() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 200, 3).await;

    let course = api
        .get(
            &format!("/v1/hierarchy/nodes/{}", built.course),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200);
    assert_eq!(course.body["kind"], "course");
    assert_eq!(course.body["level"], 200);
    assert_eq!(course.body["code"], "MTH 201");
    assert_eq!(course.body["children"], 3);
    assert_eq!(
        course.body["path"],
        json!([built.institution, built.faculty, built.department])
    );

    let (topics, _) = api
        .all_pages(
            &format!("/v1/hierarchy/nodes/{}/children?limit=2", built.course),
            &cast.learner.access,
        )
        .await;
    let ids: Vec<&str> = topics
        .iter()
        .map(|t| t["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        built.topics.iter().map(String::as_str).collect::<Vec<_>>(),
        "topics in creation order"
    );

    let institutions = api
        .get("/v1/hierarchy/institutions", Some(&cast.learner.access))
        .await
        .expect_status(200);
    assert_eq!(institutions.items().len(), 1);
    assert_eq!(
        institutions.items()[0]["node_id"],
        built.institution.as_str()
    );
}

#[tokio::test]
async fn only_authors_write_and_only_the_signed_in_read() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.admin, 100, 1).await;
    let body = json!({"kind": "institution", "name": "Elsewhere"});
    for who in [&cast.learner, &cast.moderator] {
        let reply = api
            .post("/v1/hierarchy/nodes", Some(&who.access), body.clone())
            .await;
        assert_problem(&reply, 403, "forbidden");
        let path = format!("/v1/hierarchy/nodes/{}", built.topics[0]);
        let reply = api
            .send(Method::DELETE, &path, (&who.access).into(), Body::Empty)
            .await;
        assert_problem(&reply, 403, "forbidden");
        let reply = api
            .send(
                Method::PATCH,
                &path,
                (&who.access).into(),
                Body::Json(json!({"version": 1, "name": "x"})),
            )
            .await;
        assert_problem(&reply, 403, "forbidden");
    }
    let reply = api.get("/v1/hierarchy/institutions", None).await;
    assert_problem(&reply, 401, "unauthenticated");
    let reply = api.post("/v1/hierarchy/nodes", None, body).await;
    assert_problem(&reply, 401, "unauthenticated");
}

#[tokio::test]
async fn the_shape_of_the_tree_is_enforced() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 300, 1).await;
    let author = Some(cast.instructor.access.as_str());
    let cases = [
        (json!({"kind": "faculty", "name": "No parent"}), "parent_id"),
        (
            json!({"kind": "institution", "parent_id": built.faculty, "name": "Nested"}),
            "parent_id",
        ),
        (
            json!({"kind": "course", "parent_id": built.faculty, "name": "Wrong parent", "level": 100}),
            "parent_id",
        ),
        (
            json!({"kind": "course", "parent_id": built.department, "name": "No level"}),
            "level",
        ),
        (
            json!({"kind": "course", "parent_id": built.department, "name": "Odd level", "level": 150}),
            "level",
        ),
        (
            json!({"kind": "topic", "parent_id": built.course, "name": "Levelled", "level": 100}),
            "level",
        ),
        (
            json!({"kind": "topic", "parent_id": "01J9Z8Q4V6Y7KX2M3N4P5R6S7T", "name": "Orphan"}),
            "parent_id",
        ),
        (
            json!({"kind": "topic", "parent_id": built.course, "name": "   "}),
            "name",
        ),
        (
            json!({"kind": "topic", "parent_id": built.course, "name": "x", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let reply = api.post("/v1/hierarchy/nodes", author, body).await;
        assert_validation(&reply, field);
    }
    let reply = api.get("/v1/hierarchy/nodes/not-an-id", author).await;
    assert_validation(&reply, "path.node_id");
    let reply = api
        .get("/v1/hierarchy/nodes/01J9Z8Q4V6Y7KX2M3N4P5R6S7T", author)
        .await;
    assert_problem(&reply, 404, "not-found");
    let reply = api
        .get(
            "/v1/hierarchy/nodes/01J9Z8Q4V6Y7KX2M3N4P5R6S7T/children",
            author,
        )
        .await;
    assert_problem(&reply, 404, "not-found");
}

#[tokio::test]
async fn a_node_with_children_is_not_deleted_until_they_are_gone() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let auth = (&cast.instructor.access).into();
    let path = |id: &str| format!("/v1/hierarchy/nodes/{id}");

    let reply = api
        .send(Method::DELETE, &path(&built.course), auth, Body::Empty)
        .await;
    assert_problem(&reply, 409, "has-children");
    assert!(
        reply.body["detail"].as_str().unwrap().contains("1 item"),
        "{reply}"
    );

    api.send(Method::DELETE, &path(&built.topics[0]), auth, Body::Empty)
        .await
        .expect_status(204);
    let reply = api
        .send(Method::DELETE, &path(&built.topics[0]), auth, Body::Empty)
        .await;
    assert_problem(&reply, 404, "not-found");
    let course = api
        .get(&path(&built.course), Some(&cast.instructor.access))
        .await
        .expect_status(200);
    assert_eq!(course.body["children"], 0);
    api.send(Method::DELETE, &path(&built.course), auth, Body::Empty)
        .await
        .expect_status(204);
}

#[tokio::test]
async fn concurrent_deletes_and_new_children_leave_no_orphan() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    for round in 0..5 {
        let institution = node(
            &api,
            &cast.instructor,
            json!({"kind": "institution", "name": format!("U{round}")}),
        )
        .await;
        let path = format!("/v1/hierarchy/nodes/{institution}");
        let child = json!({"kind": "faculty", "parent_id": institution, "name": "Arts"});
        let (deleted, created) = tokio::join!(
            api.send(
                Method::DELETE,
                &path,
                (&cast.instructor.access).into(),
                Body::Empty
            ),
            api.post("/v1/hierarchy/nodes", Some(&cast.instructor.access), child),
        );
        match (deleted.status.as_u16(), created.status.as_u16()) {
            // The child came first: the parent stays, holding it.
            (409, 201) => {
                let parent = api
                    .get(&path, Some(&cast.instructor.access))
                    .await
                    .expect_status(200);
                assert_eq!(parent.body["children"], 1);
            }
            // The delete came first: the child was refused.
            (204, 400) => assert_validation(&created, "parent_id"),
            other => panic!("round {round}: {other:?}: {deleted} / {created}"),
        }
    }
}

#[tokio::test]
async fn edits_need_the_version_they_read() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 0).await;
    let path = format!("/v1/hierarchy/nodes/{}", built.course);
    let auth = (&cast.other_instructor.access).into();
    let reply = api
        .send(
            Method::PATCH,
            &path,
            auth,
            Body::Json(json!({"version": 1, "name": "Linear Algebra", "level": 400})),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["name"], "Linear Algebra");
    assert_eq!(reply.body["level"], 400);
    assert_eq!(reply.body["version"], 2);
    let reply = api
        .send(
            Method::PATCH,
            &path,
            auth,
            Body::Json(json!({"version": 1, "name": "Old"})),
        )
        .await;
    assert_problem(&reply, 409, "stale-version");
    let reply = api
        .send(
            Method::PATCH,
            &format!("/v1/hierarchy/nodes/{}", built.department),
            auth,
            Body::Json(json!({"version": 1, "level": 100})),
        )
        .await;
    assert_validation(&reply, "level");
}
