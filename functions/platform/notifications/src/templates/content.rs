//! The language-neutral shape of an email that catalogs produce and layouts draw: plain strings (never markup)
//! and links that were checked when they were made.

use lectern_shared::mail::validate_address;
use url::Url;

use super::RenderError;
use crate::branding::Branding;

/// Longest display name shown in a greeting.
const MAX_NAME_CHARS: usize = 80;

/// What a catalog knows while writing an email.
pub(crate) struct Context<'a> {
    pub branding: &'a Branding,
    /// The recipient's display name, cleaned; `None` when absent or blank.
    pub name: Option<String>,
    /// The app URL as a link.
    pub app: Href,
    /// The support address as a `mailto:` link, when configured.
    pub support: Option<(String, Href)>,
}

impl<'a> Context<'a> {
    pub fn new(branding: &'a Branding, name: Option<&str>) -> Result<Self, RenderError> {
        let support = match branding.support_email() {
            Some(addr) => Some((addr.to_string(), Href::mailto(addr)?)),
            None => None,
        };
        Ok(Self {
            branding,
            name: name
                .map(|n| clean(n, MAX_NAME_CHARS))
                .filter(|n| !n.is_empty()),
            app: Href::web(branding.app_url(), "app_url")?,
            support,
        })
    }

    /// A link to the app showing its configured URL.
    pub fn app_link(&self) -> Inline {
        Inline::Link {
            label: self.branding.app_url().to_string(),
            href: self.app.clone(),
        }
    }

    /// The product name.
    pub fn product(&self) -> &str {
        self.branding.product_name()
    }
}

/// One email's words, before layout.
pub(crate) struct Content {
    /// Subject line (made single-line before sending).
    pub subject: String,
    /// The preview line inbox lists show next to the subject.
    pub preheader: String,
    /// The heading at the top of the message.
    pub heading: String,
    /// "Hi Ada," or its equivalent.
    pub greeting: String,
    pub blocks: Vec<Block>,
}

/// A block of the message body.
pub(crate) enum Block {
    /// Ordinary paragraph.
    Paragraph(Vec<Inline>),
    /// The call to action, drawn as a button in HTML.
    Button { label: String, href: Href },
    /// A code to type in, drawn large.
    Code(String),
    /// Label/value pairs (device, address, time).
    Facts(Vec<(String, String)>),
    /// Secondary text, drawn smaller.
    Note(Vec<Inline>),
}

impl Block {
    /// A paragraph of one plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Paragraph(vec![Inline::Text(text.into())])
    }
}

/// A run of text inside a paragraph.
pub(crate) enum Inline {
    Text(String),
    /// Emphasised text (a name the user chose, for example).
    Strong(String),
    Link {
        label: String,
        href: Href,
    },
}

impl Inline {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A link that shows its own address.
    pub fn url(href: &Href) -> Self {
        Self::Link {
            label: href.as_str().to_string(),
            href: href.clone(),
        }
    }
}

/// A link target that is safe to put in an `href`: an absolute http(s) URL without credentials, or a `mailto:`
/// of a plain address. Only [`Href::web`] and [`Href::mailto`] make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Href(String);

impl Href {
    /// Checks a web link; `field` names it in the error.
    pub fn web(raw: &str, field: &'static str) -> Result<Self, RenderError> {
        let url = Url::parse(raw.trim()).map_err(|_| RenderError::UnsafeLink { field })?;
        // Credentials make `https://app.example.com@evil.test` read as the app while going elsewhere.
        let ok = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none();
        if ok {
            Ok(Self(url.into()))
        } else {
            Err(RenderError::UnsafeLink { field })
        }
    }

    /// A `mailto:` link to a plain address.
    pub fn mailto(addr: &str) -> Result<Self, RenderError> {
        validate_address(addr).map_err(|_| RenderError::InvalidField {
            field: "support_email",
            reason: "not a plain address",
        })?;
        Ok(Self(format!("mailto:{addr}")))
    }

    /// The address the link opens (what the text part shows).
    pub fn as_str(&self) -> &str {
        self.0.strip_prefix("mailto:").unwrap_or(&self.0)
    }

    /// The `href` value (unescaped).
    pub fn target(&self) -> &str {
        &self.0
    }
}

/// Makes a user-supplied value fit for one line of an email: control and bidirectional-override characters
/// (which can disguise text) become spaces, runs of whitespace collapse, and the result is cut to `max_chars`
/// characters plus an ellipsis.
pub(crate) fn clean(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in value.chars() {
        if c.is_whitespace() || c.is_control() || is_bidi_control(c) {
            pending_space = !out.is_empty();
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        count += needed;
    }
    out
}

/// Makes a subject one line whatever its parts contained.
pub(crate) fn single_line(value: &str) -> String {
    clean(value, 200)
}

/// Shows an address so its owner recognises it without spelling it out: `a•••@example.com`.
pub(crate) fn mask_email(address: &str) -> String {
    let address = clean(address, 254);
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        _ => "•••".to_string(),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_flattens_lines_and_strips_disguises() {
        assert_eq!(clean("  Ada\r\nBcc: x \t y  ", 80), "Ada Bcc: x y");
        assert_eq!(clean("evil\u{202E}gnp.exe", 80), "evil gnp.exe");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("", 3), "");
    }

    #[test]
    fn links_must_be_absolute_http_without_credentials() {
        assert!(Href::web("https://app.example.com/verify?t=1", "link").is_ok());
        assert!(Href::web("http://localhost:3000/x", "link").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
            "https://app.example.com@evil.test/",
            "mailto:a@b.c",
            "",
        ] {
            assert_eq!(
                Href::web(bad, "link"),
                Err(RenderError::UnsafeLink { field: "link" }),
                "{bad}"
            );
        }
    }

    #[test]
    fn masks_addresses() {
        assert_eq!(mask_email("ada@example.com"), "a•••@example.com");
        assert_eq!(mask_email("nonsense"), "•••");
    }
}
