//! How the fields of the learning request types look in the OpenAPI document (`#[schema(schema_with = ...)]`).
//! Each schema states what its validator in [`crate::validate`] or the use case accepts; the tests below hold the
//! patterns to the validators. Rules that depend on the date or on stored state (a birth year in the future, a
//! zone name the database does not know) are stated in the descriptions.

use lectern_shared::http::constraints::{self, or_null, string};
use serde_json::json;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use crate::profiles::{
    AVATAR_TYPES, MAX_BIRTH_YEAR, MAX_CHILD_AGE, MAX_PROFILE_NAME, MIN_BIRTH_YEAR,
};
use crate::validate::{MAX_PREFERENCES_BYTES, MAX_PREFERENCES_DEPTH};
use lectern_shared::locale::{self, LOCALE_PATTERN, MAX_LOCALE};

/// A profile's display name.
pub fn profile_name() -> Object {
    constraints::trimmed_text(MAX_PROFILE_NAME, "The name shown for the profile.")
}

/// [`profile_name`] or `null` (unchanged).
pub fn profile_name_or_null() -> Object {
    or_null(profile_name())
}

/// A birth year (only the year is kept).
pub fn birth_year() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(MIN_BIRTH_YEAR))
        .maximum(Some(MAX_BIRTH_YEAR))
        .description(Some(format!(
            "Year of birth; only the year is kept. Refused (400 on this field) when after the current year, or, \
             for a child profile, more than {MAX_CHILD_AGE} years before it."
        )))
        .examples([json!(2020)])
        .build()
}

/// [`birth_year`] or `null` (unchanged).
pub fn birth_year_or_null() -> Object {
    or_null(birth_year())
}

/// A locale or `null`.
pub fn locale_or_null() -> Object {
    or_null(locale::locale_schema())
}

/// A time zone or `null` (UTC when creating; unchanged when updating).
pub fn timezone_or_null() -> Object {
    or_null(locale::timezone_schema(
        ": the profile's days (streaks, allowed hours) are counted in it",
    ))
}

/// Preferences or `null`.
pub fn preferences_or_null() -> Object {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!(
                "The app's settings for this profile, any JSON object: at most {MAX_PREFERENCES_BYTES} bytes as \
                 compact JSON and {MAX_PREFERENCES_DEPTH} levels deep (400 on this field beyond). Replaces the \
                 whole object."
            )))
            .examples([json!({"sound": true, "reading": {"font": "large"}})])
            .build(),
    )
}

/// A game's title.
pub fn game_title() -> Object {
    constraints::trimmed_text(crate::catalog::MAX_TITLE, "The game's title.")
}

/// An onboarding step's title.
pub fn step_title() -> Object {
    constraints::trimmed_text(
        crate::onboarding::MAX_STEP_TITLE,
        "What the step asks, shown to the account.",
    )
}

/// The roles an onboarding step is shown to.
pub fn step_roles() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(string().pattern(Some(crate::catalog::SLUG_PATTERN)))
        .max_items(Some(crate::onboarding::MAX_STEP_ROLES))
        .description(Some(
            "The roles that see the step (slugs, e.g. `parent`); empty: every account.",
        ))
        .build()
}

/// A game's skills.
pub fn skills() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(string().pattern(Some(crate::catalog::SLUG_PATTERN)))
        .min_items(Some(1))
        .max_items(Some(crate::catalog::MAX_SKILLS))
        .description(Some(
            "Skills the game trains (slugs); duplicates count once.",
        ))
        .build()
}

/// A game's texts by locale.
pub fn locales() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(crate::catalog::MAX_LOCALES))
        .property_names(Some(
            string()
                .pattern(Some(LOCALE_PATTERN))
                .max_length(Some(MAX_LOCALE)),
        ))
        .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("LocaleText")))
        .description(Some("Texts by BCP 47 locale."))
        .build()
}

/// An achievement's name.
pub fn achievement_name() -> Object {
    constraints::trimmed_text(
        crate::achievements::MAX_ACHIEVEMENT_NAME,
        "The achievement's name.",
    )
}

/// An achievement's rule: one object per kind, each refusing fields of the others (as the deserializer does).
pub fn achievement_rule() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use crate::achievements::MAX_RULE_NUMBER;
    let number = json!({"type": "integer", "minimum": 1, "maximum": MAX_RULE_NUMBER});
    let id = json!({"type": "string", "pattern": constraints::ID_PATTERN});
    let slug = json!({"type": "string", "pattern": crate::catalog::SLUG_PATTERN});
    let kind = |name: &str, fields: serde_json::Value| {
        let mut properties = fields.as_object().cloned().unwrap_or_default();
        properties.insert("kind".into(), json!({"type": "string", "enum": [name]}));
        let mut required: Vec<String> = properties.keys().cloned().collect();
        required.sort();
        json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
    };
    let schema = json!({
        "description": "What earns the achievement, by `kind`: `first_completion`; `completions` (`count`); \
            `score_at_least` (`game_id`, `score`); `streak` of `days` consecutive days; `module_completed` \
            (`module_id`); `total_time` (`seconds`); `category_complete` (every published game of `category`).",
        "oneOf": [
            kind("first_completion", json!({})),
            kind("completions", json!({"count": number})),
            kind("score_at_least", json!({"game_id": id, "score": number})),
            kind("streak", json!({"days": number})),
            kind("module_completed", json!({"module_id": id})),
            kind("total_time", json!({"seconds": number})),
            kind("category_complete", json!({"category": slug})),
        ]
    });
    serde_json::from_value(schema).unwrap_or_else(|_| utoipa::openapi::RefOr::T(Default::default()))
}

