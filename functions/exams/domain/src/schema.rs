//! How the fields of the exams request types look in the OpenAPI document (`#[schema(schema_with = ...)]`). Each
//! schema states what the validator it names accepts, from the same constants; the tests below hold the patterns
//! to the validators.

use lectern_shared::http::constraints::WHITE_SPACE;
use lectern_shared::http::constraints::{self, or_null, string};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};

use crate::hierarchy::{MAX_CODE, MAX_DESCRIPTION, MAX_NAME};
use crate::questions::MAX_COMMENT;
use crate::questions::model::AnswerInput;
use crate::questions::model::{
    MAX_ACCEPTED, MAX_ACCEPTED_TEXT, MAX_OPTION, MAX_OPTIONS, MAX_RICH_TEXT, MAX_RUBRIC, MAX_TAGS,
    MAX_WORDS, MIN_OPTIONS,
};
use crate::questions::moderation::{MAX_BATCH, MAX_REASON};
use crate::text::{MAX_SLUG, SLUG_PATTERN};

/// An id or `null`.
pub fn id_or_null() -> Object {
    or_null(constraints::id())
}

/// A node's name (`text::trimmed` with [`MAX_NAME`]).
pub fn node_name() -> Object {
    constraints::trimmed_text(MAX_NAME, "The node's name.")
}

/// [`node_name`] or `null` (unchanged).
pub fn node_name_or_null() -> Object {
    or_null(node_name())
}

/// A node's code, e.g. `CSC 201`, or `null` (none / unchanged).
pub fn node_code() -> Object {
    or_null(constraints::trimmed_text(
        MAX_CODE,
        "A short code, e.g. `CSC 201`.",
    ))
}

/// A node's description or `null` (none / unchanged).
pub fn node_description() -> Object {
    or_null(constraints::trimmed_text(MAX_DESCRIPTION, "A description."))
}

/// A course level (`hierarchy::valid_level`) or `null`.
pub fn course_level_or_null() -> Object {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(100))
            .maximum(Some(900))
            .multiple_of(Some(100.0))
            .description(Some("Courses only: 100, 200, ... 900."))
            .build(),
    )
}

/// Rich text (`model::check_rich_text`): 1 to [`MAX_RICH_TEXT`] characters, not only white space.
pub fn rich_text() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_RICH_TEXT))
        .pattern(Some(format!("[^{WHITE_SPACE}]")))
        .description(Some(
            "HTML. Kept to a safe subset: scripts, styles, event handlers and `javascript:` URLs are removed; \
             text that would sanitize to nothing is kept escaped.",
        ))
        .build()
}

/// [`rich_text`] or `null` (none).
pub fn rich_text_or_null() -> Object {
    or_null(rich_text())
}

/// A slug ([`SLUG_PATTERN`]).
pub fn slug() -> Object {
    string()
        .pattern(Some(SLUG_PATTERN))
        .max_length(Some(MAX_SLUG))
        .build()
}

/// A slug or `null` (none).
pub fn slug_or_null() -> Object {
    or_null(slug())
}

/// Tags (`model::check_tags`).
pub fn tags() -> Array {
    ArrayBuilder::new()
        .items(slug())
        .max_items(Some(MAX_TAGS))
        .description(Some("Slugs; duplicates count once."))
        .build()
}

/// Options of a choice question: plain text.
pub fn options() -> Array {
    ArrayBuilder::new()
        .items(constraints::trimmed_text(MAX_OPTION, "Plain text."))
        .min_items(Some(MIN_OPTIONS))
        .max_items(Some(MAX_OPTIONS))
        .build()
}

/// Positions of the right options (each below the number of options; checked against them).
pub fn correct_positions() -> Array {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(MAX_OPTIONS as f64 - 1.0)))
        .min_items(Some(1))
        .max_items(Some(MAX_OPTIONS))
        .description(Some(
            "Positions (from 0) of the right options, each below the number of options: exactly one distinct \
             position for `single_choice`.",
        ))
        .build()
}

/// The answer part of a question: [`AnswerInput`]'s own schema, each variant closed to other properties (as
/// `deny_unknown_fields` closes it; utoipa states that only for structs).
pub fn answer_input() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    closed_variants(<AnswerInput as utoipa::PartialSchema>::schema())
}

