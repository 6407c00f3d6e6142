//! The key separator. Entities declare their key shapes with [`super::entity::Shape`], which joins the parts
//! with [`compose`]; nothing else should join key parts, so the separator is the same everywhere.

/// Separator between the parts of a composite key.
pub const SEP: char = '#';

/// Joins key parts with [`SEP`]: `compose(&["USER", id])` → `USER#<id>`.
pub fn compose(parts: &[&str]) -> String {
    parts.join(SEP.encode_utf8(&mut [0; 4]))
}
