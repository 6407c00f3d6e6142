//! How the fields of the accounts request types look in the OpenAPI document (`#[schema(schema_with = ...)]`).
//! Each schema states what the validator it names accepts, from the same constants where there are some; the
//! tests below hold the patterns to the validators.

use lectern_shared::http::constraints::{self, or_null, string};
use serde_json::{Value, json};
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

use crate::password::PasswordPolicy;
use crate::permissions::{Role, perm};
use crate::service::profile::{AVATAR_TYPES, MAX_FLAG_KEY, MAX_FLAG_TEXT, MAX_FLAGS, THEMES};
use crate::service::signup::MAX_DISPLAY_NAME;
use lectern_shared::locale;

/// Longest API key name: the `64` in `Accounts::create_api_key`.
pub const MAX_API_KEY_NAME: usize = 64;

fn strings(values: impl IntoIterator<Item = &'static str>) -> Vec<Value> {
    values.into_iter().map(Value::from).collect()
}

/// An email address (`valid_email`).
pub fn email() -> Object {
    constraints::email("An email address.")
}

/// A new password (`valid_password`: the policy's length range, counted in characters and never trimmed).
pub fn new_password() -> Object {
    let policy = PasswordPolicy::default();
    string()
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Password,
        )))
        .min_length(Some(policy.min_chars))
        .max_length(Some(policy.max_chars))
        .description(Some(format!(
            "{} to {} characters, kept exactly as typed. Refused as well (400 `validation` on this field): a \
             commonly used password, or one containing the account's email address.",
            policy.min_chars, policy.max_chars
        )))
        .build()
}

/// A display name (`valid_display_name`).
pub fn display_name() -> Object {
    constraints::trimmed_text(MAX_DISPLAY_NAME, "The name shown to others.")
}

/// [`display_name`] or `null` (unchanged).
pub fn display_name_or_null() -> Object {
    or_null(display_name())
}

/// The roles a person may choose at registration (`Role::self_registrable`); `null` or absent means `learner`.
pub fn self_registrable_role() -> Object {
    let roles = Role::ALL.into_iter().filter(|r| r.self_registrable());
    or_null(
        string()
            .enum_values(Some(roles.map(Role::as_str).collect::<Vec<_>>()))
            .description(Some(
                "`learner` (default) or `parent`; other roles are granted by an admin.",
            ))
            .build(),
    )
}

/// A locale (`lectern_shared::locale::valid_locale`) or `null` (unchanged).
pub fn locale_or_null() -> Object {
    or_null(locale::locale_schema())
}

/// A time zone (`lectern_shared::locale::timezone`) or `null` (unchanged).
pub fn timezone_or_null() -> Object {
    or_null(locale::timezone_schema(""))
}

/// A theme or `null` (unchanged).
pub fn theme_or_null() -> Object {
    or_null(string().enum_values(Some(strings(THEMES))).build())
}

/// A preference map (`valid_flags`) or `null` (unchanged).
pub fn flags_or_null() -> Object {
    let value = ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![
            Type::Boolean,
            Type::Number,
            Type::String,
        ]))
        .max_length(Some(MAX_FLAG_TEXT));
    let name = string().pattern(Some(format!("^[A-Za-z0-9_]{{1,{MAX_FLAG_KEY}}}$")));
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(MAX_FLAGS))
            .property_names(Some(name))
            .additional_properties(Some(value))
            .description(Some(format!(
                "At most {MAX_FLAGS} entries; names of letters, digits and `_`; values booleans, numbers or \
                 strings of at most {MAX_FLAG_TEXT} characters. Replaces the whole map."
            )))
            .examples([json!({"reduced_motion": true, "font_scale": "large"})])
            .build(),
    )
}

/// An avatar's media type (`AVATAR_TYPES`).
pub fn avatar_type() -> Object {
    string().enum_values(Some(strings(AVATAR_TYPES))).build()
}

/// An API key's name (`Accounts::create_api_key`).
pub fn api_key_name() -> Object {
    constraints::trimmed_text(MAX_API_KEY_NAME, "A name to recognise the key by.")
}

/// An API key's scopes: permission names (`perm::ALL`), at least one; naming one the owner does not hold is
/// refused (400 on `scopes`). Duplicates count once.
pub fn api_key_scopes() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(string().enum_values(Some(strings(perm::ALL))))
        .min_items(Some(1))
        .description(Some(
            "Permissions the key may use: at least one, each held by the owner. Duplicates count once.",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use lectern_shared::testing::string_schema_accepts;

    use super::*;
    use crate::service::signup::valid_display_name;
    use lectern_shared::locale::{timezone_shape, valid_locale};

    fn samples() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            " ",
            "a",
            "ab",
            "en",
            "EN",
            "pt-BR",
            "zh-Hant-TW",
            "en-",
            "-en",
            "e",
            "engl",
            "en-abcdefghi",
            "en--US",
            "en_US",
            "de-1996",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "/Europe",
            "Europe//Paris",
            "Europe/",
            "Etc/GMT+5",
            "UTC",
            "Europe/Paris ",
            "Zürich",
            " Ada ",
            "Ada\tLovelace",
            "\u{a0}Ada",
            "Ada\u{1c}",
            "\u{2028}",
            "été",
        ]
        .map(String::from)
        .to_vec();
        all.push(format!("en{}", "-abcdefgh".repeat(4)));
        all.push(format!("en{}", "-abcdefgh".repeat(3)));
        all.push("A/".repeat(32));
        all.push("A/".repeat(33));
        for n in [99, 100, 101] {
            all.push("n".repeat(n));
            all.push(format!(" {} ", "n".repeat(n)));
            all.push("é".repeat(n));
        }
        all
    }

    type Validator<'a> = &'a dyn Fn(&str) -> bool;

    #[test]
    fn string_schemas_are_their_validators() {
        let display_name_ok = |s: &str| valid_display_name(s).is_ok();
        let pairs: [(&str, Object, Validator); 3] = [
            ("locale", locale_or_null(), &valid_locale),
            ("timezone", timezone_or_null(), &timezone_shape),
            ("display name", display_name(), &display_name_ok),
        ];
        for (name, schema, validator) in pairs {
            for s in samples() {
                assert_eq!(
                    string_schema_accepts(&schema, &s),
                    validator(&s),
                    "{name}: {s:?}"
                );
            }
        }
    }
}
