//! Forgetting children: a parent deletes one child's profile, or the parent's account is erased after its grace
//! period. Either way the children's results, statistics, achievements, leaderboard entries and avatars go — found
//! without a scan — and the rest of the family, other families and the boards' ranks stay right.

use lectern_e2e::api::{Api, Signed};
use lectern_e2e::eventually;
use lectern_e2e::learning::{achievement, game, result};
use lectern_shared::clock::Clock;
use lectern_shared::queue::worker::DONE_RETENTION;
use lectern_shared::table::Item;
use lectern_shared::testing::embedded::{all_items, db_path};
use serde_json::{Value, json};

/// Whether a stored item names `id` anywhere.
fn names(item: &Item, id: &str) -> bool {
    Value::Object(item.clone())
        .to_string()
        .to_lowercase()
        .contains(&id.to_lowercase())
}

/// Whether an item is a job's claim that expires by itself within the worker's retention of `now`: a claim's
/// idempotency key may name a profile (the parent's achievement notification is keyed by profile and achievement)
/// or the account (the goodbye email's), but it is not personal data kept: it is gone within a week.
fn passing_claim(item: &Item, now: i64) -> bool {
    let expires = now + DONE_RETENTION.as_secs() as i64;
    item["entity"] == "job_claim" && item["ttl"].as_i64().is_some_and(|t| t <= expires)
}

/// A game everyone plays, and a first-completion achievement.
async fn playground(api: &Api) -> String {
    let admin = api.admin("admin@example.com").await;
    api.create_achievement(
        &admin.access,
        achievement("First", json!({"kind": "first_completion"})),
    )
    .await
    .expect_status(201);
    api.published_game(
        &admin,
        game("Erase Game", (4, 10), "numbers", &["counting"], "easy"),
    )
    .await
}

/// A child of `parent` with an avatar, two results on `game` (through its device), an earned achievement and
/// board entries; answers its profile id.
async fn played(api: &Api, parent: &Signed, name: &str, game: &str, score: i64) -> String {
    let profile = api.child_of(parent, name, 6).await;
    api.profile_avatar(parent, &profile).await;
    let device = api.device_of(parent, &profile).await;
    for (n, s) in [score - 10, score].into_iter().enumerate() {
        api.record(
            &device.access,
            &profile,
            &format!("{profile}-{n:04}"),
            result(game, s, 2, &api.at(-60)),
        )
        .await
        .expect_status(201);
    }
    api.await_earned(parent, &profile).await;
    profile
}

/// `profile`'s weekly rank on `game`, once the board holds its score.
async fn rank(api: &Api, parent: &Signed, profile: &str, game: &str) -> Value {
    api.rank(&parent.access, profile, game, "period=weekly")
        .await
        .expect_status(200)
        .body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_child_profile_leaves_only_its_consent_record() {
    let api = Api::start().await;
    let g = playground(&api).await;
    let parent = api.parent("family@example.com").await;
    let ada = played(&api, &parent, "Ada", &g, 80).await;
    let bea = played(&api, &parent, "Bea", &g, 70).await;
    let ranked = eventually(async || rank(&api, &parent, &bea, &g).await["rank_from"] == 2).await;
    assert!(ranked, "Ada is ahead of Bea");

    api.delete_profile(&parent.access, &ada)
        .await
        .expect_status(204);
    // The learning worker erases Ada's data; her board entry goes with its bucket count, so Bea moves up.
    let moved = eventually(async || {
        let r = rank(&api, &parent, &bea, &g).await;
        r["rank_from"] == 1 && r["rank_to"] == 1
    })
    .await;
    assert!(moved, "Bea ranks first once Ada's entry is gone");
    let platform = api.server.platform.clone();
    let (blobs, _) = platform
        .blobs
        .list(&format!("profile-avatars/{ada}/"), None, 10)
        .await
        .unwrap();
    assert!(blobs.is_empty(), "Ada's avatar is gone: {blobs:?}");
    // Bea is untouched.
    let stats = api
        .stats(&parent.access, &bea)
        .await
        .expect_status(200)
        .body;
    assert_eq!(stats["results"], 2, "{stats}");
    let now = api.clock().epoch_seconds();
    drop(platform);
    let dir = api.stop().await;

    let items = all_items(&db_path(dir.path()));
    let left: Vec<&Item> = items
        .iter()
        .filter(|i| names(i, &ada) && !passing_claim(i, now))
        .collect();
    assert_eq!(
        left.len(),
        1,
        "only the record of the parent's consent: {left:#?}"
    );
    assert_eq!(left[0]["entity"], "parental_consent");
    assert!(left[0]["profile_deleted_at"].is_i64(), "{:?}", left[0]);
    let bea_items = items.iter().filter(|i| names(i, &bea)).count();
    assert!(
        bea_items >= 8,
        "Bea's profile, results, stats, board entries…"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_parent_account_leaves_nothing_of_the_children() {
    let api = Api::start().await;
    let g = playground(&api).await;
    let gone = api.parent("gone@example.com").await;
    let ada = played(&api, &gone, "Ada", &g, 90).await;
    let bea = played(&api, &gone, "Bea", &g, 80).await;
    let own = api.parent("stays@example.com").await;
    let cy = played(&api, &own, "Cy", &g, 70).await;
    let ranked = eventually(async || rank(&api, &own, &cy, &g).await["rank_from"] == 3).await;
    assert!(ranked, "Cy is third");

    api.erased_after_grace(&gone).await;
    let platform = api.server.platform.clone();
    // Cy's week is over by now; the all-time board shows the erased children gone with their counts.
    let own = api.login(&own.email).await;
    let cy_rank = api
        .rank(&own.access, &cy, &g, "period=all-time")
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (&cy_rank["rank_from"], &cy_rank["rank_to"]),
        (&json!(1), &json!(1)),
        "{cy_rank}"
    );
    let (blobs, _) = platform
        .blobs
        .list("profile-avatars/", None, 10)
        .await
        .unwrap();
    assert!(
        blobs.iter().all(|b| b.key.contains(&cy)),
        "only Cy's avatar: {blobs:?}"
    );
    lectern_platform_housekeeping::run(&platform).await.unwrap();
    let now = api.clock().epoch_seconds();
    drop(platform);
    let dir = api.stop().await;

    let items = all_items(&db_path(dir.path()));
    for (who, id) in [("Ada", &ada), ("Bea", &bea)] {
        let left: Vec<&Item> = items
            .iter()
            .filter(|i| names(i, id) && !passing_claim(i, now))
            .collect();
        assert!(left.is_empty(), "{who} is still there: {left:#?}");
    }
    let left: Vec<&Item> = items
        .iter()
        .filter(|i| names(i, &gone.user_id) && !passing_claim(i, now))
        .collect();
    assert_eq!(left.len(), 1, "only the erasure record: {left:#?}");
    assert_eq!(left[0]["action"], "account_erased");
    assert!(
        items
            .iter()
            .any(|i| names(i, &cy) && i["entity"] == "board_entry"),
        "the other family's board entries stay"
    );
}
