//! What every request leaves behind for operators: a log line whose request span names the route template and the
//! caller (the metrics' own format is checked in `lectern_shared::metrics`).

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use lectern_shared::http::auth::{self, Authenticator, Identity};
use lectern_shared::http::{Problem, layers};
use lectern_shared::{Config, telemetry};
use serde_json::Value;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

/// Knows one caller: `x-api-key: k` is user `u1`.
struct OneKey;

#[async_trait]
impl Authenticator for OneKey {
    async fn authenticate(&self, parts: &mut Parts) -> Result<Option<Identity>, Problem> {
        Ok(parts
            .headers
            .get("x-api-key")
            .filter(|v| *v == "k")
            .map(|_| Identity {
                user_id: "u1".into(),
                roles: Default::default(),
                permissions: Default::default(),
                session_id: None,
                api_key_id: Some("key".into()),
                email_verified: true,
                auth_time: None,
                tier: "free".into(),
                profile_id: None,
            }))
    }
}

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn app() -> Router {
    let routes = Router::new()
        .route(
            "/v1/things/{id}",
            get(|who: Identity| async move { who.user_id }),
        )
        .layer(auth::layer(Arc::new(OneKey)));
    let config = Config::for_tests(std::env::temp_dir());
    layers::without_ip_rules(layers::with_body_limit(routes, &config), &config)
}

/// The `served` line of each request, as the JSON logs of every function print it.
async fn served(requests: Vec<Request<Body>>) -> Vec<Value> {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber =
        tracing_subscriber::registry().with(telemetry::json_layer(move || sink.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    for request in requests {
        app().oneshot(request).await.unwrap();
    }
    captured
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "served")
        .collect()
}

#[tokio::test]
async fn the_request_span_names_the_route_template_and_the_caller() {
    let lines = served(vec![
        Request::get("/v1/things/42")
            .header("x-api-key", "k")
            .header("x-request-id", "req-1")
            .body(Body::empty())
            .unwrap(),
        Request::get("/v1/things/42").body(Body::empty()).unwrap(),
        Request::get("/v1/nowhere/42").body(Body::empty()).unwrap(),
    ])
    .await;
    assert_eq!(lines.len(), 3, "{lines:?}");

    let signed_in = &lines[0]["span"];
    assert_eq!(signed_in["request_id"], "req-1");
    assert_eq!(
        signed_in["route"], "/v1/things/{id}",
        "the template, not the path"
    );
    assert_eq!(signed_in["path"], "/v1/things/42");
    assert_eq!(signed_in["user_id"], "u1");
    assert_eq!(lines[0]["status"], StatusCode::OK.as_u16());
    assert_eq!(
        lines[0]["level"], "DEBUG",
        "a success is left to the HTTP API's access log"
    );
    assert_eq!(lines[1]["level"], "INFO", "an error answer is logged");

    let anonymous = &lines[1]["span"];
    assert_eq!(anonymous["route"], "/v1/things/{id}");
    assert!(anonymous.get("user_id").is_none(), "no caller, no user id");
    assert_eq!(lines[1]["status"], 401);

    assert_eq!(
        lines[2]["span"]["route"], "unmatched",
        "raw paths never name a route"
    );
}
