//! Reading the dev server's outbox: the emails to an address, the tokens of mailed links, and a way to wait until
//! every email queued so far has gone out.

use std::sync::atomic::Ordering;

use crate::api::{Api, PASSWORD};
use crate::poll;

/// The text of a verification link, to count verification emails.
pub const VERIFY_LINK: &str = "/verify-email?token=";
/// The text of a password reset link.
pub const RESET_LINK: &str = "/reset-password?token=";
/// What the lockout email says.
pub const LOCKED: &str = "temporarily locked";

impl Api {
    /// The decoded texts of the emails to `to` delivered so far, oldest first.
    pub fn delivered_to(&self, to: &str) -> Vec<String> {
        let header = format!("To: {to}");
        lectern_shared::mail::embedded::read_outbox(&self.server.outbox())
            .into_iter()
            .map(|(_, text)| decode_quoted_printable(&text))
            .filter(|text| text.lines().any(|l| l.eq_ignore_ascii_case(&header)))
            .collect()
    }

    /// Waits (bounded) for at least `n` emails to `to` and returns their decoded texts, oldest first (fewer when
    /// they never came).
    pub async fn mails_to(&self, to: &str, n: usize) -> Vec<String> {
        poll(async || Some(self.delivered_to(to)).filter(|mails| mails.len() >= n))
            .await
            .unwrap_or_else(|| self.delivered_to(to))
    }

    /// Waits (bounded) for an email to `to` whose decoded text contains `needle`, and returns it.
    pub async fn mail_containing(&self, to: &str, needle: &str) -> String {
        poll(async || {
            self.delivered_to(to)
                .into_iter()
                .find(|m| m.contains(needle))
        })
        .await
        .unwrap_or_else(|| panic!("no email to {to} containing {needle:?}"))
    }

    /// How many emails to `to` delivered so far contain `needle` (see [`Api::flush_mail`] to wait for them).
    pub fn count_mails(&self, to: &str, needle: &str) -> usize {
        self.delivered_to(to)
            .iter()
            .filter(|m| m.contains(needle))
            .count()
    }

    /// Waits (bounded) for a `<page>?token=...` link mailed to `to` that this client has not handed out yet, and
    /// answers its token: the first call answers the first such link, the next call the next one, in whatever
    /// order the emails arrive.
    pub async fn mailed_token(&self, to: &str, page: &str) -> String {
        let needle = format!("/{page}?token=");
        let token = poll(async || {
            let seen = self.seen_tokens.lock().unwrap();
            self.delivered_to(to)
                .iter()
                .filter_map(|mail| mail.split(&needle).nth(1))
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                        .collect::<String>()
                })
                .find(|token| !seen.contains(token))
        })
        .await
        .unwrap_or_else(|| panic!("no new {page} link mailed to {to}"));
        self.seen_tokens.lock().unwrap().push(token.clone());
        token
    }

    /// Waits until every email queued before this call has been delivered: registers a fresh sentinel address and
    /// waits for its mail, twice. The worker handles one batch at a time, so once the second sentinel's mail is
    /// out, the batch holding the first (and everything queued before it) has finished.
    pub async fn flush_mail(&self) {
        for _ in 0..2 {
            let n = self.sentinels.fetch_add(1, Ordering::SeqCst);
            let email = format!("flush-{n}@sentinel.example.com");
            self.register(&email, PASSWORD).await.expect_status(202);
            assert_eq!(
                self.mails_to(&email, 1).await.len(),
                1,
                "sentinel mail never arrived"
            );
        }
    }
}

/// Decodes quoted-printable (soft line breaks and `=XX` escapes) so links can be read from `.eml` files.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
