//! Learning jobs: what the learning worker does after a result is recorded ([`ResultsRecorded`]), and the parent's
//! notification that a child earned an achievement ([`AchievementEarned`], delivered by the notifications worker
//! once the notifications issue lands; until then a deployment without its handler retries and dead-letters it).

use lectern_shared::queue::{JobKind, queues};
use serde::{Deserialize, Serialize};

/// Job: a profile recorded results; evaluate what follows from its statistics (achievements).
///
/// On the wire: `{"profile_id": "01J...", "result_ids": ["01J..."]}`. The evaluation reads the profile's state, not
/// the results named, so one job answers a whole offline batch, a duplicate changes nothing, and a lost job is made
/// good by the next one. Enqueue it with the idempotency key `results:<first result id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsRecorded {
    pub profile_id: String,
    /// The results that caused it (for the logs and, later, the leaderboards).
    pub result_ids: Vec<String>,
}

impl JobKind for ResultsRecorded {
    const KIND: &'static str = "learning.results_recorded";
    const QUEUE: &'static str = queues::LEARNING;
}

/// Job: tell the parent (the account that owns the profile) that the profile earned an achievement.
///
/// On the wire: `{"owner_id": .., "profile_id": .., "display_name": .., "achievement_id": .., "name": ..}`, with
/// the idempotency key `achievement:<profile_id>:<achievement_id>` (one notification per achievement earned).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AchievementEarned {
    pub owner_id: String,
    pub profile_id: String,
    /// The profile's display name, for the message.
    pub display_name: String,
    pub achievement_id: String,
    /// The achievement's name.
    pub name: String,
}

impl JobKind for AchievementEarned {
    const KIND: &'static str = "learning.achievement_earned";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_pinned() {
        let job = ResultsRecorded {
            profile_id: "P".into(),
            result_ids: vec!["R".into()],
        };
        assert_eq!(
            serde_json::to_string(&job).unwrap(),
            r#"{"profile_id":"P","result_ids":["R"]}"#
        );
        let earned = AchievementEarned {
            owner_id: "O".into(),
            profile_id: "P".into(),
            display_name: "Kid".into(),
            achievement_id: "A".into(),
            name: "First steps".into(),
        };
        assert_eq!(
            serde_json::to_string(&earned).unwrap(),
            r#"{"owner_id":"O","profile_id":"P","display_name":"Kid","achievement_id":"A","name":"First steps"}"#
        );
    }
}
