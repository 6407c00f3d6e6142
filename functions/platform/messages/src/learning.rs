//! Learning jobs: what the learning worker does after a result is recorded ([`ResultsRecorded`]) and after a
//! profile is deleted ([`EraseProfile`]), and the parent's
//! notification that a child earned an achievement ([`AchievementEarned`], delivered by the notifications worker as
//! an `achievements` notification to the profile's owner).

use lectern_shared::queue::{JobKind, queues};
use serde::{Deserialize, Serialize};

/// Job: a profile recorded a result; put its score on the leaderboards, evaluate what the profile's state now
/// earns (achievements) and recompute what it might play next (recommendations).
///
/// On the wire: `{"profile_id": "01J...", "results": [{"result_id": .., "game_id": .., "score": 870,
/// "played_at": 1764000000}], "stats_version": 12}`. Written to the outbox in the result's own transaction, with
/// the idempotency key `results:<result id>`, so it is never lost and runs once. The achievements evaluation reads
/// the profile's state (at least `stats_version`), so a job whose state an earlier evaluation already covered skips
/// it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsRecorded {
    pub profile_id: String,
    pub results: Vec<RecordedScore>,
    /// The version of the profile's statistics that holds these results.
    pub stats_version: i64,
}

/// A recorded result, as the leaderboards need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedScore {
    pub result_id: String,
    pub game_id: String,
    pub score: i64,
    /// When it was played (epoch seconds): the periods it counts in.
    pub played_at: i64,
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

/// Job: forget a deleted profile — its results, statistics, achievements, leaderboard entries and avatar.
///
/// On the wire: `{"profile_id": "01J..."}`. Written to the outbox in the transaction that deletes the profile, so
/// a deleted profile's data is always erased; the job is idempotent (erasing what is gone does nothing) and a run
/// that runs out of time continues in a new job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseProfile {
    pub profile_id: String,
}

impl JobKind for EraseProfile {
    const KIND: &'static str = "learning.erase_profile";
    const QUEUE: &'static str = queues::LEARNING;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_pinned() {
        let job = ResultsRecorded {
            profile_id: "P".into(),
            results: vec![RecordedScore {
                result_id: "R".into(),
                game_id: "G".into(),
                score: 5,
                played_at: 7,
            }],
            stats_version: 3,
        };
        assert_eq!(
            serde_json::to_string(&job).unwrap(),
            r#"{"profile_id":"P","results":[{"result_id":"R","game_id":"G","score":5,"played_at":7}],"stats_version":3}"#
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
        let erase = EraseProfile {
            profile_id: "P".into(),
        };
        assert_eq!(
            serde_json::to_string(&erase).unwrap(),
            r#"{"profile_id":"P"}"#
        );
    }
}
