//! Language tags and time zones, as every domain accepts them (account profiles, child profiles, game locales,
//! and the notification quiet hours to come): one validator each, and the schema that says exactly what it
//! accepts (the tests hold each pattern to its validator).

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// Longest locale tag.
pub const MAX_LOCALE: usize = 35;
/// Longest time zone name.
pub const MAX_TIMEZONE: usize = 64;
/// A BCP 47 language tag as [`valid_locale`] reads it: a 2–3 letter language, then 1–8 letter-or-digit subtags.
pub const LOCALE_PATTERN: &str = "^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$";
/// An IANA time zone name's shape as [`timezone_shape`] reads it: letters, digits and `_+-` in `/`-separated
/// parts (the zone must also be known, see [`timezone`]).
pub const TIMEZONE_PATTERN: &str = "^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$";

/// A BCP 47 tag: a 2–3 letter language, then 1–8 letter-or-digit subtags (`en`, `pt-BR`, `zh-Hant-TW`).
pub fn valid_locale(v: &str) -> bool {
    let mut parts = v.split('-');
    v.len() <= MAX_LOCALE
        && parts.next().is_some_and(|p| {
            (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic())
        })
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether a name has the shape of an IANA zone ([`TIMEZONE_PATTERN`], at most [`MAX_TIMEZONE`] bytes).
pub fn timezone_shape(v: &str) -> bool {
    (1..=MAX_TIMEZONE).contains(&v.len())
        && v.split('/').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
        })
}

/// The zone of a name the time zone database knows (`Europe/Paris`, `UTC`); the database is built into the
/// binary, so a Lambda and the dev server know the same zones.
pub fn timezone(v: &str) -> Option<jiff::tz::TimeZone> {
    if !timezone_shape(v) {
        return None;
    }
    jiff::tz::TimeZone::get(v).ok()
}

/// Why a time zone is refused, for the field's error; `None` when it is a known zone.
pub fn timezone_problem(v: &str) -> Option<&'static str> {
    if !timezone_shape(v) {
        Some("an IANA time zone such as Europe/Paris")
    } else if timezone(v).is_none() {
        Some("not a known IANA time zone")
    } else {
        None
    }
}

/// What a locale field's error says.
pub const LOCALE_PROBLEM: &str = "a BCP 47 language tag such as en or pt-BR";

/// The schema of a locale string ([`valid_locale`]).
pub fn locale_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(LOCALE_PATTERN))
        .max_length(Some(MAX_LOCALE))
        .description(Some("BCP 47 language tag, e.g. `en` or `pt-BR`."))
        .build()
}

/// The schema of a time zone string ([`timezone`]), with what the zone is used for.
pub fn timezone_schema(used_for: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(TIMEZONE_PATTERN))
        .min_length(Some(1))
        .max_length(Some(MAX_TIMEZONE))
        .description(Some(format!(
            "IANA time zone, e.g. `Europe/Paris`{used_for}. A well-formed name the time zone database does not \
             know is refused (400 on this field)."
        )))
        .examples([serde_json::json!("Europe/Paris")])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_must_be_known_and_well_formed() {
        assert!(timezone("Europe/Paris").is_some());
        assert!(timezone("UTC").is_some());
        assert!(timezone("America/Argentina/Buenos_Aires").is_some());
        assert_eq!(timezone_problem("Europe/Paris"), None);
        assert_eq!(
            timezone_problem("Mars/Olympus"),
            Some("not a known IANA time zone")
        );
        for bad in [
            "../etc/passwd",
            "",
            "Europe/",
            "/Europe",
            "Europe//Paris",
            "Europe/Par is",
        ] {
            assert!(timezone(bad).is_none(), "{bad}");
            assert!(!timezone_shape(bad), "{bad}");
        }
    }

    #[test]
    fn patterns_say_what_the_validators_accept() {
        let locale = regex::Regex::new(LOCALE_PATTERN).unwrap();
        let zone = regex::Regex::new(TIMEZONE_PATTERN).unwrap();
        for v in [
            "en",
            "pt-BR",
            "zh-Hant-TW",
            "e",
            "english",
            "en_GB",
            "en-",
            "-en",
            "en-toolongsub",
            "fr-1",
        ] {
            assert_eq!(locale.is_match(v), valid_locale(v), "{v}");
        }
        for v in [
            "UTC",
            "Europe/Paris",
            "Etc/GMT+5",
            "America/Argentina/Buenos_Aires",
            "Europe/",
            "a//b",
            "a b",
            "",
        ] {
            assert_eq!(zone.is_match(v), timezone_shape(v), "{v}");
        }
    }
}
