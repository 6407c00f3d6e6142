//! Contract suites: behaviour every adapter of a port must show, written once against the trait and run against
//! both the embedded and the AWS adapter by `shared/tests/contract_*.rs`. Functions named `embedded_*` check
//! behaviour only the embedded adapter can show (local URL expiry by a manual clock, outbox files...).
//!
//! Each case panics on a broken contract, so it is called straight from a `#[tokio::test]`.

pub mod blobs;
pub mod mail;
pub mod queue;
pub mod table;
pub mod worker;

use std::time::Duration;

use crate::clock::ManualClock;

/// How a case lets time pass: by moving a manual clock (embedded) or by waiting (SQS runs on real time).
#[derive(Clone, Debug)]
pub enum Time {
    Manual(ManualClock),
    Real,
}

impl Time {
    /// Lets `by` pass.
    pub async fn pass(&self, by: Duration) {
        match self {
            Time::Manual(clock) => clock.advance(by),
            Time::Real => tokio::time::sleep(by).await,
        }
    }

    /// Between polls of an eventually consistent store: a short real wait, nothing on a manual clock.
    pub async fn poll_pause(&self) {
        if let Time::Real = self {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
