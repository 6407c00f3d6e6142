//! Routes declared once: a `Routes` serves what it documents, and each operation's document carries the answers its
//! body, parameters, security and rate-limit class can cause, as problem+json.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use lectern_shared::clock::SystemClock;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::extract::{parse_json, whole_number};
use lectern_shared::http::openapi::add_shared_components;
use lectern_shared::http::{Json, Path, Routes};
use lectern_shared::ids::Id;
use lectern_shared::ratelimit::{ClassLimits, Limit, RateLimitConfig, RateLimiter, RouteClass};
use lectern_shared::testing::embedded;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Note {
    #[allow(dead_code)]
    text: String,
}

/// Write a note.
#[utoipa::path(post, path = "/v1/notes", request_body = Note, responses((status = 204)))]
async fn write(Json(_note): Json<Note>) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Read a note of the caller's.
#[utoipa::path(get, path = "/v1/notes/{id}", params(("id" = inline(Id), Path)), security(("bearer" = [])),
    responses((status = 200), (status = 404, description = "No such note")))]
async fn read(_who: SessionIdentity, Path(_id): Path<Id>) -> StatusCode {
    StatusCode::OK
}

/// Public and free.
#[utoipa::path(get, path = "/v1/ping", responses((status = 200)))]
async fn ping() -> StatusCode {
    StatusCode::OK
}

#[derive(OpenApi)]
#[openapi(tags((name = "notes")))]
struct Doc;

fn routes() -> Routes<()> {
    Routes::new(Doc::openapi())
        .limited(
            RouteClass::Auth,
            OpenApiRouter::new().routes(routes!(write)),
        )
        .limited(
            RouteClass::General,
            OpenApiRouter::new().routes(routes!(read)),
        )
        .unlimited(OpenApiRouter::new().routes(routes!(ping)))
}

fn statuses(doc: &Value, path: &str, method: &str) -> Vec<String> {
    doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} documented"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn each_operation_documents_what_its_layers_and_extractors_answer() {
    let mut doc = routes().openapi();
    add_shared_components(&mut doc);
    let doc = serde_json::to_value(&doc).unwrap();
    // A JSON body: 400, 413, 415; the fail-closed Auth class: 429 and 503; the store behind both: 500.
    assert_eq!(
        statuses(&doc, "/v1/notes", "post"),
        ["204", "400", "413", "415", "429", "500", "503"]
    );
    // A path parameter: 400; security: 401 and 503; a session-only route (no `api_key` scheme) refuses keys: 403;
    // the General class fails open, so its 503 is security's.
    assert_eq!(
        statuses(&doc, "/v1/notes/{id}", "get"),
        ["200", "400", "401", "403", "404", "429", "500", "503"]
    );
    // Nothing around it can fail.
    assert_eq!(statuses(&doc, "/v1/ping", "get"), ["200"]);
    let read = &doc["paths"]["/v1/notes/{id}"]["get"]["responses"];
    assert_eq!(
        read["401"]["$ref"],
        "#/components/responses/Unauthenticated"
    );
    assert_eq!(
        read["404"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem",
        "a handler's own error answer is a problem too"
    );
    assert_eq!(
        doc["components"]["responses"]["RateLimited"]["headers"]["Retry-After"]["schema"]["type"],
        "integer"
    );
    let id = &doc["paths"]["/v1/notes/{id}"]["get"]["parameters"][0]["schema"];
    assert_eq!(id["pattern"], lectern_shared::http::constraints::ID_PATTERN);
}

#[tokio::test]
async fn the_router_serves_the_documented_routes_behind_their_class_limits() {
    let (table, _dir) = embedded::table(Arc::new(SystemClock));
    let one = Limit::per_minute(1);
    let wide = Limit::per_minute(1000);
    let config = RateLimitConfig {
        enabled: true,
        per_ip: ClassLimits {
            auth: one,
            general: wide,
            expensive: wide,
            failures: wide,
        },
        per_account: ClassLimits {
            auth: wide,
            general: wide,
            expensive: wide,
            failures: wide,
        },
    };
    let limiter = Arc::new(RateLimiter::new(table, Arc::new(SystemClock), config));
    let app = routes().router(&limiter);
    let call = |method: &str, uri: &str| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"text":"hi"}"#))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 7], 1))));
        app.clone().oneshot(request)
    };
    assert_eq!(call("POST", "/v1/notes").await.unwrap().status(), 204);
    assert_eq!(
        call("POST", "/v1/notes").await.unwrap().status(),
        429,
        "the Auth class allows one a minute here"
    );
    for _ in 0..3 {
        assert_eq!(
            call("GET", "/v1/ping").await.unwrap().status(),
            200,
            "unlimited"
        );
    }
    assert_eq!(
        call("GET", "/v1/notes/01J9Z8Q4V6Y7KX2M3N4P5R6S7T")
            .await
            .unwrap()
            .status(),
        401
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Days {
    #[serde(default, deserialize_with = "whole_number")]
    days: Option<u32>,
}

#[test]
fn whole_numbers_may_be_written_with_a_zero_fraction() {
    let days = |body: Value| parse_json::<Days>(body.to_string().as_bytes()).map(|d| d.days);
    assert_eq!(days(json!({"days": 30})).unwrap(), Some(30));
    assert_eq!(days(json!({"days": 30.0})).unwrap(), Some(30));
    assert_eq!(days(json!({})).unwrap(), None);
    assert_eq!(days(json!({"days": null})).unwrap(), None);
    for bad in [
        json!(30.5),
        json!(-1),
        json!(5e9),
        json!(1e300),
        json!("30"),
    ] {
        let problem = days(json!({ "days": bad })).unwrap_err();
        assert_eq!(problem.status, 400, "{bad}");
        assert_eq!(problem.errors[0].field, "days", "{bad}");
    }
}