/// A curriculum module's title.
pub fn module_title() -> Object {
    constraints::trimmed_text(crate::curriculum::MAX_MODULE_TITLE, "The module's title.")
}

/// Ids, as a list of `min..=max` (duplicates count once).
fn ids(min: usize, max: usize, description: &str) -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(string().pattern(Some(constraints::ID_PATTERN)))
        .min_items(Some(min))
        .max_items(Some(max))
        .description(Some(description))
        .build()
}

/// A module's games.
pub fn module_games() -> utoipa::openapi::schema::Array {
    ids(
        1,
        crate::curriculum::MAX_MODULE_GAMES,
        "Ids of the games to complete: existing games, not deleted (400 on this field otherwise); duplicates \
         count once.",
    )
}

/// A module's prerequisites.
pub fn prerequisites() -> utoipa::openapi::schema::Array {
    ids(
        0,
        crate::curriculum::MAX_PREREQUISITES,
        "Ids of the modules to complete first: existing modules (400 on this field otherwise), never forming a \
         cycle (409 `prerequisite-cycle`); duplicates count once.",
    )
}

/// A profile's blocked games.
pub fn blocked_games() -> utoipa::openapi::schema::Array {
    ids(
        0,
        crate::controls::MAX_BLOCKED_GAMES,
        "Ids of games the profile may not play or see; duplicates count once.",
    )
}

/// A profile's blocked categories.
pub fn blocked_categories() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(string().pattern(Some(crate::catalog::SLUG_PATTERN)))
        .max_items(Some(crate::controls::MAX_BLOCKED_CATEGORIES))
        .description(Some(
            "Category slugs the profile may not play or see; duplicates count once.",
        ))
        .build()
}

/// An avatar's media type.
pub fn avatar_type() -> Object {
    string().enum_values(Some(AVATAR_TYPES.to_vec())).build()
}

#[cfg(test)]
mod tests {
    use lectern_shared::testing::string_schema_accepts;

    use super::*;
    use crate::validate::trimmed_text;
    use lectern_shared::locale::{timezone_shape, valid_locale};

    fn samples() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            " ",
            "a",
            "en",
            "pt-BR",
            "zh-Hant-TW",
            "en-",
            "-en",
            "engl",
            "en_US",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "/Europe",
            "Europe//Paris",
            "Europe/",
            "Etc/GMT+5",
            "UTC",
            " Ada ",
            "Ada\tB",
            "\u{a0}Ada",
            "Ada\u{1c}",
            "été",
        ]
        .map(String::from)
        .to_vec();
        for n in [39, 40, 41, 63, 64, 65] {
            all.push("n".repeat(n));
            all.push(format!(" {} ", "é".repeat(n)));
            all.push("A/".repeat(n / 2));
        }
        all
    }

    #[test]
    fn slugs_and_terms_are_their_validators() {
        use crate::catalog::{SLUG_PATTERN, TERM_PATTERN, normalize_term};
        let slug = string().pattern(Some(SLUG_PATTERN)).build();
        let term = string().pattern(Some(TERM_PATTERN)).build();
        let slug_of = |s: &str| {
            crate::catalog::validate_game(crate::catalog::GameInput {
                title: "T".into(),
                description: String::new(),
                rules: String::new(),
                min_age: 1,
                max_age: 2,
                category: s.into(),
                skills: vec!["x".into()],
                difficulty: crate::catalog::Difficulty::Easy,
                estimated_minutes: 1,
                assets: vec![],
                locales: Default::default(),
                variants: vec![],
            })
            .is_ok()
        };
        for s in [
            "a",
            "ab",
            "a-b",
            "-a",
            "a-",
            "A",
            "a_b",
            "",
            "abcdefghijabcdefghijabcdefghijab",
            "abcdefghijabcdefghijabcdefghijabc",
            "9",
            "é",
        ] {
            assert_eq!(string_schema_accepts(&slug, s), slug_of(s), "slug {s:?}");
            assert_eq!(
                string_schema_accepts(&term, s),
                normalize_term(s).is_some(),
                "term {s:?}"
            );
        }
    }

    #[test]
    fn the_rule_schema_has_one_closed_object_per_kind() {
        let schema = serde_json::to_value(achievement_rule()).unwrap();
        let kinds = schema["oneOf"].as_array().unwrap();
        assert_eq!(kinds.len(), 7);
        for kind in kinds {
            assert_eq!(kind["additionalProperties"], false);
            let name = kind["properties"]["kind"]["enum"][0].as_str().unwrap();
            let sample = serde_json::json!({"kind": name, "count": 1, "score": 1, "days": 1, "seconds": 1,
                "game_id": "01JGAME0000000000000000000", "module_id": "01JGAME0000000000000000000",
                "category": "numbers"});
            let mut only: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
            for field in kind["required"].as_array().unwrap() {
                let field = field.as_str().unwrap();
                only.insert(field.into(), sample[field].clone());
            }
            assert!(
                serde_json::from_value::<crate::achievements::Rule>(only.into()).is_ok(),
                "{name}: the schema's fields are the deserializer's"
            );
        }
    }

    #[test]
    fn string_schemas_are_their_validators() {
        let name_ok = |s: &str| trimmed_text(s, MAX_PROFILE_NAME).is_some();
        type Check<'a> = &'a dyn Fn(&str) -> bool;
        let pairs: [(&str, Object, Check); 3] = [
            ("locale", locale_or_null(), &valid_locale),
            ("timezone", timezone_or_null(), &timezone_shape),
            ("name", profile_name(), &name_ok),
        ];
        for (what, schema, check) in pairs {
            for s in samples() {
                assert_eq!(
                    string_schema_accepts(&schema, &s),
                    check(&s),
                    "{what}: {s:?}"
                );
            }
        }
    }
}
