//! `lectern seed` loads a catalog a newcomer can click through (48 games across categories, ages and skills), a
//! curriculum whose modules require the ones before, and achievement definitions — once.

use std::collections::BTreeSet;

use lectern_e2e::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_loads_games_a_curriculum_and_achievements_once() {
    let api = Api::start().await;
    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    let report = lectern_local::seed::run(&api.server.platform, &accounts)
        .await
        .unwrap();
    assert!(report.applied.contains(&"learning-content"), "{report:?}");
    let learner = api.signed_up("newcomer@example.com").await;

    let games = api
        .games(&learner.access, "limit=100")
        .await
        .expect_status(200)
        .items();
    assert!(games.len() >= 40, "{}", games.len());
    let field = |name: &str| -> BTreeSet<String> {
        games
            .iter()
            .map(|g| g[name].as_str().unwrap().to_string())
            .collect()
    };
    assert!(field("category").len() >= 6);
    assert_eq!(field("difficulty").len(), 3);
    let skills: BTreeSet<&str> = games
        .iter()
        .flat_map(|g| g["skills"].as_array().unwrap())
        .filter_map(|s| s.as_str())
        .collect();
    assert!(skills.len() >= 10, "{skills:?}");
    for age in ["0-3", "4-5", "6-7", "8-10", "11-13"] {
        assert!(
            !api.game_titles(&learner.access, &format!("age={age}"))
                .await
                .is_empty(),
            "games for {age}"
        );
    }

    let curriculum = api.curriculum(&learner.access).await.expect_status(200);
    let paths = curriculum.body["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2);
    for path in paths {
        let modules = path["modules"].as_array().unwrap();
        assert_eq!(modules.len(), 3);
        assert!(modules[0]["prerequisites"].as_array().unwrap().is_empty());
        assert_eq!(
            modules[1]["prerequisites"][0], modules[0]["module_id"],
            "each module requires the one before"
        );
    }
    let achievements = api.achievements(&learner.access).await.expect_status(200);
    assert!(achievements.body.as_array().unwrap().len() >= 5);

    let again = lectern_local::seed::run(&api.server.platform, &accounts)
        .await
        .unwrap();
    assert!(again.skipped.contains(&"learning-content"), "{again:?}");
    assert_eq!(
        api.games(&learner.access, "limit=100").await.items().len(),
        games.len(),
        "not twice"
    );
    api.stop().await;
}
