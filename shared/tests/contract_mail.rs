//! The mail contract against the outbox and (when moto is available) SESv2.

use lectern_shared::testing::contract::mail as cases;
use lectern_shared::testing::{aws, embedded};

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (mailer, _dir) = embedded::mailer();
                    cases::$case(&*mailer).await;
                }
            )*
        }
        mod on_aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(mailer) = aws::mailer().await else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    cases::$case(&*mailer).await;
                }
            )*
        }
    };
}

on_both!(send_returns_id, bad_address_rejected);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_outbox_files() {
    let (mailer, dir) = embedded::mailer();
    cases::embedded_outbox_files(&*mailer, dir.path()).await;
}
