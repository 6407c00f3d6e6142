//! Housekeeping's clean-up of what the stores do not clean themselves: an avatar uploaded through its presigned
//! form and never confirmed is removed once its form has long expired; a confirmed one stays.

use lectern_e2e::api::Api;
use lectern_e2e::uploads::{png, post_presigned_png};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_never_confirmed_is_removed_and_a_confirmed_one_kept() {
    let api = Api::start().await;
    let user = api.signed_up("uploads@example.com").await;
    let abandoned = {
        let form = api
            .request_avatar_upload(&user.access, "image/png")
            .await
            .expect_status(200);
        post_presigned_png(&form, png(200)).await
    };
    let kept = {
        let form = api
            .request_avatar_upload(&user.access, "image/png")
            .await
            .expect_status(200);
        let key = post_presigned_png(&form, png(300)).await;
        api.confirm_avatar(&user.access, &key, "image/png")
            .await
            .expect_status(200);
        key
    };
    let blobs = api.server.platform.blobs.clone();
    assert!(blobs.head(&abandoned).await.is_ok(), "uploaded");

    // Within its form's life and the grace hour, the unconfirmed upload is left alone.
    let report = lectern_platform_housekeeping::run(&api.server.platform)
        .await
        .unwrap();
    assert_eq!(report.abandoned_uploads_removed, 0);
    assert!(blobs.head(&abandoned).await.is_ok());

    api.clock()
        .advance(std::time::Duration::from_secs(600 + 3600 + 1));
    let report = lectern_platform_housekeeping::run(&api.server.platform)
        .await
        .unwrap();
    assert_eq!(report.abandoned_uploads_removed, 1);
    assert!(
        blobs.head(&abandoned).await.is_err(),
        "the abandoned upload is gone"
    );
    assert!(
        blobs.head(&kept).await.is_ok(),
        "the confirmed avatar stays"
    );
    // Done once: the next run finds nothing.
    let report = lectern_platform_housekeeping::run(&api.server.platform)
        .await
        .unwrap();
    assert_eq!(report.abandoned_uploads_removed, 0);
}
