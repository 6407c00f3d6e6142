//! The question bank: every type, sanitized stems, filters, versions and history, comments, and what learners
//! may see.

use std::collections::BTreeSet;

use lectern_e2e::api::{Api, Body, assert_problem, assert_validation};
use lectern_e2e::exams::{
    Cast, TYPES, approved_question, course, create_question, question, submit,
};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn every_type_is_stored_and_stems_are_sanitized() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 200, 1).await;
    for kind in TYPES {
        let mut body = question(&built.topics[0], kind, "easy");
        body["stem"] = json!(
            r#"<p onclick="steal()">Solve <b>it</b><script>alert(1)</script><a href="javascript:x()">here</a></p>"#
        );
        let q = create_question(&api, &cast.instructor, body).await;
        assert_eq!(q["answer"]["type"], kind);
        assert_eq!(q["status"], "draft");
        assert_eq!(q["version"], 1);
        assert_eq!(q["course_id"], built.course.as_str());
        assert_eq!(q["level"], 200);
        let stem = q["stem"].as_str().unwrap();
        assert!(stem.contains("<b>it</b>"), "{stem}");
        for bad in ["script", "onclick", "javascript", "alert"] {
            assert!(!stem.contains(bad), "{bad} survived in {stem}");
        }
    }
    let topic = api
        .get(
            &format!("/v1/hierarchy/nodes/{}", built.topics[0]),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200);
    assert_eq!(
        topic.body["children"],
        TYPES.len(),
        "a topic counts its questions"
    );
    let reply = api
        .send(
            Method::DELETE,
            &format!("/v1/hierarchy/nodes/{}", built.topics[0]),
            (&cast.instructor.access).into(),
            Body::Empty,
        )
        .await;
    assert_problem(&reply, 409, "has-children");
}

#[tokio::test]
async fn choice_options_get_ids_and_the_right_ones_are_checked() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let q = create_question(
        &api,
        &cast.instructor,
        question(topic, "multiple_choice", "hard"),
    )
    .await;
    let options = q["answer"]["options"].as_array().unwrap();
    let ids: BTreeSet<&str> = options.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "distinct option ids");
    let correct: Vec<&str> = q["answer"]["correct"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        correct,
        vec![
            options[0]["id"].as_str().unwrap(),
            options[1]["id"].as_str().unwrap()
        ]
    );

    let mut bad = Vec::new();
    let mut two_right = question(topic, "single_choice", "easy");
    two_right["answer"]["correct"] = json!([0, 1]);
    bad.push((two_right, "answer.correct"));
    let mut past_the_end = question(topic, "multiple_choice", "easy");
    past_the_end["answer"]["correct"] = json!([7]);
    bad.push((past_the_end, "answer.correct"));
    let mut one_option = question(topic, "single_choice", "easy");
    one_option["answer"]["options"] = json!(["only"]);
    bad.push((one_option, "answer.options"));
    let mut negative = question(topic, "numeric", "easy");
    negative["answer"]["tolerance"] = json!(-1);
    bad.push((negative, "answer.tolerance"));
    let mut blank = question(topic, "short_text", "easy");
    blank["answer"]["accepted"] = json!(["  "]);
    bad.push((blank, "answer.accepted[0]"));
    let mut on_a_course = question(topic, "true_false", "easy");
    on_a_course["topic_id"] = json!(built.course);
    bad.push((on_a_course, "topic_id"));
    let mut unknown = question(topic, "true_false", "easy");
    unknown["topic_id"] = json!("01J9Z8Q4V6Y7KX2M3N4P5R6S7T");
    bad.push((unknown, "topic_id"));
    let mut tag = question(topic, "true_false", "easy");
    tag["tags"] = json!(["Not A Slug"]);
    bad.push((tag, "tags[0]"));
    let mut empty = question(topic, "true_false", "easy");
    empty["stem"] = json!(" \n ");
    bad.push((empty, "stem"));
    for (body, field) in bad {
        let reply = api
            .post("/v1/questions", Some(&cast.instructor.access), body)
            .await;
        assert_validation(&reply, field);
    }
    for who in [&cast.learner, &cast.moderator] {
        let reply = api
            .post(
                "/v1/questions",
                Some(&who.access),
                question(topic, "essay", "easy"),
            )
            .await;
        assert_problem(&reply, 403, "forbidden");
    }
}

