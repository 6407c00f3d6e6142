//! Lambda entry glue: the only place that knows Lambda event types. Function `main.rs` files call these with
//! their router or worker; business logic stays on plain types.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use axum::Router;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::queue::worker::{BatchOutcome, Worker, settle};
use crate::queue::{Delivery, Job, Queue};

pub type Error = lambda_runtime::Error;

/// Serves an axum router as an API Gateway (HTTP API, payload v2) Lambda.
pub async fn run_http(router: Router) -> Result<(), Error> {
    lambda_http::run(router).await
}

/// Converts one SQS record into a delivery; `None` when the body is not a job (reported as a failure so it
/// is retried and finally dead-lettered, where someone can look at it).
pub fn delivery_from_sqs(message: &SqsMessage) -> Option<Delivery> {
    let message_id = message.message_id.clone()?;
    let job: Job = match message.body.as_deref().map(serde_json::from_str) {
        Some(Ok(job)) => job,
        Some(Err(e)) => {
            tracing::error!(message_id, error = %e, "message body is not a job");
            return None;
        }
        None => {
            tracing::error!(message_id, "message has no body");
            return None;
        }
    };
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Some(Delivery {
        message_id,
        receipt: message.receipt_handle.clone().unwrap_or_default(),
        receive_count,
        job,
    })
}

/// Handles one SQS batch: runs every job and names the ones that failed so only they are retried. Failed
/// messages come back after the queue's visibility timeout; [`handle_sqs_batch_on`] also sets each one's delay.
pub async fn handle_sqs_batch(worker: &Worker, event: SqsEvent) -> SqsBatchResponse {
    handle(worker, None, event).await
}

/// [`handle_sqs_batch`], and each failed message is made visible again after the delay the worker chose
/// (`ChangeMessageVisibility`): the backoff of its receive count, or just past the claim of the worker already
/// running the job. Without it a "busy" duplicate would wait out the whole visibility timeout.
pub async fn handle_sqs_batch_on(
    worker: &Worker,
    queue: &dyn Queue,
    name: &str,
    event: SqsEvent,
) -> SqsBatchResponse {
    handle(worker, Some((queue, name)), event).await
}

async fn handle(
    worker: &Worker,
    queue: Option<(&dyn Queue, &str)>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut deliveries = Vec::new();
    for record in &event.records {
        match delivery_from_sqs(record) {
            Some(d) => deliveries.push(d),
            None => {
                if let Some(id) = &record.message_id {
                    failures.push(id.clone());
                }
            }
        }
    }
    let receipts: HashMap<String, String> = deliveries
        .iter()
        .map(|d| (d.message_id.clone(), d.receipt.clone()))
        .collect();
    let mut outcome = worker.process_batch(deliveries).await;
    if let Some((queue, name)) = queue {
        // Lambda deletes what is not reported failed; only the retries are ours to schedule.
        let retries = BatchOutcome {
            failed: std::mem::take(&mut outcome.failed),
            delays: std::mem::take(&mut outcome.delays),
            done: Vec::new(),
        };
        settle(queue, name, &receipts, &retries).await;
        outcome.failed = retries.failed;
    }
    failures.extend(outcome.failed);
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Runs an SQS-triggered worker Lambda for the logical queue `name` (the event source must enable
/// `ReportBatchItemFailures`; the function needs `sqs:ChangeMessageVisibility` on the queue).
pub async fn run_sqs_worker(
    worker: Arc<Worker>,
    queue: Arc<dyn Queue>,
    name: &'static str,
) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (worker, queue) = (worker.clone(), queue.clone());
        async move {
            Ok::<_, Error>(handle_sqs_batch_on(&worker, queue.as_ref(), name, event.payload).await)
        }
    }))
    .await
}

/// Runs a scheduled (EventBridge) Lambda; `job` is the plain async function the dev server also calls.
pub async fn run_scheduled<F, Fut, T>(job: F) -> Result<(), Error>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
    T: serde::Serialize + Send,
{
    let job = Arc::new(job);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let job = job.clone();
            async move {
                let id = event.context.request_id.clone();
                crate::http::request_id::scope(id, async {
                    tracing::info!(rule = ?event.payload.resources, "scheduled run");
                    let result = job().await.map_err(|e| {
                        tracing::error!(error = %e, "scheduled job failed");
                        Error::from(e.to_string())
                    })?;
                    Ok::<_, Error>(serde_json::to_value(result)?)
                })
                .await
            }
        },
    ))
    .await
}