/// A learner's response in an exam: [`crate::exams::scoring::Response`]'s schema, each variant closed.
pub fn exam_response() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    closed_variants(<crate::exams::scoring::Response as utoipa::PartialSchema>::schema())
}

/// A `oneOf` schema with each object variant closed to other properties.
fn closed_variants(
    mut schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    if let RefOr::T(Schema::OneOf(one_of)) = &mut schema {
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(object)) = item {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
    schema
}

/// A mix of difficulties (`selection::Mix::parse`).
pub fn mix() -> Object {
    string()
        .pattern(Some(crate::questions::selection::MIX_PATTERN))
        .description(Some(
            "Weights by difficulty, e.g. `easy:30,medium:50,hard:20`: each difficulty at most once, weights 0 to \
             1000, not all 0. Absent: in proportion to the pool.",
        ))
        .build()
}

/// A mix or `adaptive` (`GET /v1/questions/random`): `^(?:adaptive|<MIX_PATTERN without its anchors>)$`, written
/// out (a `const` cannot be formatted); a test holds it to `MIX_PATTERN`.
pub const RANDOM_MIX_PATTERN: &str = "^(?:adaptive|(?:easy|medium|hard):(?:1000|[1-9][0-9]{0,2}|0)(?:,(?:easy|medium|hard):(?:1000|[1-9][0-9]{0,2}|0)){0,2})$";

/// The `mix` of a random draw: a mix, or `adaptive`.
pub fn random_mix() -> Object {
    string()
        .pattern(Some(RANDOM_MIX_PATTERN))
        .description(Some(
            "Weights by difficulty, e.g. `easy:30,medium:50,hard:20` (each difficulty at most once, weights 0 to \
             1000, not all 0), or `adaptive`: weights from your ability in the topic (the mean over the course's \
             topics for a course), aiming at a 70% success rate. Absent: in proportion to the pool.",
        ))
        .build()
}

/// [`mix`] or `null`.
pub fn mix_or_null() -> Object {
    or_null(mix())
}

/// An option id of a choice question.
pub fn option_id() -> Object {
    string()
        .pattern(Some("^[a-z0-9]{6}$"))
        .description(Some("An option id from the question's `options`."))
        .build()
}

/// Option ids of a choice question.
pub fn option_ids() -> Array {
    ArrayBuilder::new()
        .items(option_id())
        .max_items(Some(MAX_OPTIONS))
        .description(Some(
            "Option ids from the question's `options`; duplicates count once.",
        ))
        .build()
}

/// A short-text response (`scoring::Response::checked`).
pub fn short_text_response() -> Object {
    string()
        .max_length(Some(crate::exams::scoring::MAX_SHORT_TEXT))
        .build()
}

/// An essay (`scoring::Response::checked`): at most [`crate::exams::scoring::MAX_ESSAY`] characters once trimmed,
/// and the question's `max_words`.
pub fn essay_response() -> Object {
    string()
        .max_length(Some(crate::exams::scoring::MAX_ESSAY))
        .description(Some("Plain text, within the question's `max_words`."))
        .build()
}

/// Topic ids of an exam's source, or `null`.
pub fn topic_ids() -> Array {
    nullable_ids(crate::exams::model::MAX_TOPICS, "Distinct topic ids.")
}

/// Question ids of an exam's source, or `null`.
pub fn question_ids() -> Array {
    nullable_ids(
        crate::exams::model::MAX_QUESTIONS,
        "Distinct ids of approved questions.",
    )
}

fn nullable_ids(max: usize, description: &str) -> Array {
    use utoipa::openapi::schema::SchemaType;
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(constraints::id())
        .min_items(Some(1))
        .max_items(Some(max))
        .description(Some(description))
        .build()
}

/// Grading feedback, or `null`.
pub fn feedback() -> Object {
    or_null(constraints::trimmed_text(
        crate::exams::model::MAX_FEEDBACK,
        "A note for the learner.",
    ))
}

/// The grades of one request.
pub fn grades() -> Array {
    ArrayBuilder::new()
        .items(<crate::exams::model::Grade as utoipa::PartialSchema>::schema())
        .min_items(Some(1))
        .max_items(Some(crate::exams::model::MAX_GRADES))
        .build()
}

/// A finite number.
pub fn finite_number() -> Object {
    ObjectBuilder::new().schema_type(Type::Number).build()
}

/// A tolerance: 0 or more.
pub fn tolerance() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .build()
}