#[tokio::test]
async fn learners_see_approved_questions_without_answers() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let approved = approved_question(
        &api,
        &cast,
        question(&built.topics[0], "single_choice", "easy"),
    )
    .await;
    let draft = create_question(
        &api,
        &cast.instructor,
        question(&built.topics[0], "numeric", "easy"),
    )
    .await;

    let seen = api
        .get(
            &format!("/v1/questions/{approved}"),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200);
    assert_eq!(seen.body["options"].as_array().unwrap().len(), 3);
    for hidden in ["answer_key", "answer", "explanation", "status", "author_id"] {
        assert!(seen.body.get(hidden).is_none(), "{hidden} leaked: {seen}");
    }
    assert!(!seen.body.to_string().contains("correct"), "{seen}");
    let reply = api
        .get(
            &format!("/v1/questions/{}", draft["question_id"].as_str().unwrap()),
            Some(&cast.learner.access),
        )
        .await;
    assert_problem(&reply, 404, "not-found");

    let staff = api
        .get(
            &format!("/v1/questions/{approved}"),
            Some(&cast.moderator.access),
        )
        .await
        .expect_status(200);
    assert_eq!(staff.body["status"], "approved");
    assert!(staff.body["answer"]["correct"].is_string());

    for path in [
        "/v1/questions",
        &format!("/v1/questions/{approved}/history"),
        &format!("/v1/questions/{approved}/comments"),
    ] {
        let reply = api.get(path, Some(&cast.learner.access)).await;
        assert_problem(&reply, 403, "forbidden");
    }
}

/// The ids of every page of a list.
async fn listed(api: &Api, token: &str, query: &str) -> BTreeSet<String> {
    let (items, _) = api
        .all_pages(&format!("/v1/questions?limit=3&{query}"), token)
        .await;
    items
        .iter()
        .map(|i| i["question_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn filters_combine_and_page_without_scanning() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let first = course(&api, &cast.instructor, 100, 2).await;
    let second = course(&api, &cast.instructor, 300, 1).await;
    let mut all: Vec<Value> = Vec::new();
    let difficulties = ["easy", "medium", "hard"];
    for (i, kind) in TYPES.iter().cycle().take(18).enumerate() {
        let topic = [&first.topics[0], &first.topics[1], &second.topics[0]][i % 3];
        let mut body = question(topic, kind, difficulties[(i / 2) % 3]);
        body["subject"] = json!(if i % 2 == 0 { "algebra" } else { "geometry" });
        let q = if i % 4 == 0 {
            create_question(&api, &cast.instructor, body).await
        } else {
            let id = approved_question(&api, &cast, body).await;
            api.get(
                &format!("/v1/questions/{id}"),
                Some(&cast.instructor.access),
            )
            .await
            .body
        };
        all.push(q);
    }
    let expect = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        all.iter()
            .filter(|q| pred(q))
            .map(|q| q["question_id"].as_str().unwrap().to_string())
            .collect()
    };
    let token = &cast.moderator.access;
    let approved = |q: &Value| q["status"] == "approved";
    let t0 = first.topics[0].clone();
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        (String::new(), expect(&approved)),
        ("status=draft".into(), expect(&|q| q["status"] == "draft")),
        (
            format!("topic={t0}"),
            expect(&|q| approved(q) && q["topic_id"] == t0.as_str()),
        ),
        (
            format!("course={}", first.course),
            expect(&|q| approved(q) && q["course_id"] == first.course.as_str()),
        ),
        (
            "level=300".into(),
            expect(&|q| approved(q) && q["level"] == 300),
        ),
        (
            "difficulty=medium".into(),
            expect(&|q| approved(q) && q["difficulty"] == "medium"),
        ),
        (
            "type=numeric".into(),
            expect(&|q| approved(q) && q["answer"]["type"] == "numeric"),
        ),
        (
            "difficulty=easy&type=single_choice".into(),
            expect(&|q| {
                approved(q) && q["difficulty"] == "easy" && q["answer"]["type"] == "single_choice"
            }),
        ),
        (
            "subject=geometry&level=100".into(),
            expect(&|q| approved(q) && q["subject"] == "geometry" && q["level"] == 100),
        ),
        (
            "tag=true-false".into(),
            expect(&|q| approved(q) && q["answer"]["type"] == "true_false"),
        ),
        (
            format!("course={}&tag=demo&difficulty=hard", first.course),
            expect(&|q| {
                approved(q) && q["course_id"] == first.course.as_str() && q["difficulty"] == "hard"
            }),
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(&api, token, &query).await, expected, "?{query}");
    }
    let reply = api.get("/v1/questions?level=150", Some(token)).await;
    assert_validation(&reply, "query.level");
    let reply = api.get("/v1/questions?tag=Bad%20Tag", Some(token)).await;
    assert_validation(&reply, "query.tag");
    let page = api
        .get("/v1/questions?limit=1", Some(token))
        .await
        .expect_status(200);
    let cursor = page.text("next_cursor");
    let reply = api
        .get(
            &format!("/v1/questions?limit=1&difficulty=hard&cursor={cursor}"),
            Some(token),
        )
        .await;
    assert_validation(&reply, "query.cursor");
}

