//! The learning domain's part of a personal-data export: the family (consents, the profile counter) and, for each
//! profile of the account, everything its eraser would delete — the profile, its results, statistics, progress,
//! achievements, recommendations, its leaderboard entries and its avatars. Found as the eraser finds them: the
//! family index and the profiles' own partitions, never a scan.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::export::{ExportError, ExportSink, Exporter, export_blobs, export_query};
use serde_json::Value;

use crate::erasure::{FAMILY_PARTITION, PROFILE_PARTITION};
use crate::leaderboards::BY_PROFILE;
use crate::profiles::{BY_FAMILY, avatar_prefix};

const PAGE: usize = 100;

/// Exports an account's family and child profiles.
pub struct LearningExporter {
    platform: Platform,
}

impl LearningExporter {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Exporter for LearningExporter {
    fn name(&self) -> &'static str {
        "learning"
    }

    fn entities(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "learner_profile",
                "each profile of the family: name, birth year, settings, parental controls",
            ),
            ("family", "the family's profile counter"),
            (
                "parental_consent",
                "the consents given for each child, with when and which policy version",
            ),
            ("game_result", "every game result recorded for a profile"),
            (
                "learner_stats",
                "per-profile, per-skill statistics derived from the results",
            ),
            (
                "onboarding_progress",
                "how far a profile got through onboarding",
            ),
            (
                "progress_key",
                "the idempotency keys of recorded results (so a retried upload counts once)",
            ),
            ("earned_achievement", "achievements a profile earned"),
            (
                "achievement_evaluation",
                "the marker of which results achievements were last evaluated against",
            ),
            (
                "recommendations",
                "the games recommended to a profile and why",
            ),
            (
                "transition_counted",
                "markers that a result was counted in the catalog's 'played next' statistics",
            ),
            ("board_entry", "a profile's leaderboard entries"),
        ]
    }

    async fn export(&self, user_id: &str, sink: &mut dyn ExportSink) -> Result<(), ExportError> {
        let table = self.platform.table.as_ref();
        let mut profiles = Vec::new();
        let mut cursor = None;
        loop {
            let page = table
                .query(BY_FAMILY.query(&[user_id]).limit(PAGE).after(cursor))
                .await?;
            profiles.extend(
                page.items
                    .iter()
                    .filter_map(|item| item.get("profile_id").and_then(Value::as_str))
                    .map(str::to_string),
            );
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let name = self.name();
        export_query(
            table,
            FAMILY_PARTITION.query(&[user_id]).limit(PAGE),
            name,
            sink,
        )
        .await?;
        for profile in &profiles {
            export_query(
                table,
                PROFILE_PARTITION.query(&[profile]).limit(PAGE),
                name,
                sink,
            )
            .await?;
            export_query(table, BY_PROFILE.query(&[profile]).limit(PAGE), name, sink).await?;
            export_blobs(
                self.platform.blobs.as_ref(),
                &avatar_prefix(profile),
                name,
                sink,
            )
            .await?;
        }
        Ok(())
    }
}
