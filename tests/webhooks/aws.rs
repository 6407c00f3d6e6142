//! The webhooks' core path on the AWS adapters (DynamoDB, SQS on moto): an endpoint sealed under the webhooks ring
//! in DynamoDB, a registration's `user.registered` event committed through the outbox and sent to SQS by the auth
//! route, fanned out and delivered by the jobs worker from SQS, signed, to a local receiver; a 500 retried through
//! a delayed SQS message with the same `webhook-id`; the history read through the route; another account reaching
//! none of it. The receiver is on 127.0.0.1, so the worker's platform has the development switch on (the routes'
//! does not). Skipped when moto is not available (unless `LECTERN_REQUIRE_AWS=1`).

use std::sync::Arc;
use std::time::Duration;

use lectern_accounts::permissions::Role;
use lectern_e2e::api::{PASSWORD, assert_problem};
use lectern_e2e::moto_stack::MotoStack;
use lectern_e2e::poll;
use lectern_e2e::webhooks::Receiver;
use lectern_shared::queue::queues;
use lectern_shared::queue::worker::Worker;
use lectern_webhooks::Webhooks;
use lectern_webhooks::endpoints::NewEndpoint;

/// Runs what is on the jobs queue through `worker` until `done` holds (deliveries and their retries arrive later).
async fn run_jobs_until(stack: &MotoStack, worker: &Worker, mut done: impl FnMut() -> bool) {
    let finished = poll(async || {
        let deliveries = stack
            .platform
            .queue
            .receive(queues::JOBS, 10, Duration::from_secs(600))
            .await
            .expect("receive");
        if !deliveries.is_empty() {
            let receipts: std::collections::HashMap<String, String> = deliveries
                .iter()
                .map(|d| (d.message_id.clone(), d.receipt.clone()))
                .collect();
            let outcome = worker.process_batch(deliveries).await;
            lectern_shared::queue::worker::settle(
                stack.platform.queue.as_ref(),
                queues::JOBS,
                &receipts,
                &outcome,
            )
            .await;
        }
        done().then_some(())
    })
    .await;
    assert!(finished.is_some(), "the jobs did not get there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_webhook_path_on_dynamodb_and_sqs() {
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let api = &stack.api;
    let owner = stack
        .signed_in("cloud.hooks@example.com", "Integrator", Role::Admin)
        .await;
    let other = stack
        .signed_in("cloud.other.admin@example.com", "Other", Role::Admin)
        .await;
    let mut config = (*stack.platform.config).clone();
    config.webhooks_allow_insecure = true;
    let mut platform = stack.platform.clone();
    platform.config = Arc::new(config);
    let webhooks = Webhooks::new(platform.clone());
    let worker = lectern_platform_jobs::worker_with(&platform, webhooks.clone());

    let receiver = Receiver::start(&[500], 200).await;
    let created = webhooks
        .create(
            &owner.user_id,
            NewEndpoint {
                url: receiver.url.clone(),
                description: None,
                event_types: vec!["user.registered".into()],
            },
        )
        .await
        .expect("endpoint created");
    let id = created.endpoint.id.clone();
    let listed = api.webhooks(&owner.access, "").await.expect_status(200);
    assert_eq!(listed.items().len(), 1);
    assert!(api.webhooks(&other.access, "").await.items().is_empty());
    assert_problem(&api.webhook(&other.access, &id).await, 404, "not-found");

    api.register("cloud.newcomer@example.com", PASSWORD)
        .await
        .expect_status(202);
    run_jobs_until(&stack, &worker, || !receiver.received().is_empty()).await;
    let first = receiver.received().remove(0);
    assert!(first.verifies_with(&created.secret), "{first:?}");
    assert_eq!(first.json()["type"], "user.registered");
    assert_eq!(first.status, 500);

    // The retry travels as a delayed SQS message; once the clock passes its due time it is delivered again.
    stack.clock.advance(Duration::from_secs(10));
    run_jobs_until(&stack, &worker, || receiver.received().len() >= 2).await;
    let second = receiver.received().remove(1);
    assert_eq!(second.id, first.id);
    assert!(second.verifies_with(&created.secret));
    let history = api
        .webhook_deliveries(&owner.access, &id, "")
        .await
        .expect_status(200);
    let newest = &history.items()[0];
    assert_eq!(newest["status"], "succeeded");
    assert_eq!(newest["attempts"], 2);
    assert_eq!(newest["response_code"], 200);
    assert_problem(
        &api.webhook_deliveries(&other.access, &id, "").await,
        404,
        "not-found",
    );
}
