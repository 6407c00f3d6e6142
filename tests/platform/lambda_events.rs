//! The sample events in `events/` go through the same entry points the Lambdas use, so
//! `cargo lambda invoke --data-file events/...` and these tests agree. `events/manifest.json` documents what each
//! event answers; the manifest test below checks every entry in-process, and `scripts/lambda-events` checks the same
//! manifest under `cargo lambda watch`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use lectern_e2e::{embedded_platform, event};
use lectern_shared::clock::Clock;
use lectern_shared::http::layers;
use lectern_shared::mail::embedded::read_outbox;
use serde_json::Value;

use super::health_router;

/// Runs an API Gateway event through lambda_http's adapter, exactly as `lambda_http::run` does.
async fn invoke_http(router: axum::Router, event_file: &str) -> Value {
    let payload: LambdaRequest =
        serde_json::from_str(&event(event_file)).expect("event parses as lambda_http does");
    let mut adapter = Adapter::from(router);
    let response = adapter
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("infallible router");
    serde_json::to_value(&response).expect("response serializes")
}

fn body_json(response: &Value) -> Value {
    assert_eq!(
        response["isBase64Encoded"], false,
        "JSON answers are plain text: {response}"
    );
    serde_json::from_str(response["body"].as_str().expect("body")).expect("JSON body")
}

#[tokio::test]
async fn health_event_answers_200_and_echoes_the_request_id() {
    let (platform, _, _dir) = embedded_platform().await;
    let router = health_router(&platform);
    let response = invoke_http(router, "health-get.json").await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        response["headers"]["x-request-id"],
        "req-7f3c9a2e-5b41-4d8e-9c06-1a2b3c4d5e6f"
    );
    assert_eq!(body_json(&response)["status"], "ok");
}

#[tokio::test]
async fn ready_event_answers_200_on_a_healthy_platform() {
    let (platform, _, _dir) = embedded_platform().await;
    let router = health_router(&platform);
    let response = invoke_http(router, "health-ready-get.json").await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response)["status"], "ready");
    // Without X-Request-Id, API Gateway's own request id is used.
    let id = response["headers"]["x-request-id"].as_str().unwrap();
    let event: Value = serde_json::from_str(&event("health-ready-get.json")).unwrap();
    assert_eq!(id, event["requestContext"]["requestId"].as_str().unwrap());
}

#[tokio::test]
async fn openapi_event_is_compressed_for_clients_that_accept_it() {
    let (platform, _, _dir) = embedded_platform().await;
    let router = health_router(&platform);
    let response = invoke_http(router, "openapi-get.json").await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let event: Value = serde_json::from_str(&event("openapi-get.json")).unwrap();
    let accepts_gzip = event["headers"]["accept-encoding"]
        .as_str()
        .is_some_and(|v| v.contains("gzip"));
    if accepts_gzip {
        assert!(
            response["headers"]["content-encoding"].is_string(),
            "large answers compressed: {}",
            response["headers"]
        );
        assert_eq!(
            response["isBase64Encoded"], true,
            "compressed bodies travel base64-encoded"
        );
    }
}

