//! What every email handler shares: decoding a payload without echoing it, and mapping mailer errors onto job
//! errors.

use lectern_shared::mail::{Email, MailError, Mailer};
use lectern_shared::queue::Job;
use lectern_shared::queue::worker::JobError;
use serde::de::DeserializeOwned;

/// Decodes a job payload. A payload that does not fit is a producer bug and never fits later, so it is permanent.
/// The error names only the field path: serde's messages can quote values, and values hold addresses and links.
pub(crate) fn decode<T: DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    serde_path_to_error::deserialize(job.payload.clone()).map_err(|e| {
        let path = e.path().to_string();
        JobError::Permanent(format!(
            "bad payload at `{path}` ({:?} error)",
            e.inner().classify()
        ))
    })
}

/// Sends one email: a rejected message is permanent, an unavailable mailer is retried.
pub(crate) async fn deliver(mailer: &dyn Mailer, email: &Email) -> Result<(), JobError> {
    match mailer.send(email).await {
        Ok(message_id) => {
            // The address is personal data: log the provider id only.
            tracing::info!(message_id, "email sent");
            Ok(())
        }
        // Adapters may quote the address in their reason; the worker logs reasons, so take it out.
        Err(MailError::Rejected(reason)) => Err(JobError::Permanent(redact(reason, &email.to))),
        Err(MailError::Unavailable(reason)) => Err(JobError::Retry(redact(reason, &email.to))),
    }
}

fn redact(reason: String, address: &str) -> String {
    if address.is_empty() {
        reason
    } else {
        reason.replace(address, "[recipient]")
    }
}
