//! `/v1/profiles` and `/v1/family`: a family's child profiles, the learner's own, consent, limits, avatars, and
//! who may reach them (two families, an admin).

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::learning::child;
use lectern_e2e::uploads::{png, post_presigned_png};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_manages_children_and_the_family_keeps_the_consents() {
    let api = Api::start().await;
    let parent = api.parent("parent@example.com").await;
    let year = api.clock_year();

    let created = api
        .create_profile(
            &parent.access,
            json!({
                "display_name": "  Ada  ", "birth_year": year - 4, "timezone": "Europe/Paris", "locale": "fr",
                "preferences": {"sound": false, "reading": {"font": "large"}}, "parental_consent": true
            }),
        )
        .await
        .expect_status(201);
    assert_eq!(created.body["display_name"], "Ada", "trimmed");
    assert_eq!(created.body["kind"], "child");
    assert_eq!(created.body["age_band"], "4-5");
    assert_eq!(created.body["timezone"], "Europe/Paris");
    let ada = created.text("profile_id");
    let bo = api.child_of(&parent, "Bo", 8).await;

    let list = api.profiles(&parent.access).await.expect_status(200).list();
    let ids: Vec<&str> = list
        .iter()
        .map(|p| p["profile_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ada.as_str(), bo.as_str()], "in creation order");

    let changed = api
        .patch_profile(
            &parent.access,
            &ada,
            json!({"display_name": "Ada L.", "preferences": {"sound": true}}),
        )
        .await
        .expect_status(200);
    assert_eq!(changed.body["display_name"], "Ada L.");
    assert_eq!(
        changed.body["preferences"],
        json!({"sound": true}),
        "replaced whole"
    );
    assert_eq!(changed.body["timezone"], "Europe/Paris", "unchanged");

    let family = api.family(&parent.access).await.expect_status(200);
    assert_eq!(family.body["children"], 2);
    assert_eq!(family.body["max_children"], 6);
    let consents = family.body["consents"].as_array().unwrap().clone();
    assert_eq!(consents.len(), 2);
    for consent in &consents {
        assert_eq!(consent["owner_id"], parent.user_id.as_str());
        assert_eq!(consent["method"], "verified_account_attestation");
        assert_eq!(consent["policy_version"], "2025-01");
        assert!(consent["consented_at"].is_i64());
    }

    api.delete_profile(&parent.access, &bo)
        .await
        .expect_status(204);
    assert_problem(&api.profile(&parent.access, &bo).await, 404, "not-found");
    let family = api.family(&parent.access).await.expect_status(200);
    assert_eq!(family.body["children"], 1);
    let kept = family.body["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["profile_id"] == bo.as_str())
        .cloned()
        .expect("the consent of a deleted profile is kept");
    assert!(kept["profile_deleted_at"].is_i64(), "{kept}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_has_at_most_six_children_even_when_created_at_once() {
    let api = Api::start().await;
    let parent = api.parent("busy@example.com").await;
    for n in 0..4 {
        api.child_of(&parent, &format!("Kid {n}"), 5).await;
    }
    // Four more at the same moment for the last two places: never more than six.
    let year = api.clock_year() - 5;
    let replies = futures_join(&api, &parent.access, year, 4).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(reply.status, 409, "{reply}");
    }
    assert!((1..=2).contains(&created), "{created} created");
    while api.family(&parent.access).await.body["children"]
        .as_i64()
        .unwrap()
        < 6
    {
        api.create_profile(&parent.access, child("Late", year))
            .await
            .expect_status(201);
    }
    let over = api
        .create_profile(&parent.access, child("Seventh", year))
        .await;
    assert_problem(&over, 409, "profile-limit-reached");
    assert_eq!(api.profiles(&parent.access).await.list().len(), 6);
    api.stop().await;
}

async fn futures_join(api: &Api, token: &str, year: i32, n: usize) -> Vec<lectern_e2e::api::Reply> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = (**api).clone();
        let token = token.to_string();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client
                .create_profile(&token, child(&format!("Twin {i}"), year))
                .await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_profiles_are_refused_by_field() {
    let api = Api::start().await;
    let parent = api.parent("strict@example.com").await;
    let year = api.clock_year();
    let cases = [
        (
            json!({"display_name": "A", "birth_year": year - 3}),
            "parental_consent",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 3, "parental_consent": false}),
            "parental_consent",
        ),
        (
            json!({"display_name": " ", "birth_year": year - 3, "parental_consent": true}),
            "display_name",
        ),
        (
            json!({"display_name": "A", "birth_year": year + 1, "parental_consent": true}),
            "birth_year",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 30, "parental_consent": true}),
            "birth_year",
        ),
        (
            json!({"display_name": "A", "birth_year": 1800, "parental_consent": true}),
            "birth_year",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 3, "parental_consent": true, "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 3, "parental_consent": true, "locale": "english"}),
            "locale",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 3, "parental_consent": true,
                "preferences": {"blob": "x".repeat(3000)}}),
            "preferences",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 3, "parental_consent": true,
                "preferences": {"a": {"b": {"c": {"d": {}}}}}}),
            "preferences",
        ),
        (
            json!({"display_name": "A", "birth_year": year - 3, "parental_consent": true, "owner_id": "x"}),
            "owner_id",
        ),
    ];
    for (body, field) in cases {
        let reply = api.create_profile(&parent.access, body).await;
        assert_validation(&reply, field);
    }
    assert_eq!(
        api.family(&parent.access).await.body["children"],
        0,
        "nothing half-written"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_has_one_profile_of_its_own_and_no_children() {
    let api = Api::start().await;
    let learner = api.signed_up("learner@example.com").await;
    let year = api.clock_year();
    let forbidden = api
        .create_profile(&learner.access, json!({"kind": "child", "display_name": "K", "birth_year": year - 5, "parental_consent": true}))
        .await;
    assert_problem(&forbidden, 403, "forbidden");
    let own = api
        .create_profile(
            &learner.access,
            json!({"display_name": "Me", "birth_year": year - 30}),
        )
        .await
        .expect_status(201);
    assert_eq!(own.body["kind"], "own");
    assert_eq!(own.body["age_band"], "18+");
    let id = own.text("profile_id");
    api.patch_profile(&learner.access, &id, json!({"locale": "en-GB"}))
        .await
        .expect_status(200);
    let second = api
        .create_profile(
            &learner.access,
            json!({"display_name": "Me again", "birth_year": year - 30}),
        )
        .await;
    assert_problem(&second, 409, "profile-limit-reached");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_family_reaches_none_of_it_and_an_admin_reaches_all_of_it() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let smith = api.parent("smith@example.com").await;
    let jones = api.parent("jones@example.com").await;
    let kid = api.child_of(&smith, "Sam", 6).await;

    assert!(
        api.profiles(&jones.access)
            .await
            .expect_status(200)
            .list()
            .is_empty()
    );
    assert_problem(&api.profile(&jones.access, &kid).await, 404, "not-found");
    assert_problem(
        &api.patch_profile(&jones.access, &kid, json!({"display_name": "Mine"}))
            .await,
        404,
        "not-found",
    );
    assert_problem(
        &api.delete_profile(&jones.access, &kid).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.profile_avatar_upload(&jones.access, &kid, "image/png")
            .await,
        404,
        "not-found",
    );
    assert_problem(
        &api.device_session(&jones.access, &kid).await,
        404,
        "not-found",
    );
    assert_eq!(api.family(&jones.access).await.body["children"], 0);

    // Admins see and change any profile, but never hold a session in another family's account.
    api.profile(&admin.access, &kid).await.expect_status(200);
    api.patch_profile(&admin.access, &kid, json!({"display_name": "Samuel"}))
        .await
        .expect_status(200);
    assert_problem(
        &api.device_session(&admin.access, &kid).await,
        403,
        "forbidden",
    );
    assert_eq!(
        api.profile(&smith.access, &kid).await.body["display_name"],
        "Samuel"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_avatar_is_uploaded_presigned_and_checked() {
    let api = Api::start().await;
    let parent = api.parent("pics@example.com").await;
    let kid = api.child_of(&parent, "Pic", 7).await;
    assert_validation(
        &api.profile_avatar_upload(&parent.access, &kid, "image/gif")
            .await,
        "content_type",
    );
    let presigned = api
        .profile_avatar_upload(&parent.access, &kid, "image/png")
        .await
        .expect_status(200);
    let key = presigned.text("key");
    assert!(key.starts_with(&format!("profile-avatars/{kid}/")), "{key}");
    assert_validation(
        &api.profile_avatar_confirm(&parent.access, &kid, &key).await,
        "key",
    );
    post_presigned_png(&presigned, png(200)).await;
    let other = api.child_of(&parent, "Other", 7).await;
    assert_validation(
        &api.profile_avatar_confirm(&parent.access, &other, &key)
            .await,
        "key",
    );
    let done = api
        .profile_avatar_confirm(&parent.access, &kid, &key)
        .await
        .expect_status(200);
    assert!(done.body["avatar_url"].is_string(), "{done}");
    api.stop().await;
}
