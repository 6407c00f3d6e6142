//! `GET /v1/questions/random` on the dev server: the mix, no repeats within a session, unseen first, a plain answer
//! when the pool is short, nothing but approved questions and never their answers, and sessions that belong to
//! one learner.

use std::collections::BTreeSet;

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::exams::{Cast, approved_questions, course, create_question, question};
use serde_json::Value;

fn ids(reply: &Value) -> Vec<String> {
    reply["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|q| q["question_id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn a_learner_draws_a_mix_without_repeats_and_never_sees_answers() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 2).await;
    let topic = &built.topics[0];
    approved_questions(
        &api,
        &cast,
        topic,
        &[("easy", 6), ("medium", 6), ("hard", 6)],
    )
    .await;
    // Drafts and questions of another topic of the course are in no topic pool; drafts are in no pool at all.
    create_question(
        &api,
        &cast.instructor,
        question(topic, "single_choice", "easy"),
    )
    .await;
    approved_questions(&api, &cast, &built.topics[1], &[("easy", 2)]).await;

    let path = format!("/v1/questions/random?topic={topic}&count=10&mix=easy:30,medium:50,hard:20");
    let first = api
        .get(&path, Some(&cast.learner.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(first["complete"], true, "{first}");
    assert_eq!(
        first["available"],
        serde_json::json!({"easy": 6, "medium": 6, "hard": 6})
    );
    let of = |d: &str| {
        first["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["difficulty"] == d)
            .count()
    };
    assert_eq!((of("easy"), of("medium"), of("hard")), (3, 5, 2));
    for q in first["items"].as_array().unwrap() {
        assert!(
            q.get("answer_key").is_none() && q.get("explanation").is_none(),
            "an answer leaked: {q}"
        );
        assert_eq!(q["topic_id"], topic.as_str());
    }
    let session = first["session_id"].as_str().unwrap().to_string();
    let mut served: BTreeSet<String> = ids(&first).into_iter().collect();
    assert_eq!(served.len(), 10, "no duplicates");

    // The same session: the remaining 8 and then a plain "too small".
    let more = api
        .get(
            &format!("/v1/questions/random?topic={topic}&count=10&session={session}"),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(more["complete"], false);
    assert_eq!(more["requested"], 10);
    for id in ids(&more) {
        assert!(served.insert(id), "served twice in one session");
    }
    assert_eq!(
        served.len(),
        18,
        "the whole topic pool, approved questions only"
    );
    let message = more["message"].as_str().expect("a message");
    assert!(message.starts_with("only 8 of the 10"), "{message}");

    // A new session prefers what this learner has not seen: the course's 2 unseen easy questions come first, then
    // one they have seen.
    let course_draw = api
        .get(
            &format!(
                "/v1/questions/random?course={}&count=3&mix=easy:1",
                built.course
            ),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200)
        .body;
    let fresh: Vec<String> = ids(&course_draw)
        .into_iter()
        .filter(|id| !served.contains(id))
        .collect();
    assert_eq!(
        fresh.len(),
        2,
        "both unseen questions of the course, then one seen: {course_draw}"
    );

    // Someone else's session is not theirs to continue, nor is an unknown one.
    let theirs = format!("/v1/questions/random?topic={topic}&count=1&session={session}");
    assert_problem(
        &api.get(&theirs, Some(&cast.other_learner.access)).await,
        404,
        "not-found",
    );
    let unknown =
        format!("/v1/questions/random?topic={topic}&count=1&session=01JNKN0WN0000000000000000Z");
    assert_problem(
        &api.get(&unknown, Some(&cast.learner.access)).await,
        404,
        "not-found",
    );
    // And another learner's draw is their own: everything is unseen to them.
    let other = api
        .get(
            &format!("/v1/questions/random?topic={topic}&count=18"),
            Some(&cast.other_learner.access),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(other["complete"], true);
}

#[tokio::test]
async fn bad_draws_are_refused_plainly() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let learner = Some(cast.learner.access.as_str());
    for (query, field) in [
        ("count=5".to_string(), "query.course"),
        (
            format!("course={}&topic={topic}&count=5", built.course),
            "query.course",
        ),
        (
            format!("topic={topic}&count=5&mix=easy:1,easy:2"),
            "query.mix",
        ),
        (format!("topic={topic}&count=5&mix=easy:0"), "query.mix"),
    ] {
        let reply = api
            .get(&format!("/v1/questions/random?{query}"), learner)
            .await;
        assert_validation(&reply, field);
    }
    for query in [
        format!("topic={topic}&count=0"),
        format!("topic={topic}&count=51"),
        format!("topic={topic}&count=5&mix=tricky:1"),
        format!("topic={topic}&count=5&mix=easy:1001"),
        "topic=not-an-id&count=5".to_string(),
    ] {
        let reply = api
            .get(&format!("/v1/questions/random?{query}"), learner)
            .await;
        assert_problem(&reply, 400, "validation");
    }
    let anonymous = api
        .get(&format!("/v1/questions/random?topic={topic}&count=5"), None)
        .await;
    assert_eq!(anonymous.status.as_u16(), 401, "{anonymous}");
    // An empty pool is an answer, not an error.
    let empty = api
        .get(
            &format!("/v1/questions/random?topic={topic}&count=5"),
            learner,
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (empty["complete"].clone(), ids(&empty).len()),
        (Value::Bool(false), 0)
    );
    // `mix=adaptive` weighs by the caller's ability: 0 before any completed exam.
    let adaptive = api
        .get(
            &format!("/v1/questions/random?topic={topic}&count=5&mix=adaptive"),
            learner,
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(adaptive["ability"], 0.0);
    let mixed = format!("/v1/questions/random?topic={topic}&count=5&mix=adaptive,easy:1");
    assert_problem(&api.get(&mixed, learner).await, 400, "validation");
}
