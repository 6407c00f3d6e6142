//! Notifications worker: renders and delivers queued emails through the Mailer port.
//!
//! Producers (auth, admin, ...) enqueue either a [`NotifyEmail`] (an account email by template, rendered here in
//! the recipient's language with the product's [`Branding`]) or a [`SendEmail`] (an email they rendered
//! themselves), always with an idempotency key, so a retried request or a redelivered message sends one email.
//! Addresses and links (which hold tokens) are never logged.

mod branding;
mod delivery;
mod notify_email;
mod send_email;
pub mod templates;

use std::sync::Arc;

use lectern_shared::Platform;
use lectern_shared::queue::worker::Worker;

pub use branding::{Branding, DEFAULT_APP_URL, DEFAULT_PRODUCT_NAME};
pub use notify_email::NotifyEmailHandler;
pub use send_email::SendEmailHandler;
pub use templates::{Locale, RenderError, render};

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

/// The worker for the `notifications` queue, with the given branding.
pub fn worker_with(platform: &Platform, branding: Branding) -> Worker {
    Worker::new(platform.table.clone(), platform.clock.clone())
        .with(Arc::new(SendEmailHandler::new(platform.mailer.clone())))
        .with(Arc::new(NotifyEmailHandler::new(
            platform.mailer.clone(),
            branding,
        )))
}
