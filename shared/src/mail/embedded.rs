//! The local mailer: every email becomes an RFC 5322 `.eml` file in an outbox folder, which any mail client can
//! open and tests can read back with [`read_outbox`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Email, MailError, Mailer, validate_address};

/// Writes each email as `<timestamp>-<ulid>.eml` into a folder.
#[derive(Clone)]
pub struct EmbeddedMailer {
    dir: PathBuf,
    from: Mailbox,
    /// Monotonic ids, so file names sort in sending order even within one millisecond.
    ids: Arc<Mutex<ulid::Generator>>,
}

impl EmbeddedMailer {
    /// Creates the outbox folder if needed. `from` is the sender of every email.
    pub fn new(dir: PathBuf, from: &str) -> Result<Self, MailError> {
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailError::Rejected(format!("bad sender {from:?}: {e}")))?;
        validate_address(from.email.as_ref())?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            MailError::Unavailable(format!("creating outbox {}: {e}", dir.display()))
        })?;
        Ok(Self {
            dir,
            from,
            ids: Arc::new(Mutex::new(ulid::Generator::new())),
        })
    }

    fn build(&self, email: &Email) -> Result<Vec<u8>, MailError> {
        validate_address(&email.to)?;
        let to = email
            .to
            .parse::<Mailbox>()
            .map_err(|e| MailError::Rejected(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Rejected(format!("cannot build message: {e}")))?;
        Ok(message.formatted())
    }
}

#[async_trait]
impl Mailer for EmbeddedMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let bytes = self.build(email)?;
        let stamp = OffsetDateTime::now_utc()
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .map_err(|e| MailError::Unavailable(format!("formatting time: {e}")))?;
        // `Ulid::default()` is the nil id, so fall back to a fresh random one explicitly.
        let id = match self.ids.lock().ok().and_then(|mut g| g.generate().ok()) {
            Some(id) => id,
            None => ulid::Ulid::new(),
        };
        let name = format!("{stamp}-{id}.eml");
        let path = self.dir.join(&name);
        // Written under a name readers skip, then renamed, so no reader ever sees half a message.
        let temp = self.dir.join(format!(".{name}.tmp"));
        let unavailable =
            |e: std::io::Error| MailError::Unavailable(format!("writing {}: {e}", path.display()));
        tokio::fs::write(&temp, &bytes).await.map_err(unavailable)?;
        if let Err(e) = tokio::fs::rename(&temp, &path).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(unavailable(e));
        }
        tracing::info!(to = %email.to, path = %path.display(), "email written to outbox");
        Ok(name)
    }
}

/// Reads every `.eml` file in an outbox folder, oldest first (names start with their timestamp and a ULID).
/// A missing or unreadable folder reads as empty.
pub fn read_outbox(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut mails: Vec<(PathBuf, String)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter_map(|p| {
            std::fs::read(&p)
                .ok()
                .map(|b| (p, String::from_utf8_lossy(&b).into_owned()))
        })
        .collect();
    mails.sort_by(|a, b| a.0.cmp(&b.0));
    mails
}
