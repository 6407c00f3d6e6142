//! Delivery on the embedded store with stand-in ports (the worker's real ones read the accounts domain and render
//! through the templates): each channel once per key however often the job runs, preferences deciding the
//! channels, quiet hours holding email, and the unread count following every change.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lectern_messages::{NotificationContent, NotificationType, Notify};
use lectern_platform::Notifications;
use lectern_platform::config::NotificationsConfig;
use lectern_platform::delivery::{ChannelStatus, Delivered, DeliveryError, Ports, Recipient};
use lectern_platform::inbox::{InboxCounter, ListFilter, NewNotification};
use lectern_platform::preferences::{NotificationPreferences, QuietHours};
use lectern_shared::clock::ManualClock;
use lectern_shared::queue::queues;
use lectern_shared::table::{Condition, TxOp};
use lectern_shared::{Config, Platform};
use serde_json::Map;

const USER: &str = "01JAD4V1CT0R1A000000000000";

struct FakePorts {
    sent: AtomicUsize,
    refuse: Mutex<bool>,
}

impl FakePorts {
    fn new() -> Self {
        Self {
            sent: AtomicUsize::new(0),
            refuse: Mutex::new(false),
        }
    }
}

#[async_trait]
impl Ports for FakePorts {
    async fn recipient(&self, _user_id: &str) -> Result<Option<Recipient>, DeliveryError> {
        Ok(Some(Recipient {
            email: "ada@example.com".into(),
            email_verified: true,
            display_name: "Ada".into(),
            locale: None,
            // No account store here: a check that always holds.
            guard: TxOp::Check {
                key: InboxCounter::key_of("01JN0B0DY00000000000000000"),
                condition: Condition::NotExists,
            },
        }))
    }

    fn in_app(&self, _: &Recipient, notify: &Notify) -> Result<NewNotification, DeliveryError> {
        Ok(NewNotification {
            category: notify.category,
            title: format!("about {}", notify.key),
            body: "body".into(),
            link: None,
            data: Map::new(),
        })
    }

