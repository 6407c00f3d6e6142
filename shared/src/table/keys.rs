//! Key-building helpers. Entities declare their own prefixes as constants beside their type, e.g.
//! `const PK_PREFIX: &str = "USER#";`, and build keys with [`compose`] so the separator is the same everywhere.

/// Separator between the parts of a composite key.
pub const SEP: char = '#';

/// Joins key parts with [`SEP`]: `compose(&["USER", id])` → `USER#<id>`.
pub fn compose(parts: &[&str]) -> String {
    parts.join("#")
}
