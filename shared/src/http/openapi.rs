//! Pieces of the OpenAPI document every function shares: the problem schema, the security schemes, and the
//! answers an operation gets from the layers and extractors around its handler.
//!
//! A handler's `#[utoipa::path]` lists only what the handler itself decides (its success, and refusals such as a
//! missing permission or an unknown id). What follows from how the operation is served is added here, from what
//! the operation declares, by [`document_common_responses`] (see [`super::routes::Routes`]):
//!
//! | the operation...                        | can answer                                                      |
//! |-----------------------------------------|-----------------------------------------------------------------|
//! | takes a JSON body ([`super::Json`])     | 400 (malformed JSON, a field of the wrong shape), 413, 415      |
//! | takes path or query parameters          | 400 (a parameter of the wrong shape)                            |
//! | declares `security` ([`super::auth::Identity`]) | 401; 503 when the credentials cannot be checked (store down) |
//! | is rate limited (a [`RouteClass`])      | 429 with `Retry-After`; 503 when a fail-closed class cannot count |
//! | is secured or rate limited              | 500: both read the store, and so do the handlers behind them     |
//!
//! Every 4xx/5xx answer, declared by a handler or added here, is `application/problem+json` ([`Problem`]).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, KnownFormat, ObjectBuilder, OpenApi, Ref, RefOr, Response,
    ResponseBuilder, SchemaFormat, Type,
};

use super::problem::{self, FieldError, Problem};
use crate::ratelimit::RouteClass;

/// Name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";
/// Name of the API-key security scheme.
pub const API_KEY: &str = "api_key";

/// The answers many operations share, documented once under `components.responses`: (status, name, description).
const SHARED: [(&str, &str, &str); 7] = [
    (
        "400",
        "BadRequest",
        "Invalid input: `malformed-json`, or `validation` with `errors` naming each field (`email`, \
         `query.limit`, `path.user_id`...)",
    ),
    (
        "401",
        "Unauthenticated",
        "No credentials, or credentials that are invalid, expired or revoked (`unauthenticated`)",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is over the configured limit (`payload-too-large`)",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not `application/json` (`unsupported-media-type`)",
    ),
    (
        "429",
        "RateLimited",
        "Over a rate limit (`rate-limited`); retry after `Retry-After` seconds",
    ),
    (
        "500",
        "Internal",
        "Our fault (`internal`); quote the `request_id` if you report it",
    ),
    (
        "503",
        "Unavailable",
        "A dependency is unavailable (`unavailable`); retry, after `Retry-After` seconds when given",
    ),
];

fn shared_ref(status: &str) -> RefOr<Response> {
    let name = SHARED
        .iter()
        .find(|(code, _, _)| *code == status)
        .map_or("Internal", |(_, name, _)| *name);
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}

/// A problem+json response, for `responses(...)` in route docs.
pub fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(problem::CONTENT_TYPE, problem_content())
            .build(),
    )
}

fn problem_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

/// Adds the shared components (schemas, security schemes, shared responses) to a document.
pub fn add_shared_components(doc: &mut OpenApi) {
    use utoipa::PartialSchema;
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Problem".into(), <Problem as PartialSchema>::schema());
    components
        .schemas
        .insert("FieldError".into(), <FieldError as PartialSchema>::schema());
    components.security_schemes.insert(
        BEARER.into(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.security_schemes.insert(
        API_KEY.into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
    );
    for (status, name, description) in SHARED {
        let response = match problem_response(description) {
            RefOr::T(mut response) if status == "429" || status == "503" => {
                response.headers.insert("Retry-After".into(), retry_after());
                RefOr::T(response)
            }
            other => other,
        };
        components.responses.insert(name.into(), response);
    }
}

fn retry_after() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        )
        .description(Some("Seconds to wait before retrying"))
        .build()
}

/// Adds to every operation of `doc` the answers it can get from how it is served (see the module docs), and
/// makes every error answer a problem+json one. `class` is the rate-limit class guarding these operations.
pub fn document_common_responses(doc: &mut OpenApi, class: Option<RouteClass>) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            add_common(operation, class);
        }
    }
}

/// A view that flattens a request type (`#[serde(flatten)]` of a `deny_unknown_fields` body, as a game's view
/// flattens what its author wrote) is described as `allOf` that request's schema and the view's own fields; the
/// request's `additionalProperties: false` would then refuse the view's own fields in every answer. Each such
/// member becomes an inline copy of the request schema without that restriction (requests keep it).
pub fn open_flattened_requests(doc: &mut OpenApi) {
    let Ok(serde_json::Value::Object(mut json)) = serde_json::to_value(&*doc) else {
        return;
    };
    let Some(schemas) = json
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let closed: std::collections::BTreeMap<String, serde_json::Value> = schemas
        .iter()
        .filter(|(_, s)| s["additionalProperties"] == serde_json::Value::Bool(false))
        .map(|(name, s)| {
            let mut open = s.clone();
            if let Some(o) = open.as_object_mut() {
                o.remove("additionalProperties");
            }
            (format!("#/components/schemas/{name}"), open)
        })
        .collect();
    let mut changed = false;
    for schema in schemas.values_mut() {
        for member in schema
            .get_mut("allOf")
            .and_then(serde_json::Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(open) = member["$ref"].as_str().and_then(|r| closed.get(r)) {
                *member = open.clone();
                changed = true;
            }
        }
    }
    if changed && let Ok(opened) = serde_json::from_value(serde_json::Value::Object(json)) {
        *doc = opened;
    }
}

/// Whether an operation lists the API-key security scheme (the routes API keys may call).
pub fn accepts_api_keys(operation: &Operation) -> bool {
    operation.security.iter().flatten().any(|requirement| {
        serde_json::to_value(requirement)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.contains_key(API_KEY)))
            .unwrap_or(false)
    })
}

fn add_common(operation: &mut Operation, class: Option<RouteClass>) {
    let has_body = operation.request_body.is_some();
    let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut statuses = Vec::new();
    if has_body {
        statuses.extend(["400", "413", "415"]);
    }
    if has_params {
        statuses.push("400");
    }
    if secured {
        statuses.extend(["401", "503"]);
    }
    if let Some(class) = class {
        statuses.push("429");
        if !class.fails_open() {
            statuses.push("503");
        }
    }
    if secured || class.is_some() {
        statuses.push("500");
    }
    let session_only = secured && !accepts_api_keys(operation);
    let responses = &mut operation.responses.responses;
    for status in statuses {
        responses
            .entry(status.to_string())
            .or_insert_with(|| shared_ref(status));
    }
    // A secured route that does not list the API-key scheme refuses keys with 403 (`SessionIdentity`): say so,
    // beside whatever else the route answers 403 for.
    if session_only {
        const KEYS: &str = "an API key was sent: this route needs a signed-in session";
        match responses.get_mut("403") {
            Some(RefOr::T(response)) if !response.description.contains(KEYS) => {
                response.description = format!("{}; or {KEYS}", response.description);
            }
            Some(_) => {}
            None => {
                responses.insert(
                    "403".to_string(),
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(format!("`forbidden`: {KEYS}"))
                            .build(),
                    ),
                );
            }
        }
    }
    // A handler's own error answers (`(status = 404, description = "...")`) carry no body in its attribute;
    // every error body is a problem.
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let RefOr::T(response) = response
            && is_error
            && response.content.is_empty()
        {
            response
                .content
                .insert(problem::CONTENT_TYPE.to_string(), problem_content());
        }
    }
}
