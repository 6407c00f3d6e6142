//! Golden files of the items the notification centre stores: one per entity, the whole item, in
//! `golden/<entity>.json`. Rewrite them with `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lectern_messages::NotificationType;
use lectern_platform::delivery::{ChannelState, ChannelStatus, Delivery, key_hash};
use lectern_platform::inbox::{InboxCounter, Notification};
use lectern_platform::preferences::{ChannelTable, QuietHours, ReminderTime, StoredPreferences};
use lectern_shared::testing::golden::assert_stored;
use serde_json::json;

const NOW: i64 = 1_900_000_000;
const USER: &str = "01JAD4LOVELACE0000000000AA";
const NOTE: &str = "01JN0T1F1CAT10N00000000000";

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn a_notification_is_stored_with_its_unread_and_type_entries() {
    assert_stored(
        &golden(),
        &Notification {
            user_id: USER.into(),
            notification_id: NOTE.into(),
            category: NotificationType::Achievements,
            title: "Kid earned “First steps”".into(),
            body: "Kid earned the achievement “First steps”.".into(),
            link: None,
            data: json!({"achievement_id": "01JACH1EVEMENT000000000000"})
                .as_object()
                .unwrap()
                .clone(),
            created_at: NOW,
            read_at: None,
            expires_at: NOW + 91 * 86_400,
        },
    );
}

#[test]
fn the_counter_is_stored_with_its_days_and_watermark() {
    assert_stored(
        &golden(),
        &InboxCounter {
            user_id: USER.into(),
            unread: BTreeMap::from([(21_990, 2), (21_991, 1)]),
            read_before: Some("01JN0T1F1CAT10N0000000000A".into()),
            read_all_at: Some(NOW - 60),
            latest: Some(NOTE.into()),
            version: 7,
        },
    );
}

#[test]
fn preferences_are_stored_whole() {
    let mut channels = ChannelTable::default();
    channels.achievements.email = false;
    assert_stored(
        &golden(),
        &StoredPreferences {
            user_id: USER.into(),
            channels,
            quiet_hours: Some(QuietHours {
                start: "21:30".into(),
                end: "07:00".into(),
                timezone: "Europe/Paris".into(),
            }),
            reminder: Some(ReminderTime {
                at: "17:00".into(),
                timezone: "Europe/Paris".into(),
            }),
            updated_at: NOW,
        },
    );
}

#[test]
fn a_delivery_keeps_each_channel_and_only_the_keys_hash() {
    assert_stored(
        &golden(),
        &Delivery {
            user_id: USER.into(),
            key_hash: key_hash("achievement:01JPROF1LE0000000000000000:01JACH1EVEMENT000000000000"),
            category: NotificationType::Achievements,
            in_app: ChannelState {
                status: ChannelStatus::Delivered,
                at: Some(NOW),
                until: None,
                reason: None,
            },
            email: ChannelState {
                status: ChannelStatus::Held,
                at: Some(NOW),
                until: Some(NOW + 3_600),
                reason: None,
            },
            push: ChannelState {
                status: ChannelStatus::Skipped,
                at: Some(NOW),
                until: None,
                reason: Some("no push channel yet".into()),
            },
            notification_id: Some(NOTE.into()),
            created_at: NOW,
            version: 1,
            expires_at: NOW + 91 * 86_400,
        },
    );
}
