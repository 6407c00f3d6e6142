//! Files for the upload routes: a small image, and sending it through a presigned form as a browser would.

use crate::api::Reply;

/// A PNG signature followed by zeros, `size` bytes in all (the confirm steps check the magic bytes and the size).
pub fn png(size: usize) -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.resize(size, 0);
    bytes
}

/// Sends `bytes` as a PNG through the presigned form `presigned` (a 200 answer of an upload route: `url` and
/// `fields`); panics unless the store accepts it. Answers the form's key.
pub async fn post_presigned_png(presigned: &Reply, bytes: Vec<u8>) -> String {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in presigned.body["fields"].as_object().expect("fields") {
        form = form.text(k.clone(), v.as_str().expect("a text field").to_string());
    }
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("image.png")
        .mime_str("image/png")
        .expect("a mime type");
    let status = reqwest::Client::new()
        .post(presigned.text("url"))
        .multipart(form.part("file", part))
        .send()
        .await
        .expect("the upload is answered")
        .status();
    assert!(status.is_success(), "upload: {status}");
    presigned.text("key")
}

/// Downloads a zip archive (an export) through a link.
pub async fn download_zip(url: &str) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    let bytes = reqwest::get(url)
        .await
        .expect("download")
        .error_for_status()
        .unwrap_or_else(|e| panic!("the link {url} works: {e}"))
        .bytes()
        .await
        .expect("archive");
    zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip")
}
