//! The [`Blobs`] contract. Every case takes a fresh, empty store whose presigned URLs are reachable over HTTP, and
//! the manual clock it was built with.

use std::time::Duration;

use bytes::Bytes;

use crate::blobs::confirm::{ConfirmError, confirm_upload};
use crate::blobs::{BlobError, Blobs, PresignedUpload, UploadRules};
use crate::clock::ManualClock;

/// The smallest valid PNG (1×1, transparent).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Rules for a small PNG upload.
pub fn png_rules(max_bytes: u64) -> UploadRules {
    UploadRules {
        content_type: "image/png".into(),
        min_bytes: 1,
        max_bytes,
        expires_in: Duration::from_secs(300),
    }
}

/// Sends a presigned upload the way a browser would: every field in order, then the file part.
pub async fn post_upload(
    upload: &PresignedUpload,
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::Result<reqwest::Response> {
    assert_eq!(upload.method, "POST");
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &upload.fields {
        form = form.text(name.clone(), value.clone());
    }
    let part = reqwest::multipart::Part::bytes(body)
        .file_name("upload.bin")
        .mime_str(content_type)?;
    form = form.part("file", part);
    reqwest::Client::new()
        .post(&upload.url)
        .multipart(form)
        .send()
        .await
}

pub async fn put_get_head_delete(b: &dyn Blobs, _clock: &ManualClock) {
    let key = "docs/readme.txt";
    let body = Bytes::from_static(b"hello, lectern");
    b.put(key, body.clone(), "text/plain").await.unwrap();
    assert_eq!(b.get(key).await.unwrap(), body);
    let info = b.head(key).await.unwrap();
    assert_eq!((info.key.as_str(), info.size), (key, body.len() as u64));
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        b.get_prefix(key, 5).await.unwrap(),
        Bytes::from_static(b"hello")
    );
    assert_eq!(b.get_prefix(key, 1000).await.unwrap(), body);

    // Overwrite replaces content and type together.
    b.put(key, Bytes::from_static(b"{}"), "application/json")
        .await
        .unwrap();
    let info = b.head(key).await.unwrap();
    assert_eq!(
        (info.size, info.content_type.as_deref()),
        (2, Some("application/json"))
    );

    // A key and a longer key below it coexist, as on S3.
    b.put("docs", Bytes::from_static(b"x"), "text/plain")
        .await
        .unwrap();
    assert_eq!(b.get("docs").await.unwrap(), Bytes::from_static(b"x"));
    assert_eq!(b.get(key).await.unwrap(), Bytes::from_static(b"{}"));

    b.delete(key).await.unwrap();
    assert!(matches!(b.head(key).await, Err(BlobError::NotFound)));
    assert!(matches!(b.get(key).await, Err(BlobError::NotFound)));
    assert!(matches!(
        b.get_prefix(key, 1).await,
        Err(BlobError::NotFound)
    ));
    b.delete(key).await.unwrap();
    b.put("empty", Bytes::new(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(b.head("empty").await.unwrap().size, 0);
    b.ping().await.unwrap();
}

/// A local file stored as an object (streamed) reads back byte for byte, with its type; a bad key is refused.
pub async fn put_file_streams_a_local_file(b: &dyn Blobs, _clock: &ManualClock) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.zip");
    // Larger than one read buffer of either adapter.
    let body: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    std::fs::write(&path, &body).unwrap();
    b.put_file("exports/u1/e1.zip", &path, "application/zip")
        .await
        .unwrap();
    assert_eq!(
        b.get("exports/u1/e1.zip").await.unwrap().as_ref(),
        &body[..]
    );
    let info = b.head("exports/u1/e1.zip").await.unwrap();
    assert_eq!(
        (info.size, info.content_type.as_deref()),
        (body.len() as u64, Some("application/zip"))
    );
    assert!(matches!(
        b.put_file("../escape", &path, "application/zip").await,
        Err(BlobError::Invalid(_))
    ));
}

pub async fn invalid_keys(b: &dyn Blobs, _clock: &ManualClock) {
    for key in [
        "",
        "/abs",
        "a/../b",
        "../up",
        "a//b",
        "sp ace",
        "a/./b",
        "new\nline",
    ] {
        let r = b.put(key, Bytes::from_static(b"x"), "text/plain").await;
        assert!(matches!(r, Err(BlobError::Invalid(_))), "{key:?}: {r:?}");
        let r = b.get(key).await;
        assert!(matches!(r, Err(BlobError::Invalid(_))), "{key:?}: {r:?}");
    }
    let r = b.presign_upload("../x", &png_rules(10)).await;
    assert!(matches!(r, Err(BlobError::Invalid(_))), "{r:?}");
    let r = b
        .presign_upload(
            "ok/key.png",
            &UploadRules {
                min_bytes: 10,
                max_bytes: 5,
                ..png_rules(5)
            },
        )
        .await;
    assert!(matches!(r, Err(BlobError::Invalid(_))), "{r:?}");
}

pub async fn list_pages(b: &dyn Blobs, _clock: &ManualClock) {
    let mut expected = Vec::new();
    for key in [
        "list/c",
        "list/a",
        "list/a/b",
        "list/b-1",
        "list/b/2",
        "list/z.txt",
        "list/m",
    ] {
        b.put(key, Bytes::from(key.as_bytes().to_vec()), "text/plain")
            .await
            .unwrap();
        expected.push(key.to_string());
    }
    for key in ["listx/a", "other/list/a", "lis"] {
        b.put(key, Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap();
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let (page, next) = b.list("list/", cursor, 3).await.unwrap();
        assert!(page.len() <= 3);
        assert!(!page.is_empty(), "no empty pages");
        for info in &page {
            assert_eq!(info.size, info.key.len() as u64);
        }
        seen.extend(page.into_iter().map(|i| i.key));
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(cursor, None);
    assert_eq!(seen, expected);

    let (partial, _) = b.list("list/b", None, 100).await.unwrap();
    assert_eq!(
        partial.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        ["list/b-1", "list/b/2"]
    );
    let (none, next) = b.list("nothing/", None, 10).await.unwrap();
    assert!(none.is_empty() && next.is_none());
    let (all, _) = b.list("", None, 100).await.unwrap();
    assert_eq!(all.len(), 10);
}

pub async fn presigned_upload_and_confirm(b: &dyn Blobs, _clock: &ManualClock) {
    let key = "avatars/u1.png";
    let rules = png_rules(10_000);
    let upload = b.presign_upload(key, &rules).await.unwrap();
    assert_eq!((upload.key.as_str(), upload.max_bytes), (key, 10_000));
    let response = post_upload(&upload, PNG.to_vec(), "image/png")
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}: {:?}",
        response.status(),
        response.text().await
    );
    let confirmed = confirm_upload(b, key, &rules).await.unwrap();
    assert_eq!(
        (confirmed.size, confirmed.content_type.as_str()),
        (PNG.len() as u64, "image/png")
    );
    assert_eq!(b.get(key).await.unwrap(), Bytes::from_static(PNG));
    assert_eq!(
        b.head(key).await.unwrap().content_type.as_deref(),
        Some("image/png")
    );
}

pub async fn oversize_upload_refused(b: &dyn Blobs, _clock: &ManualClock) {
    let key = "avatars/big.png";
    let rules = png_rules(100);
    let upload = b.presign_upload(key, &rules).await.unwrap();
    let mut body = PNG.to_vec();
    body.resize(5_000, 0);
    // The store may refuse it outright (local, real S3) or accept it (moto); either way confirm leaves nothing.
    let _ = post_upload(&upload, body, "image/png").await;
    match confirm_upload(b, key, &rules).await {
        Err(ConfirmError::Missing) | Err(ConfirmError::Size { .. }) => {}
        other => panic!("an oversize upload must not be confirmed: {other:?}"),
    }
    assert!(matches!(b.head(key).await, Err(BlobError::NotFound)));
}

pub async fn wrong_type_refused_by_confirm(b: &dyn Blobs, _clock: &ManualClock) {
    let key = "avatars/fake.png";
    let rules = png_rules(10_000);
    let upload = b.presign_upload(key, &rules).await.unwrap();
    let response = post_upload(&upload, b"<html>not a png</html>".to_vec(), "image/png")
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    match confirm_upload(b, key, &rules).await {
        Err(ConfirmError::Type { detected, expected }) => {
            assert_ne!(detected.as_deref(), Some("image/png"));
            assert_eq!(expected, "image/png");
        }
        other => panic!("expected a type refusal: {other:?}"),
    }
    assert!(matches!(b.head(key).await, Err(BlobError::NotFound)));
    assert!(matches!(
        confirm_upload(b, key, &rules).await,
        Err(ConfirmError::Missing)
    ));
}

pub async fn presigned_download(b: &dyn Blobs, _clock: &ManualClock) {
    let key = "exports/report.json";
    b.put(
        key,
        Bytes::from_static(br#"{"ok":true}"#),
        "application/json",
    )
    .await
    .unwrap();
    let url = b
        .presign_download(key, Duration::from_secs(60))
        .await
        .unwrap();
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response.bytes().await.unwrap(),
        Bytes::from_static(br#"{"ok":true}"#)
    );
    let r = b.presign_download(key, Duration::ZERO).await;
    assert!(matches!(r, Err(BlobError::Invalid(_))), "{r:?}");
}

async fn problem_type(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["type"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Embedded only: download links stop working once the clock passes their expiry, and forged ones never work.
pub async fn embedded_download_expiry(b: &dyn Blobs, clock: &ManualClock) {
    let key = "exports/a.txt";
    b.put(key, Bytes::from_static(b"abc"), "text/plain")
        .await
        .unwrap();
    let url = b
        .presign_download(key, Duration::from_secs(60))
        .await
        .unwrap();
    let ok = reqwest::get(&url).await.unwrap();
    assert_eq!(ok.status(), reqwest::StatusCode::OK);
    assert_eq!(ok.headers()["content-type"], "text/plain");
    assert_eq!(ok.headers()["x-content-type-options"], "nosniff");

    let forged = url.replace("exports%2Fa.txt", "exports%2Fb.txt");
    assert_ne!(forged, url);
    assert_eq!(
        problem_type(reqwest::get(&forged).await.unwrap()).await,
        (403, "download-signature".into())
    );
    let no_sig = url.split("&signature").next().unwrap().to_string();
    assert_eq!(
        problem_type(reqwest::get(&no_sig).await.unwrap()).await,
        (403, "download-signature".into())
    );

    let missing = b
        .presign_download("exports/none.txt", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        problem_type(reqwest::get(&missing).await.unwrap()).await,
        (404, "not-found".into())
    );

    clock.advance(Duration::from_secs(61));
    assert_eq!(
        problem_type(reqwest::get(&url).await.unwrap()).await,
        (403, "download-expired".into())
    );
}

/// Embedded only: the upload route enforces the signed policy itself, with problem+json answers.
pub async fn embedded_upload_policy(b: &dyn Blobs, clock: &ManualClock) {
    let key = "avatars/p.png";
    let upload = b.presign_upload(key, &png_rules(1_000)).await.unwrap();

    let mut big = PNG.to_vec();
    big.resize(5_000, 0);
    let r = post_upload(&upload, big, "image/png").await.unwrap();
    assert_eq!(problem_type(r).await, (413, "upload-too-large".into()));

    let mut tampered = upload.clone();
    tampered
        .fields
        .insert("key".into(), "avatars/other.png".into());
    let r = post_upload(&tampered, PNG.to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(problem_type(r).await, (400, "upload-policy".into()));

    let mut tampered = upload.clone();
    tampered
        .fields
        .insert("Content-Type".into(), "text/html".into());
    let r = post_upload(&tampered, PNG.to_vec(), "text/html")
        .await
        .unwrap();
    assert_eq!(problem_type(r).await, (400, "upload-policy".into()));

    let mut forged = upload.clone();
    let sig = forged.fields.get_mut("x-lectern-signature").unwrap();
    *sig = sig.chars().rev().collect();
    let r = post_upload(&forged, PNG.to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(problem_type(r).await, (403, "upload-signature".into()));

    let r = post_upload(&upload, Vec::new(), "image/png").await.unwrap();
    assert_eq!(problem_type(r).await, (400, "upload-too-small".into()));

    let r = reqwest::Client::new()
        .post(&upload.url)
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(problem_type(r).await, (400, "upload-malformed".into()));
    assert!(
        matches!(b.head(key).await, Err(BlobError::NotFound)),
        "no refused upload left anything"
    );

    clock.advance(Duration::from_secs(301));
    let r = post_upload(&upload, PNG.to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(problem_type(r).await, (403, "upload-expired".into()));
    assert!(matches!(b.head(key).await, Err(BlobError::NotFound)));
}
