//! The [`Mailer`] contract.

use std::path::Path;

use crate::mail::embedded::read_outbox;
use crate::mail::{Email, MailError, Mailer};

/// A plain welcome email to `to`.
pub fn welcome(to: &str) -> Email {
    Email {
        to: to.into(),
        subject: "Welcome to Lectern".into(),
        html: "<p>Hello <b>Ada</b></p>".into(),
        text: "Hello Ada".into(),
    }
}

pub async fn send_returns_id(m: &dyn Mailer) {
    let id = m.send(&welcome("ada@example.com")).await.unwrap();
    assert!(!id.trim().is_empty());
    let other = m.send(&welcome("grace@example.com")).await.unwrap();
    assert_ne!(id, other);
}

pub async fn bad_address_rejected(m: &dyn Mailer) {
    for to in [
        "not an address",
        "a@b",
        "x@y.test\r\nBcc: evil@z.test",
        "<a@b.test>",
        "",
    ] {
        let r = m.send(&welcome(to)).await;
        assert!(matches!(r, Err(MailError::Rejected(_))), "{to:?}: {r:?}");
    }
}

/// Embedded only: each email is a parseable `.eml` file with both parts, named by the returned id.
pub async fn embedded_outbox_files(m: &dyn Mailer, dir: &Path) {
    assert!(read_outbox(dir).is_empty());
    let id = m.send(&welcome("ada@example.com")).await.unwrap();
    let mut second = welcome("grace@example.com");
    second.subject = "Your course starts".into();
    m.send(&second).await.unwrap();
    m.send(&welcome("bad address")).await.unwrap_err();

    let mails = read_outbox(dir);
    assert_eq!(mails.len(), 2);
    let (path, raw) = &mails[0];
    assert_eq!(path.file_name().unwrap().to_string_lossy(), id);
    assert!(id.ends_with(".eml"));
    // RFC 5322 header block, then a multipart/alternative body with both renditions.
    let (headers, body) = raw.split_once("\r\n\r\n").expect("a header block");
    assert!(headers.contains("To: ada@example.com"), "{headers}");
    assert!(
        headers.contains("From: Lectern <noreply@lectern.test>"),
        "{headers}"
    );
    assert!(headers.contains("Subject: Welcome to Lectern"), "{headers}");
    assert!(headers.contains("Date: "), "{headers}");
    assert!(headers.contains("multipart/alternative"), "{headers}");
    let text_at = body.find("Content-Type: text/plain").expect("a text part");
    let html_at = body.find("Content-Type: text/html").expect("an html part");
    assert!(text_at < html_at, "text first, html preferred last");
    assert!(body.contains("Hello Ada"));
    assert!(body.contains("<p>Hello <b>Ada</b></p>"));
    assert!(mails[1].1.contains("Subject: Your course starts"));
}
