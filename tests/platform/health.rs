//! Health and readiness, including a dependency going down.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lectern_e2e::embedded_platform;
use lectern_shared::table::{
    Condition, Item, Key, Page, Query, Table, TableError, TableResult, TxOp, Update,
};
use serde_json::Value;
use tower::ServiceExt;

use super::health_router;

async fn get(app: axum::Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn liveness_reports_version_sha_and_uptime() {
    let (platform, _, _dir) = embedded_platform().await;
    let app = health_router(&platform);
    let (status, _, body) = get(app, "/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["git_sha"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(body["uptime_seconds"].is_u64());
}

#[tokio::test]
async fn ready_when_every_adapter_answers() {
    let (platform, _, _dir) = embedded_platform().await;
    let app = health_router(&platform);
    let (status, _, body) = get(app, "/v1/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["table"], "ok");
    assert_eq!(body["checks"]["blobs"], "ok");
    assert_eq!(body["checks"]["queue"], "ok");
}

/// A table that is down.
struct DownTable;

#[async_trait]
impl Table for DownTable {
    async fn get(&self, _: &Key) -> TableResult<Option<Item>> {
        Err(down())
    }
    async fn batch_get(&self, _: &[Key]) -> TableResult<Vec<Item>> {
        Err(down())
    }
    async fn put(&self, _: Item, _: Condition) -> TableResult<()> {
        Err(down())
    }
    async fn update(&self, _: &Key, _: Update, _: Condition) -> TableResult<Item> {
        Err(down())
    }
    async fn delete(&self, _: &Key, _: Condition) -> TableResult<()> {
        Err(down())
    }
    async fn query(&self, _: Query) -> TableResult<Page> {
        Err(down())
    }
    async fn transact(&self, _: Vec<TxOp>) -> TableResult<()> {
        Err(down())
    }
    async fn sweep_expired(&self, _: usize) -> TableResult<usize> {
        Err(down())
    }
    async fn ping(&self) -> TableResult<()> {
        Err(down())
    }
}

fn down() -> TableError {
    TableError::Unavailable("connection refused to secret-host.internal:8000".into())
}

#[tokio::test]
async fn not_ready_names_the_failing_check_without_leaking_its_cause() {
    let (mut platform, _, _dir) = embedded_platform().await;
    platform.table = Arc::new(DownTable);
    let app = health_router(&platform);
    let (status, headers, body) = get(app, "/v1/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "https://lectern.dev/problems/unavailable");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["checks.table"],
        "only the table is down: {body}"
    );
    assert!(
        !body.to_string().contains("secret-host"),
        "internal cause must stay in the logs: {body}"
    );
}
