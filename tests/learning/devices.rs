//! Device (profile) sessions: a parent's session acting as one child only — never the account, a sibling or the
//! controls; listed with the parent's sessions, revocable, refreshing like any session; the parent PIN.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_session_acts_as_its_child_only() {
    let api = Api::start().await;
    let parent = api.parent("mum@example.com").await;
    let ada = api.child_of(&parent, "Ada", 4).await;
    let bo = api.child_of(&parent, "Bo", 7).await;
    let device = api.device_of(&parent, &ada).await;
    let token = device.access.as_str();

    // Its own profile, and nothing else of the family.
    let seen = api.profiles(token).await.expect_status(200).list();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["profile_id"], ada.as_str());
    api.profile(token, &ada).await.expect_status(200);
    assert_problem(&api.profile(token, &bo).await, 404, "not-found");
    // It changes nothing: not its profile, not its sibling, not the family.
    assert_problem(
        &api.patch_profile(token, &ada, json!({"display_name": "Hacked"}))
            .await,
        403,
        "forbidden",
    );
    assert_problem(&api.delete_profile(token, &ada).await, 403, "forbidden");
    assert_problem(
        &api.patch_profile(token, &bo, json!({"display_name": "Hacked"}))
            .await,
        404,
        "not-found",
    );
    assert_problem(&api.device_session(token, &ada).await, 403, "forbidden");
    assert_problem(&api.device_session(token, &bo).await, 404, "not-found");
    assert_problem(
        &api.create_profile(
            token,
            json!({"display_name": "New", "birth_year": 2020, "parental_consent": true}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_problem(&api.family(token).await, 403, "forbidden");
    assert_problem(&api.set_pin(token, "1234").await, 403, "forbidden");
    assert_problem(&api.clear_pin(token).await, 403, "forbidden");
    // The account's own routes refuse it outright.
    for (method, path) in [
        (Method::GET, "/v1/users/me"),
        (Method::GET, "/v1/users/me/sessions"),
        (Method::GET, "/v1/users/me/api-keys"),
        (Method::POST, "/v1/auth/logout-all"),
        (Method::POST, "/v1/auth/2fa/setup"),
        (Method::GET, "/v1/admin/users"),
    ] {
        let reply = api
            .send(method, path, token.into(), lectern_e2e::api::Body::Empty)
            .await;
        assert_problem(&reply, 401, "unauthenticated");
    }
    // The parent is still signed in: logout-all above never ran.
    api.me(&parent.access).await.expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_sees_refreshes_and_revokes_device_sessions() {
    let api = Api::start().await;
    let parent = api.parent("dad@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;

    let sessions = api.sessions(&parent.access).await.expect_status(200).list();
    let listed = sessions
        .iter()
        .find(|s| s["session_id"] == device.session_id.as_str())
        .expect("the device session is listed");
    assert_eq!(listed["profile_id"], kid.as_str());
    assert!(
        sessions.iter().any(|s| s["profile_id"].is_null()),
        "and the parent's own"
    );

    // Refreshing keeps the restriction: the new token still acts as the child only.
    let refreshed = api.refresh(&device.refresh).await.expect_status(200);
    let access = refreshed.text("access_token");
    assert_eq!(refreshed.text("session_id"), device.session_id);
    api.profile(&access, &kid).await.expect_status(200);
    assert_problem(&api.me(&access).await, 401, "unauthenticated");

    api.revoke_session(&parent.access, &device.session_id)
        .await
        .expect_status(204);
    assert_problem(&api.profile(&access, &kid).await, 401, "unauthenticated");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_profile_ends_its_device_sessions_only() {
    let api = Api::start().await;
    let parent = api.parent("tidy@example.com").await;
    let gone = api.child_of(&parent, "Gone", 5).await;
    let stays = api.child_of(&parent, "Stays", 5).await;
    let gone_device = api.device_of(&parent, &gone).await;
    let stays_device = api.device_of(&parent, &stays).await;
    api.delete_profile(&parent.access, &gone)
        .await
        .expect_status(204);
    assert_problem(
        &api.profiles(&gone_device.access).await,
        401,
        "unauthenticated",
    );
    api.profiles(&stays_device.access).await.expect_status(200);
    api.me(&parent.access).await.expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_pin_switches_back_and_is_rate_limited() {
    let api = Api::start().await;
    // PIN guesses are counted in fixed 15-minute windows: start at the beginning of one.
    use lectern_shared::clock::Clock;
    let now = api.clock().now().unix_timestamp();
    let start = now - now.rem_euclid(900) + 900;
    api.clock().set(time_at(start));
    let parent = api.parent("pin@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    let device = api.device_of(&parent, &kid).await;

    // Guess 1: no PIN is set yet.
    assert_validation(&api.switch_to_parent(&device.access, "1234").await, "pin");
    assert_validation(&api.set_pin(&parent.access, "12a4").await, "pin");
    api.set_pin(&parent.access, "4821").await.expect_status(204);
    // Only a device switches back.
    assert_problem(
        &api.switch_to_parent(&parent.access, "4821").await,
        403,
        "forbidden",
    );

    // Guess 2: right.
    let back = api
        .switch_to_parent(&device.access, "4821")
        .await
        .expect_status(200);
    let parent_again = back.text("access_token");
    api.me(&parent_again).await.expect_status(200);
    // A PIN is not a password: changing the PIN later still wants a recent sign-in.
    api.clock().advance(Duration::from_secs(11 * 60));
    assert_problem(
        &api.set_pin(&parent_again, "1111").await,
        403,
        "reauthentication-required",
    );

    // Guesses 3 to 5 are wrong; the sixth is not even checked, right as it is, until the window ends.
    for _ in 0..3 {
        assert_validation(&api.switch_to_parent(&device.access, "0000").await, "pin");
    }
    let limited = api.switch_to_parent(&device.access, "4821").await;
    assert_problem(&limited, 429, "rate-limited");
    assert_eq!(limited.header("retry-after"), "240");
    api.clock().advance(Duration::from_secs(15 * 60));
    let device_token = api.fresh_access(&device).await;
    api.switch_to_parent(&device_token, "4821")
        .await
        .expect_status(200);

    let parent = api.login(&parent.email).await;
    api.clear_pin(&parent.access).await.expect_status(204);
    assert_problem(&api.clear_pin(&parent.access).await, 404, "not-found");
    api.stop().await;
}

fn time_at(epoch: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(epoch).unwrap()
}
