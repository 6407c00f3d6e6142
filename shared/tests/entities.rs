//! Golden files of the items this crate stores: one per entity, the whole item, in `golden/<entity>.json`.
//! Rewrite them with `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::path::PathBuf;
use std::sync::Arc;

use lectern_shared::clock::ManualClock;
use lectern_shared::erasure::ErasureDue;
use lectern_shared::queue::claims::JobClaim;
use lectern_shared::queue::outbox::OutboxEntry;
use lectern_shared::ratelimit::{self, RateLimitConfig, RateLimiter, RouteClass, Subject};
use lectern_shared::table::Table;
use lectern_shared::testing::embedded;
use lectern_shared::testing::golden::{assert_stored, assert_stored_item};
use time::OffsetDateTime;

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn job_claim() {
    assert_stored(
        &golden(),
        &JobClaim::running(
            "email.notify",
            "verify#01J9ZQ7K3M",
            "01J9ZQ8AB7Q1W9XKX2M4V6T3RC",
            1_900_000_900,
        ),
    );
}

#[test]
fn erasure_due() {
    assert_stored(
        &golden(),
        &ErasureDue::new("01J9ZQ7K3MX4T8V2B6N1C5D0EF", 1_900_000_900),
    );
}

#[tokio::test]
async fn rate_limit() {
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(1_900_000_010).unwrap());
    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
    let limiter = RateLimiter::new(table.clone(), Arc::new(clock), RateLimitConfig::default());
    let subject = Subject::Ip("203.0.113.7".parse().unwrap());
    limiter.check(RouteClass::Auth, &subject).await.unwrap();
    // The digest is SHA-256 of `auth\0ip\0203.0.113.7` cut to 32 hex characters; the window is the minute that
    // holds the clock.
    let key = ratelimit::COUNTER.key(
        &["auth", "ip", "b78b0986abde96992f47319c4f7cdedf"],
        &["1899999960", "60"],
    );
    let item = table.get(&key).await.unwrap();
    let item = item.expect("the counter is stored under the declared key");
    assert_stored_item(&golden(), &ratelimit::COUNTER, &item);
}

#[test]
fn outbox_entry() {
    // Built field by field: a sealed job is different at every sealing (a fresh nonce).
    let entry = OutboxEntry {
        shard: "05".into(),
        at: "001900000000".into(),
        entry_id: "01J9ZQ7K3M8N2P4R6T8V0W2X4Y".into(),
        queue: "notifications".into(),
        kind: "email.notify".into(),
        sealed_job: "v1.q83vEjRWeJq83vEj.c2VhbGVkIGpvYiBhbmQgaXRzIHRhZw".into(),
        delay_secs: 0,
        expires_at: 1_900_604_800,
    };
    assert_stored(&golden(), &entry);
}

#[test]
fn ip_rules() {
    use lectern_shared::iprules::{IpRule, IpRuleAction, IpRules};
    assert_stored(
        &golden(),
        &IpRules {
            version: 2,
            rules: vec![IpRule {
                rule_id: "01J9ZQ7K3M8N2P4R6T8V0W2X4Y".into(),
                cidr: "203.0.113.0/24".into(),
                action: IpRuleAction::Block,
                reason: "credential stuffing".into(),
                expires_at: Some("2030-03-18T17:46:40Z".into()),
                created_at: "2030-03-17T17:46:40Z".into(),
                created_by: "01JAD4LOVELACE0000000000AA".into(),
            }],
            updated_at: Some("2030-03-17T17:46:40Z".into()),
        },
    );
}

#[test]
fn scheduled_job() {
    use lectern_shared::schedule::{JobState, LastRun, Outcome};
    assert_stored(
        &golden(),
        &JobState {
            name: "housekeeping".into(),
            version: 4,
            lease_until: None,
            running_since: None,
            last_run: Some(LastRun {
                started_at: 1_900_000_000,
                finished_at: 1_900_000_012,
                outcome: Outcome::Succeeded,
                counts: [("expired_items_removed".to_string(), 3)].into(),
                error: None,
            }),
        },
    );
}

#[test]
fn schedule_zone() {
    use lectern_shared::schedule::ScheduleZone;
    assert_stored(
        &golden(),
        &ScheduleZone {
            purpose: "reminders".into(),
            zone: "Europe/Paris".into(),
        },
    );
}

#[test]
fn pending_upload() {
    use lectern_shared::blobs::pending::PendingUpload;
    assert_stored(
        &golden(),
        &PendingUpload {
            blob_key: "avatars/01J9ZQ7K3MX4T8V2B6N1C5D0EF/01J9ZQ8AB7Q1W9XKX2M4V6T3RC".into(),
            due_at: 1_900_004_200,
            expires_at: 1_902_596_200,
        },
    );
}

#[test]
fn job_failure() {
    use lectern_shared::queue::failures::JobFailure;
    assert_stored(
        &golden(),
        &JobFailure::new(
            "01J9ZQ8AB7Q1W9XKX2M4V6T3RC",
            "platform.notify",
            "store unavailable: timed out",
            3,
            1_900_000_000,
        ),
    );
}
