//! Achievements: definitions are data (a name, a description, an icon and a rule), earned by a profile **exactly
//! once** — by the learning worker evaluating the rules after results are recorded, or awarded by hand.
//!
//! # Exactly once
//!
//! An earned achievement is the item `LEARNER#<profile_id>` / `ACHIEVEMENT#<achievement_id>`, put with the
//! condition that it does not exist. Whatever runs the evaluation twice — the same job delivered twice, two jobs of
//! two results racing, a worker retried after a crash, an instructor awarding it at the same moment — one put
//! wins and the others find it there and do nothing.
//!
//! The evaluation reads the profile's **state** (its statistics, the curriculum, the catalog of a category), not
//! the result that caused it, so one job stands for any number of results (an offline batch sends one), and a
//! job lost between the result's transaction and the queue is made good by the profile's next result.
//!
//! The parent's notification ([`lectern_messages::AchievementEarned`]) must not be lost either: it is written to
//! the outbox in the earned achievement's own transaction (idempotency key `achievement:<profile>:<achievement>`),
//! and sent right after the commit, or by the outbox relay.
//!
//! A job names the version of the profile's statistics that holds its result; the evaluation records the version
//! it evaluated (`LEARNER#<profile_id>` / `EVALUATED`), so the jobs of an offline batch's hundred results evaluate
//! the profile once or twice, not a hundred times. A job whose statistics are not visible yet is retried.
//!
//! Entities (declared once, here):
//! - achievement (definition) `ACHIEVEMENTS` / `ACHIEVEMENT#<achievement_id>`: every definition in one small
//!   partition (at most [`MAX_DEFINITIONS`]), read by one query per evaluation and per `GET /v1/achievements`;
//! - earned achievement `LEARNER#<profile_id>` / `ACHIEVEMENT#<achievement_id>`: a profile's, by one query of
//!   its partition;
//! - evaluation mark `LEARNER#<profile_id>` / `EVALUATED`: the statistics version last evaluated (a counter-like
//!   item, written only by updates).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use lectern_messages::AchievementEarned;
use lectern_messages::webhooks::{self, WebhookEvent};
use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::{self, OutboxEntry};
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Query, Shape, SortKey, TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Viewer;
use crate::catalog::{CatalogEntry, Filters, is_slug};
use crate::curriculum::{Curriculum, module_complete};
use crate::errors::{LearningError, LearningResult};
use crate::profiles::Profile;
use crate::progress::{LearnerStats, longest_run};
use crate::service::Learning;
use crate::validate;

/// Most achievement definitions.
pub const MAX_DEFINITIONS: usize = 200;
/// Longest name.
pub const MAX_ACHIEVEMENT_NAME: usize = 60;
/// Longest description.
pub const MAX_ACHIEVEMENT_DESCRIPTION: usize = 500;
/// Longest icon URL or key.
pub const MAX_ICON: usize = 500;
/// Largest count, score, streak or time a rule may ask for.
pub const MAX_RULE_NUMBER: i64 = 100_000_000;
/// Most games of a category the `category_complete` rule looks at.
pub const MAX_CATEGORY_GAMES: usize = 1000;

const LEARNER: Shape = Shape::new("LEARNER", &["profile_id"]);

/// What earns an achievement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// The first completed game.
    FirstCompletion,
    /// `count` completed games in all.
    Completions {
        #[serde(deserialize_with = "validate::whole")]
        #[schema(minimum = 1, maximum = 100000000)]
        count: i64,
    },
    /// A score of at least `score` in one game.
    ScoreAtLeast {
        #[schema(value_type = String, pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
        game_id: String,
        #[serde(deserialize_with = "validate::whole")]
        #[schema(minimum = 1, maximum = 100000000)]
        score: i64,
    },
    /// Played on `days` consecutive days (in the profile's time zone), at any time.
    Streak {
        #[serde(deserialize_with = "validate::whole")]
        #[schema(minimum = 1, maximum = 100000000)]
        days: i64,
    },
    /// A curriculum module complete.
    ModuleCompleted {
        #[schema(value_type = String, pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
        module_id: String,
    },
    /// At least `seconds` played in all.
    TotalTime {
        #[serde(deserialize_with = "validate::whole")]
        #[schema(minimum = 1, maximum = 100000000)]
        seconds: i64,
    },
    /// Every published game of a category completed (a category with no published game earns nothing).
    CategoryComplete {
        #[schema(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
        category: String,
    },
}