#[tokio::test]
async fn sqs_batch_sends_each_email_once_even_when_redelivered() {
    let (platform, _, dir) = embedded_platform().await;
    let worker = lectern_platform_notifications::worker(&platform);
    let batch: SqsEvent =
        serde_json::from_str(&event("notifications-sqs-batch.json")).expect("SQS event parses");
    let response = lectern_shared::lambda::handle_sqs_batch(&worker, batch.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let outbox = dir.path().join("outbox");
    assert_eq!(read_outbox(&outbox).len(), 2);

    // SQS delivers at least once: the same batch again must not send twice.
    let response = lectern_shared::lambda::handle_sqs_batch(&worker, batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        read_outbox(&outbox).len(),
        2,
        "idempotency keys stop duplicate mail"
    );
}

#[tokio::test]
async fn sqs_batch_reports_only_the_bad_records_as_failures() {
    let (platform, _, dir) = embedded_platform().await;
    let worker = lectern_platform_notifications::worker(&platform);
    let mut batch: SqsEvent = serde_json::from_str(&event("notifications-sqs-batch.json")).unwrap();
    batch.records[0].body = Some("{not a job".into());
    let bad_id = batch.records[0].message_id.clone().unwrap();
    let mut unknown = batch.records[1].clone();
    unknown.message_id = Some("unknown-kind-message".into());
    let mut job: Value = serde_json::from_str(unknown.body.as_deref().unwrap()).unwrap();
    job["kind"] = "no.such.kind".into();
    unknown.body = Some(job.to_string());
    batch.records.push(unknown);

    let response = lectern_shared::lambda::handle_sqs_batch(&worker, batch).await;
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    let mut expected = vec![bad_id, "unknown-kind-message".to_string()];
    expected.sort();
    assert_eq!(failed, expected);
    assert_eq!(
        read_outbox(&dir.path().join("outbox")).len(),
        1,
        "the good record still went out"
    );
}

#[tokio::test]
async fn schedule_event_parses_and_housekeeping_runs() {
    let (platform, clock, _dir) = embedded_platform().await;
    let schedule: EventBridgeEvent<Value> =
        serde_json::from_str(&event("housekeeping-schedule.json")).expect("schedule parses");
    assert_eq!(schedule.detail_type, "Scheduled Event");

    let mut item = lectern_shared::table::Item::new();
    item.insert("pk".into(), "TMP".into());
    item.insert("sk".into(), "1".into());
    item.insert("ttl".into(), (clock.now().unix_timestamp() + 10).into());
    platform
        .table
        .put(item, lectern_shared::table::Condition::Always)
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(60));
    let report = lectern_platform_housekeeping::run(&platform).await.unwrap();
    assert_eq!(report.expired_items_removed, 1);
    assert_eq!(
        lectern_platform_housekeeping::run(&platform)
            .await
            .unwrap()
            .expired_items_removed,
        0
    );
}

#[tokio::test]
async fn register_event_answers_202_and_queues_the_verification_email() {
    let (platform, _, _dir) = embedded_platform().await;
    let accounts = lectern_e2e::test_accounts(platform.clone());
    let router = layers::api(lectern_accounts_auth::router(accounts), &platform);
    let response = invoke_http(router, "auth-register-post.json").await;
    assert_eq!(response["statusCode"], 202, "{response}");
    assert_eq!(body_json(&response)["status"], "accepted");
    // The client IP the rate limiter saw came from the request context, so the answer carries its headers.
    assert!(
        response["headers"]["ratelimit-limit"].is_string(),
        "{}",
        response["headers"]
    );
    let queued = platform
        .queue
        .receive("notifications", 10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].job.kind, "email.notify");
    assert_eq!(queued[0].job.payload["template"], "verify_email");
}

#[tokio::test]
async fn audit_records_keep_api_gateways_request_id_beside_the_clients() {
    let (platform, _, _dir) = embedded_platform().await;
    let accounts = lectern_e2e::test_accounts(platform.clone());
    let router = layers::api(lectern_accounts_auth::router(accounts.clone()), &platform);
    // A client that names its request after someone else's.
    let mut event: Value = serde_json::from_str(&event("auth-register-post.json")).unwrap();
    event["headers"]["x-request-id"] = "someone-elses-request".into();
    let payload: LambdaRequest = serde_json::from_value(event.clone()).expect("event parses");
    let response = Adapter::from(router)
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("infallible router");
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["statusCode"], 202, "{response}");

    let page = accounts
        .audit
        .all(
            Some(lectern_accounts::audit::Action::Register),
            &Default::default(),
            10,
            None,
        )
        .await
        .unwrap();
    let events: Vec<lectern_accounts::audit::Event> = page
        .items
        .into_iter()
        .map(|i| lectern_shared::table::from_item(i).unwrap())
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].request_id.as_deref(),
        Some("someone-elses-request")
    );
    assert_eq!(
        events[0].server_request_id.as_deref(),
        event["requestContext"]["requestId"].as_str(),
        "API Gateway's own id, which the client cannot choose"
    );
}

