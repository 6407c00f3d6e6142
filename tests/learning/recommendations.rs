//! `/v1/profiles/{id}/recommendations`: what a profile might play next — the curriculum's next games, games for
//! its weak skills, and what learners who finished the same game played next — computed by the learning worker
//! after its results, read by its family and its own device only, and filtered by what is published and allowed
//! when read.

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::learning::{game, module, result};
use lectern_learning::recommendations::Successor;
use serde_json::{Value, json};

/// The `(title, reason, because)` of each recommendation, in order.
fn listed(view: &Value) -> Vec<(String, String, String)> {
    view["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["title"].as_str().expect("title").to_string(),
                r["reason"].as_str().expect("reason").to_string(),
                r["because"].as_str().expect("because").to_string(),
            )
        })
        .collect()
}

fn titles(view: &Value) -> Vec<String> {
    listed(view).into_iter().map(|(t, _, _)| t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curriculum_weak_skills_and_other_learners_choose_the_next_games() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let author = api
        .with_role(&admin, "author@example.com", "instructor")
        .await;
    let publish = async |title: &str, ages, category: &str, skill: &str| {
        api.published_game(&author, game(title, ages, category, &[skill], "easy"))
            .await
    };
    let letter_a = publish("Letter A", (4, 6), "alphabets", "letters").await;
    let letter_b = publish("Letter B", (4, 6), "alphabets", "letters").await;
    let count_3 = publish("Count to 3", (4, 6), "numbers", "counting").await;
    let count_5 = publish("Count to 5", (4, 6), "numbers", "counting").await;
    let shapes = publish("Shapes", (4, 6), "shapes", "geometry").await;
    let fractions = publish("Fractions", (9, 11), "numbers", "fractions").await;
    let first = api
        .create_module(
            &author.access,
            module("First letters", "reading", 1, &[&letter_a, &letter_b], &[]),
        )
        .await
        .expect_status(201)
        .text("module_id");
    api.create_module(
        &author.access,
        module("Numbers", "numbers", 1, &[&count_3], &[&first]),
    )
    .await
    .expect_status(201);

    let parent = api.parent("family@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;

    // Nothing is computed before the first result: an empty list, said plainly.
    let empty = api
        .recommendations(&parent.access, &kid)
        .await
        .expect_status(200);
    assert_eq!(empty.body["items"], json!([]));
    assert!(empty.body["computed_at"].is_null());

    // Another family's learner finished Letter A and went on to Shapes, then to Fractions (not for a five-year-old).
    let other_parent = api.parent("other@example.com").await;
    let other = api.child_of(&other_parent, "Other", 5).await;
    let other_device = api.device_of(&other_parent, &other).await;
    let batch = |items: Vec<Value>| json!({ "items": items });
    let item = |key: &str, body: Value| json!({ "idempotency_key": key, "result": body });
    api.record_batch(
        &other_device.access,
        &other,
        batch(vec![
            item("other-0001", result(&letter_a, 10, 3, &api.at(-300))),
            item("other-0002", result(&shapes, 10, 3, &api.at(-200))),
            item("other-0003", result(&fractions, 10, 3, &api.at(-100))),
        ]),
    )
    .await
    .expect_status(200);
    // Its jobs (one per result, run by the worker) have counted where it went after Letter A.
    let counted = lectern_e2e::eventually(async || {
        let key = Successor::key_of(&letter_a, &shapes);
        api.server
            .platform
            .table
            .get(&key)
            .await
            .is_ok_and(|item| item.is_some())
    })
    .await;
    assert!(counted, "Letter A then Shapes was never counted");

    // The kid masters Letter A and struggles with counting (one star, three times).
    api.record_batch(
        &device.access,
        &kid,
        batch(vec![
            item("kid-0001", result(&letter_a, 10, 3, &api.at(-90))),
            item("kid-0002", result(&count_3, 2, 1, &api.at(-60))),
            item("kid-0003", result(&count_3, 3, 1, &api.at(-50))),
            item("kid-0004", result(&count_3, 4, 1, &api.at(-40))),
        ]),
    )
    .await
    .expect_status(200);
    // One job per result: the list is recomputed by each newer one, so wait for the one that saw all four.
    let view = lectern_e2e::poll(async || {
        let view = api.await_recommendations(&parent, &kid).await;
        let weak = listed(&view)
            .iter()
            .filter(|(_, reason, _)| reason == "weak_skill")
            .count();
        (titles(&view).contains(&"Shapes".to_string()) && weak == 2).then_some(view)
    })
    .await
    .expect("no list from all four results");
    let got = listed(&view);
    // The curriculum first: Letter B finishes the open module (Numbers stays locked until it is complete).
    assert_eq!(
        got[0],
        (
            "Letter B".to_string(),
            "curriculum".to_string(),
            first.clone()
        ),
        "{view}"
    );
    // Then counting, the weak skill: both its games, the one played included (only one star so far).
    let weak: Vec<&str> = got
        .iter()
        .filter(|(_, reason, because)| reason == "weak_skill" && because == "counting")
        .map(|(t, _, _)| t.as_str())
        .collect();
    assert_eq!(weak.len(), 2, "{view}");
    assert!(weak.contains(&"Count to 3") && weak.contains(&"Count to 5"));
    // Then what the other learner played after Letter A, for this age only.
    assert!(
        got.contains(&(
            "Shapes".to_string(),
            "similar_learners".to_string(),
            letter_a.clone()
        )),
        "{view}"
    );
    assert!(!titles(&view).contains(&"Fractions".to_string()));
    assert!(!titles(&view).contains(&"Letter A".to_string()), "mastered");
    assert!(view["items"][0]["estimated_minutes"].is_number());

    // The child's own device sees the same list.
    assert_eq!(
        api.recommendations(&device.access, &kid)
            .await
            .expect_status(200)
            .body,
        view
    );

    // Read filters what changed since: a game blocked by the parent, a game unpublished by its author.
    api.put_controls(&parent.access, &kid, json!({ "blocked_games": [shapes] }))
        .await
        .expect_status(200);
    api.game_action(&author.access, &count_5, "unpublish")
        .await
        .expect_status(200);
    let now = titles(
        &api.recommendations(&parent.access, &kid)
            .await
            .expect_status(200)
            .body,
    );
    assert!(!now.contains(&"Shapes".to_string()), "{now:?}");
    assert!(!now.contains(&"Count to 5".to_string()), "{now:?}");
    assert!(now.contains(&"Letter B".to_string()));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_family_and_the_profiles_own_device_see_its_recommendations() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let letters = api
        .published_game(
            &admin,
            game("Letters", (4, 6), "alphabets", &["letters"], "easy"),
        )
        .await;
    let parent = api.parent("family@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let sibling = api.child_of(&parent, "Sibling", 7).await;
    let sibling_device = api.device_of(&parent, &sibling).await;
    let device = api.device_of(&parent, &kid).await;
    api.record(
        &device.access,
        &kid,
        "only-key-0001",
        result(&letters, 10, 1, &api.at(-60)),
    )
    .await
    .expect_status(201);
    api.await_recommendations(&parent, &kid).await;

    let stranger = api.parent("stranger@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    for (who, token) in [
        ("another family", &stranger.access),
        ("a sibling's device", &sibling_device.access),
        ("an unrelated learner", &learner.access),
    ] {
        let reply = api.recommendations(token, &kid).await;
        assert_eq!(reply.status, 404, "{who}: {}", reply.body);
        assert_problem(&reply, 404, "not-found");
    }
    // An unknown profile is the same 404; a malformed id names the parameter.
    let unknown = api
        .recommendations(&parent.access, "01JZZZZZZZZZZZZZZZZZZZZZZZ")
        .await;
    assert_problem(&unknown, 404, "not-found");
    assert_validation(
        &api.recommendations(&parent.access, "nope").await,
        "path.profile_id",
    );
    // Without a session: 401.
    api.recommendations(None::<&str>, &kid)
        .await
        .expect_status(401);
    api.stop().await;
}
