//! Pieces of the OpenAPI document every function shares: the problem schema, the standard error responses and
//! the security schemes. Each function derives its own `OpenApi` and the dev server merges them into the
//! document committed as `docs/openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};

use super::problem::{FieldError, Problem};

/// Name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";
/// Name of the API-key security scheme.
pub const API_KEY: &str = "api_key";

/// A problem+json response, for `responses(...)` in route docs.
pub fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                super::problem::CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

/// Adds the shared components (schemas, security schemes) to a document.
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
    // Every route may answer these; documenting them once keeps route docs short.
    for (code, description) in [
        ("400", "Invalid input (problem+json naming the fields)"),
        ("413", "Request body over the configured limit"),
        ("429", "Rate limited; see Retry-After"),
        ("500", "Internal error; quote the request id"),
    ] {
        components
            .responses
            .insert(format!("E{code}"), problem_response(description));
    }
}
