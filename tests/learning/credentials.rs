//! Which credentials reach the learning routes. The rule: children's data and everything that changes state take
//! a **session** (`SessionIdentity`): the account's own, or a profile (device) session, which is a session too —
//! minted by the parent's signed-in session, refreshed and revoked like one — narrowed to its one profile and to
//! `content:read` + `learning:play`. An **API key** (scripts, integrations) reaches only the public content lists
//! (`GET /v1/games`, `/v1/curriculum`, `/v1/achievements`) and answers 403 everywhere else, whatever its scopes:
//! a leaked key must not expose children's data. (The accounts suite walks every route of the document for the
//! same rule; this module says it for the learning routes, with device sessions.)

use lectern_e2e::api::{Api, Auth, assert_problem};
use lectern_e2e::learning::{child, game, result};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_read_public_content_only_and_device_sessions_play() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Keys", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("keys@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let scopes = [
        "content:read",
        "learning:play",
        "children:manage",
        "self:manage",
    ];
    let (key, _) = api
        .new_key(
            &parent.access,
            json!({"name": "all mine", "scopes": scopes}),
        )
        .await;
    let key = Auth::Key(&key);

    // The public content lists: a key with `content:read` reads them.
    assert_eq!(api.games(key, "").await.expect_status(200).items().len(), 1);
    api.curriculum(key).await.expect_status(200);
    api.achievements(key).await.expect_status(200);
    // Anything about the family or the children, or that changes state: 403, whatever the key's scopes.
    let year = api.clock_year();
    for reply in [
        api.profiles(key).await,
        api.profile(key, &kid).await,
        api.family(key).await,
        api.create_profile(key, child("Keyed", year - 5)).await,
        api.patch_profile(key, &kid, json!({"display_name": "X"}))
            .await,
        api.device_session(key, &kid).await,
        api.stats(key, &kid).await,
        api.results(key, &kid, "").await,
        api.record(key, &kid, "key-key-0001", result(&g, 1, 1, &api.at(-5)))
            .await,
        api.profile_curriculum(key, &kid).await,
        api.earned(key, &kid, "").await,
        api.game(key, &g, "").await,
        api.clear_pin(key).await,
    ] {
        assert_problem(&reply, 403, "forbidden");
    }
    assert_eq!(
        api.stats(&parent.access, &kid)
            .await
            .expect_status(200)
            .body["results"],
        0
    );

    // A device session is a session: it plays and reads its own profile...
    let me = &device.access;
    api.profile(me, &kid).await.expect_status(200);
    api.record(me, &kid, "key-dev-0001", result(&g, 1, 1, &api.at(-5)))
        .await
        .expect_status(201);
    api.stats(me, &kid).await.expect_status(200);
    api.profile_curriculum(me, &kid).await.expect_status(200);
    api.earned(me, &kid, "").await.expect_status(200);
    api.game(me, &g, "").await.expect_status(200);
    api.games(me, "").await.expect_status(200);
    // ...changes nothing of the family, and the account's own routes do not know it.
    assert_problem(
        &api.patch_profile(me, &kid, json!({"display_name": "X"}))
            .await,
        403,
        "forbidden",
    );
    assert_problem(&api.device_session(me, &kid).await, 403, "forbidden");
    assert_problem(&api.family(me).await, 403, "forbidden");
    assert_problem(&api.clear_pin(me).await, 403, "forbidden");
    assert_eq!(api.me(me).await.status, 401);
    api.stop().await;
}
