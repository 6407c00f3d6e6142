//! `/v1/users/me/avatar`: a presigned upload, then a confirmation that checks what was uploaded.

use lectern_e2e::api::{Api, Signed, assert_validation};
use lectern_e2e::uploads::post_presigned_png;
use serde_json::Value;

pub(crate) use lectern_e2e::uploads::png;

/// Asks for an avatar upload and sends `bytes` through the presigned form; returns the key.
pub(crate) async fn upload_avatar(api: &Api, user: &Signed, bytes: Vec<u8>) -> String {
    let presigned = api
        .request_avatar_upload(&user.access, "image/png")
        .await
        .expect_status(200);
    let key = post_presigned_png(&presigned, bytes).await;
    assert!(
        key.starts_with(&format!("avatars/{}/", user.user_id)),
        "{key}"
    );
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatars_are_checked_before_they_are_accepted() {
    let api = Api::start().await;
    let alice = api.signed_up("alice@example.com").await;
    let bob = api.signed_up("bob@example.com").await;

    for content_type in ["image/gif", "image/svg+xml", "text/html", ""] {
        let reply = api.request_avatar_upload(&alice.access, content_type).await;
        assert_validation(&reply, "content_type");
    }

    let image = png(300);
    let key = upload_avatar(&api, &alice, image.clone()).await;
    // Bob cannot claim Alice's upload, however he spells the key.
    for stolen in [
        key.clone(),
        format!("avatars/{}/../{}", bob.user_id, &key["avatars/".len()..]),
        "avatars/".to_string(),
    ] {
        let reply = api.confirm_avatar(&bob.access, &stolen, "image/png").await;
        assert_validation(&reply, "key");
    }
    assert_eq!(api.me(&bob.access).await.body["avatar_url"], Value::Null);
    let reply = api.confirm_avatar(&alice.access, &key, "image/gif").await;
    assert_validation(&reply, "content_type");
    let nothing_there = format!(
        "avatars/{}/{}",
        alice.user_id,
        lectern_shared::ids::new_id()
    );
    let reply = api
        .confirm_avatar(&alice.access, &nothing_there, "image/png")
        .await;
    assert_validation(&reply, "key");

    let reply = api
        .confirm_avatar(&alice.access, &key, "image/png")
        .await
        .expect_status(200);
    let url = reply.text("avatar_url");
    let profile = api.me(&alice.access).await;
    assert!(profile.body["avatar_url"].is_string(), "{profile}");
    let download = reqwest::get(&url).await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), image);

    // A GIF sent as a PNG is refused at confirmation, and the profile keeps its avatar.
    let fake = upload_avatar(&api, &alice, b"GIF89a pretending to be a PNG".to_vec()).await;
    let reply = api.confirm_avatar(&alice.access, &fake, "image/png").await;
    assert_validation(&reply, "file");
    // Refused uploads are gone.
    let reply = api.confirm_avatar(&alice.access, &fake, "image/png").await;
    assert_validation(&reply, "key");
    let profile = api.me(&alice.access).await;
    assert!(profile.body["avatar_url"].is_string());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_the_current_avatar_again_keeps_it() {
    let api = Api::start().await;
    let user = api.signed_up("twice@example.com").await;
    let image = png(200);
    let key = upload_avatar(&api, &user, image.clone()).await;
    api.confirm_avatar(&user.access, &key, "image/png")
        .await
        .expect_status(200);
    // A retried confirmation (a double click, a client retrying after a timeout).
    let reply = api
        .confirm_avatar(&user.access, &key, "image/png")
        .await
        .expect_status(200);
    let download = reqwest::get(&reply.text("avatar_url")).await.unwrap();
    assert_eq!(download.status(), 200, "the avatar is still there");
    assert_eq!(download.bytes().await.unwrap().to_vec(), image);
    api.stop().await;
}
