//! `/v1/curriculum`: modules in learning paths with prerequisites (a cycle refused), authored by instructors and
//! admins, read by everyone who reads content; `/v1/profiles/{id}/curriculum`: where one profile stands, from its
//! recorded results.

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::learning::{game, module, result};
use serde_json::{Value, json};

/// The states of a profile's modules, by title, in path order.
fn states(reply: &Value) -> Vec<(String, String)> {
    reply["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .flat_map(|p| p["modules"].as_array().expect("modules").clone())
        .map(|m| {
            (
                m["title"].as_str().expect("title").to_string(),
                m["state"].as_str().expect("state").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_unlock_and_complete_from_recorded_results() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let author = api
        .with_role(&admin, "author@example.com", "instructor")
        .await;
    let a = api
        .published_game(
            &author,
            game("Letter A", (4, 6), "alphabets", &["letters"], "easy"),
        )
        .await;
    let b = api
        .published_game(
            &author,
            game("Letter B", (4, 6), "alphabets", &["letters"], "easy"),
        )
        .await;
    let c = api
        .published_game(
            &author,
            game("Count to 3", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let first = api
        .create_module(
            &author.access,
            module("First letters", "reading", 1, &[&a, &b], &[]),
        )
        .await
        .expect_status(201);
    let first_id = first.text("module_id");
    assert_eq!(first.body["min_stars"], 2);
    let words = api
        .create_module(
            &author.access,
            module("First words", "reading", 2, &[&c], &[&first_id]),
        )
        .await
        .expect_status(201)
        .text("module_id");
    api.create_module(&author.access, module("Counting", "numbers", 1, &[&c], &[]))
        .await
        .expect_status(201);

    // Everyone who reads content sees the paths, by slug, modules in order.
    let learner = api.signed_up("learner@example.com").await;
    let all = api.curriculum(&learner.access).await.expect_status(200);
    let paths: Vec<&str> = all.body["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["numbers", "reading"]);
    assert_eq!(all.body["paths"][1]["modules"][1]["title"], "First words");
    assert_eq!(
        api.module(&learner.access, &words)
            .await
            .expect_status(200)
            .body["prerequisites"],
        json!([first_id])
    );

    let parent = api.parent("curriculum@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let standing = || async {
        states(
            &api.profile_curriculum(&device.access, &kid)
                .await
                .expect_status(200)
                .body,
        )
    };
    let pairs = |v: [(&str, &str); 3]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        standing().await,
        pairs([
            ("Counting", "available"),
            ("First letters", "available"),
            ("First words", "locked")
        ])
    );
    api.record(
        &device.access,
        &kid,
        "curr-key-0001",
        result(&a, 10, 3, &api.at(-60)),
    )
    .await
    .expect_status(201);
    // One star is not enough for a module asking for two.
    api.record(
        &device.access,
        &kid,
        "curr-key-0002",
        result(&b, 10, 1, &api.at(-50)),
    )
    .await
    .expect_status(201);
    assert_eq!(
        standing().await,
        pairs([
            ("Counting", "available"),
            ("First letters", "in_progress"),
            ("First words", "locked")
        ])
    );
    let locked = api
        .profile_curriculum(&device.access, &kid)
        .await
        .expect_status(200);
    let words_progress = &locked.body["paths"][1]["modules"][1];
    assert_eq!(words_progress["missing_prerequisites"], json!([first_id]));
    assert_eq!(locked.body["paths"][1]["modules"][0]["games_done"], 1);
    api.record(
        &device.access,
        &kid,
        "curr-key-0003",
        result(&b, 20, 2, &api.at(-40)),
    )
    .await
    .expect_status(201);
    assert_eq!(
        standing().await,
        pairs([
            ("Counting", "available"),
            ("First letters", "complete"),
            ("First words", "available")
        ])
    );
    api.record(
        &device.access,
        &kid,
        "curr-key-0004",
        result(&c, 5, 3, &api.at(-30)),
    )
    .await
    .expect_status(201);
    assert_eq!(
        standing().await,
        pairs([
            ("Counting", "complete"),
            ("First letters", "complete"),
            ("First words", "complete")
        ])
    );

    // The parent sees it too; another family and a sibling's device do not.
    api.profile_curriculum(&parent.access, &kid)
        .await
        .expect_status(200);
    let sibling = api.child_of(&parent, "Sibling", 7).await;
    let sibling_device = api.device_of(&parent, &sibling).await;
    let stranger = api.parent("stranger@example.com").await;
    for token in [&sibling_device.access, &stranger.access] {
        assert_problem(&api.profile_curriculum(token, &kid).await, 404, "not-found");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycles_unknown_references_and_needed_modules_are_refused() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Only Game", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let one = api
        .create_module(&admin.access, module("One", "p", 1, &[&g], &[]))
        .await
        .expect_status(201)
        .text("module_id");
    let two = api
        .create_module(&admin.access, module("Two", "p", 2, &[&g], &[&one]))
        .await
        .expect_status(201)
        .text("module_id");
    let three = api
        .create_module(&admin.access, module("Three", "p", 3, &[&g], &[&two]))
        .await
        .expect_status(201)
        .text("module_id");
    // One → Three → Two → One.
    assert_problem(
        &api.replace_module(&admin.access, &one, module("One", "p", 1, &[&g], &[&three]))
            .await,
        409,
        "prerequisite-cycle",
    );
    assert_problem(
        &api.replace_module(&admin.access, &one, module("One", "p", 1, &[&g], &[&one]))
            .await,
        409,
        "prerequisite-cycle",
    );
    assert_eq!(
        api.module(&admin.access, &one)
            .await
            .expect_status(200)
            .body["prerequisites"],
        json!([]),
        "nothing written"
    );
    // A lower-case id is the same id.
    let lower = two.to_ascii_lowercase();
    let replaced = api
        .replace_module(
            &admin.access,
            &three,
            module("Three", "p", 3, &[&g], &[&lower, &two]),
        )
        .await
        .expect_status(200);
    assert_eq!(replaced.body["prerequisites"], json!([two]));

    let unknown_game = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
    assert_validation(
        &api.create_module(&admin.access, module("X", "p", 1, &[unknown_game], &[]))
            .await,
        "games",
    );
    assert_validation(
        &api.create_module(&admin.access, module("X", "p", 1, &[&g], &[unknown_game]))
            .await,
        "prerequisites",
    );
    let ok = module("X", "p", 1, &[&g], &[]);
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("path", json!("Not A Slug")), "path"),
        (with("title", json!("  ")), "title"),
        (with("order", json!(10000)), "order"),
        (with("games", json!([])), "games"),
        (with("games", json!(["nope"])), "games"),
        (with("min_stars", json!(4)), "min_stars"),
        (with("colour", json!("red")), "colour"),
    ] {
        assert_validation(&api.create_module(&admin.access, body).await, field);
    }

    // A module others need stays; a game a module lists cannot be deleted.
    assert_problem(
        &api.delete_module(&admin.access, &one).await,
        409,
        "module-required",
    );
    assert_problem(
        &api.delete_game(&admin.access, &g).await,
        409,
        "game-in-curriculum",
    );
    api.delete_module(&admin.access, &three)
        .await
        .expect_status(204);
    api.delete_module(&admin.access, &two)
        .await
        .expect_status(204);
    api.delete_module(&admin.access, &one)
        .await
        .expect_status(204);
    assert_problem(&api.module(&admin.access, &one).await, 404, "not-found");
    api.delete_game(&admin.access, &g).await.expect_status(204);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_authors_change_the_curriculum_and_a_device_reads_it() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Game", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let id = api
        .create_module(&admin.access, module("M", "p", 1, &[&g], &[]))
        .await
        .expect_status(201)
        .text("module_id");
    let parent = api.parent("p@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let learner = api.signed_up("learner@example.com").await;
    for token in [&parent.access, &device.access, &learner.access] {
        api.curriculum(token).await.expect_status(200);
        assert_problem(
            &api.create_module(token, module("N", "p", 2, &[&g], &[]))
                .await,
            403,
            "forbidden",
        );
        assert_problem(
            &api.replace_module(token, &id, module("N", "p", 2, &[&g], &[]))
                .await,
            403,
            "forbidden",
        );
        assert_problem(&api.delete_module(token, &id).await, 403, "forbidden");
    }
    assert_problem(
        &api.module(&learner.access, "01JZZZZZZZZZZZZZZZZZZZZZZZ")
            .await,
        404,
        "not-found",
    );
    api.stop().await;
}
