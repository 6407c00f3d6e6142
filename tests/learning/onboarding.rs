//! `/v1/users/me/onboarding` and `/v1/admin/onboarding`: steps defined as data, shown per role, completed by what
//! the account does (verifying, creating a profile, a first result, parental controls) or marked done by hand;
//! each account's progress its own.

use lectern_e2e::api::{Api, PASSWORD, assert_problem, assert_validation};
use lectern_e2e::learning::{game, result};
use serde_json::{Value, json};

/// The (id, done, done_by) of each step shown.
fn steps(view: &Value) -> Vec<(String, bool, Value)> {
    view["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().expect("id").to_string(),
                s["done"].as_bool().expect("done"),
                s["done_by"].clone(),
            )
        })
        .collect()
}

fn step(id: &str, done: bool, by: Option<&str>) -> (String, bool, Value) {
    (id.to_string(), done, by.map_or(Value::Null, Value::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parents_steps_complete_as_the_family_gets_going() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Onboard", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("new.parent@example.com").await;
    let other = api.parent("other.parent@example.com").await;

    let fresh = api.onboarding(&parent.access).await.expect_status(200).body;
    assert_eq!(
        steps(&fresh),
        [
            step("verify-email", true, Some("event")),
            step("first-profile", false, None),
            step("first-game", false, None),
            step("set-controls", false, None),
        ]
    );
    assert_eq!(
        (fresh["remaining"].clone(), fresh["complete"].clone()),
        (json!(3), json!(false))
    );

    let kid = api.child_of(&parent, "Kid", 6).await;
    let view = api.onboarding(&parent.access).await.expect_status(200).body;
    assert_eq!(steps(&view)[1], step("first-profile", true, Some("event")));
    assert_eq!(steps(&view)[2], step("first-game", false, None));

    let device = api.device_of(&parent, &kid).await;
    assert_problem(&api.onboarding(&device.access).await, 403, "forbidden");
    api.record(
        &device.access,
        &kid,
        "onboard-key-1",
        result(&g, 10, 1, &api.at(-60)),
    )
    .await
    .expect_status(201);
    api.put_controls(&parent.access, &kid, json!({"daily_limit_minutes": 30}))
        .await
        .expect_status(200);
    let done = api.onboarding(&parent.access).await.expect_status(200).body;
    assert_eq!(
        steps(&done),
        [
            step("verify-email", true, Some("event")),
            step("first-profile", true, Some("event")),
            step("first-game", true, Some("event")),
            step("set-controls", true, Some("event")),
        ]
    );
    assert_eq!(
        (done["remaining"].clone(), done["complete"].clone()),
        (json!(0), json!(true))
    );

    // Done stays done: the family's only child leaving does not take the steps back.
    api.delete_profile(&parent.access, &kid)
        .await
        .expect_status(204);
    let after = api.onboarding(&parent.access).await.expect_status(200).body;
    assert_eq!(after["complete"], true, "{after}");
    // Another family's progress is its own.
    let theirs = api.onboarding(&other.access).await.expect_status(200).body;
    assert_eq!(theirs["remaining"], 3, "{theirs}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_are_shown_per_role_and_marked_done_once_by_hand() {
    let api = Api::start().await;
    // A learner who has not verified yet.
    api.register_json(
        json!({"email": "learner@example.com", "password": PASSWORD, "display_name": "Lee"}),
    )
    .await
    .expect_status(202);
    let learner = api.login("learner@example.com").await;
    let view = api
        .onboarding(&learner.access)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        steps(&view),
        [
            step("verify-email", false, None),
            step("first-profile", false, None),
            step("first-game", false, None),
        ],
        "a learner is not shown parental controls"
    );

    let marked = api
        .complete_onboarding(&learner.access, "first-game")
        .await
        .expect_status(200)
        .body;
    assert_eq!(steps(&marked)[2], step("first-game", true, Some("account")));
    let at = marked["steps"][2]["done_at"].clone();
    let again = api
        .complete_onboarding(&learner.access, "first-game")
        .await
        .expect_status(200)
        .body;
    assert_eq!(again["steps"][2]["done_at"], at, "marked once");
    for missing in ["set-controls", "no-such-step"] {
        assert_problem(
            &api.complete_onboarding(&learner.access, missing).await,
            404,
            "not-found",
        );
    }
    assert_validation(
        &api.complete_onboarding(&learner.access, "Bad_Step").await,
        "path.step",
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_define_the_steps_and_accounts_keep_what_they_did() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let parent = api.parent("parent@example.com").await;
    api.complete_onboarding(&parent.access, "set-controls")
        .await
        .expect_status(200);

    let defaults = api
        .onboarding_steps(&admin.access)
        .await
        .expect_status(200)
        .body;
    assert_eq!(defaults["version"], 0);
    assert_problem(
        &api.onboarding_steps(&parent.access).await,
        403,
        "forbidden",
    );
    let list = json!({"steps": [
        {"id": "set-controls", "title": "Set parental controls", "roles": ["parent"], "completed_by": "controls_set"},
        {"id": "read-guide", "title": "  Read the parents' guide  ", "description": "Ten minutes."},
    ]});
    assert_problem(
        &api.replace_onboarding_steps(&parent.access, list.clone())
            .await,
        403,
        "forbidden",
    );
    let duplicate = json!({"steps": [
        {"id": "same", "title": "One"},
        {"id": "same", "title": ""},
    ]});
    let refused = api.replace_onboarding_steps(&admin.access, duplicate).await;
    assert_validation(&refused, "steps[1].id");
    assert_validation(&refused, "steps[1].title");
    assert_validation(
        &api.replace_onboarding_steps(&admin.access, json!({"steps": []}))
            .await,
        "steps",
    );
    let stored = api
        .replace_onboarding_steps(&admin.access, list)
        .await
        .expect_status(200)
        .body;
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["steps"][1]["title"], "Read the parents' guide");

    let view = api.onboarding(&parent.access).await.expect_status(200).body;
    assert_eq!(
        steps(&view),
        [
            step("set-controls", true, Some("account")),
            step("read-guide", false, None),
        ]
    );
    api.stop().await;
}