/// The HTTP router a function's `main.rs` serves, on a shared platform (every function shares the table on AWS).
fn function_router(
    function: &str,
    platform: &lectern_shared::Platform,
    accounts: &std::sync::Arc<lectern_accounts::service::Accounts>,
) -> axum::Router {
    let routes = match function {
        "health" => lectern_platform_health::router(platform.clone()),
        "auth" => lectern_accounts_auth::router(accounts.clone()),
        "users" => lectern_accounts_users::router(accounts.clone()),
        "admin" => lectern_accounts_admin::router(accounts.clone()),
        "hierarchy" => lectern_exams_catalog::router(exams(accounts), accounts.clone()),
        "questions" => lectern_exams_questions::router(exams(accounts), accounts.clone()),
        "exams" => lectern_exams_exams::router(exams(accounts), accounts.clone()),
        "profiles" => {
            lectern_learning_profiles::router(lectern_local::learning(accounts), accounts.clone())
        }
        "catalog" => {
            lectern_learning_catalog::router(lectern_local::learning(accounts), accounts.clone())
        }
        "progress" => {
            lectern_learning_progress::router(lectern_local::learning(accounts), accounts.clone())
        }
        "achievements" => lectern_learning_achievements::router(
            lectern_local::learning(accounts),
            accounts.clone(),
        ),
        "leaderboards" => lectern_learning_leaderboards::router(
            lectern_local::learning(accounts),
            accounts.clone(),
        ),
        "settings" => lectern_operations_settings::router(
            lectern_operations::Operations::new(accounts.platform.clone()),
            accounts.clone(),
        ),
        "inbox" => lectern_platform_inbox::router(
            lectern_local::notifications_on(&accounts.platform),
            accounts.clone(),
        ),
        "webhooks" => lectern_webhooks_endpoints::router(
            lectern_webhooks::Webhooks::new(accounts.platform.clone()),
            accounts.clone(),
        ),
        "console" => lectern_platform_console::router(accounts.platform.clone(), accounts.clone()),
        other => panic!("{other} is not an HTTP function; teach this test its entry point"),
    };
    layers::api(routes, platform)
}

/// The exams service a function's `main.rs` builds, on the accounts' platform.
fn exams(accounts: &std::sync::Arc<lectern_accounts::service::Accounts>) -> lectern_exams::Exams {
    lectern_exams::Exams::new(accounts.platform.clone())
}

/// What `cargo lambda invoke` prints for `event`, computed in-process through the same entry points.
async fn answer(
    expected: &lectern_local::lambda_events::Expected,
    platform: &lectern_shared::Platform,
    accounts: &std::sync::Arc<lectern_accounts::service::Accounts>,
) -> Value {
    let filled = lectern_local::lambda_events::fill(&event(&expected.event), accounts)
        .await
        .expect("placeholders filled");
    match expected.function.as_str() {
        "notifications" => {
            let batch: SqsEvent = serde_json::from_str(&filled).expect("SQS event parses");
            let worker = lectern_platform_notifications::worker(platform);
            let response = lectern_shared::lambda::handle_sqs_batch(&worker, batch).await;
            serde_json::to_value(response).expect("answer serializes")
        }
        "learning-worker" => {
            let batch: SqsEvent = serde_json::from_str(&filled).expect("SQS event parses");
            let worker =
                lectern_learning_worker::worker(platform, lectern_local::learning_on(platform));
            let response = lectern_shared::lambda::handle_sqs_batch(&worker, batch).await;
            serde_json::to_value(response).expect("answer serializes")
        }
        "jobs" => {
            let batch: SqsEvent = serde_json::from_str(&filled).expect("SQS event parses");
            let worker = lectern_platform_jobs::worker(platform);
            let response = lectern_shared::lambda::handle_sqs_batch(&worker, batch).await;
            serde_json::to_value(response).expect("answer serializes")
        }
        "scheduler" => {
            let _: EventBridgeEvent<Value> =
                serde_json::from_str(&filled).expect("schedule parses");
            let notifications = lectern_local::notifications_on(platform);
            let report = lectern_platform_scheduler::run(platform, &notifications)
                .await
                .expect("the scheduled job runs");
            serde_json::to_value(report).expect("report serializes")
        }
        schedule @ ("housekeeping" | "outbox" | "exam-deadlines") => {
            let _: EventBridgeEvent<Value> =
                serde_json::from_str(&filled).expect("schedule parses");
            let report = match schedule {
                "housekeeping" => lectern_platform_housekeeping::run(platform)
                    .await
                    .map(serde_json::to_value),
                "exam-deadlines" => lectern_exams_deadlines::run(platform)
                    .await
                    .map(serde_json::to_value),
                _ => lectern_platform_outbox::run(platform)
                    .await
                    .map(serde_json::to_value),
            };
            report
                .expect("the scheduled job runs")
                .expect("report serializes")
        }
        function => {
            let payload: LambdaRequest =
                serde_json::from_str(&filled).expect("event parses as lambda_http does");
            let mut adapter = Adapter::from(function_router(function, platform, accounts));
            let response = adapter
                .call(LambdaEvent::new(payload, Context::default()))
                .await
                .expect("infallible router");
            serde_json::to_value(&response).expect("response serializes")
        }
    }
}

