//! Test support (feature `testing`): adapter factories for both backends, the moto harness, the contract
//! suites that every adapter must pass, and golden files for stored items.

pub mod aws;
pub mod contract;
pub mod counting;
pub mod embedded;
pub mod faults;
pub mod golden;
pub mod moto;

/// Whether a string schema (`shared::http::constraints`, request field schemas) admits `value`: its pattern (with
/// the `regex` crate, whose reading of the patterns used there is ECMA-262's) and its length bounds in characters,
/// as JSON Schema counts them. For tests that hold a schema to the validator it describes.
pub fn string_schema_accepts(schema: &utoipa::openapi::Object, value: &str) -> bool {
    let chars = value.chars().count();
    schema.pattern.as_deref().is_none_or(|p| {
        regex::Regex::new(p)
            .unwrap_or_else(|e| panic!("pattern {p:?}: {e}"))
            .is_match(value)
    }) && schema.min_length.is_none_or(|n| chars >= n)
        && schema.max_length.is_none_or(|n| chars <= n)
}
