//! The mail port: one email with subject, HTML and text parts. SESv2 on AWS; an `.eml` outbox folder embedded.

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "aws-ses")]
pub mod ses;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// An email ready to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message can never be sent as it is (bad address, rejected content): do not retry.
    #[error("mail rejected: {0}")]
    Rejected(String),
    /// Sending failed for now; retry later.
    #[error("mail unavailable: {0}")]
    Unavailable(String),
}

/// The mailer. Implementations: [`ses::SesMailer`] and [`embedded::EmbeddedMailer`].
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one email; returns the provider's message id (the file name for the outbox).
    async fn send(&self, email: &Email) -> Result<String, MailError>;
}

/// Minimal structural check of an address: one `@`, non-empty parts, no whitespace or angle brackets, and
/// short enough for SMTP. Real validation is delivery; this stops header injection and obvious garbage.
pub fn validate_address(addr: &str) -> Result<(), MailError> {
    let ok = addr.len() <= 254
        && !addr
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        && matches!(addr.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@') && !d.starts_with('.') && !d.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(MailError::Rejected(format!("bad address {addr:?}")))
    }
}