/// An achievement as authors write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AchievementInput {
    #[schema(schema_with = crate::schema::achievement_name)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// An `https://` URL or a key in the content store.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub icon: String,
    #[schema(schema_with = crate::schema::achievement_rule)]
    pub rule: Rule,
}

/// An achievement definition as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Achievement {
    pub achievement_id: String,
    #[serde(flatten)]
    pub content: AchievementInput,
    pub created_at: i64,
    pub updated_at: i64,
    /// Moves on every write; writes are conditional on the version read.
    #[serde(default)]
    pub version: i64,
}

impl Achievement {
    pub fn key_of(achievement_id: &str) -> Key {
        Self::INFO.key(&[], &[achievement_id])
    }
}

impl Entity for Achievement {
    const INFO: EntityInfo = EntityInfo::new(
        "achievement",
        KeyLayout::new(
            Shape::fixed("ACHIEVEMENTS"),
            Shape::new("ACHIEVEMENT", &["achievement_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.achievement_id)
    }
}

/// How an achievement was earned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EarnedBy {
    /// Its rule held after results were recorded.
    Rule,
    /// An instructor or admin awarded it.
    Award,
}

/// An achievement a profile earned, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earned {
    pub profile_id: String,
    pub achievement_id: String,
    pub name: String,
    pub icon: String,
    pub earned_at: i64,
    pub earned_by: EarnedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awarded_by: Option<String>,
}

/// An achievement a profile earned, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = EarnedAchievement)]
pub struct EarnedView {
    pub profile_id: String,
    pub achievement_id: String,
    /// The achievement's name and icon when it was earned (kept if the definition changes or goes).
    pub name: String,
    pub icon: String,
    pub earned_at: i64,
    pub earned_by: EarnedBy,
    /// Who awarded it by hand.
    pub awarded_by: Option<String>,
}

impl From<Earned> for EarnedView {
    fn from(e: Earned) -> Self {
        Self {
            profile_id: e.profile_id,
            achievement_id: e.achievement_id,
            name: e.name,
            icon: e.icon,
            earned_at: e.earned_at,
            earned_by: e.earned_by,
            awarded_by: e.awarded_by,
        }
    }
}

impl Earned {
    pub fn key_of(profile_id: &str, achievement_id: &str) -> Key {
        Self::INFO.key(&[profile_id], &[achievement_id])
    }
}

impl Entity for Earned {
    const INFO: EntityInfo = EntityInfo::new(
        "earned_achievement",
        KeyLayout::new(LEARNER, Shape::new("ACHIEVEMENT", &["achievement_id"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.profile_id, &self.achievement_id)
    }
}

/// The statistics version a profile's achievements were last evaluated at (`version`), written only by updates.
pub const EVALUATED: EntityInfo = EntityInfo::new(
    "achievement_evaluation",
    KeyLayout::new(LEARNER, Shape::fixed("EVALUATED")),
);

fn evaluated_key(profile_id: &str) -> Key {
    EVALUATED.key(&[profile_id], &[])
}

/// Checks a definition as authors send it; answers it normalised.
pub fn validate_achievement(mut a: AchievementInput) -> LearningResult<AchievementInput> {
    let mut errors = validate::FieldErrors::default();
    a.name = errors.text("name", &a.name, MAX_ACHIEVEMENT_NAME);
    errors.at_most("description", &a.description, MAX_ACHIEVEMENT_DESCRIPTION);
    errors.at_most("icon", &a.icon, MAX_ICON);
    let number = |n: i64| (1..=MAX_RULE_NUMBER).contains(&n);
    let id = |s: &mut String| {
        let ok = lectern_shared::ids::is_id(s);
        *s = s.to_ascii_uppercase();
        ok
    };
    let rule_ok = match &mut a.rule {
        Rule::FirstCompletion => true,
        Rule::Completions { count } => number(*count),
        Rule::ScoreAtLeast { game_id, score } => id(game_id) && number(*score),
        Rule::Streak { days } => number(*days),
        Rule::ModuleCompleted { module_id } => id(module_id),
        Rule::TotalTime { seconds } => number(*seconds),
        Rule::CategoryComplete { category } => is_slug(category),
    };
    if !rule_ok {
        errors.fail(
            "rule",
            format!("numbers 1 to {MAX_RULE_NUMBER}, ids of 26 characters, a category slug"),
        );
    }
    errors.done()?;
    Ok(a)
}

/// What a rule needs beyond the statistics.
struct Context<'a> {
    stats: &'a LearnerStats,
    curriculum: &'a Curriculum,
    /// Published games by category, for the categories the rules name.
    categories: &'a [(String, Vec<String>)],
}

impl Rule {
    fn holds(&self, c: &Context) -> bool {
        let s = c.stats;
        match self {
            Rule::FirstCompletion => s.completed >= 1,
            Rule::Completions { count } => s.completed >= *count,
            Rule::ScoreAtLeast { game_id, score } => {
                s.games.get(game_id).is_some_and(|g| g.best_score >= *score)
            }
            Rule::Streak { days } => {
                i64::from(longest_run(&s.days).max(s.longest_dropped)) >= *days
            }
            Rule::ModuleCompleted { module_id } => c
                .curriculum
                .modules
                .iter()
                .find(|m| &m.module_id == module_id)
                .is_some_and(|m| module_complete(s, m)),
            Rule::TotalTime { seconds } => s.seconds >= *seconds,
            Rule::CategoryComplete { category } => c
                .categories
                .iter()
                .find(|(name, _)| name == category)
                .is_some_and(|(_, games)| {
                    !games.is_empty()
                        && games
                            .iter()
                            .all(|g| s.games.get(g).is_some_and(|g| g.completions > 0))
                }),
        }
    }
}

/// What an evaluation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Achievements this run earned (none when another run got there first).
    pub earned: Vec<String>,
    /// An earlier evaluation already covered the state this job asked for.
    pub skipped: bool,
}

impl Learning {
    /// Every definition, by id (one query: the partition holds at most [`MAX_DEFINITIONS`]).
    pub async fn achievements(&self) -> LearningResult<Vec<Achievement>> {
        let page = self
            .platform
            .table
            .query(Achievement::INFO.query(&[]).limit(MAX_DEFINITIONS))
            .await?;
        Ok(page
            .items
            .into_iter()
            .map(Achievement::from_item)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// One definition.
    pub async fn achievement(&self, achievement_id: &str) -> LearningResult<Achievement> {
        self.platform
            .table
            .get(&Achievement::key_of(achievement_id))
            .await?
            .map(Achievement::from_item)
            .transpose()?
            .ok_or(LearningError::NotFound)
    }

    /// Adds a definition (at most [`MAX_DEFINITIONS`]).
    pub async fn create_achievement(&self, input: AchievementInput) -> LearningResult<Achievement> {
        let content = validate_achievement(input)?;
        if self.achievements().await?.len() >= MAX_DEFINITIONS {
            return Err(LearningError::Refused {
                status: StatusCode::CONFLICT,
                kind: "achievements-full",
                title: "Too many achievements",
                detail: format!("at most {MAX_DEFINITIONS} achievement definitions"),
            });
        }
        let now = self.now();
        let achievement = Achievement {
            achievement_id: lectern_shared::ids::new_id(),
            content,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.platform
            .table
            .put(achievement.to_item()?, Condition::NotExists)
            .await?;
        Ok(achievement)
    }

    /// Replaces a definition (achievements already earned keep the name and icon they were earned with).
    pub async fn replace_achievement(
        &self,
        achievement_id: &str,
        input: AchievementInput,
    ) -> LearningResult<Achievement> {
        let content = validate_achievement(input)?;
        let before = self.achievement(achievement_id).await?;
        let after = Achievement {
            content,
            updated_at: self.now(),
            version: before.version + 1,
            ..before.clone()
        };
        match self
            .platform
            .table
            .put(
                after.to_item()?,
                Condition::equals("version", before.version),
            )
            .await
        {
            Ok(()) => Ok(after),
            Err(TableError::ConditionFailed) => Err(LearningError::Conflict(
                "the achievement changed meanwhile; read it again and retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a definition; profiles that earned it keep it.
    pub async fn delete_achievement(&self, achievement_id: &str) -> LearningResult<()> {
        match self
            .platform
            .table
            .delete(&Achievement::key_of(achievement_id), Condition::Exists)
            .await
        {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed) => Err(LearningError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// A profile's earned achievements, oldest id first, in pages.
    pub async fn earned(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        limit: usize,
        position: Option<String>,
    ) -> LearningResult<(Vec<EarnedView>, Option<String>)> {
        self.visible_profile(viewer, profile_id).await?;
        let page = self
            .platform
            .table
            .query(
                Earned::INFO
                    .query(&[profile_id])
                    .limit(limit)
                    .after(position),
            )
            .await?;
        let items = page
            .items
            .into_iter()
            .map(|item| Earned::from_item(item).map(EarnedView::from))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, page.cursor))
    }

    /// Awards an achievement by hand (the caller holds `achievements:award`; any existing profile). Answers the
    /// earned achievement and whether this call earned it (`false`: it was earned before, and is unchanged).
    pub async fn award(
        &self,
        profile_id: &str,
        achievement_id: &str,
        awarded_by: &str,
    ) -> LearningResult<(EarnedView, bool)> {
        let profile = self
            .load_profile(profile_id)
            .await?
            .ok_or(LearningError::NotFound)?;
        let definition = self.achievement(achievement_id).await?;
        let earned = Earned {
            profile_id: profile.profile_id.clone(),
            achievement_id: definition.achievement_id.clone(),
            name: definition.content.name.clone(),
            icon: definition.content.icon.clone(),
            earned_at: self.now(),
            earned_by: EarnedBy::Award,
            awarded_by: Some(awarded_by.to_string()),
        };
        if self.store_earned(&profile, &earned).await? {
            Ok((earned.into(), true))
        } else {
            let before = self
                .platform
                .table
                .get(&earned.key())
                .await?
                .map(Earned::from_item)
                .transpose()?
                .ok_or_else(|| LearningError::Internal("an earned achievement vanished".into()))?;
            Ok((before.into(), false))
        }
    }

    /// Puts an earned achievement unless the profile has it, with the parent's notification in the outbox, and
    /// sends the notification; `false` when the profile had it.
    async fn store_earned(&self, profile: &Profile, earned: &Earned) -> LearningResult<bool> {
        let job = AchievementEarned {
            owner_id: profile.owner_id.clone(),
            profile_id: profile.profile_id.clone(),
            display_name: profile.display_name.clone(),
            achievement_id: earned.achievement_id.clone(),
            name: earned.name.clone(),
        };
        let key = format!(
            "achievement:{}:{}",
            profile.profile_id, earned.achievement_id
        );
        let job = NewJob::new(&job)
            .map_err(|e| LearningError::Internal(e.to_string()))?
            .idempotency_key(key);
        let entry =
            OutboxEntry::new::<AchievementEarned>(job, self.now(), &self.platform.outbox_key)
                .map_err(|e| LearningError::Internal(e.to_string()))?;
        // Integrators' `achievement.earned` webhook event, committed with the achievement.
        let event = WebhookEvent::of(
            webhooks::ACHIEVEMENT_EARNED,
            &format!("{}:{}", profile.profile_id, earned.achievement_id),
            self.now(),
            &webhooks::AchievementEarnedData {
                profile_id: profile.profile_id.clone(),
                achievement_id: earned.achievement_id.clone(),
                name: earned.name.clone(),
            },
        );
        let event = event
            .job()
            .and_then(|job| {
                OutboxEntry::new::<WebhookEvent>(job, self.now(), &self.platform.outbox_key)
            })
            .map_err(|e| LearningError::Internal(e.to_string()))?;
        let ops = vec![
            TxOp::Put {
                item: earned.to_item()?,
                condition: Condition::NotExists,
            },
            entry.put()?,
            event.put()?,
            // Only while the profile exists, so nothing is earned after its eraser ran.
            TxOp::Check {
                key: profile.key(),
                condition: Condition::Exists,
            },
        ];
        match self.platform.table.transact(ops).await {
            Ok(()) => {}
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => return Ok(false),
            Err(TableError::TransactionCancelled { index: Some(3), .. }) => {
                return Err(LearningError::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
        outbox::deliver(
            self.platform.table.as_ref(),
            self.platform.queue.as_ref(),
            &self.platform.outbox_key,
            &[entry, event],
            self.now(),
        )
        .await;
        Ok(true)
    }

    /// Evaluates every rule for a profile whose statistics hold at least `version` (0: whatever they hold) and
    /// stores what it newly earned, exactly once (see the module doc). A profile that no longer exists earns
    /// nothing; statistics not yet at `version` are a conflict, for the job to be retried.
    pub async fn evaluate_achievements(
        &self,
        profile_id: &str,
        version: i64,
    ) -> LearningResult<Evaluation> {
        let keys = [
            Profile::key_of(profile_id),
            LearnerStats::key_of(profile_id),
            Curriculum::key_of(),
            evaluated_key(profile_id),
        ];
        let mut profile = None;
        let mut stats = LearnerStats::default();
        let mut curriculum = Curriculum::default();
        let mut evaluated = 0;
        for item in self.platform.table.batch_get(&keys).await? {
            match Key::of(&item) {
                Some(k) if k == keys[0] => profile = Some(Profile::from_item(item)?),
                Some(k) if k == keys[1] => stats = LearnerStats::from_item(item)?,
                Some(k) if k == keys[3] => {
                    evaluated = item.get("version").and_then(Value::as_i64).unwrap_or(0)
                }
                _ => curriculum = Curriculum::from_item(item)?,
            }
        }
        let Some(profile) = profile else {
            return Ok(Evaluation::default());
        };
        if stats.version < version {
            return Err(LearningError::Conflict(
                "the statistics of this job are not visible yet".into(),
            ));
        }
        if version > 0 && evaluated >= version {
            return Ok(Evaluation {
                skipped: true,
                ..Evaluation::default()
            });
        }
        let definitions = self.achievements().await?;
        let mut have = BTreeSet::new();
        let mut position = None;
        loop {
            let page = self
                .platform
                .table
                .query(
                    Earned::INFO
                        .query(&[profile_id])
                        .limit(1000)
                        .after(position),
                )
                .await?;
            for item in page.items {
                have.insert(Earned::from_item(item)?.achievement_id);
            }
            match page.cursor {
                Some(next) => position = Some(next),
                None => break,
            }
        }
        let open: Vec<&Achievement> = definitions
            .iter()
            .filter(|d| !have.contains(&d.achievement_id))
            .collect();
        let mut categories = Vec::new();
        for d in &open {
            if let Rule::CategoryComplete { category } = &d.content.rule
                && !categories.iter().any(|(c, _)| c == category)
            {
                categories.push((category.clone(), self.category_games(category).await?));
            }
        }
        let context = Context {
            stats: &stats,
            curriculum: &curriculum,
            categories: &categories,
        };
        let mut outcome = Evaluation::default();
        for d in open.into_iter().filter(|d| d.content.rule.holds(&context)) {
            let earned = Earned {
                profile_id: profile.profile_id.clone(),
                achievement_id: d.achievement_id.clone(),
                name: d.content.name.clone(),
                icon: d.content.icon.clone(),
                earned_at: self.now(),
                earned_by: EarnedBy::Rule,
                awarded_by: None,
            };
            match self.store_earned(&profile, &earned).await {
                Ok(true) => {
                    tracing::info!(achievement_id = %d.achievement_id, "achievement earned");
                    outcome.earned.push(d.achievement_id.clone());
                }
                Ok(false) => {}
                // Deleted during the evaluation: it earns nothing more.
                Err(LearningError::NotFound) => return Ok(outcome),
                Err(e) => return Err(e),
            }
        }
        // Whatever a later job asks for up to this version is done (a race may lower it: that only costs work).
        // Only while the profile exists, like everything written under it.
        let marked = self
            .platform
            .table
            .transact(vec![
                TxOp::Update {
                    key: evaluated_key(profile_id),
                    update: EVALUATED.update().set("version", stats.version),
                    condition: Condition::Always,
                },
                TxOp::Check {
                    key: profile.key(),
                    condition: Condition::Exists,
                },
            ])
            .await;
        match marked {
            Ok(()) | Err(TableError::TransactionCancelled { index: Some(1), .. }) => Ok(outcome),
            Err(e) => Err(e.into()),
        }
    }

    /// The published games of a category (its catalog facet partition, at most [`MAX_CATEGORY_GAMES`]).
    async fn category_games(&self, category: &str) -> LearningResult<Vec<String>> {
        let facets = Filters {
            category: Some(category.to_string()),
            ..Filters::default()
        }
        .facets();
        let mut games = Vec::new();
        let mut position = None;
        while games.len() < MAX_CATEGORY_GAMES {
            let query: Query = CatalogEntry::INFO
                .query(&[&facets])
                .sk(SortKey::Any)
                .limit(100)
                .after(position);
            let page = self.platform.table.query(query).await?;
            for item in page.items {
                games.push(CatalogEntry::from_item(item)?.game_id);
            }
            match page.cursor {
                Some(next) => position = Some(next),
                None => break,
            }
        }
        Ok(games)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::GameStats;

    fn holds(rule: Rule, stats: &LearnerStats) -> bool {
        let categories = vec![(
            "numbers".to_string(),
            vec!["G1".to_string(), "G2".to_string()],
        )];
        rule.holds(&Context {
            stats,
            curriculum: &Curriculum::default(),
            categories: &categories,
        })
    }

    #[test]
    fn rules_read_the_statistics() {
        let mut stats = LearnerStats::default();
        assert!(!holds(Rule::FirstCompletion, &stats));
        stats.completed = 2;
        stats.seconds = 600;
        stats.days = vec![10, 11, 12, 20];
        stats.games.insert(
            "G1".into(),
            GameStats {
                plays: 2,
                completions: 2,
                best_score: 90,
                ..GameStats::default()
            },
        );
        assert!(holds(Rule::FirstCompletion, &stats));
        assert!(holds(Rule::Completions { count: 2 }, &stats));
        assert!(!holds(Rule::Completions { count: 3 }, &stats));
        let score = |score| Rule::ScoreAtLeast {
            game_id: "G1".into(),
            score,
        };
        assert!(holds(score(90), &stats) && !holds(score(91), &stats));
        assert!(holds(Rule::Streak { days: 3 }, &stats));
        assert!(!holds(Rule::Streak { days: 4 }, &stats));
        assert!(holds(Rule::TotalTime { seconds: 600 }, &stats));
        assert!(!holds(Rule::TotalTime { seconds: 601 }, &stats));
        let category = |c: &str| Rule::CategoryComplete { category: c.into() };
        assert!(!holds(category("numbers"), &stats), "G2 not played");
        stats.games.insert(
            "G2".into(),
            GameStats {
                completions: 1,
                ..GameStats::default()
            },
        );
        assert!(holds(category("numbers"), &stats));
        assert!(
            !holds(category("shapes"), &stats),
            "no games, nothing earned"
        );
        assert!(!holds(
            Rule::ModuleCompleted {
                module_id: "M".into()
            },
            &stats
        ));
    }
}
