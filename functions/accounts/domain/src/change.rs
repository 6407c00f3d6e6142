//! One unit of work: a state change, the audit records that describe it and the emails it causes, committed in one
//! table transaction. An email is written to the outbox (`lectern_shared::queue::outbox`) with the change, so a
//! crash or a queue outage after the commit delays it but cannot lose it, and a failed commit sends nothing and
//! records nothing: the request fails and can be retried.
//!
//! Use cases collect their writes into a [`Change`] (their own operations first, so the index a cancelled
//! transaction names is one they chose), then [`Accounts::commit`] it. After the commit the emails are sent at once
//! and their outbox entries removed (the fast path); whatever that does not finish, the relay sends.

use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::{self, OutboxEntry};
use lectern_shared::table::{
    Condition, Entity, Key, MAX_TRANSACTION_OPS, TableError, TableResult, TxOp,
};

use crate::audit::StoredEvent;
use crate::errors::AccountError;
use crate::service::Accounts;

/// DynamoDB's limit on the total size of one transaction (items are ≤ 400 KB and jobs ≤ 256 KB each, so only a
/// change carrying many large emails could reach it; it is refused rather than half-written).
const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// Writes that must happen together, with their audit records and emails.
#[derive(Debug, Default)]
#[must_use = "a change does nothing until it is committed"]
pub struct Change {
    /// The use case's own writes, in the order it chose.
    ops: Vec<TxOp>,
    /// Sessions to end: in the transaction as far as it has room, the rest right after it.
    sessions: Vec<Key>,
    audits: Vec<StoredEvent>,
    outbox: Vec<OutboxEntry>,
}

impl Change {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write of the change itself; its index in the transaction is the number of writes added before it.
    pub fn op(&mut self, op: TxOp) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Adds several writes, in order.
    pub fn ops(&mut self, ops: impl IntoIterator<Item = TxOp>) -> &mut Self {
        self.ops.extend(ops);
        self
    }

    /// How many writes of the change itself were added so far (the index of the next one).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
            && self.sessions.is_empty()
            && self.audits.is_empty()
            && self.outbox.is_empty()
    }

    /// Ends these sessions with the change. A session already gone is fine (`Always`), so ending them never makes
    /// the change fail.
    pub fn end_sessions(&mut self, sessions: impl IntoIterator<Item = Key>) -> &mut Self {
        self.sessions.extend(sessions);
        self
    }

    /// Records an audit event with the change.
    pub fn audit(&mut self, event: StoredEvent) -> &mut Self {
        self.audits.push(event);
        self
    }

    /// Sends an email (any job) once the change is committed, and only then.
    pub fn send(&mut self, entry: OutboxEntry) -> &mut Self {
        self.outbox.push(entry);
        self
    }

    /// The transaction: the change's writes, then as many session deletes as fit, the audit records and the outbox
    /// entries; and the session deletes left for after it.
    fn into_transaction(self) -> TableResult<(Vec<TxOp>, Vec<Key>, Vec<OutboxEntry>)> {
        let mut ops = self.ops;
        let mut tail = Vec::with_capacity(self.audits.len() + self.outbox.len());
        for event in &self.audits {
            tail.push(TxOp::Put {
                item: event.to_item()?,
                condition: Condition::NotExists,
            });
        }
        for entry in &self.outbox {
            tail.push(entry.put()?);
        }
        if ops.len() + tail.len() > MAX_TRANSACTION_OPS {
            return Err(TableError::Invalid(format!(
                "a change of {} writes, {} audit records and {} emails does not fit one transaction",
                ops.len(),
                self.audits.len(),
                self.outbox.len()
            )));
        }
        let bytes: usize = ops
            .iter()
            .chain(&tail)
            .map(|op| match op {
                TxOp::Put { item, .. } => serde_json::to_vec(item).map_or(0, |v| v.len()),
                _ => 0,
            })
            .sum();
        if bytes > MAX_TRANSACTION_BYTES {
            return Err(TableError::Invalid(format!(
                "a change of {bytes} bytes is over a transaction's {MAX_TRANSACTION_BYTES}"
            )));
        }
        let room = MAX_TRANSACTION_OPS - ops.len() - tail.len();
        let mut sessions = self.sessions;
        let later = sessions.split_off(sessions.len().min(room));
        ops.extend(sessions.into_iter().map(|key| TxOp::Delete {
            key,
            condition: Condition::Always,
        }));
        ops.extend(tail);
        Ok((ops, later, self.outbox))
    }
}

impl Accounts {
    /// Commits a change: every write, audit record and outbox entry, or none. Then sends its emails at once (best
    /// effort: the relay sends what this does not) and ends the sessions that did not fit the transaction.
    ///
    /// A cancelled transaction is returned as is (`TransactionCancelled { index }` names the use case's own write
    /// when it was one of those), for the use case to turn into its answer.
    pub(crate) async fn commit(&self, change: Change) -> TableResult<()> {
        if change.is_empty() {
            return Ok(());
        }
        let recorded: Vec<(String, String, Option<String>)> = change
            .audits
            .iter()
            .map(|e| {
                let e = &e.event;
                (e.action.as_str(), e.target_id.clone(), e.actor_id.clone())
            })
            .collect();
        let (ops, later, outbox) = change.into_transaction()?;
        let table = self.platform.table.as_ref();
        match <[TxOp; 1]>::try_from(ops) {
            // One write needs no transaction (which DynamoDB bills twice); the errors are made to look alike.
            Ok([TxOp::Put { item, condition }]) => {
                table.put(item, condition).await.map_err(|e| match e {
                    TableError::ConditionFailed => TableError::TransactionCancelled {
                        index: Some(0),
                        reason: "condition failed".into(),
                    },
                    other => other,
                })?
            }
            Ok(one) => table.transact(one.into()).await?,
            Err(ops) => table.transact(ops).await?,
        }
        for (action, target_id, actor_id) in recorded {
            tracing::info!(%action, target_id, actor_id, "audit");
        }
        if !outbox.is_empty() && self.config.outbox_fast_path {
            let queue = self.platform.queue.as_ref();
            outbox::deliver(
                table,
                queue,
                &self.platform.outbox_key,
                &outbox,
                self.epoch(),
            )
            .await;
        }
        for key in later {
            // The change is committed; a session that outlives it would be the one thing left undone, so a failure
            // here fails the request rather than pass unnoticed.
            table.delete(&key, Condition::Always).await?;
        }
        Ok(())
    }

    /// An email job as an outbox entry, created now.
    pub(crate) fn outbox_entry<J: lectern_shared::queue::JobKind>(
        &self,
        job: NewJob,
    ) -> TableResult<OutboxEntry> {
        OutboxEntry::new::<J>(job, self.epoch(), &self.platform.outbox_key)
            .map_err(|e| TableError::Invalid(format!("job refused: {e}")))
    }
}

/// The answer to a change whose transaction was cancelled (a condition failed: the account, a counter or a token
/// changed since it was read) or lost to a concurrent transaction: a conflict, which a retry resolves. Use cases
/// that give one of their own operations a meaning (a taken address, a spent token) match its index first.
pub(crate) fn conflict(e: TableError) -> AccountError {
    match e {
        TableError::TransactionCancelled { .. } | TableError::Retryable(_) => {
            AccountError::Conflict("the account changed meanwhile; try again".into())
        }
        other => other.into(),
    }
}
