//! The [`Queue`] port on SQS. Each logical queue is the SQS queue `{prefix}{name}`, with a redrive policy that
//! moves a message to `{prefix}{name}-dlq` after the configured number of receives.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use tokio::sync::RwLock;

use super::{Delivery, Job, MAX_BATCH, NewJob, Queue, QueueError, QueueResult, queues, validate};

/// Message attribute carrying the job's idempotency key (for filtering and debugging without decoding the body).
pub const IDEMPOTENCY_ATTRIBUTE: &str = "idempotency_key";
/// Most bytes SQS accepts in one SendMessageBatch request (bodies plus attributes).
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// SQS's longest visibility timeout (12 hours).
/// How long dead letters stay in their queue (SQS's maximum, 14 days).
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

/// Jobs on SQS.
pub struct SqsQueue {
    client: Client,
    prefix: String,
    /// Logical name → queue URL, looked up once.
    urls: RwLock<HashMap<String, String>>,
    /// Logical name → its dead-letter queue's URL, looked up once.
    dlq_urls: RwLock<HashMap<String, String>>,
}

impl SqsQueue {
    /// Uses the SQS queues named `{queue_prefix}{logical name}`.
    pub fn new(client: Client, queue_prefix: &str) -> Self {
        Self {
            client,
            prefix: queue_prefix.to_string(),
            urls: RwLock::new(HashMap::new()),
            dlq_urls: RwLock::new(HashMap::new()),
        }
    }

    async fn url(&self, queue: &str) -> QueueResult<String> {
        if !queues::ALL.contains(&queue) {
            return Err(QueueError::UnknownQueue(queue.to_string()));
        }
        if let Some(url) = self.urls.read().await.get(queue) {
            return Ok(url.clone());
        }
        let url = lookup_url(&self.client, &format!("{}{queue}", self.prefix)).await?;
        self.urls
            .write()
            .await
            .insert(queue.to_string(), url.clone());
        Ok(url)
    }

