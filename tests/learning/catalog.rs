//! `/v1/games`: authors publish, learners read the published catalog, filtered, sorted and paged in one read per
//! page; A/B variants per profile.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_problem, assert_validation, tamper};
use lectern_e2e::learning::game;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_publish_and_learners_see_published_games_only() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let author = api
        .with_role(&admin, "author@example.com", "instructor")
        .await;
    let learner = api.signed_up("learner@example.com").await;

    let body = game("Counting Stars", (4, 6), "numbers", &["counting"], "easy");
    assert_problem(
        &api.create_game(&learner.access, body.clone()).await,
        403,
        "forbidden",
    );
    let stars = api.published_game(&author, body).await;
    let shapes = api
        .published_game(
            &author,
            game("Shapes Around Us", (3, 5), "shapes", &["geometry"], "easy"),
        )
        .await;
    let draft = api
        .create_game(
            &author.access,
            game("Secret Draft", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await
        .expect_status(201)
        .text("game_id");

    assert_eq!(
        api.game_titles(&learner.access, "").await,
        ["Counting Stars", "Shapes Around Us"]
    );
    assert_problem(
        &api.game(&learner.access, &draft, "").await,
        404,
        "not-found",
    );
    assert_eq!(
        api.game(&author.access, &draft, "")
            .await
            .expect_status(200)
            .body["status"],
        "draft"
    );
    let read = api
        .game(&learner.access, &stars, "")
        .await
        .expect_status(200);
    assert_eq!(read.body["rules"], "Play.");
    assert_eq!(read.body["skills"], json!(["counting"]));

    // A learner changes nothing.
    for action in ["publish", "unpublish"] {
        assert_problem(
            &api.game_action(&learner.access, &draft, action).await,
            403,
            "forbidden",
        );
    }
    assert_problem(
        &api.delete_game(&learner.access, &stars).await,
        403,
        "forbidden",
    );

    // Changing a published game changes its listing; unpublishing and deleting take it out.
    api.replace_game(
        &author.access,
        &stars,
        game("Counting Moons", (4, 6), "numbers", &["counting"], "easy"),
    )
    .await
    .expect_status(200);
    assert_eq!(
        api.game_titles(&learner.access, "").await,
        ["Counting Moons", "Shapes Around Us"]
    );
    assert!(
        api.game_titles(&learner.access, "q=stars").await.is_empty(),
        "old words are gone"
    );
    api.game_action(&author.access, &stars, "unpublish")
        .await
        .expect_status(200);
    assert_eq!(
        api.game_titles(&learner.access, "").await,
        ["Shapes Around Us"]
    );
    assert_problem(
        &api.game(&learner.access, &stars, "").await,
        404,
        "not-found",
    );
    api.delete_game(&author.access, &shapes)
        .await
        .expect_status(204);
    assert!(api.game_titles(&learner.access, "").await.is_empty());
    assert_problem(
        &api.game(&author.access, &shapes, "").await,
        404,
        "not-found",
    );
    assert_problem(
        &api.game_action(&author.access, &shapes, "publish").await,
        404,
        "not-found",
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_filters_sorts_and_pages() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    let games = [
        game(
            "Letters and Sounds",
            (4, 5),
            "alphabets",
            &["phonics", "letters"],
            "easy",
        ),
        game("Alphabet Train", (3, 4), "alphabets", &["letters"], "easy"),
        game(
            "Big Letter Hunt",
            (6, 8),
            "alphabets",
            &["phonics"],
            "medium",
        ),
        game("Number Line", (5, 7), "numbers", &["counting"], "easy"),
        game(
            "Times Tables",
            (8, 10),
            "numbers",
            &["multiplication"],
            "hard",
        ),
    ];
    for body in games {
        api.published_game(&admin, body).await;
        api.clock().advance(Duration::from_secs(60));
    }
    let titles = |q: &'static str| {
        let api = &api;
        let token = learner.access.clone();
        async move { api.game_titles(&token, q).await }
    };
    assert_eq!(
        titles("age=4-5").await,
        ["Alphabet Train", "Letters and Sounds", "Number Line"]
    );
    assert_eq!(
        titles("age=4-5&category=alphabets&difficulty=easy&skill=phonics").await,
        ["Letters and Sounds"]
    );
    assert_eq!(
        titles("q=letter").await,
        ["Big Letter Hunt", "Letters and Sounds"]
    );
    assert_eq!(
        titles("q=LETTERS&category=alphabets").await,
        ["Letters and Sounds"]
    );
    assert_eq!(titles("difficulty=hard").await, ["Times Tables"]);
    assert_eq!(
        titles("skill=letters&sort=newest").await,
        ["Alphabet Train", "Letters and Sounds"]
    );
    assert_eq!(
        titles("sort=newest").await,
        [
            "Times Tables",
            "Number Line",
            "Big Letter Hunt",
            "Alphabet Train",
            "Letters and Sounds"
        ]
    );
    assert_eq!(
        titles("category=numbers&sort=popular").await,
        ["Number Line", "Times Tables"]
    );
    assert!(titles("age=14-17").await.is_empty());
    assert_eq!(titles("age=0-3").await, ["Alphabet Train"]);

    // Pages: two at a time, each cursor bound to its list.
    let first = api
        .games(&learner.access, "limit=2")
        .await
        .expect_status(200);
    assert_eq!(first.items().len(), 2);
    let cursor = first.text("next_cursor");
    let second = api
        .games(&learner.access, &format!("limit=2&cursor={cursor}"))
        .await
        .expect_status(200);
    assert_eq!(second.items()[0]["title"], "Letters and Sounds");
    assert_validation(
        &api.games(
            &learner.access,
            &format!("limit=2&cursor={}", tamper(&cursor)),
        )
        .await,
        "query.cursor",
    );
    assert_validation(
        &api.games(
            &learner.access,
            &format!("category=numbers&cursor={cursor}"),
        )
        .await,
        "query.cursor",
    );

    for (query, field) in [
        ("age=4-6", "query.age"),
        ("q=two%20words", "query.q"),
        ("q=letter&skill=phonics", "query.q"),
        ("category=Alphabets", "query.category"),
        ("sort=random", "query.sort"),
        ("limit=101", "query.limit"),
        ("colour=red", "query.colour"),
    ] {
        assert_validation(&api.games(&learner.access, query).await, field);
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_profile_gets_one_variant_deterministically() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let mut body = game("Colour Match", (4, 6), "colours", &["colours"], "easy");
    body["variants"] = json!([
        {"key": "classic", "weight": 1, "overrides": {}},
        {"key": "big-buttons", "weight": 1, "overrides": {"button_scale": 1.5}}
    ]);
    let id = api.published_game(&admin, body).await;
    let parent = api.parent("variants@example.com").await;
    let stranger = api.parent("stranger@example.com").await;
    let variants: Vec<lectern_learning::catalog::Variant> =
        serde_json::from_value(api.game(&parent.access, &id, "").await.body["variants"].clone())
            .unwrap();
    for n in 0..6 {
        let kid = api.child_of(&parent, &format!("Kid {n}"), 5).await;
        let device = api.device_of(&parent, &kid).await;
        let on_device = api
            .game(&device.access, &id, "")
            .await
            .expect_status(200)
            .body["variant"]["key"]
            .clone();
        let for_parent = api
            .game(&parent.access, &id, &format!("profile_id={kid}"))
            .await
            .expect_status(200);
        assert_eq!(
            for_parent.body["variant"]["key"], on_device,
            "the same for the same profile"
        );
        assert_eq!(
            api.game(&device.access, &id, "").await.body["variant"]["key"],
            on_device,
            "stable"
        );
        assert_problem(
            &api.game(&stranger.access, &id, &format!("profile_id={kid}"))
                .await,
            404,
            "not-found",
        );
        // The assignment is the domain's deterministic one (its spread over the weights is a unit test there).
        let expected = lectern_learning::catalog::assign_variant(&id, &kid, &variants).unwrap();
        assert_eq!(on_device, expected.key.as_str());
    }
    assert!(
        api.game(&parent.access, &id, "").await.body["variant"].is_null(),
        "no profile, no variant"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_games_are_refused_by_field() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let ok = game("Fine", (4, 6), "numbers", &["counting"], "easy");
    let with = |field: &str, value: serde_json::Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("title", json!(" ")), "title"),
        (with("max_age", json!(3)), "max_age"),
        (with("min_age", json!(19)), "min_age"),
        (with("category", json!("Numbers!")), "category"),
        (with("skills", json!([])), "skills"),
        (with("estimated_minutes", json!(0)), "estimated_minutes"),
        (with("difficulty", json!("extreme")), "difficulty"),
        (
            with(
                "variants",
                json!([{"key": "a", "weight": 1}, {"key": "a", "weight": 2}]),
            ),
            "variants",
        ),
        (
            with("locales", json!({"english": {"title": "x"}})),
            "locales",
        ),
        (with("status", json!("published")), "status"),
    ] {
        assert_validation(&api.create_game(&admin.access, body).await, field);
    }
    api.stop().await;
}
