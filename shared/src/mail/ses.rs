//! The [`Mailer`] port on Amazon SES (v2 API).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::{Email, MailError, Mailer, validate_address};

/// Longest subject we send; longer ones are a bug upstream, not something to truncate silently.
const MAX_SUBJECT_CHARS: usize = 998;

/// Sends mail through SESv2 from one verified sender.
pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// `from` may carry a display name (`Lectern <no-reply@example.com>`); its address must be verified in SES.
    pub fn new(client: Client, from: &str, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from: from.to_string(),
            configuration_set,
        }
    }
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Rejected(format!("could not build content: {e}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        validate_address(&email.to)?;
        // SES builds the headers itself, but a line break in a subject is never intended and is refused.
        if email.subject.chars().any(char::is_control)
            || email.subject.chars().count() > MAX_SUBJECT_CHARS
        {
            return Err(MailError::Rejected(
                "subject has control characters or is too long".into(),
            ));
        }
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .html(utf8(&email.html)?)
                    .text(utf8(&email.text)?)
                    .build(),
            )
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(map_err)?;
        out.message_id()
            .map(str::to_string)
            .ok_or_else(|| MailError::Unavailable("SES returned no message id".into()))
    }
}

fn map_err<E, R>(err: SdkError<E, R>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let crate::aws::SdkFailure {
        code,
        message,
        detail,
    } = crate::aws::SdkFailure::of(&err);
    match code.as_str() {
        // The message itself can never go out as it is: retrying would fail the same way.
        "MessageRejected" | "BadRequestException" => {
            tracing::warn!(code, message, "ses rejected message");
            MailError::Rejected(format!("{code}: {message}"))
        }
        _ => {
            tracing::error!(error = %detail, "ses send failed");
            MailError::Unavailable(detail)
        }
    }
}
