//! Validators for the plain-text fields of the domain's inputs (names, codes, reasons, tags). Each has its schema
//! in [`crate::schema`], built from the same constants, so a schema-valid value is never refused for its shape.

use crate::errors::ExamError;

/// Trims `value` and checks it has 1 to `max` characters and no control character
/// (`lectern_shared::http::constraints::trimmed_text_pattern`).
pub fn trimmed(field: &str, value: &str, max: usize) -> Result<String, ExamError> {
    let t = value.trim();
    let n = t.chars().count();
    if n == 0 {
        return Err(ExamError::field(field, "must not be empty"));
    }
    if n > max {
        return Err(ExamError::field(field, format!("at most {max} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(ExamError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_string())
}

/// [`trimmed`] for an optional field.
pub fn trimmed_opt(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ExamError> {
    value.map(|v| trimmed(field, v, max)).transpose()
}

/// A slug: lowercase letters, digits and `-`, starting with a letter or digit (tags, subjects). Used inside
/// listing keys, so it can never hold the key separator.
pub const SLUG_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,39}$";
/// Longest slug ([`SLUG_PATTERN`]).
pub const MAX_SLUG: usize = 40;

/// Checks a slug ([`SLUG_PATTERN`]).
pub fn slug(field: &str, value: &str) -> Result<String, ExamError> {
    let ok = (1..=MAX_SLUG).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(ExamError::field(
            field,
            format!("1 to {MAX_SLUG} of a-z, 0-9 and '-', not starting with '-'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_text_is_trimmed_and_bounded() {
        assert_eq!(trimmed("name", "  Physics ", 10).unwrap(), "Physics");
        assert!(trimmed("name", "   ", 10).is_err());
        assert!(trimmed("name", "a\u{7}b", 10).is_err());
        assert!(trimmed("name", &"x".repeat(11), 10).is_err());
        assert!(slug("tag", "algebra-1").is_ok());
        for bad in ["", "-x", "Caps", "a#b", "a b", &"x".repeat(41)] {
            assert!(slug("tag", bad).is_err(), "{bad:?}");
        }
    }
}
