//! The HTTP conventions, exercised through a small router wearing the same layers every function wears.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use lectern_shared::Config;
use lectern_shared::http::auth::Identity;
use lectern_shared::http::{
    CursorCodec, Json, PageParams, Paginated, Path, Problem, Query, layers,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NewThing {
    name: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Tag {
    id: u32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Filter {
    n: Option<u8>,
}

const SCOPE: &str = "things";

fn codec() -> CursorCodec {
    CursorCodec::new(b"test-signing-secret-0123456789abcdef")
}

fn config() -> Config {
    let mut config = Config::for_tests(std::env::temp_dir());
    config.max_body_bytes = 1024;
    config.cors_origins = vec!["https://app.example.com".into()];
    config.compression_min_bytes = 256;
    config
}

fn app() -> Router {
    let routes = Router::new()
        .route(
            "/v1/things",
            post(|Json(_): Json<NewThing>| async { StatusCode::CREATED }),
        )
        .route(
            "/v1/things",
            get(|Query(p): Query<PageParams>| async move {
                let codec = codec();
                let limit = p.limit()?;
                let start: usize = match codec.decode_opt(SCOPE, p.cursor.as_deref())? {
                    Some(pos) => pos.parse().map_err(|_| Problem::validation("bad cursor"))?,
                    None => 0,
                };
                let end = (start + limit).min(5);
                let next = (end < 5).then(|| end.to_string());
                Ok::<_, Problem>(Json(codec.page(
                    SCOPE,
                    (start..end).collect::<Vec<_>>(),
                    next,
                )))
            }),
        )
        .route(
            "/v1/things/{id}",
            get(|Path(id): Path<u64>| async move { Json(json!({ "id": id })) }),
        )
        .route(
            "/v1/filter",
            get(|Query(f): Query<Filter>| async move { Json(json!({ "n": f.n })) }),
        )
        .route("/v1/big", get(|| async { "x".repeat(10_000) }))
        .route(
            "/v1/panic",
            get(|| async { if true { panic!("boom") } else { "never" } }),
        )
        .route("/v1/me", get(|who: Identity| async move { who.user_id }));
    layers::without_ip_rules(layers::with_body_limit(routes, &config()), &config())
}

async fn send(req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

fn post_json(body: impl Into<Body>) -> Request<Body> {
    Request::post("/v1/things")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn assert_problem(headers: &axum::http::HeaderMap, body: &Value, slug: &str) {
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/problem+json",
        "body: {body}"
    );
    assert_eq!(
        body["type"],
        format!("https://lectern.dev/problems/{slug}"),
        "body: {body}"
    );
    let id = body["request_id"]
        .as_str()
        .expect("problem carries the request id");
    assert_eq!(
        headers["x-request-id"], id,
        "header and body agree on the request id"
    );
}

#[tokio::test]
async fn valid_json_is_accepted() {
    let (status, _, _) = send(post_json(r#"{"name":"a","tags":[{"id":1}]}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let (status, headers, body) = send(post_json(r#"{"name": "a", "#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &body, "malformed-json");
    let (status, _, body) = send(post_json(r#"{"name":"a","tags":[]} trailing"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "https://lectern.dev/problems/malformed-json");
}

#[tokio::test]
async fn field_errors_name_the_field() {
    let (status, headers, body) =
        send(post_json(r#"{"name":"a","tags":[{"id":1},{"id":"x"}]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &body, "validation");
    assert_eq!(body["errors"][0]["field"], "tags[1].id");

    let (_, _, body) = send(post_json(r#"{"name":"a","tags":[],"role":"admin"}"#)).await;
    assert_eq!(body["type"], "https://lectern.dev/problems/validation");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("role"),
        "unknown field named: {body}"
    );
    assert_eq!(
        body["errors"][0]["field"], "role",
        "the unknown field itself is named"
    );

    let (_, _, body) = send(post_json(r#"{"tags":[]}"#)).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("name"),
        "missing field named: {body}"
    );
    assert_eq!(
        body["errors"][0]["field"], "name",
        "the missing field itself is named"
    );

    let (_, _, body) = send(post_json(r#"{"name":"a","tags":[{}]}"#)).await;
    assert_eq!(
        body["errors"][0]["field"], "tags[0].id",
        "nested missing fields carry their path"
    );
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let req = Request::post("/v1/things")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let (status, headers, body) = send(req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_problem(&headers, &body, "unsupported-media-type");
    let req = Request::post("/v1/things").body(Body::from("{}")).unwrap();
    assert_eq!(
        send(req).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "missing content type"
    );
}

#[tokio::test]
async fn oversize_bodies_are_413_with_or_without_content_length() {
    let big = format!(r#"{{"name":"{}","tags":[]}}"#, "a".repeat(4096));
    let (status, headers, body) = send(post_json(big.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_problem(&headers, &body, "payload-too-large");
    assert_eq!(
        headers[header::CONNECTION],
        "close",
        "the unread body must not poison a kept-alive connection"
    );

    // A streamed body has no Content-Length; the limit must still hold.
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let stream = Body::from_stream(futures::stream::iter(chunks));
    let (status, headers, body) = send(post_json(stream)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_problem(&headers, &body, "payload-too-large");
}

/// Serves `app()` on a loopback port over real HTTP/1.1 (what clients and the dev server see).
async fn serve() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await });
    addr
}

/// Reads what the server sends until it closes the connection (bounded in time).
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut out),
    )
    .await
    .map_err(|_| std::io::Error::other("the server did not close the connection"))??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn head(content_length: usize, expect_continue: bool) -> String {
    let expect = if expect_continue {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    format!(
        "POST /v1/things HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n{expect}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_an_oversized_body_can_finish_and_read_the_413() {
    use tokio::io::AsyncWriteExt;
    let addr = serve().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // 512 KiB against a 1 KiB limit, sent the way a slow client sends it: in pieces, with pauses. Answering and
    // closing at the headers would make these writes fail with a reset or a broken pipe.
    let chunk = vec![b'a'; 32 * 1024];
    let total = 16 * chunk.len();
    stream
        .write_all(head(total, false).as_bytes())
        .await
        .unwrap();
    for n in 0..16 {
        stream
            .write_all(&chunk)
            .await
            .unwrap_or_else(|e| panic!("writing piece {n} of the body: {e}"));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let answer = read_to_close(&mut stream)
        .await
        .expect("reading the answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload-too-large"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_with_an_oversized_length_gets_the_413_before_sending_the_body() {
    use tokio::io::AsyncWriteExt;
    let addr = serve().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(head(4 * 1024 * 1024, true).as_bytes())
        .await
        .unwrap();
    // Nothing of the body is sent: the answer must come anyway, and must not be "100 Continue".
    let answer = read_to_close(&mut stream)
        .await
        .expect("reading the answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Within the limit, the server asks for the body and takes it.
    let body = br#"{"name":"n","tags":[]}"#;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(head(body.len(), true).as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 25];
    use tokio::io::AsyncReadExt;
    stream.read_exact(&mut first).await.unwrap();
    assert!(
        String::from_utf8_lossy(&first).starts_with("HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&first)
    );
    stream.write_all(body).await.unwrap();
    let answer = read_to_close(&mut stream)
        .await
        .expect("reading the answer");
    assert!(answer.contains("HTTP/1.1 201"), "{answer}");
}

#[tokio::test]
async fn bad_path_and_query_params_are_400_naming_them() {
    let (status, headers, body) =
        send(Request::get("/v1/things/abc").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &body, "validation");
    assert_eq!(body["errors"][0]["field"], "path.id");

    let (status, _, body) = send(
        Request::get("/v1/filter?n=300")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["field"], "query.n");

    let (status, _, body) = send(
        Request::get("/v1/things?limit=0")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["field"], "query.limit");

    let (status, _, body) = send(
        Request::get("/v1/things?limit=5&bogus=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown pagination params are refused: {body}"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let (status, headers, body) = send(
        Request::get("/v1/nothing-here")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_problem(&headers, &body, "not-found");
    let (status, headers, body) =
        send(Request::delete("/v1/things").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_problem(&headers, &body, "method-not-allowed");
    assert!(
        headers.contains_key(header::ALLOW),
        "405 keeps the Allow header"
    );
}

#[tokio::test]
async fn panics_become_500_problems_without_internals() {
    let (status, headers, body) =
        send(Request::get("/v1/panic").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_problem(&headers, &body, "internal");
    assert!(
        !body.to_string().contains("boom"),
        "panic message must not leak: {body}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_generated_otherwise() {
    let req = Request::get("/v1/nothing")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, headers, body) = send(req).await;
    assert_eq!(headers["x-request-id"], "abc-123");
    assert_eq!(body["request_id"], "abc-123");

    let req = Request::get("/v1/nothing")
        .header("x-request-id", "evil\"id with spaces")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(req).await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert_ne!(id, "evil\"id with spaces");
    assert!(
        lectern_shared::ids::is_id(id),
        "a fresh id is generated: {id}"
    );
}

#[tokio::test]
async fn security_headers_and_cors() {
    let (_, headers, _) = send(Request::get("/v1/things").body(Body::empty()).unwrap()).await;
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

    let preflight = |origin: &str| {
        Request::options("/v1/things")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type,authorization",
            )
            .body(Body::empty())
            .unwrap()
    };
    let (_, headers, _) = send(preflight("https://app.example.com")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    let (_, headers, _) = send(preflight("https://evil.example.com")).await;
    assert!(
        !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "unlisted origin gets no CORS grant"
    );
}

#[tokio::test]
async fn large_responses_are_compressed_small_ones_are_not() {
    let req = Request::get("/v1/big")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let response = app().oneshot(req).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let req = Request::get("/v1/things/1")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let response = app().oneshot(req).await.unwrap();
    assert!(!response.headers().contains_key(header::CONTENT_ENCODING));
}

#[tokio::test]
async fn pagination_walks_pages_and_refuses_forged_cursors() {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let uri = match &cursor {
            Some(c) => format!("/v1/things?limit=2&cursor={c}"),
            None => "/v1/things?limit=2".to_string(),
        };
        let (status, _, body) = send(Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page: Paginated<u32> = serde_json::from_value(body).unwrap();
        seen.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);

    let forged = codec().encode("another-list", "2");
    let (status, headers, body) = send(
        Request::get(format!("/v1/things?cursor={forged}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &body, "validation");
    assert_eq!(body["errors"][0]["field"], "query.cursor");
}

#[tokio::test]
async fn protected_routes_refuse_anonymous_and_unknown_credentials() {
    let (status, headers, body) = send(Request::get("/v1/me").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_problem(&headers, &body, "unauthenticated");
    let req = Request::get("/v1/me")
        .header(header::AUTHORIZATION, "Bearer forged")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(req).await.0, StatusCode::UNAUTHORIZED);
}