    async fn send_email(&self, _: &Recipient, _: &Notify) -> Result<(), DeliveryError> {
        if *self.refuse.lock().unwrap() {
            return Err(DeliveryError::Retry("mailer down".into()));
        }
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn service() -> (Arc<Notifications>, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let platform = Platform::with_clock(
        Config::for_tests(dir.path().to_path_buf()),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    (
        Notifications::new(platform, NotificationsConfig::default()),
        clock,
        dir,
    )
}

fn notify(category: NotificationType, key: &str) -> Notify {
    Notify {
        user_id: USER.into(),
        category,
        content: NotificationContent::Message {
            title: "t".into(),
            body: "b".into(),
            link: None,
        },
        key: key.into(),
    }
}

fn recorded(delivered: Delivered) -> lectern_platform::delivery::Delivery {
    match delivered {
        Delivered::Recorded(record) => *record,
        Delivered::NoRecipient => panic!("delivered to nobody"),
    }
}

#[tokio::test]
async fn a_redelivered_notification_delivers_nothing_twice() {
    let (notifications, _, _dir) = service().await;
    let ports = FakePorts::new();
    let job = notify(NotificationType::ExamResults, "exam:1");
    for _ in 0..3 {
        let record = recorded(notifications.deliver(&job, &ports).await.unwrap());
        assert_eq!(record.in_app.status, ChannelStatus::Delivered);
        assert_eq!(record.email.status, ChannelStatus::Delivered);
        assert_eq!(record.push.status, ChannelStatus::Skipped);
    }
    assert_eq!(ports.sent.load(Ordering::SeqCst), 1, "one email");
    let (items, _) = notifications
        .list(USER, ListFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(items.len(), 1, "one in-app notification");
    assert_eq!(notifications.unread_count(USER).await.unwrap().unread, 1);
}

#[tokio::test]
async fn a_mailer_that_fails_is_retried_and_sends_once_it_answers() {
    let (notifications, _, _dir) = service().await;
    let ports = FakePorts::new();
    let job = notify(NotificationType::ExamResults, "exam:2");
    *ports.refuse.lock().unwrap() = true;
    assert!(matches!(
        notifications.deliver(&job, &ports).await,
        Err(DeliveryError::Retry(_))
    ));
    *ports.refuse.lock().unwrap() = false;
    let record = recorded(notifications.deliver(&job, &ports).await.unwrap());
    assert_eq!(record.email.status, ChannelStatus::Delivered);
    assert_eq!(ports.sent.load(Ordering::SeqCst), 1);
    let (items, _) = notifications
        .list(USER, ListFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(items.len(), 1, "the in-app notification was stored once");
}

#[tokio::test]
async fn preferences_choose_the_channels_but_security_mail_always_goes() {
    let (notifications, _, _dir) = service().await;
    let ports = FakePorts::new();
    let mut prefs = NotificationPreferences::default();
    prefs.channels.achievements.email = false;
    prefs.channels.announcements.in_app = false;
    notifications
        .replace_preferences(USER, prefs)
        .await
        .unwrap();
    let achievement = recorded(
        notifications
            .deliver(&notify(NotificationType::Achievements, "a"), &ports)
            .await
            .unwrap(),
    );
    assert_eq!(achievement.in_app.status, ChannelStatus::Delivered);
    assert_eq!(achievement.email.status, ChannelStatus::Off);
    let announcement = recorded(
        notifications
            .deliver(&notify(NotificationType::Announcements, "b"), &ports)
            .await
            .unwrap(),
    );
    assert_eq!(announcement.in_app.status, ChannelStatus::Off);
    let security = recorded(
        notifications
            .deliver(&notify(NotificationType::Security, "c"), &ports)
            .await
            .unwrap(),
    );
    assert_eq!(security.email.status, ChannelStatus::Delivered);
    assert_eq!(
        ports.sent.load(Ordering::SeqCst),
        1,
        "only the security mail"
    );
    assert_eq!(notifications.unread_count(USER).await.unwrap().unread, 2);
}

#[tokio::test]
async fn read_one_read_all_and_delete_keep_the_count_right() {
    let (notifications, _, _dir) = service().await;
    let ports = FakePorts::new();
    for key in ["1", "2", "3"] {
        notifications
            .deliver(&notify(NotificationType::Reminders, key), &ports)
            .await
            .unwrap();
    }
    let count = async || notifications.unread_count(USER).await.unwrap().unread;
    assert_eq!(count().await, 3);
    let (items, _) = notifications
        .list(USER, ListFilter::default(), 10, None)
        .await
        .unwrap();
    let newest = items[0].notification_id.clone();
    let read = notifications.mark_read(USER, &newest).await.unwrap();
    assert!(read.read && read.read_at.is_some());
    notifications.mark_read(USER, &newest).await.unwrap();
    assert_eq!(count().await, 2, "marking twice counts once");
    notifications
        .delete(USER, &items[1].notification_id)
        .await
        .unwrap();
    assert_eq!(count().await, 1, "an unread one deleted leaves the count");
    notifications.read_all(USER).await.unwrap();
    assert_eq!(count().await, 0);
    let unread = ListFilter {
        unread: true,
        category: None,
    };
    let (left, _) = notifications.list(USER, unread, 10, None).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    notifications
        .deliver(&notify(NotificationType::Reminders, "4"), &ports)
        .await
        .unwrap();
    assert_eq!(count().await, 1, "a notification after read-all is unread");
    let (left, _) = notifications.list(USER, unread, 10, None).await.unwrap();
    assert_eq!(left.len(), 1);
    let (all, _) = notifications
        .list(USER, ListFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|n| n.read).count(), 2, "{all:?}");
}

#[tokio::test]
async fn quiet_hours_hold_email_until_they_end_then_send_it_once() {
    let (notifications, clock, _dir) = service().await;
    let ports = FakePorts::new();
    use lectern_shared::clock::Clock;
    let now = clock.now();
    // Quiet from an hour ago to two hours from now, in UTC.
    let hm = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let prefs = NotificationPreferences {
        quiet_hours: Some(QuietHours {
            start: hm(now - time::Duration::hours(1)),
            end: hm(now + time::Duration::hours(2)),
            timezone: "UTC".into(),
        }),
        ..NotificationPreferences::default()
    };
    notifications
        .replace_preferences(USER, prefs)
        .await
        .unwrap();
    let job = notify(NotificationType::DiscussionReplies, "reply:1");
    let record = recorded(notifications.deliver(&job, &ports).await.unwrap());
    assert_eq!(
        record.in_app.status,
        ChannelStatus::Delivered,
        "in-app at once"
    );
    assert_eq!(record.email.status, ChannelStatus::Held);
    let until = record.email.until.unwrap();
    assert_eq!(ports.sent.load(Ordering::SeqCst), 0);
    let receive = async || {
        notifications
            .platform
            .queue
            .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(60))
            .await
            .unwrap()
    };
    assert!(
        receive().await.is_empty(),
        "a hop is not visible before its delay"
    );
    // Fifteen minutes on, the first hop comes: still held, nothing sent, the next hop on its way.
    clock.advance(Duration::from_secs(900));
    let hops = receive().await;
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert_eq!(hops[0].job.kind, "platform.notify");
    assert!(
        hops[0]
            .job
            .idempotency_key
            .as_deref()
            .is_some_and(|k| k.contains("#held#")),
        "{:?}",
        hops[0].job
    );
    let again = recorded(notifications.deliver(&job, &ports).await.unwrap());
    assert_eq!(again.email.status, ChannelStatus::Held);
    assert_eq!(ports.sent.load(Ordering::SeqCst), 0);
    // At the end of the quiet hours: sent, once.
    clock.set(time::OffsetDateTime::from_unix_timestamp(until).unwrap());
    for _ in 0..2 {
        let done = recorded(notifications.deliver(&job, &ports).await.unwrap());
        assert_eq!(done.email.status, ChannelStatus::Delivered);
    }
    assert_eq!(ports.sent.load(Ordering::SeqCst), 1);
}
