//! The [`Queue`] contract. Every case takes fresh queues (allowing 3 receives before dead-lettering) and the way
//! time passes for them: a manual clock for the embedded queue, real waits (of at most ~1.5 s) for SQS.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use super::Time;
use crate::queue::{Delivery, Job, NewJob, Queue, QueueError, queues};

const Q: &str = queues::JOBS;
const LONG: Duration = Duration::from_secs(60);

/// A job with a fresh id.
pub fn job(kind: &str, n: i64) -> NewJob {
    NewJob {
        job: Job {
            id: crate::ids::new_id(),
            kind: kind.into(),
            payload: json!({"n": n}),
            idempotency_key: None,
        },
        delay: Duration::ZERO,
    }
}

/// Receives until `want` messages have arrived or a bounded number of polls came back short (SQS short polling
/// may return fewer messages than are visible).
pub async fn receive_n(
    q: &dyn Queue,
    queue: &str,
    want: usize,
    visibility: Duration,
    time: &Time,
) -> Vec<Delivery> {
    let mut got: Vec<Delivery> = Vec::new();
    for _ in 0..30 {
        if got.len() >= want {
            break;
        }
        let batch = q
            .receive(queue, want - got.len(), visibility)
            .await
            .unwrap();
        assert!(batch.len() <= 10, "at most 10 messages per receive");
        got.extend(batch);
        time.poll_pause().await;
    }
    got
}

async fn dead_letters_n(q: &dyn Queue, queue: &str, want: usize, time: &Time) -> Vec<Delivery> {
    for _ in 0..30 {
        let dead = q.dead_letters(queue, 10).await.unwrap();
        if dead.len() >= want {
            return dead;
        }
        time.poll_pause().await;
    }
    q.dead_letters(queue, 10).await.unwrap()
}

pub async fn send_receive_ack(q: &dyn Queue, time: &Time) {
    let sent = job("email.send", 1).idempotency_key("welcome:u1");
    let ids = q.send(Q, vec![sent.clone()]).await.unwrap();
    assert_eq!(ids.len(), 1);
    let got = receive_n(q, Q, 1, Duration::from_secs(1), time).await;
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert_eq!(
        (&d.message_id, d.receive_count, &d.job),
        (&ids[0], 1, &sent.job)
    );
    assert!(!d.receipt.is_empty());
    // Hidden while its visibility lasts.
    assert!(q.receive(Q, 10, LONG).await.unwrap().is_empty());
    // The other logical queue is separate.
    assert!(
        q.receive(queues::NOTIFICATIONS, 10, LONG)
            .await
            .unwrap()
            .is_empty()
    );

    q.ack(Q, &d.receipt).await.unwrap();
    // Once acknowledged it never returns, even after its visibility timeout.
    time.pass(Duration::from_millis(1500)).await;
    assert!(q.receive(Q, 10, LONG).await.unwrap().is_empty());
    assert!(q.dead_letters(Q, 10).await.unwrap().is_empty());
    q.ping().await.unwrap();
}

pub async fn redelivered_after_visibility_timeout(q: &dyn Queue, time: &Time) {
    let ids = q.send(Q, vec![job("work", 1)]).await.unwrap();
    let first = receive_n(q, Q, 1, Duration::from_secs(1), time).await;
    assert_eq!(first.len(), 1);
    // The worker "dies" without acknowledging: the job comes back once the timeout passes.
    time.pass(Duration::from_millis(1500)).await;
    let again = receive_n(q, Q, 1, LONG, time).await;
    assert_eq!(again.len(), 1);
    assert_eq!((&again[0].message_id, again[0].receive_count), (&ids[0], 2));
    assert_ne!(
        again[0].receipt, first[0].receipt,
        "each receive has its own receipt"
    );
    q.ack(Q, &again[0].receipt).await.unwrap();
}

