//! Languages: each one is a [`Catalog`] in its own module, listed in [`CATALOGS`]. Adding French means writing
//! `fr.rs` with `impl Catalog for French` and adding `&fr::French` to the list.

use std::fmt;

use super::content::{Content, Context, Inline};
use super::{InAppText, RenderError, en};
use lectern_messages::{NotificationContent, NotificationType, Template};

/// Everything a language provides: the words of each email and of the footer.
pub(crate) trait Catalog: Sync {
    /// The language's primary BCP 47 subtag, lowercase (`en`).
    fn tag(&self) -> &'static str;
    /// Writes one email. Fails when the template's data cannot be shown (a link that is not http(s), ...).
    fn content(&self, template: &Template, cx: &Context<'_>) -> Result<Content, RenderError>;
    /// The footer lines shown under every email.
    fn footer(&self, cx: &Context<'_>) -> Vec<Vec<Inline>>;
    /// Writes a notification's email (`category` says why the recipient gets it).
    fn notification(
        &self,
        category: NotificationType,
        content: &NotificationContent,
        cx: &Context<'_>,
    ) -> Result<Content, RenderError>;
    /// Writes a notification's in-app title and body.
    fn in_app(&self, content: &NotificationContent) -> Result<InAppText, RenderError>;
}

/// Shipped languages; the first is the fallback.
static CATALOGS: &[&dyn Catalog] = &[&en::English];

/// A resolved language.
#[derive(Clone, Copy)]
pub struct Locale {
    catalog: &'static dyn Catalog,
}

impl Locale {
    /// Picks the first supported language of a BCP 47 tag (`fr-CA`, `en_GB`) or an Accept-Language list
    /// (`fr-CA,fr;q=0.9,en;q=0.8`, taken in the order given). Anything unsupported, empty or absent is English.
    pub fn resolve(requested: Option<&str>) -> Self {
        pick(CATALOGS, requested)
            .map(|catalog| Self { catalog })
            .unwrap_or_default()
    }

    /// The language tag, e.g. `en` (used as the HTML `lang`).
    pub fn tag(&self) -> &'static str {
        self.catalog.tag()
    }

    pub(crate) fn catalog(&self) -> &'static dyn Catalog {
        self.catalog
    }
}

impl Default for Locale {
    /// English.
    fn default() -> Self {
        Self {
            catalog: CATALOGS[0],
        }
    }
}

/// The first catalog of `catalogs` matching a language of `requested`.
fn pick(
    catalogs: &[&'static dyn Catalog],
    requested: Option<&str>,
) -> Option<&'static dyn Catalog> {
    requested
        .into_iter()
        .flat_map(|list| list.split(','))
        .filter_map(|entry| {
            let tag = entry.split(';').next()?.trim();
            let primary = tag.split(['-', '_']).next()?.trim();
            catalogs
                .iter()
                .find(|c| c.tag().eq_ignore_ascii_case(primary))
        })
        .next()
        .copied()
}

impl PartialEq for Locale {
    fn eq(&self, other: &Self) -> bool {
        self.tag() == other.tag()
    }
}

impl Eq for Locale {}

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Locale").field(&self.tag()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog that only has a tag, to test resolution with more than one language.
    struct Tagged(&'static str);

    impl Catalog for Tagged {
        fn tag(&self) -> &'static str {
            self.0
        }
        fn content(&self, _: &Template, _: &Context<'_>) -> Result<Content, RenderError> {
            Err(RenderError::InvalidField {
                field: "template",
                reason: "test catalog",
            })
        }
        fn footer(&self, _: &Context<'_>) -> Vec<Vec<Inline>> {
            Vec::new()
        }
        fn notification(
            &self,
            _: NotificationType,
            _: &NotificationContent,
            _: &Context<'_>,
        ) -> Result<Content, RenderError> {
            Err(RenderError::InvalidField {
                field: "template",
                reason: "test catalog",
            })
        }
        fn in_app(&self, _: &NotificationContent) -> Result<InAppText, RenderError> {
            Err(RenderError::InvalidField {
                field: "template",
                reason: "test catalog",
            })
        }
    }

    static TEST_CATALOGS: &[&dyn Catalog] = &[&Tagged("en"), &Tagged("fr")];

    fn picked(requested: Option<&str>) -> Option<&'static str> {
        pick(TEST_CATALOGS, requested).map(|c| c.tag())
    }

    #[test]
    fn picks_the_first_supported_language_in_order() {
        assert_eq!(picked(Some("fr")), Some("fr"));
        assert_eq!(picked(Some("FR-ca")), Some("fr"));
        assert_eq!(picked(Some("fr_BE")), Some("fr"));
        assert_eq!(picked(Some("de-DE,fr;q=0.9,en;q=0.8")), Some("fr"));
        assert_eq!(picked(Some(" en-GB , fr")), Some("en"));
        assert_eq!(picked(Some("de")), None);
        assert_eq!(picked(Some(";;,,")), None);
        assert_eq!(picked(None), None);
    }

    #[test]
    fn unknown_or_missing_languages_resolve_to_english() {
        for requested in [
            None,
            Some(""),
            Some("xx"),
            Some("de-DE,fr;q=0.9"),
            Some("EN-gb"),
        ] {
            assert_eq!(Locale::resolve(requested).tag(), "en", "{requested:?}");
        }
        assert_eq!(Locale::resolve(Some("de")), Locale::default());
    }

    #[test]
    fn every_catalog_has_a_distinct_lowercase_tag() {
        let mut tags: Vec<_> = CATALOGS.iter().map(|c| c.tag()).collect();
        assert!(tags.iter().all(|t| *t == t.to_ascii_lowercase()));
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), CATALOGS.len());
    }
}
