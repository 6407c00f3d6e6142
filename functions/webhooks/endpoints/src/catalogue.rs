//! The event catalogue in the OpenAPI document: one entry per event type in the document's `webhooks` object
//! (OpenAPI 3.1's place for requests the API makes to its clients), each with the three Standard Webhooks headers
//! and its payload, whose `data` is a component schema. utoipa 5 has no `webhooks` field, and `OpenApi::merge`
//! drops extensions, so the object is added to the merged document ([`add_to`], called by the dev server's
//! `openapi` command) — serialized at the document's root through the flattened extensions map, where OpenAPI 3.1
//! expects it.

use lectern_messages::webhooks::{
    ACHIEVEMENT_EARNED, AchievementEarnedData, EXAM_SUBMITTED, ExamSubmittedData,
    PROGRESS_RECORDED, ProgressRecordedData, QUESTION_APPROVED, QuestionApprovedData,
    USER_REGISTERED, UserRegisteredData, WebhookTestData,
};
use serde_json::{Value, json};
use utoipa::openapi::{ComponentsBuilder, OpenApi};
use utoipa::{PartialSchema, ToSchema};

/// Every event type with its summary and the name of its data schema (the catalogue, in order), and the test
/// message.
pub const EVENTS: [(&str, &str, &str); 6] = [
    (
        USER_REGISTERED,
        "An account registered",
        "UserRegisteredData",
    ),
    (
        PROGRESS_RECORDED,
        "A learner profile recorded a result",
        "ProgressRecordedData",
    ),
    (
        ACHIEVEMENT_EARNED,
        "A learner profile earned an achievement",
        "AchievementEarnedData",
    ),
    (
        EXAM_SUBMITTED,
        "A learner submitted an exam",
        "ExamSubmittedData",
    ),
    (
        QUESTION_APPROVED,
        "A reviewer approved a question",
        "QuestionApprovedData",
    ),
    (
        "webhook.test",
        "A test message its owner sent (POST /v1/webhooks/{endpoint_id}/test)",
        "WebhookTestData",
    ),
];

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": true, "description": description,
        "schema": {"type": "string"}})
}

/// The `webhooks` object.
pub fn webhooks() -> Value {
    let mut object = serde_json::Map::new();
    for (event_type, summary, schema) in EVENTS {
        object.insert(
            event_type.to_string(),
            json!({"post": {
                "summary": summary,
                "description": "Sent to every enabled endpoint subscribed to this type. Verify `webhook-signature` (see the README's webhook verification recipe), answer 2xx within 15 seconds; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (plus up to 10% jitter). 410 disables the endpoint at once, and so do 5 days of failures.",
                "tags": ["webhooks"],
                "parameters": [
                    header("webhook-id", "The message id (`msg_…`): the same on every retry; deduplicate on it"),
                    header("webhook-timestamp", "When this attempt was signed (epoch seconds); refuse ones far from now"),
                    header("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256>` entries, one per live secret (two during a rotation's overlap)"),
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "const": event_type},
                        "timestamp": {"type": "string", "format": "date-time", "description": "When the event happened"},
                        "data": {"$ref": format!("#/components/schemas/{schema}")}
                    }
                }}}},
                "responses": {
                    "2XX": {"description": "Received"},
                    "410": {"description": "Gone: the endpoint is disabled and receives nothing more"}
                }
            }}),
        );
    }
    Value::Object(object)
}

/// The data schemas, as components of the function's own fragment (merged like any other).
pub fn components() -> utoipa::openapi::Components {
    fn named<T: ToSchema + PartialSchema>(builder: ComponentsBuilder) -> ComponentsBuilder {
        builder.schema(T::name(), T::schema())
    }
    let mut builder = ComponentsBuilder::new();
    builder = named::<UserRegisteredData>(builder);
    builder = named::<ProgressRecordedData>(builder);
    builder = named::<AchievementEarnedData>(builder);
    builder = named::<ExamSubmittedData>(builder);
    builder = named::<QuestionApprovedData>(builder);
    builder = named::<WebhookTestData>(builder);
    builder.build()
}

/// Adds the `webhooks` object to a (merged) document.
pub fn add_to(doc: &mut OpenApi) {
    doc.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), webhooks());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_event_type_is_documented_with_a_defined_schema() {
        let doc = webhooks();
        let components = components();
        for event_type in lectern_messages::webhooks::EVENT_TYPES {
            let entry = &doc[event_type]["post"];
            let reference =
                entry["requestBody"]["content"]["application/json"]["schema"]["properties"]["data"]
                    ["$ref"]
                    .as_str()
                    .unwrap();
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(components.schemas.contains_key(name), "{event_type}");
        }
    }
}