pub async fn delayed_send(q: &dyn Queue, time: &Time) {
    q.send(Q, vec![job("later", 1).delay(Duration::from_secs(1))])
        .await
        .unwrap();
    assert!(
        q.receive(Q, 10, LONG).await.unwrap().is_empty(),
        "not before its delay"
    );
    time.pass(Duration::from_millis(1500)).await;
    let got = receive_n(q, Q, 1, LONG, time).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job.kind, "later");
    let r = q
        .send(
            Q,
            vec![job("too-late", 1).delay(Duration::from_secs(16 * 60))],
        )
        .await;
    assert!(matches!(r, Err(QueueError::Invalid(_))), "{r:?}");
}

pub async fn retry_later_delays(q: &dyn Queue, time: &Time) {
    q.send(Q, vec![job("flaky", 1)]).await.unwrap();
    let got = receive_n(q, Q, 1, LONG, time).await;
    assert_eq!(got.len(), 1);
    q.retry_later(Q, &got[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        q.receive(Q, 10, LONG).await.unwrap().is_empty(),
        "not before the retry delay"
    );
    time.pass(Duration::from_millis(1500)).await;
    let again = receive_n(q, Q, 1, LONG, time).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].receive_count, 2);
    q.ack(Q, &again[0].receipt).await.unwrap();
}