/// Accepted short answers.
pub fn accepted() -> Array {
    ArrayBuilder::new()
        .items(constraints::trimmed_text(
            MAX_ACCEPTED_TEXT,
            "An accepted answer.",
        ))
        .min_items(Some(1))
        .max_items(Some(MAX_ACCEPTED))
        .build()
}

/// An essay rubric or `null`.
pub fn rubric() -> Object {
    or_null(constraints::trimmed_text(
        MAX_RUBRIC,
        "How the essay is graded.",
    ))
}

/// The most words of an essay, or `null` (no limit).
pub fn max_words() -> Object {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_WORDS))
            .build(),
    )
}

/// A comment body.
pub fn comment_body() -> Object {
    constraints::trimmed_text(MAX_COMMENT, "Plain text.")
}

/// A rejection reason.
pub fn reason() -> Object {
    constraints::trimmed_text(MAX_REASON, "Why, for the author.")
}

/// The ids of a batch.
pub fn batch_ids() -> Array {
    ArrayBuilder::new()
        .items(constraints::id())
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH))
        .description(Some("Duplicates are answered once."))
        .build()
}

/// `#[serde(deserialize_with = "whole_positions")]`: positions that JSON Schema may send as `1.0`.
pub fn whole_positions<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<usize>, D::Error> {
    use serde::Deserialize;
    let numbers = Vec::<serde_json::Number>::deserialize(deserializer)?;
    numbers
        .into_iter()
        .map(|n| {
            n.as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e9)
                        .map(|f| f as u64)
                })
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| serde::de::Error::custom("positions are whole numbers from 0"))
        })
        .collect()
}

/// `#[serde(deserialize_with = "whole_u64")]` for a required whole number that JSON Schema may send as `3.0`.
pub fn whole_u64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    lectern_shared::http::extract::whole_number(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("a whole number is required"))
}

#[cfg(test)]
mod tests {
    use lectern_shared::testing::string_schema_accepts;

    use super::*;
    use crate::text;

    fn samples() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            " ",
            "a",
            " Physics ",
            "a\tb",
            "\u{7}x",
            "x\u{85}",
            "CSC 201",
            "名前",
            "a-b",
            "-a",
            "A",
            "a#b",
        ]
        .map(String::from)
        .to_vec();
        for n in [
            19, 20, 21, 39, 40, 41, 119, 120, 121, 999, 1000, 1001, 1999, 2000, 2001,
        ] {
            all.push("n".repeat(n));
            all.push(format!(" {} ", "é".repeat(n)));
        }
        all
    }

    #[test]
    fn string_schemas_are_their_validators() {
        for (name, schema, max) in [
            ("comment", comment_body(), MAX_COMMENT),
            ("reason", reason(), MAX_REASON),
            ("name", node_name(), MAX_NAME),
            ("code", node_code(), MAX_CODE),
            ("description", node_description(), MAX_DESCRIPTION),
        ] {
            for s in samples() {
                assert_eq!(
                    string_schema_accepts(&schema, &s),
                    text::trimmed(name, &s, max).is_ok(),
                    "{name}: {s:?}"
                );
            }
        }
    }
}

#[cfg(test)]
mod rich_text_tests {
    use lectern_shared::testing::string_schema_accepts;

    use super::*;

    #[test]
    fn rich_text_and_slug_schemas_are_their_validators() {
        let mut samples: Vec<String> = [
            "", " ", "\n\t", "<p>x</p>", " x ", "\u{3000}", "a-b", "-a", "A", "a#b", "ab1",
        ]
        .map(String::from)
        .to_vec();
        for n in [39, 40, 41, 19_999, 20_000, 20_001] {
            samples.push("x".repeat(n));
        }
        for s in samples {
            assert_eq!(
                string_schema_accepts(&rich_text(), &s),
                crate::questions::model::check_rich_text("stem", &s).is_ok(),
                "rich text {s:?}"
            );
            assert_eq!(
                string_schema_accepts(&slug(), &s),
                crate::text::slug("tag", &s).is_ok(),
                "slug {s:?}"
            );
        }
    }
}

/// An assignment's title.
pub fn assignment_title() -> Object {
    constraints::trimmed_text(crate::assignments::MAX_TITLE, "The assignment's title.")
}
