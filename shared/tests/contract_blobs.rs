//! The blob contract against the local folder (served over HTTP) and (when moto is available) S3.

use std::sync::Arc;

use lectern_shared::clock::ManualClock;
use lectern_shared::testing::contract::blobs as cases;
use lectern_shared::testing::{aws, embedded};

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::starting_now();
                    let (blobs, _url, _dir) = embedded::serve_blobs(Arc::new(clock.clone())).await;
                    cases::$case(&*blobs, &clock).await;
                }
            )*
        }
        mod on_aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::starting_now();
                    let Some(blobs) = aws::blobs(Arc::new(clock.clone())).await else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    cases::$case(&*blobs, &clock).await;
                }
            )*
        }
    };
}

on_both!(
    put_get_head_delete,
    put_file_streams_a_local_file,
    invalid_keys,
    list_pages,
    presigned_upload_and_confirm,
    oversize_upload_refused,
    wrong_type_refused_by_confirm,
    presigned_download,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_download_expiry() {
    let clock = ManualClock::starting_now();
    let (blobs, _url, _dir) = embedded::serve_blobs(Arc::new(clock.clone())).await;
    cases::embedded_download_expiry(&*blobs, &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_upload_policy() {
    let clock = ManualClock::starting_now();
    let (blobs, _url, _dir) = embedded::serve_blobs(Arc::new(clock.clone())).await;
    cases::embedded_upload_policy(&*blobs, &clock).await;
}

/// Refused and abandoned uploads leave no temp files behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_no_temp_files_left() {
    let clock = ManualClock::starting_now();
    let (blobs, _url, dir) = embedded::serve_blobs(Arc::new(clock.clone())).await;
    cases::embedded_upload_policy(&*blobs, &clock).await;
    cases::put_get_head_delete(&*blobs, &clock).await;
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs/tmp"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
