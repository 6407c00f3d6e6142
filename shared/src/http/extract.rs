//! Extractors that turn bad input into 4xx problems naming the field, instead of axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// A JSON body. Requires `Content-Type: application/json` (415 otherwise); malformed JSON is a
/// `malformed-json` problem; a missing, unknown (with `#[serde(deny_unknown_fields)]`) or mistyped field is a
/// `validation` problem whose `errors[0].field` is the path to it (`items[2].id`). As a response, serializes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == mime::APPLICATION
                    && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
            });
        if !is_json {
            return Err(Problem::unsupported_media_type("application/json"));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(status, "payload-too-large", "Request body too large")
                        .detail(rejection.body_text())
                } else {
                    Problem::new(status, "bad-request", "Bad request").detail(rejection.body_text())
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

/// `#[serde(default, deserialize_with = "whole_number")]` for an optional integer field of a request body. JSON
/// Schema (and so the OpenAPI document, and any client validating against it) counts `3.0` as the integer 3;
/// serde alone would refuse it for an integer type. Fractions and out-of-range numbers are still refused.
pub fn whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::{Deserialize, Error, Unexpected};
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_i64().or_else(|| {
        number
            .as_f64()
            // i64's bounds as f64: everything strictly inside converts exactly enough to range-check.
            .filter(|f| f.fract() == 0.0 && *f > -9.2e18 && *f < 9.2e18)
            .map(|f| f as i64)
    });
    let unexpected = || match number.as_f64() {
        Some(f) => Unexpected::Float(f),
        None => Unexpected::Other("number"),
    };
    whole
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| D::Error::invalid_value(unexpected(), &"a whole number in range"))
}

/// Parses JSON bytes into `T`, reporting syntax errors and field errors as problems.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|err| {
        let path = err.path().to_string();
        json_problem(&path, err.into_inner())
    })?;
    // Trailing garbage after the value is malformed JSON too.
    de.end().map_err(|e| json_problem("", e))?;
    Ok(value)
}

fn json_problem(path: &str, err: serde_json::Error) -> Problem {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => Problem::malformed_json(format!(
            "line {} column {}: {}",
            err.line(),
            err.column(),
            short(&err)
        )),
        Category::Data => {
            let path = if path == "." { "" } else { path };
            // serde reports missing and unknown fields at the enclosing object; name the field itself.
            let message = short(&err);
            let named = ["missing field `", "unknown field `"]
                .iter()
                .find_map(|prefix| {
                    let rest = message.strip_prefix(prefix)?;
                    rest.split('`').next().map(str::to_string)
                });
            let field = match (path, named) {
                ("", Some(name)) => name,
                (p, Some(name)) if !p.ends_with(name.as_str()) => format!("{p}.{name}"),
                ("", None) => "body".to_string(),
                (p, _) => p.to_string(),
            };
            Problem::validation(format!(
                "the body does not match the expected shape: {}",
                short(&err)
            ))
            .field(field, short(&err))
        }
    }
}

/// serde_json's message without its " at line X column Y" suffix (we report position separately).
fn short(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query parameters; a bad or missing parameter is a `validation` problem naming `query.<name>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let field = format!("query.{}", err.path())
                    .trim_end_matches('.')
                    .to_string();
                let message = err.into_inner().to_string();
                Problem::validation(format!("bad query parameter: {message}")).field(field, message)
            })
    }
}

/// The name of the `index`th path parameter, for error messages.
fn param_name(parts: &Parts, index: usize) -> String {
    use axum::extract::RawPathParams;
    let params =
        futures::executor::block_on(RawPathParams::from_request_parts(&mut parts.clone(), &()));
    match params
        .ok()
        .and_then(|p| p.iter().nth(index).map(|(k, _)| k.to_string()))
    {
        Some(name) => format!("path.{name}"),
        None => "path".to_string(),
    }
}

/// Path parameters; a malformed one is a `validation` problem naming `path.<name>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => {
                use axum::extract::path::ErrorKind;
                use axum::extract::rejection::PathRejection;
                let (field, message) = match &rejection {
                    PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                        ErrorKind::ParseErrorAtKey {
                            key, expected_type, ..
                        } => (format!("path.{key}"), format!("expected {expected_type}")),
                        ErrorKind::InvalidUtf8InPathParam { key } => {
                            (format!("path.{key}"), "not valid UTF-8".into())
                        }
                        ErrorKind::ParseError { expected_type, .. } => {
                            (param_name(parts, 0), format!("expected {expected_type}"))
                        }
                        ErrorKind::ParseErrorAtIndex {
                            index,
                            expected_type,
                            ..
                        } => (
                            param_name(parts, *index),
                            format!("expected {expected_type}"),
                        ),
                        // Custom errors (e.g. an `Id` that is not an id) carry no key; name the parameter
                        // when there is only one to blame.
                        ErrorKind::Message(message) => (param_name(parts, 0), message.clone()),
                        other => ("path".to_string(), other.to_string()),
                    },
                    other => ("path".to_string(), other.body_text()),
                };
                Err(
                    Problem::validation(format!("bad path parameter: {message}"))
                        .field(field, message),
                )
            }
        }
    }
}
