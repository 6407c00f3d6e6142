//! Account jobs other parts of the platform send to the accounts domain.

use lectern_shared::queue::{JobKind, queues};
use serde::{Deserialize, Serialize};

/// Job: erase a soft-deleted account whose grace period is over, in every domain (see
/// `lectern_shared::erasure`). Housekeeping sends one per due entry; the jobs worker runs it. Sent without an
/// idempotency key: the purge is idempotent by itself, and a key would keep the user id in a job claim after the
/// erasure.
///
/// On the wire: `{"user_id": "01J…", "due_at": 1900000000}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeAccount {
    pub user_id: String,
    /// When the erasure became due (the `ErasureDue` entry it was found by), epoch seconds.
    pub due_at: i64,
}

impl JobKind for PurgeAccount {
    const KIND: &'static str = "account.purge";
    const QUEUE: &'static str = queues::JOBS;
}

/// Job: write the personal-data export `export_id` of an account (every domain's exporter), store it privately
/// and email its owner a download link. The accounts domain writes it to its outbox with the export's record; the
/// jobs worker runs it. Idempotent: an export already written is not written again.
///
/// On the wire: `{"user_id": "01J…", "export_id": "01J…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportAccount {
    pub user_id: String,
    pub export_id: String,
}

impl JobKind for ExportAccount {
    const KIND: &'static str = "account.export";
    const QUEUE: &'static str = queues::JOBS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_stable() {
        let job = PurgeAccount {
            user_id: "01J9ZQ7K3MX4T8V2B6N1C5D0EF".into(),
            due_at: 1_900_000_000,
        };
        let wire =
            serde_json::json!({"user_id": "01J9ZQ7K3MX4T8V2B6N1C5D0EF", "due_at": 1_900_000_000});
        assert_eq!(serde_json::to_value(&job).unwrap(), wire);
        assert_eq!(serde_json::from_value::<PurgeAccount>(wire).unwrap(), job);
        assert_eq!(
            (PurgeAccount::KIND, PurgeAccount::QUEUE),
            ("account.purge", "jobs")
        );
    }
}