#[tokio::test]
async fn every_event_in_the_manifest_answers_as_documented() {
    let manifest =
        lectern_local::lambda_events::manifest(&lectern_e2e::repo_root()).expect("manifest");
    let (platform, _, _dir) = embedded_platform().await;
    let accounts = lectern_e2e::test_accounts(platform.clone());
    for expected in &manifest {
        let got = answer(expected, &platform, &accounts).await;
        if let Some(status) = expected.status {
            assert_eq!(got["statusCode"], status, "{}: {got}", expected.event);
        }
        if let Some(failures) = &expected.batch_item_failures {
            let mut named: Vec<&str> = got["batchItemFailures"]
                .as_array()
                .expect("batchItemFailures")
                .iter()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            named.sort_unstable();
            let mut documented: Vec<&str> = failures.iter().map(String::as_str).collect();
            documented.sort_unstable();
            assert_eq!(named, documented, "{}", expected.event);
        }
    }
}

#[test]
fn the_manifest_covers_every_event_file_and_every_deployed_function() {
    let root = lectern_e2e::repo_root();
    let manifest = lectern_local::lambda_events::manifest(&root).expect("manifest");
    let listed: std::collections::BTreeSet<String> =
        manifest.iter().map(|e| e.event.clone()).collect();
    let files: std::collections::BTreeSet<String> = std::fs::read_dir(root.join("events"))
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && n != "manifest.json" && !n.ends_with(".local.json"))
        .collect();
    assert_eq!(
        listed, files,
        "events/manifest.json lists exactly the event files"
    );
    for e in &manifest {
        assert!(
            e.status.is_some()
                || e.batch_item_failures.is_some()
                || ["housekeeping", "outbox", "exam-deadlines", "scheduler"]
                    .contains(&e.function.as_str()),
            "{} documents no answer",
            e.event
        );
    }
    let template = std::fs::read_to_string(root.join("infra/template.yaml")).expect("template");
    let deployed: std::collections::BTreeSet<String> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary:"))
        .map(|b| b.trim().to_string())
        .collect();
    let invoked: std::collections::BTreeSet<String> =
        manifest.iter().map(|e| e.function.clone()).collect();
    assert_eq!(
        invoked, deployed,
        "every deployed function has an event, and only those"
    );
    // Every HTTP function has an event with a signed-in caller and one without, where it has protected routes.
    for function in [
        "auth",
        "users",
        "admin",
        "profiles",
        "catalog",
        "progress",
        "achievements",
        "leaderboards",
        "inbox",
        "settings",
        "webhooks",
        "console",
    ] {
        let with_token = manifest
            .iter()
            .filter(|e| e.function == function)
            .map(|e| lectern_e2e::event(&e.event).contains("{{token:"))
            .collect::<Vec<_>>();
        assert!(
            with_token.contains(&true) && with_token.contains(&false),
            "{function}: an event with a signed-in caller and one without"
        );
    }
}
