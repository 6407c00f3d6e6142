//! Notifications worker: renders and delivers queued emails through the Mailer port, and the notification
//! centre's notifications.
//!
//! Producers (auth, admin, ...) enqueue either a [`NotifyEmail`] (an account email by template, rendered here in
//! the recipient's language with the product's [`Branding`]) or a [`SendEmail`] (an email they rendered
//! themselves), always with an idempotency key, so a retried request or a redelivered message sends one email.
//! Notifications — `platform.notify` from any domain, and `learning.achievement_earned` for a profile's owner —
//! go through the notification centre ([`lectern_platform::delivery`]): in-app, and by email as the recipient's
//! preferences and quiet hours allow, each channel once per notification key ([`notify`]).
//! Addresses and links (which hold tokens) are never logged.

mod branding;
mod delivery;
pub mod notify;
mod notify_email;
pub mod reminders;
mod send_email;
pub mod templates;

use std::sync::Arc;

use lectern_accounts::users::Users;
use lectern_platform::Notifications;
use lectern_shared::Platform;
use lectern_shared::queue::worker::Worker;

pub use branding::{Branding, DEFAULT_APP_URL, DEFAULT_PRODUCT_NAME};
pub use notify::{AccountPorts, AchievementEarnedHandler, NotifyHandler};
pub use notify_email::NotifyEmailHandler;
pub use send_email::SendEmailHandler;
pub use templates::{InAppText, Locale, RenderError, in_app_text, render, render_notification};

/// The worker for the `notifications` queue, with branding read from the environment. Invalid branding variables
/// are logged and replaced by the defaults so the dev server still starts; Lambda entry points should prefer
/// [`worker_with`] and `Branding::from_env()?` to fail fast.
pub fn worker(platform: &Platform) -> Worker {
    let branding = Branding::from_env().unwrap_or_else(|e| {
        tracing::error!(error = %e, "invalid branding configuration; using defaults");
        Branding::default()
    });
    worker_with(platform, branding)
}

/// The worker for the `notifications` queue, with the given branding and the notification centre's settings
/// read from the environment (a bad setting is logged and the defaults are used, so the dev server still starts;
/// the Lambda entry point reads them first and fails fast).
pub fn worker_with(platform: &Platform, branding: Branding) -> Worker {
    let notifications = Notifications::from_env(platform.clone()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "invalid notification settings; using the defaults");
        Notifications::new(platform.clone(), Default::default())
    });
    worker_for(platform, branding, notifications)
}

/// The worker for the `notifications` queue, delivering with `notifications`.
pub fn worker_for(
    platform: &Platform,
    branding: Branding,
    notifications: Arc<Notifications>,
) -> Worker {
    let ports = Arc::new(AccountPorts::new(
        Users::new(platform.table.clone()),
        platform.mailer.clone(),
        branding.clone(),
    ));
    Worker::new(platform.table.clone(), platform.clock.clone())
        .with(Arc::new(SendEmailHandler::new(platform.mailer.clone())))
        .with(Arc::new(NotifyEmailHandler::new(
            platform.mailer.clone(),
            branding,
        )))
        .with(Arc::new(NotifyHandler::new(
            notifications.clone(),
            ports.clone(),
        )))
        .with(Arc::new(AchievementEarnedHandler::new(
            notifications.clone(),
            ports,
        )))
        .with(Arc::new(reminders::RemindersPageHandler::new(
            notifications,
        )))
}
