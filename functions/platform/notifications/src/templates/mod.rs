//! Rendering of account emails: a language's catalog turns a [`Template`] into [`content`] (plain strings and
//! checked links), and one [`layout`] turns that into the HTML and text parts. Because templates never write
//! markup, every value is escaped in one place and no template can forget it.

mod content;
mod en;
mod escape;
mod layout;
mod locale;

use lectern_shared::mail::{Email, validate_address};

pub use escape::escape_html;
pub use locale::Locale;

use crate::branding::Branding;
use content::{Context, single_line};
use lectern_messages::{NotificationContent, NotificationType, NotifyEmail, Template};

/// Why an email could not be rendered. Messages name fields, never their values (which hold addresses and tokens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The recipient is not a plain email address.
    #[error("recipient is not a valid address")]
    BadRecipient,
    /// A link is not an absolute http(s) URL, or carries credentials.
    #[error("`{field}` is not an absolute http(s) link")]
    UnsafeLink {
        /// The payload field holding the link.
        field: &'static str,
    },
    /// A field is empty or otherwise unusable.
    #[error("`{field}` is invalid: {reason}")]
    InvalidField {
        /// The payload field.
        field: &'static str,
        /// What is wrong, without the value.
        reason: &'static str,
    },
}

/// Renders `notify` into an email (subject, HTML and text) in the recipient's language, falling back to English.
pub fn render(branding: &Branding, notify: &NotifyEmail) -> Result<Email, RenderError> {
    validate_address(&notify.to).map_err(|_| RenderError::BadRecipient)?;
    let locale = Locale::resolve(notify.locale.as_deref());
    render_in(
        locale,
        branding,
        &notify.to,
        notify.name.as_deref(),
        &notify.template,
    )
}

/// Renders in a given language (what [`render`] does after resolving the locale).
pub fn render_in(
    locale: Locale,
    branding: &Branding,
    to: &str,
    name: Option<&str>,
    template: &Template,
) -> Result<Email, RenderError> {
    let cx = Context::new(branding, name)?;
    let catalog = locale.catalog();
    let content = catalog.content(template, &cx)?;
    let footer = catalog.footer(&cx);
    Ok(Email {
        to: to.to_string(),
        subject: single_line(&content.subject),
        html: layout::html(locale.tag(), &cx, &content, &footer),
        text: layout::text(&cx, &content, &footer),
    })
}

/// An in-app notification's words, in one language: plain text (the app escapes it), and a checked link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InAppText {
    pub title: String,
    pub body: String,
    /// An absolute http(s) link without credentials, when the notification has a page.
    pub link: Option<String>,
}

/// Renders a notification's email to `to` in the language `locale` asks for (English as the fallback).
pub fn render_notification(
    branding: &Branding,
    to: &str,
    name: Option<&str>,
    locale: Option<&str>,
    category: NotificationType,
    content: &NotificationContent,
) -> Result<Email, RenderError> {
    validate_address(to).map_err(|_| RenderError::BadRecipient)?;
    let locale = Locale::resolve(locale);
    let cx = Context::new(branding, name)?;
    let catalog = locale.catalog();
    let content = catalog.notification(category, content, &cx)?;
    let footer = catalog.footer(&cx);
    Ok(Email {
        to: to.to_string(),
        subject: single_line(&content.subject),
        html: layout::html(locale.tag(), &cx, &content, &footer),
        text: layout::text(&cx, &content, &footer),
    })
}

/// A notification's in-app title and body in the language `locale` asks for (English as the fallback).
pub fn in_app_text(
    locale: Option<&str>,
    content: &NotificationContent,
) -> Result<InAppText, RenderError> {
    Locale::resolve(locale).catalog().in_app(content)
}