    async fn dlq_url(&self, queue: &str) -> QueueResult<String> {
        if let Some(url) = self.dlq_urls.read().await.get(queue) {
            return Ok(url.clone());
        }
        let url = self.url(queue).await?;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| map_err("GetQueueAttributes", e))?;
        let policy = out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .ok_or_else(|| {
                QueueError::Unavailable(format!("queue {queue} has no redrive policy"))
            })?;
        let arn = serde_json::from_str::<serde_json::Value>(policy)
            .ok()
            .and_then(|p| {
                p.get("deadLetterTargetArn")
                    .and_then(|a| a.as_str())
                    .map(str::to_string)
            })
            .ok_or_else(|| {
                QueueError::Unavailable(format!("queue {queue} has an unreadable redrive policy"))
            })?;
        // arn:aws:sqs:region:account:name
        let name = arn
            .rsplit(':')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| QueueError::Unavailable("bad DLQ ARN".into()))?;
        let dlq = lookup_url(&self.client, name).await?;
        self.dlq_urls
            .write()
            .await
            .insert(queue.to_string(), dlq.clone());
        Ok(dlq)
    }

    /// Sends one batch; returns message ids by entry id and the entries that failed.
    async fn send_batch(
        &self,
        url: &str,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> QueueResult<(
        HashMap<String, String>,
        Vec<(SendMessageBatchRequestEntry, bool, String)>,
    )> {
        let out = self
            .client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(|e| map_err("SendMessageBatch", e))?;
        let sent: HashMap<String, String> = out
            .successful()
            .iter()
            .map(|s| (s.id().to_string(), s.message_id().to_string()))
            .collect();
        let mut failed = Vec::new();
        for f in out.failed() {
            if let Some(entry) = entries.iter().find(|e| e.id() == f.id()) {
                failed.push((
                    entry.clone(),
                    f.sender_fault(),
                    format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                ));
            }
        }
        Ok((sent, failed))
    }

    async fn receive_from(
        &self,
        url: &str,
        max: usize,
        visibility_secs: i32,
    ) -> QueueResult<Vec<Message>> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max.min(MAX_BATCH)).unwrap_or(10))
            .visibility_timeout(visibility_secs)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| map_err("ReceiveMessage", e))?;
        Ok(out.messages.unwrap_or_default())
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: &str, jobs: Vec<NewJob>) -> QueueResult<Vec<String>> {
        let mut encoded = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let body = validate(queue, job)?;
            let body = String::from_utf8(body).map_err(|e| QueueError::Invalid(e.to_string()))?;
            encoded.push(body);
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.url(queue).await?;
        let mut ids = vec![String::new(); jobs.len()];
        // Batches hold at most 10 entries and 256 KiB in total.
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut size = 0;
        for (i, (job, body)) in jobs.iter().zip(&encoded).enumerate() {
            let bytes = body.len()
                + job
                    .job
                    .idempotency_key
                    .as_ref()
                    .map_or(0, |k| k.len() + IDEMPOTENCY_ATTRIBUTE.len() + 6);
            match batches.last_mut() {
                Some(batch) if batch.len() < MAX_BATCH && size + bytes <= MAX_BATCH_BYTES => {
                    batch.push(i);
                    size += bytes;
                }
                _ => {
                    batches.push(vec![i]);
                    size = bytes;
                }
            }
        }
        for batch in batches {
            let mut entries = Vec::with_capacity(batch.len());
            for &i in &batch {
                let job = &jobs[i];
                let mut entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(encoded[i].clone())
                    .delay_seconds(i32::try_from(job.delay.as_secs()).unwrap_or(900));
                if let Some(key) = &job.job.idempotency_key {
                    let attr = MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(key)
                        .build()
                        .map_err(|e| QueueError::Invalid(e.to_string()))?;
                    entry = entry.message_attributes(IDEMPOTENCY_ATTRIBUTE, attr);
                }
                entries.push(
                    entry
                        .build()
                        .map_err(|e| QueueError::Invalid(e.to_string()))?,
                );
            }
            let (sent, mut failed) = self.send_batch(&url, entries).await?;
            let mut record = |sent: HashMap<String, String>| {
                for (id, message_id) in sent {
                    if let Some(slot) = id.parse::<usize>().ok().and_then(|i| ids.get_mut(i)) {
                        *slot = message_id;
                    }
                }
            };
            record(sent);
            // Failures the service blames on itself are worth one more try; the sender's own are not.
            let retry: Vec<_> = failed
                .iter()
                .filter(|(_, sender_fault, _)| !sender_fault)
                .map(|(e, _, _)| e.clone())
                .collect();
            if !retry.is_empty() {
                failed.retain(|(_, sender_fault, _)| *sender_fault);
                let (sent, again) = self.send_batch(&url, retry).await?;
                record(sent);
                failed.extend(again);
            }
            if let Some((entry, sender_fault, reason)) = failed.first() {
                tracing::error!(queue, failed = failed.len(), reason, "jobs were not sent");
                let message = format!(
                    "{} job(s) not sent (first, entry {}): {reason}",
                    failed.len(),
                    entry.id()
                );
                return Err(if *sender_fault {
                    QueueError::Invalid(message)
                } else {
                    QueueError::Unavailable(message)
                });
            }
        }
        Ok(ids)
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        let url = self.url(queue).await?;
        // One receive hands out at most one batch, as the embedded queue does.
        let max = max.min(MAX_BATCH);
        let visibility =
            i32::try_from(visibility.as_secs().min(super::MAX_VISIBILITY.as_secs())).unwrap_or(0);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // SQS hands out at most 10 per call. Messages received with no visibility timeout stay visible and would
        // come straight back, so then one call is all there is.
        while out.len() < max {
            let messages = self.receive_from(&url, max - out.len(), visibility).await?;
            let mut fresh = false;
            for message in messages {
                if !message
                    .message_id()
                    .is_some_and(|id| seen.insert(id.to_string()))
                {
                    continue;
                }
                fresh = true;
                if let Some(delivery) = decode(queue, message) {
                    out.push(delivery);
                }
            }
            if !fresh || visibility == 0 {
                break;
            }
        }
        Ok(out)
    }

    async fn ack(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| map_err("DeleteMessage", e))?;
        Ok(())
    }

    async fn retry_later(&self, queue: &str, receipt: &str, delay: Duration) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(
                i32::try_from(delay.as_secs().min(super::MAX_VISIBILITY.as_secs())).unwrap_or(0),
            )
            .send()
            .await
            .map_err(|e| map_err("ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn dead_letters(&self, queue: &str, max: usize) -> QueueResult<Vec<Delivery>> {
        let url = self.dlq_url(queue).await?;
        let mut seen = HashSet::new();
        let mut found: Vec<(u64, Delivery)> = Vec::new();
        // A visibility timeout of 0 peeks without hiding, so the same message can come back; stop when a round
        // brings nothing new.
        while found.len() < max {
            let messages = self.receive_from(&url, max - found.len(), 0).await?;
            let mut fresh = false;
            for message in messages {
                let sent = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|t| t.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                let Some(id) = message.message_id().map(str::to_string) else {
                    continue;
                };
                if !seen.insert(id) {
                    continue;
                }
                fresh = true;
                if let Some(delivery) = decode(queue, message) {
                    found.push((sent, delivery));
                }
            }
            if !fresh {
                break;
            }
        }
        found.sort_by_key(|(sent, _)| *sent);
        found.truncate(max);
        Ok(found.into_iter().map(|(_, d)| d).collect())
    }

    async fn dead_letter_count(&self, queue: &str) -> QueueResult<u64> {
        let url = self.dlq_url(queue).await?;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| map_err("GetQueueAttributes", e))?;
        let attributes = out.attributes();
        let count = |name: QueueAttributeName| {
            attributes
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    async fn redrive(&self, queue: &str, max: usize) -> QueueResult<usize> {
        let dlq = self.dlq_url(queue).await?;
        let mut moved = 0;
        while moved < max {
            // Hidden while being moved; a failure before the delete leaves it in the dead-letter queue, visible
            // again after a minute, and sent at most twice (the job's idempotency key makes that harmless).
            let messages = self.receive_from(&dlq, max - moved, 60).await?;
            if messages.is_empty() {
                break;
            }
            let mut jobs = Vec::with_capacity(messages.len());
            let mut receipts = Vec::with_capacity(messages.len());
            for message in messages {
                let receipt = message.receipt_handle().map(str::to_string);
                match decode(queue, message) {
                    Some(delivery) => jobs.push(NewJob {
                        job: delivery.job,
                        delay: Duration::ZERO,
                    }),
                    // Not a job: it stays where someone can look at it.
                    None => continue,
                }
                receipts.extend(receipt);
            }
            if jobs.is_empty() {
                break;
            }
            self.send(queue, jobs).await?;
            for receipt in receipts {
                self.client
                    .delete_message()
                    .queue_url(&dlq)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| map_err("DeleteMessage", e))?;
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn ping(&self) -> QueueResult<()> {
        for queue in queues::ALL {
            lookup_url(&self.client, &format!("{}{queue}", self.prefix)).await?;
        }
        Ok(())
    }
}

/// Turns a message into a delivery; a body that is not a job is logged and left alone so the redrive policy
/// moves it to the dead-letter queue where someone can look at it.
fn decode(queue: &str, message: Message) -> Option<Delivery> {
    let message_id = message.message_id()?.to_string();
    let receipt = message.receipt_handle()?.to_string();
    let receive_count = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(1);
    match serde_json::from_str::<Job>(message.body().unwrap_or_default()) {
        Ok(job) => Some(Delivery {
            message_id,
            receipt,
            receive_count,
            job,
        }),
        Err(e) => {
            tracing::warn!(queue, message_id, error = %e, "message body is not a job; leaving it for the dead-letter queue");
            None
        }
    }
}

async fn lookup_url(client: &Client, name: &str) -> QueueResult<String> {
    let out = client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| map_err("GetQueueUrl", e))?;
    out.queue_url()
        .map(str::to_string)
        .ok_or_else(|| QueueError::Unavailable(format!("no URL for queue {name}")))
}

/// Creates every logical queue under `prefix`, each with a dead-letter queue `{name}-dlq` and a redrive policy of
/// `max_receives` receives. Safe to run again with the same settings.
pub async fn create_queues(client: &Client, prefix: &str, max_receives: u32) -> QueueResult<()> {
    if max_receives == 0 {
        return Err(QueueError::Invalid(
            "max_receives must be at least 1".into(),
        ));
    }
    for queue in queues::ALL {
        let dlq = client
            .create_queue()
            .queue_name(format!("{prefix}{queue}-dlq"))
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_SECS.to_string(),
            )
            .send()
            .await
            .map_err(|e| map_err("CreateQueue", e))?;
        let dlq_url = dlq
            .queue_url()
            .ok_or_else(|| QueueError::Unavailable("CreateQueue returned no URL".into()))?;
        let attrs = client
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| map_err("GetQueueAttributes", e))?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .ok_or_else(|| QueueError::Unavailable("dead-letter queue has no ARN".into()))?;
        let policy =
            serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receives })
                .to_string();
        client
            .create_queue()
            .queue_name(format!("{prefix}{queue}"))
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .map_err(|e| map_err("CreateQueue", e))?;
    }
    Ok(())
}

fn map_err<E, R>(op: &'static str, err: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let crate::aws::SdkFailure {
        code,
        message,
        detail,
    } = crate::aws::SdkFailure::of(&err);
    match code.as_str() {
        "ReceiptHandleIsInvalid"
        | "InvalidParameterValue"
        | "InvalidAttributeValue"
        | "InvalidMessageContents"
        | "MessageNotInflight"
        | "BatchEntryIdsNotDistinct"
        | "InvalidBatchEntryId"
        | "BatchRequestTooLong"
        | "TooManyEntriesInBatchRequest"
        | "EmptyBatchRequest" => {
            tracing::warn!(op, code, message, "sqs rejected request");
            QueueError::Invalid(format!("{op}: {code}: {message}"))
        }
        _ => {
            tracing::error!(op, error = %detail, "sqs call failed");
            QueueError::Unavailable(format!("{op}: {detail}"))
        }
    }
}
