//! The notification centre's routes as the tests use them (one helper per route, on [`Client`]), and a way to
//! notify an account as any domain would (a `platform.notify` job on the queue).

use lectern_messages::{NotificationContent, NotificationType, Notify};
use lectern_shared::queue::{NewJob, enqueue};
use reqwest::Method;
use serde_json::Value;

use crate::api::{Api, Auth, Body, Client, Reply};

impl Client {
    // --- /v1/notifications -----------------------------------------------------------------------------------

    pub async fn notifications<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = if query.is_empty() {
            "/v1/notifications".to_string()
        } else {
            format!("/v1/notifications?{query}")
        };
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn unread_count<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(
            Method::GET,
            "/v1/notifications/unread-count",
            auth.into(),
            Body::Empty,
        )
        .await
    }

    pub async fn read_notification<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/notifications/{id}/read");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn read_all_notifications<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(
            Method::POST,
            "/v1/notifications/read-all",
            auth.into(),
            Body::Empty,
        )
        .await
    }

    pub async fn delete_notification<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/notifications/{id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    // --- /v1/users/me/notification-preferences ---------------------------------------------------------------

    pub async fn notification_preferences<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(
            Method::GET,
            "/v1/users/me/notification-preferences",
            auth.into(),
            Body::Empty,
        )
        .await
    }

    pub async fn put_notification_preferences<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        body: Value,
    ) -> Reply {
        self.send(
            Method::PUT,
            "/v1/users/me/notification-preferences",
            auth.into(),
            Body::Json(body),
        )
        .await
    }
}

/// A notification of `category` with the producer's own words.
pub fn message(user_id: &str, category: NotificationType, title: &str, key: &str) -> Notify {
    Notify {
        user_id: user_id.to_string(),
        category,
        content: NotificationContent::Message {
            title: title.to_string(),
            body: format!("{title}, in more words."),
            link: None,
        },
        key: key.to_string(),
    }
}

impl Api {
    /// Queues `notify` as a domain would (its idempotency key from [`Notify::job`]).
    pub async fn send_notification(&self, notify: &Notify) {
        self.send_notification_job(notify.job().expect("a job"))
            .await;
    }

    /// Queues a job carrying a notification (a test may key it as it likes, to play a worker that forgot it ran).
    pub async fn send_notification_job(&self, job: NewJob) {
        enqueue::<Notify>(self.server.platform.queue.as_ref(), job)
            .await
            .expect("queued");
    }

    /// Waits (bounded) until `auth` has `n` unread notifications; answers whether it came to that.
    pub async fn await_unread<'t>(&self, auth: impl Into<Auth<'t>> + Copy, n: i64) -> bool {
        crate::eventually(async || self.unread_count(auth).await.body["unread"].as_i64() == Some(n))
            .await
    }

    /// The ids of a list of notifications, in order.
    pub async fn notification_ids<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        query: &str,
    ) -> Vec<String> {
        self.notifications(auth, query)
            .await
            .expect_status(200)
            .items()
            .iter()
            .map(|n| n["notification_id"].as_str().expect("id").to_string())
            .collect()
    }
}