#[tokio::test]
async fn every_edit_is_a_version_and_the_history_keeps_them() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 2).await;
    let id = approved_question(
        &api,
        &cast,
        question(&built.topics[0], "single_choice", "easy"),
    )
    .await;
    let path = format!("/v1/questions/{id}");
    let mut changed = question(&built.topics[1], "true_false", "hard");
    changed["stem"] = json!("<p>Is it true?</p>");
    let edit = json!({"version": 1, "question": changed});

    let reply = api
        .send(
            Method::PUT,
            &path,
            (&cast.other_instructor.access).into(),
            Body::Json(edit.clone()),
        )
        .await;
    assert_problem(&reply, 403, "forbidden");
    let reply = api
        .send(
            Method::PUT,
            &path,
            (&cast.moderator.access).into(),
            Body::Json(edit.clone()),
        )
        .await;
    assert_problem(&reply, 403, "forbidden");
    let saved = api
        .send(
            Method::PUT,
            &path,
            (&cast.instructor.access).into(),
            Body::Json(edit.clone()),
        )
        .await
        .expect_status(200);
    assert_eq!(saved.body["version"], 2);
    assert_eq!(saved.body["status"], "draft", "an edit goes back to review");
    assert_eq!(saved.body["topic_id"], built.topics[1].as_str());
    let reply = api
        .send(
            Method::PUT,
            &path,
            (&cast.instructor.access).into(),
            Body::Json(edit),
        )
        .await;
    assert_problem(&reply, 409, "stale-version");

    let reply = api.get(&path, Some(&cast.learner.access)).await;
    assert_problem(&reply, 404, "not-found");
    let (versions, _) = api
        .all_pages(&format!("{path}/history?limit=1"), &cast.moderator.access)
        .await;
    assert_eq!(
        versions
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        versions[1]["answer"]["type"], "single_choice",
        "version 1 is kept as it was"
    );
    assert_eq!(versions[0]["stem"], "<p>Is it true?</p>");
    assert_eq!(versions[0]["edited_by"], cast.instructor.user_id.as_str());

    let old_topic = api
        .get(
            &format!("/v1/hierarchy/nodes/{}", built.topics[0]),
            Some(&cast.learner.access),
        )
        .await;
    assert_eq!(old_topic.body["children"], 0, "the question moved topics");
    let old = listed(
        &api,
        &cast.moderator.access,
        &format!("topic={}&status=approved", built.topics[0]),
    )
    .await;
    assert!(
        old.is_empty(),
        "no stale listing under the old topic and status: {old:?}"
    );
    let new = listed(
        &api,
        &cast.moderator.access,
        &format!("topic={}&status=draft", built.topics[1]),
    )
    .await;
    assert_eq!(new, BTreeSet::from([id.clone()]));
}

#[tokio::test]
async fn staff_discuss_a_question_in_comments() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let q = create_question(
        &api,
        &cast.instructor,
        question(&built.topics[0], "essay", "medium"),
    )
    .await;
    let path = format!(
        "/v1/questions/{}/comments",
        q["question_id"].as_str().unwrap()
    );
    api.post(
        &path,
        Some(&cast.moderator.access),
        json!({"body": " Needs a rubric. "}),
    )
    .await
    .expect_status(201);
    api.post(
        &path,
        Some(&cast.instructor.access),
        json!({"body": "Added one."}),
    )
    .await
    .expect_status(201);
    let reply = api
        .post(&path, Some(&cast.learner.access), json!({"body": "hi"}))
        .await;
    assert_problem(&reply, 403, "forbidden");
    let reply = api
        .post(&path, Some(&cast.moderator.access), json!({"body": ""}))
        .await;
    assert_validation(&reply, "body");
    let comments = api
        .get(&path, Some(&cast.instructor.access))
        .await
        .expect_status(200)
        .items();
    let bodies: Vec<&str> = comments
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Needs a rubric.", "Added one."]);
    assert_eq!(comments[0]["author_id"], cast.moderator.user_id.as_str());
    let reply = api
        .get(
            "/v1/questions/01J9Z8Q4V6Y7KX2M3N4P5R6S7T/comments",
            Some(&cast.instructor.access),
        )
        .await;
    assert_problem(&reply, 404, "not-found");
    let reply = submit(
        &api,
        &cast.other_instructor,
        q["question_id"].as_str().unwrap(),
    )
    .await;
    assert_problem(&reply, 403, "forbidden");
}
