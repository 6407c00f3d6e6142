//! Failures a test can switch on and off: a queue whose `send` fails, to show that what a request committed is
//! not lost when the queue is down (see [`crate::queue::outbox`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::Platform;
use crate::queue::{Delivery, NewJob, Queue, QueueError, QueueResult};

/// The switch of a [`FaultyQueue`]. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct QueueFaults(Arc<AtomicBool>);

impl QueueFaults {
    /// Makes every `send` fail (`true`) or pass through again (`false`).
    pub fn fail_sends(&self, failing: bool) {
        self.0.store(failing, Ordering::SeqCst);
    }

    fn failing(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A queue that fails on `send` while its switch is on, and is the wrapped queue otherwise.
pub struct FaultyQueue {
    inner: Arc<dyn Queue>,
    faults: QueueFaults,
}

#[async_trait]
impl Queue for FaultyQueue {
    async fn send(&self, queue: &str, jobs: Vec<NewJob>) -> QueueResult<Vec<String>> {
        if self.faults.failing() {
            return Err(QueueError::Unavailable(
                "send failed (injected by the test)".into(),
            ));
        }
        self.inner.send(queue, jobs).await
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        self.inner.receive(queue, max, visibility).await
    }

    async fn ack(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        self.inner.ack(queue, receipt).await
    }

    async fn retry_later(&self, queue: &str, receipt: &str, delay: Duration) -> QueueResult<()> {
        self.inner.retry_later(queue, receipt, delay).await
    }

    async fn dead_letters(&self, queue: &str, max: usize) -> QueueResult<Vec<Delivery>> {
        self.inner.dead_letters(queue, max).await
    }

    async fn dead_letter_count(&self, queue: &str) -> QueueResult<u64> {
        self.inner.dead_letter_count(queue).await
    }

    async fn redrive(&self, queue: &str, max: usize) -> QueueResult<usize> {
        self.inner.redrive(queue, max).await
    }

    async fn ping(&self) -> QueueResult<()> {
        self.inner.ping().await
    }
}

/// Wraps a queue; sends pass until the returned switch says otherwise.
pub fn faulty_queue(inner: Arc<dyn Queue>) -> (Arc<dyn Queue>, QueueFaults) {
    let faults = QueueFaults::default();
    let queue = Arc::new(FaultyQueue {
        inner,
        faults: faults.clone(),
    });
    (queue, faults)
}

/// A platform whose queue is wrapped by [`faulty_queue`]; everything else is shared with the original.
pub fn wrap(platform: Platform) -> (Platform, QueueFaults) {
    let (queue, faults) = faulty_queue(platform.queue.clone());
    (Platform { queue, ..platform }, faults)
}
