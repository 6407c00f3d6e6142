//! Golden files of the items the webhooks domain stores: one per entity, the whole item, in
//! `golden/<entity>.json`. Rewrite them with `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::path::PathBuf;

use lectern_shared::testing::golden::assert_stored;
use lectern_webhooks::deliveries::Delivery;
use lectern_webhooks::endpoints::{Endpoint, StoredSecret, Subscription};

const ENDPOINT_ID: &str = "01JENDP01NT000000000000000";
const OWNER_ID: &str = "01JAD4LOVELACE0000000000AA";
const NOW: i64 = 1_900_000_000;

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn webhook_endpoint() {
    assert_stored(
        &golden(),
        &Endpoint {
            endpoint_id: ENDPOINT_ID.into(),
            owner_id: OWNER_ID.into(),
            url: "https://hooks.example.com/lectern".into(),
            description: "CRM sync".into(),
            event_types: vec!["user.registered".into(), "exam.submitted".into()],
            enabled: false,
            disabled_reason: Some("gone".into()),
            secrets: vec![
                StoredSecret {
                    sealed: "v1.k1.bm9uY2U.c2VhbGVk".into(),
                    expires_at: None,
                },
                StoredSecret {
                    sealed: "v1.k1.b2xk.b2xkc2VhbGVk".into(),
                    expires_at: Some(NOW + 86_400),
                },
            ],
            failing_since: Some(NOW - 60),
            created_at: NOW - 3600,
            updated_at: NOW,
            version: 3,
        },
    );
}

#[test]
fn webhook_subscription() {
    assert_stored(
        &golden(),
        &Subscription {
            event_type: "user.registered".into(),
            endpoint_id: ENDPOINT_ID.into(),
        },
    );
}

#[test]
fn webhook_delivery() {
    assert_stored(
        &golden(),
        &Delivery {
            endpoint_id: ENDPOINT_ID.into(),
            message_id: "msg_01JMESSAGE000000000000000".into(),
            event_type: "user.registered".into(),
            body: r#"{"data":{"user_id":"U"},"timestamp":"2030-03-17T17:46:40Z","type":"user.registered"}"#
                .into(),
            status: "pending".into(),
            attempts: 1,
            response_code: Some(500),
            error: None,
            created_at: NOW,
            last_attempt_at: Some(NOW),
            next_attempt_at: Some(NOW + 5),
            expires_at: NOW + 30 * 86_400,
        },
    );
}