pub async fn dead_letter_after_max_receives(q: &dyn Queue, time: &Time) {
    let poison = job("poison", 1);
    let ids = q.send(Q, vec![poison.clone()]).await.unwrap();
    for attempt in 1..=3u32 {
        let got = receive_n(q, Q, 1, LONG, time).await;
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        q.retry_later(Q, &got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    // The fourth receive moves it to the dead-letter store instead of delivering it.
    assert!(q.receive(Q, 10, LONG).await.unwrap().is_empty());
    let dead = dead_letters_n(q, Q, 1, time).await;
    assert_eq!(dead.len(), 1);
    assert_eq!((&dead[0].message_id, &dead[0].job), (&ids[0], &poison.job));
    assert!(
        q.dead_letters(queues::NOTIFICATIONS, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(q.receive(Q, 10, LONG).await.unwrap().is_empty());
}

/// Dead letters are counted and can be sent back to their queue, where they arrive as new messages with the
/// same job; other queues' dead letters are not touched.
pub async fn dead_letters_counted_and_redriven(q: &dyn Queue, time: &Time) {
    assert_eq!(q.dead_letter_count(Q).await.unwrap(), 0);
    let poison = job("poison", 2);
    q.send(Q, vec![poison.clone()]).await.unwrap();
    for attempt in 1..=3u32 {
        let got = receive_n(q, Q, 1, LONG, time).await;
        assert_eq!(got.len(), 1, "attempt {attempt}");
        q.retry_later(Q, &got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(q.receive(Q, 10, LONG).await.unwrap().is_empty());
    assert_eq!(dead_letters_n(q, Q, 1, time).await.len(), 1);
    let mut counted = 0;
    for _ in 0..30 {
        counted = q.dead_letter_count(Q).await.unwrap();
        if counted == 1 {
            break;
        }
        time.poll_pause().await;
    }
    assert_eq!(counted, 1);
    assert_eq!(q.dead_letter_count(queues::NOTIFICATIONS).await.unwrap(), 0);
    assert_eq!(q.redrive(queues::NOTIFICATIONS, 10).await.unwrap(), 0);

    assert_eq!(q.redrive(Q, 10).await.unwrap(), 1);
    let back = receive_n(q, Q, 1, LONG, time).await;
    assert_eq!(back.len(), 1, "the dead letter is back on its queue");
    assert_eq!(back[0].job, poison.job);
    assert_eq!(back[0].receive_count, 1, "with a fresh count of receives");
    q.ack(Q, &back[0].receipt).await.unwrap();
    for _ in 0..30 {
        counted = q.dead_letter_count(Q).await.unwrap();
        if counted == 0 {
            break;
        }
        time.poll_pause().await;
    }
    assert_eq!(counted, 0);
    assert!(q.dead_letters(Q, 10).await.unwrap().is_empty());
    assert_eq!(q.redrive(Q, 10).await.unwrap(), 0, "nothing left to move");
}

pub async fn batches_over_ten(q: &dyn Queue, time: &Time) {
    let jobs: Vec<NewJob> = (0..25).map(|n| job("bulk", n)).collect();
    let ids = q.send(Q, jobs.clone()).await.unwrap();
    assert_eq!(ids.len(), 25);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        25,
        "distinct message ids"
    );
    let got = receive_n(q, Q, 25, LONG, time).await;
    assert_eq!(got.len(), 25);
    let got_ids: HashSet<&String> = got.iter().map(|d| &d.message_id).collect();
    assert_eq!(got_ids, ids.iter().collect());
    let got_jobs: HashSet<String> = got.iter().map(|d| d.job.id.clone()).collect();
    assert_eq!(got_jobs, jobs.iter().map(|j| j.job.id.clone()).collect());
    for d in &got {
        q.ack(Q, &d.receipt).await.unwrap();
    }
    time.pass(Duration::from_millis(100)).await;
    assert!(q.receive(Q, 10, Duration::ZERO).await.unwrap().is_empty());
    assert!(q.send(Q, vec![]).await.unwrap().is_empty());
}

pub async fn unknown_queue(q: &dyn Queue, _time: &Time) {
    let r = q.send("nope", vec![job("x", 1)]).await;
    assert!(matches!(r, Err(QueueError::UnknownQueue(_))), "{r:?}");
    let r = q.receive("nope", 1, LONG).await;
    assert!(matches!(r, Err(QueueError::UnknownQueue(_))), "{r:?}");
    let r = q.dead_letters("nope", 1).await;
    assert!(matches!(r, Err(QueueError::UnknownQueue(_))), "{r:?}");
    let big = NewJob {
        job: Job {
            payload: json!("x".repeat(300 * 1024)),
            ..job("big", 1).job
        },
        delay: Duration::ZERO,
    };
    let r = q.send(Q, vec![big]).await;
    assert!(matches!(r, Err(QueueError::Invalid(_))), "{r:?}");
}

/// Embedded only: a receipt from before the latest receive is ignored (SQS may still honour old receipts).
pub async fn embedded_stale_receipt_is_noop(q: &dyn Queue, time: &Time) {
    q.send(Q, vec![job("x", 1)]).await.unwrap();
    let first = receive_n(q, Q, 1, LONG, time).await.remove(0);
    q.retry_later(Q, &first.receipt, Duration::ZERO)
        .await
        .unwrap();
    let second = receive_n(q, Q, 1, LONG, time).await.remove(0);
    q.ack(Q, &first.receipt).await.unwrap();
    q.retry_later(Q, &first.receipt, Duration::ZERO)
        .await
        .unwrap();
    assert!(
        q.receive(Q, 10, LONG).await.unwrap().is_empty(),
        "the stale retry changed nothing"
    );
    q.retry_later(Q, &second.receipt, Duration::ZERO)
        .await
        .unwrap();
    let third = receive_n(q, Q, 1, LONG, time).await;
    assert_eq!(third.len(), 1, "the stale ack deleted nothing");
    assert_eq!(third[0].receive_count, 3);
    q.ack(Q, &third[0].receipt).await.unwrap();
    q.ack(Q, &third[0].receipt).await.unwrap();
    let r = q.ack(Q, "not-a-receipt").await;
    assert!(matches!(r, Err(QueueError::Invalid(_))), "{r:?}");
}

/// Embedded only: delivery follows visible time, then send order.
pub async fn embedded_order(q: &dyn Queue, time: &Time) {
    let ids = q
        .send(Q, (0..5).map(|n| job("ordered", n)).collect())
        .await
        .unwrap();
    let early = q.send(Q, vec![job("ordered", 9)]).await.unwrap();
    let got = receive_n(q, Q, 6, Duration::ZERO, time).await;
    let order: Vec<&String> = got.iter().map(|d| &d.message_id).collect();
    let expected: Vec<&String> = ids.iter().chain(early.iter()).collect();
    assert_eq!(order, expected);
}
