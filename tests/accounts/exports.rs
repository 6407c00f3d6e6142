//! Personal-data exports: a parent asks, the jobs worker writes one zip of the account and both children (every
//! domain's exporter), the link is emailed; one export a week; an admin can run one for a support case; and no
//! item that names the account or its children is left out of the export.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::Duration;

use lectern_e2e::api::{Api, Signed, assert_problem};
use lectern_e2e::learning::{achievement, game, result};
use lectern_shared::table::Item;
use lectern_shared::testing::embedded::{all_items, db_path};
use serde_json::{Value, json};

/// A game everyone plays, and a first-completion achievement.
async fn playground(api: &Api) -> (Signed, String) {
    let admin = api.admin("admin@example.com").await;
    api.create_achievement(
        &admin.access,
        achievement("First", json!({"kind": "first_completion"})),
    )
    .await
    .expect_status(201);
    let game = api
        .published_game(
            &admin,
            game("Export Game", (4, 10), "numbers", &["counting"], "easy"),
        )
        .await;
    (admin, game)
}

/// A child of `parent` with an avatar, two results on `game` and an earned achievement; answers its id.
async fn played(api: &Api, parent: &Signed, name: &str, game: &str) -> String {
    let profile = api.child_of(parent, name, 6).await;
    api.profile_avatar(parent, &profile).await;
    let device = api.device_of(parent, &profile).await;
    for n in 0..2 {
        api.record(
            &device.access,
            &profile,
            &format!("{profile}-{n:04}"),
            result(game, 60 + n, 2, &api.at(-60)),
        )
        .await
        .expect_status(201);
    }
    api.await_earned(parent, &profile).await;
    profile
}

/// Waits for the export-ready email to `to` and downloads the archive its link points at.
async fn downloaded(api: &Api, to: &str) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    let mail = api.mail_containing(to, "Download your data").await;
    let link = mail
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.contains("exports"))
        .unwrap_or_else(|| panic!("no link in {mail}"))
        .trim_end_matches(['.', ')', '>'])
        .to_string();
    lectern_e2e::uploads::download_zip(&link).await
}

fn text(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> String {
    let mut out = String::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("{name} in the archive"))
        .read_to_string(&mut out)
        .expect("utf-8");
    out
}

/// Every JSON file of the archive, parsed: `<part>/<entity>` → records.
fn records(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>) -> BTreeMap<String, Vec<Value>> {
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("name").to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let parsed: Value = serde_json::from_str(&text(zip, &name)).expect("json");
            let list = parsed.as_array().expect("an array").clone();
            (name.trim_end_matches(".json").to_string(), list)
        })
        .collect()
}

