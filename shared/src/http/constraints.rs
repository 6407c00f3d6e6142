//! Input rules as JSON Schema, for the request schemas of the OpenAPI document: each says exactly what a validator
//! in the code accepts, so a client can check a value before sending it and a schema-valid value is never refused
//! for its shape. The code's validators stay the rule; tests hold each pattern to its validator.
//!
//! Patterns use only what ECMA-262 (JSON Schema), Python's `re` (schemathesis) and the `regex` crate read alike:
//! explicit classes with `\xHH`/`\uHHHH` escapes, never `\s` or `\p{..}`, whose meanings differ between them.

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// The characters `str::trim` removes (Unicode `White_Space`), as the inside of a regex class.
pub const WHITE_SPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// The control characters (`char::is_control`: category Cc), as the inside of a regex class.
pub const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// An id ([`crate::ids::is_id`]): 26 characters of Crockford base32, either case.
pub const ID_PATTERN: &str = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$";

/// Text that, once trimmed, has 1 to `max` characters and no control character (names, labels). Surrounding
/// white space is allowed (and trimmed away), so the bound is in the pattern, not in `maxLength`.
pub fn trimmed_text_pattern(max: usize) -> String {
    let (ws, cc) = (WHITE_SPACE, CONTROL);
    // A first character, then (when `max` allows more) up to `max - 2` more and a last one.
    let rest = match max {
        0 | 1 => String::new(),
        _ => format!("(?:[^{cc}]{{0,{}}}[^{ws}{cc}])?", max - 2),
    };
    format!("^[{ws}]*[^{ws}{cc}]{rest}[{ws}]*$")
}

/// An email address as [`crate::mail::validate_address`] accepts it once trimmed: one `@`, something before it,
/// a domain with a dot that neither starts nor ends it, and no white space, control character or `<>,;"`. Its
/// other bound, 254 bytes, is not a character count, so the schema's description states it.
pub fn email_pattern() -> String {
    let (ws, cc) = (WHITE_SPACE, CONTROL);
    let part = format!(r#"[^{ws}{cc}<>,;"@]"#);
    let end = format!(r#"[^{ws}{cc}<>,;"@.]"#);
    format!(r"^[{ws}]*{part}+@{end}{part}*\.{part}*{end}[{ws}]*$")
}

/// `schema`, or `null` (an optional field a client may also send as `null`).
pub fn or_null(mut schema: Object) -> Object {
    let mut types = match schema.schema_type {
        SchemaType::Type(t) => vec![t],
        SchemaType::Array(types) => types,
        SchemaType::AnyValue => return schema,
    };
    if !types.contains(&Type::Null) {
        types.push(Type::Null);
    }
    if let Some(values) = schema.enum_values.as_mut()
        && !values.contains(&serde_json::Value::Null)
    {
        values.push(serde_json::Value::Null);
    }
    schema.schema_type = SchemaType::Array(types);
    schema
}

/// A string schema.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// The schema of [`trimmed_text_pattern`].
pub fn trimmed_text(max: usize, description: &str) -> Object {
    string()
        .min_length(Some(1))
        .pattern(Some(trimmed_text_pattern(max)))
        .description(Some(format!(
            "{description} 1 to {max} characters without control characters, once surrounding white space is \
             trimmed."
        )))
        .build()
}

/// The schema of an email address ([`email_pattern`]).
pub fn email(description: &str) -> Object {
    string()
        .pattern(Some(email_pattern()))
        .description(Some(format!(
            "{description} Surrounding white space is trimmed; at most 254 bytes."
        )))
        .examples([serde_json::json!("ada@example.com")])
        .build()
}

/// The schema of an id ([`ID_PATTERN`]).
pub fn id() -> Object {
    string()
        .pattern(Some(ID_PATTERN))
        .examples([serde_json::json!("01J9Z8Q4V6Y7KX2M3N4P5R6S7T")])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::string_schema_accepts;

    /// Strings near every edge of the rules: padding, controls inside and outside, lengths, odd white space.
    fn corpus() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            " ",
            "a",
            " a ",
            "\ta\n",
            "a\tb",
            "a b",
            "a\u{a0}b",
            "\u{a0}a\u{a0}",
            "\u{1c}a",
            "a\u{7f}",
            "\u{85}a",
            "a\u{2028}",
            "\u{2028}",
            "é",
            "名前",
            "ab",
            "\u{3000}x\u{3000}",
            "a\u{200b}b",
            "ada@example.com",
            " ada@example.com ",
            "ada@example",
            "@example.com",
            "ada@.example.com",
            "ada@example.com.",
            "ada@@example.com",
            "a@b.c",
            "a@b..c",
            "a b@c.d",
            "a<b@c.d",
            "a;b@c.d",
            "\"a\"@c.d",
            "é@x.fr",
            "a@b.c\n",
            "a@b.c\u{1c}",
            "a@b@c.d",
            "a@.b",
            "a@b.",
            "a.b@c.d",
            "01J9Z8Q4V6Y7KX2M3N4P5R6S7T",
            "01j9z8q4v6y7kx2m3n4p5r6s7t",
            "01J9Z8Q4V6Y7KX2M3N4P5R6S7",
            "01J9Z8Q4V6Y7KX2M3N4P5R6S7I",
        ]
        .map(String::from)
        .to_vec();
        for n in [1, 2, 9, 10, 11, 99, 100, 101] {
            all.push("x".repeat(n));
            all.push(format!("  {}  ", "y".repeat(n)));
            all.push(format!("a{}b", " ".repeat(n.saturating_sub(2))));
            all.push(format!("{}@example.com", "z".repeat(n)));
        }
        all.push(format!("{}@example.com", "é".repeat(130)));
        all
    }

    /// What `trimmed_text_pattern` claims: the trimmed text has 1..=max chars and none is a control.
    fn trimmed_text_ok(s: &str, max: usize) -> bool {
        let t = s.trim();
        (1..=max).contains(&t.chars().count()) && !t.chars().any(char::is_control)
    }

    #[test]
    fn trimmed_text_pattern_is_the_rule() {
        for max in [1, 2, 10, 64, 100] {
            let schema = trimmed_text(max, "");
            for s in corpus() {
                assert_eq!(
                    string_schema_accepts(&schema, &s),
                    trimmed_text_ok(&s, max),
                    "max {max}: {s:?}"
                );
            }
        }
    }

    #[test]
    fn email_pattern_is_validate_address_of_the_trimmed_text() {
        let schema = email("");
        for s in corpus() {
            let t = s.trim();
            // The byte bound is the one rule the pattern leaves to the description.
            if t.len() > 254 {
                assert!(crate::mail::validate_address(t).is_err());
                continue;
            }
            assert_eq!(
                string_schema_accepts(&schema, &s),
                crate::mail::validate_address(t).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn id_pattern_is_is_id() {
        let schema = id();
        for s in corpus() {
            assert_eq!(
                string_schema_accepts(&schema, &s),
                crate::ids::is_id(&s),
                "{s:?}"
            );
        }
        assert!(string_schema_accepts(&schema, &crate::ids::new_id()));
    }
}