/// Whether a stored item names any of `ids`.
fn names_any(item: &Item, ids: &[&str]) -> bool {
    let text = Value::Object(item.clone()).to_string().to_lowercase();
    ids.iter().any(|id| text.contains(&id.to_lowercase()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_with_two_children_gets_one_zip_with_all_of_it_and_nothing_of_another_family() {
    let api = Api::start().await;
    let (_admin, g) = playground(&api).await;
    let parent = api.parent("parent@example.com").await;
    let ada = played(&api, &parent, "Ada", &g).await;
    let bea = played(&api, &parent, "Bea", &g).await;
    let other = api.parent("other@example.com").await;
    let zed = played(&api, &other, "Zed", &g).await;

    let asked = api.request_export(&parent.access).await.expect_status(202);
    assert_eq!(asked.body["status"], "queued");
    assert_eq!(asked.body["requested_by_admin"], false);
    let mut zip = downloaded(&api, "parent@example.com").await;

    let readme = text(&mut zip, "README.txt");
    assert!(readme.contains("learning/game_result"), "{readme}");
    let files = records(&mut zip);
    let user = &files["accounts/user"];
    assert_eq!(user.len(), 1);
    assert_eq!(user[0]["email"], "parent@example.com");
    let names: BTreeSet<&str> = files["learning/learner_profile"]
        .iter()
        .filter_map(|p| p["display_name"].as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["Ada", "Bea"]),
        "both children, no one else"
    );
    assert_eq!(files["learning/game_result"].len(), 4);
    assert!(files["learning/earned_achievement"].len() >= 2);
    assert!(
        !files["notifications/notification"].is_empty(),
        "the achievement notices"
    );
    // Tabular records come as CSV too; the avatars as files.
    let csv = text(&mut zip, "learning/game_result.csv");
    assert_eq!(csv.lines().count(), 5, "a header and four rows: {csv}");
    let avatars = zip
        .file_names()
        .filter_map(|n| n.ok())
        .filter(|n| n.starts_with("learning/files/profile-avatars/"))
        .count();
    assert_eq!(avatars, 2);
    // Nothing of another family, and no secret or digest.
    let everything: String = files
        .values()
        .map(|r| Value::from(r.clone()).to_string())
        .collect();
    assert!(!everything.contains(&zed) && !everything.contains(&other.user_id));
    for secret in [
        "password_hash",
        "pin_hash",
        "\"hash\"",
        "sealed_",
        "$argon2",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }

    // The history shows it ready, with a working link; another account sees only its own (none).
    let history = api.exports(&parent.access).await.expect_status(200);
    let listed = &history.list()[0];
    assert_eq!(listed["status"], "ready");
    assert!(listed["download_url"].is_string(), "{history}");
    assert!(listed["contents"]["learning/game_result"] == 4, "{history}");
    assert_eq!(
        api.exports(&other.access)
            .await
            .expect_status(200)
            .list()
            .len(),
        0
    );
    let _ = (ada, bea);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_export_a_week_even_when_two_requests_race() {
    let api = Api::start().await;
    let user = api.signed_up("weekly@example.com").await;
    let (a, b) = tokio::join!(
        api.request_export(&user.access),
        api.request_export(&user.access)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [202, 429], "{a}\n{b}");
    let refused = api.request_export(&user.access).await;
    assert_problem(&refused, 429, "export-too-soon");
    let wait: u64 = refused.header("retry-after").parse().expect("seconds");
    assert!(wait > 6 * 24 * 3600 && wait <= 7 * 24 * 3600, "{wait}");
    api.server.clock.advance(Duration::from_secs(wait + 1));
    let user = api.login("weekly@example.com").await;
    api.request_export(&user.access).await.expect_status(202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_an_export_for_a_support_case_others_may_not() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let user = api.signed_up("support@example.com").await;
    let nosy = api.signed_up("nosy@example.com").await;
    assert_problem(
        &api.admin_export_user(&nosy.access, &user.user_id).await,
        403,
        "forbidden",
    );
    assert_problem(
        &api.admin_user_exports(&nosy.access, &user.user_id).await,
        403,
        "forbidden",
    );
    let unknown = lectern_shared::ids::new_id();
    assert_problem(
        &api.admin_export_user(&admin.access, &unknown).await,
        404,
        "not-found",
    );
    // The admin's export does not use the account's weekly allowance.
    let run = api
        .admin_export_user(&admin.access, &user.user_id)
        .await
        .expect_status(202);
    assert_eq!(run.body["requested_by_admin"], true);
    api.request_export(&user.access).await.expect_status(202);
    downloaded(&api, "support@example.com").await;
    let listed = api
        .admin_user_exports(&admin.access, &user.user_id)
        .await
        .expect_status(200);
    assert_eq!(listed.list().len(), 2);
    // Audited as the admin's.
    let events = api
        .security_events(&user.access, "")
        .await
        .expect_status(200);
    let by_admin = events
        .items()
        .into_iter()
        .filter(|e| {
            e["action"] == "data_export_requested" && e["actor_id"] == admin.user_id.as_str()
        })
        .count();
    assert_eq!(by_admin, 1, "{events}");
}

/// Every item that names the account or one of its children, anywhere in the table, is in the export — by its
/// entity, in some domain's part — or is on this short list of things that are not the account's data, with why.
/// A domain that starts keeping data about accounts or profiles without an exporter fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_item_naming_the_account_or_its_children_is_left_out_of_the_export() {
    const NOT_PERSONAL: &[(&str, &str)] = &[
        // Idempotency claims of jobs, gone within a week (their keys name a profile or an account).
        ("job_claim", "a worker's note that a job ran"),
        // The sign-up email claim maps an address to the account: the address is in accounts/user.
        ("email_claim", "the address is exported with the account"),
        // Rate-limit counters are keyed by digests, never ids; outbox entries are sealed jobs in flight.
        ("outbox_entry", "a job on its way"),
        // The catalog's and boards' aggregates count plays, naming no one.
        ("board_buckets", "counts of scores"),
        ("catalog_entry", "the game's popularity"),
        // The admin statistics' mark that the account was counted active today: only a key, gone in 3 days.
        ("active_day", "a daily-active marker"),
    ];
    let api = Api::start().await;
    let (_admin, g) = playground(&api).await;
    let parent = api.parent("covered@example.com").await;
    let ada = played(&api, &parent, "Ada", &g).await;
    api.request_export(&parent.access).await.expect_status(202);
    let mut zip = downloaded(&api, "covered@example.com").await;
    let exported: BTreeSet<String> = records(&mut zip)
        .keys()
        .filter_map(|k| k.split('/').nth(1).map(str::to_string))
        .collect();

    let ids = [parent.user_id.as_str(), ada.as_str()];
    let mut missing = BTreeSet::new();
    let dir = api.stop().await;
    for item in all_items(&db_path(dir.path())) {
        if !names_any(&item, &ids) {
            continue;
        }
        let entity = item["entity"].as_str().unwrap_or("?").to_string();
        if !exported.contains(&entity) && !NOT_PERSONAL.iter().any(|(e, _)| *e == entity) {
            missing.insert(entity);
        }
    }
    assert!(
        missing.is_empty(),
        "entities naming the account or its child but in no export: {missing:?} (exported: {exported:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integrators_webhook_endpoints_are_in_its_export_without_their_secret() {
    let api = Api::start().await;
    let owner = api.admin("integrator@example.com").await;
    let created = api
        .create_webhook(
            &owner.access,
            json!({"url": "https://hooks.example.com/lectern", "description": "CRM",
                "event_types": ["user.registered"]}),
        )
        .await
        .expect_status(201);
    let secret = created.text("secret");
    api.request_export(&owner.access).await.expect_status(202);
    let mut zip = downloaded(&api, "integrator@example.com").await;
    let files = records(&mut zip);
    let endpoints = &files["webhooks/webhook_endpoint"];
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["url"], "https://hooks.example.com/lectern");
    let everything: String = files
        .values()
        .map(|r| Value::from(r.clone()).to_string())
        .collect();
    let sealed = secret.trim_start_matches("whsec_");
    assert!(
        !everything.contains(sealed) && !everything.contains("sealed"),
        "no secret exported"
    );
}
