//! Recommendations: what a profile might play next. They are computed by the learning worker after each batch of
//! results (`learning.results_recorded`), never on the request path: `GET /v1/profiles/{id}/recommendations` reads
//! the profile and its stored list in one batched read, then the games it names in another, so a game unpublished
//! or blocked by the parental controls since the list was computed is left out.
//!
//! Three sources, in this order, without duplicates, at most [`MAX_RECOMMENDATIONS`] games:
//! 1. **curriculum**: the games not done yet of the modules the profile may work on now (prerequisites complete,
//!    module not complete), path by path in module order;
//! 2. **weak skills**: for the [`WEAK_SKILLS`] skills with the lowest average stars (at least
//!    [`MIN_SKILL_RESULTS`] results, below [`WEAK_STARS`] stars on average), the most popular published games of the
//!    skill in the profile's age band that it has not mastered (three stars): one query of the catalog's facet
//!    partition per skill, the same read as `GET /v1/games?age=..&skill=..&sort=popular`;
//! 3. **similar learners** ("learners who finished X went on to Y"): for the last [`RECENT_GAMES`] games the profile
//!    finished (among its latest results), the games other profiles most often played next, that it has not played.
//!
//! Every game recommended is published, allowed by the profile's controls and (for the last two sources) made for
//! its age; the curriculum's games are recommended whatever their age range, since authors put them there.
//!
//! **Successor counts.** For each recorded result of game Y, the job looks up the profile's result recorded just
//! before it (one query of the profile's results, newest first); when that one was a finished game X other than
//! Y, it adds one to the counter `NEXT#<X>` / `<Y>`, in a transaction with a marker of the result (`COUNTED#<result
//! id>`, put only if absent, kept [`MARK_DAYS`] days: longer than a job can be redelivered), so a redelivered job
//! counts nothing twice whatever order the jobs run in (each result has its own job). A result that arrives after
//! a later one was counted (an offline device syncing late) is counted against what was recorded before it by
//! then: the counts are a popularity signal, not a ledger. The counts of one game are a partition read one page
//! at a time ([`SUCCESSORS_READ`] items, the most counted of them used): a game followed by more distinct games
//! than that is ranked on a sample, which keeps the read bounded (a sorted index on the count would cost a second
//! write per transition).
//!
//! **The list** is stored with the statistics version it was computed from and written conditionally on its own
//! version: a job whose version the stored list already covers leaves it alone.
//!
//! Children's data: the list names games and modules only. The counters hold no profile id.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::access::Viewer;
use crate::catalog::{Filters, Game, GameStatus, Sort};
use crate::curriculum::{Curriculum, ModuleState, progress_of};
use crate::errors::LearningResult;
use crate::profiles::Profile;
use crate::progress::{GameResult, LearnerStats};
use crate::service::Learning;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Shape, SortKey, TableError, TxOp,
};

/// Most games in a list.
pub const MAX_RECOMMENDATIONS: usize = 10;
/// Weak skills a list draws from.
pub const WEAK_SKILLS: usize = 2;
/// Results of a skill before it can be called weak.
pub const MIN_SKILL_RESULTS: i64 = 3;
/// Average stars below which a skill is weak.
pub const WEAK_STARS: f64 = 2.0;
/// Stars that master a game (it is no longer recommended for practice).
pub const MASTERED_STARS: i32 = 3;
/// Games recommended per source item (per weak skill, per game just finished).
const PER_SOURCE: usize = 3;
/// Catalog entries read per weak skill.
const CATALOG_READ: usize = 20;
/// Successor counters read per game just finished.
pub const SUCCESSORS_READ: usize = 100;
/// Games finished last whose successors are looked up.
const RECENT_GAMES: usize = 3;
/// Latest results read to find them.
const RECENT_RESULTS: usize = 20;
/// How long a result's counted mark is kept (SQS keeps a message at most 14 days).
pub const MARK_DAYS: i64 = 30;
/// Attempts at storing a list when another job stored one meanwhile. A job loses only to a job that wrote first;
/// once a newer version is stored it stops, so with the up to 10 jobs a queue batch runs at once for one profile,
/// the newest can lose at most 9 times before it writes.
const ATTEMPTS: usize = 10;

const LEARNER: Shape = Shape::new("LEARNER", &["profile_id"]);

/// Why a game is recommended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A game of a module the profile may work on now; `because` is the module's id.
    Curriculum,
    /// A game training a skill the profile scores low in; `because` is the skill.
    WeakSkill,
    /// Learners who finished a game went on to this one; `because` is that game's id.
    SimilarLearners,
}

/// One game of a stored list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggested {
    pub game_id: String,
    pub reason: Reason,
    pub because: String,
}

/// A profile's list as the worker stored it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recommendations {
    pub profile_id: String,
    pub items: Vec<Suggested>,
    /// The statistics version it was computed from: a job for this version or an older one changes nothing.
    pub stats_version: i64,
    pub computed_at: i64,
    /// Moves on every write; writes are conditional on the version read.
    pub version: i64,
}

impl Recommendations {
    pub fn key_of(profile_id: &str) -> Key {
        Self::INFO.key(&[profile_id], &[])
    }
}

impl Entity for Recommendations {
    const INFO: EntityInfo = EntityInfo::new(
        "recommendations",
        KeyLayout::new(LEARNER, Shape::fixed("RECOMMENDATIONS")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.profile_id)
    }
}

/// How often profiles that had finished `game_id` played `next_game_id` next (written by updates only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    pub game_id: String,
    pub next_game_id: String,
    pub count: i64,
}

impl Successor {
    pub fn key_of(game_id: &str, next_game_id: &str) -> Key {
        Self::INFO.key(&[game_id], &[next_game_id])
    }
}

impl Entity for Successor {
    const INFO: EntityInfo = EntityInfo::new(
        "game_successor",
        KeyLayout::new(
            Shape::new("NEXT", &["game_id"]),
            Shape::values(&["next_game_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.game_id, &self.next_game_id)
    }
}

/// A result whose transition was counted (or found to be none): the job's exactly-once mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub profile_id: String,
    pub result_id: String,
    /// Written as the item's `ttl` by [`Entity::ttl`].
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl Counted {
    pub fn key_of(profile_id: &str, result_id: &str) -> Key {
        Self::INFO.key(&[profile_id], &[result_id])
    }
}

impl Entity for Counted {
    const INFO: EntityInfo = EntityInfo::new(
        "transition_counted",
        KeyLayout::new(LEARNER, Shape::new("COUNTED", &["result_id"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.profile_id, &self.result_id)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// A recorded result, as a job names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Played {
    pub result_id: String,
    pub game_id: String,
    pub played_at: i64,
}

/// A recommended game as shown.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub game_id: String,
    pub title: String,
    pub category: String,
    pub estimated_minutes: i32,
    pub reason: Reason,
    /// The module (`curriculum`), the skill (`weak_skill`) or the game finished before (`similar_learners`).
    pub because: String,
}

/// A profile's recommendations as shown.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecommendationsView {
    pub profile_id: String,
    /// Best first.
    pub items: Vec<Recommendation>,
    /// When the list was computed (epoch seconds); `null` before the profile's first result was processed.
    pub computed_at: Option<i64>,
}

/// The weak skills of `stats`, weakest first: enough results and a low average.
pub fn weak_skills(stats: &LearnerStats) -> Vec<String> {
    let mut weak: Vec<(f64, &String)> = stats
        .skills
        .iter()
        .filter(|(_, s)| s.results >= MIN_SKILL_RESULTS)
        .map(|(name, s)| (s.stars as f64 / s.results as f64, name))
        .filter(|(average, _)| *average < WEAK_STARS)
        .collect();
    weak.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    weak.into_iter()
        .take(WEAK_SKILLS)
        .map(|(_, name)| name.clone())
        .collect()
}

/// The games of the modules the profile may work on now, not done yet, in path and module order.
pub fn curriculum_games(curriculum: &Curriculum, stats: &LearnerStats) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in progress_of(curriculum, stats) {
        for module in path.modules {
            if !matches!(
                module.state,
                ModuleState::Available | ModuleState::InProgress
            ) {
                continue;
            }
            let Some(stored) = curriculum
                .modules
                .iter()
                .find(|m| m.module_id == module.module_id)
            else {
                continue;
            };
            for game in &stored.content.games {
                let done = stats.games.get(game).is_some_and(|g| {
                    g.completions > 0 && g.completed_stars >= stored.content.min_stars
                });
                if !done {
                    out.push((game.clone(), module.module_id.clone()));
                }
            }
        }
    }
    out
}

/// Merges the sources in order, without duplicates, up to [`MAX_RECOMMENDATIONS`].
fn merge(sources: Vec<Vec<Suggested>>) -> Vec<Suggested> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for suggested in sources.into_iter().flatten() {
        if out.len() == MAX_RECOMMENDATIONS {
            break;
        }
        if seen.insert(suggested.game_id.clone()) {
            out.push(suggested);
        }
    }
    out
}

impl Learning {
    /// After results were recorded (`played`, whose statistics are at `stats_version`): counts the transition each
    /// makes, once, and recomputes the profile's list unless it already covers that version. A deleted profile
    /// gets nothing.
    pub async fn refresh_recommendations(
        &self,
        profile_id: &str,
        stats_version: i64,
        played: &[Played],
    ) -> LearningResult<()> {
        for result in played {
            if !self.count_transition(profile_id, result).await? {
                return Ok(());
            }
        }
        for _ in 0..ATTEMPTS {
            let keys = [
                Profile::key_of(profile_id),
                LearnerStats::key_of(profile_id),
                Curriculum::key_of(),
                Recommendations::key_of(profile_id),
            ];
            let (mut profile, mut stats, mut curriculum, mut stored) = (None, None, None, None);
            for item in self.platform.table.batch_get(&keys).await? {
                match Key::of(&item) {
                    Some(k) if k == keys[0] => profile = Some(Profile::from_item(item)?),
                    Some(k) if k == keys[1] => stats = Some(LearnerStats::from_item(item)?),
                    Some(k) if k == keys[2] => curriculum = Some(Curriculum::from_item(item)?),
                    _ => stored = Some(Recommendations::from_item(item)?),
                }
            }
            let Some(profile) = profile else {
                return Ok(());
            };
            let stats = stats.unwrap_or_default();
            let before = stored.unwrap_or_default();
            if before.version > 0 && before.stats_version >= stats_version {
                return Ok(());
            }
            let items = self
                .compute(&profile, &stats, &curriculum.unwrap_or_default())
                .await?;
            let after = Recommendations {
                profile_id: profile_id.to_string(),
                items,
                stats_version,
                computed_at: self.now(),
                version: before.version + 1,
            };
            let ops = vec![
                TxOp::Put {
                    item: after.to_item()?,
                    condition: Condition::at_version(before.version),
                },
                // Nothing is written under a deleted profile (its eraser may have been through already).
                TxOp::Check {
                    key: profile.key(),
                    condition: Condition::Exists,
                },
            ];
            match self.platform.table.transact(ops).await {
                Ok(()) => return Ok(()),
                // Another job stored a list meanwhile, or the profile is gone: read again and decide again.
                Err(TableError::ConditionFailed | TableError::TransactionCancelled { .. }) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(TableError::Retryable("recommendations kept changing; retry the job".into()).into())
    }

    /// Counts the transition `result` makes from the profile's result recorded before it, exactly once. `false`
    /// when the profile is gone.
    async fn count_transition(&self, profile_id: &str, result: &Played) -> LearningResult<bool> {
        let shape = GameResult::INFO.primary.sk;
        let this = shape.build(&[&format!("{:012}", result.played_at), &result.result_id]);
        let page = self
            .platform
            .table
            .query(
                GameResult::INFO
                    .query(&[profile_id])
                    .sk(SortKey::Between(shape.prefix(&[]), this))
                    .backwards()
                    .limit(2),
            )
            .await?;
        let previous = page
            .items
            .into_iter()
            .map(GameResult::from_item)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .find(|r| r.result_id != result.result_id);
        let mark = Counted {
            profile_id: profile_id.to_string(),
            result_id: result.result_id.clone(),
            expires_at: self.now() + MARK_DAYS * 86_400,
        };
        let mut ops = vec![
            TxOp::Put {
                item: mark.to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Check {
                key: Profile::key_of(profile_id),
                condition: Condition::Exists,
            },
        ];
        if let Some(before) = previous.filter(|p| p.completed && p.game_id != result.game_id) {
            ops.push(TxOp::Update {
                key: Successor::key_of(&before.game_id, &result.game_id),
                update: Successor::INFO
                    .update()
                    .set("game_id", before.game_id.as_str())
                    .set("next_game_id", result.game_id.as_str())
                    .add("count", 1),
                condition: Condition::Always,
            });
        }
        match self.platform.table.transact(ops).await {
            Ok(()) => Ok(true),
            // Counted before (a redelivered job).
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => Ok(true),
            Err(TableError::TransactionCancelled { index: Some(1), .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The list for `profile` from its statistics, the curriculum and the catalog.
    async fn compute(
        &self,
        profile: &Profile,
        stats: &LearnerStats,
        curriculum: &Curriculum,
    ) -> LearningResult<Vec<Suggested>> {
        let year = self.year();
        let band = profile.age_band(year);
        let age = crate::profiles::age_in(year, profile.birth_year);
        let controls = profile.controls();

        let from_curriculum: Vec<Suggested> = curriculum_games(curriculum, stats)
            .into_iter()
            .map(|(game_id, module)| Suggested {
                game_id,
                reason: Reason::Curriculum,
                because: module,
            })
            .collect();

        let mut from_skills = Vec::new();
        for skill in weak_skills(stats) {
            let filters = Filters {
                age: Some(band),
                skill: Some(skill.clone()),
                ..Filters::default()
            };
            let page = self
                .catalog_page(&filters, Sort::Popular, CATALOG_READ, None)
                .await?;
            from_skills.extend(
                page.items
                    .into_iter()
                    .filter(|entry| controls.shows(entry))
                    .filter(|entry| {
                        stats
                            .games
                            .get(&entry.game_id)
                            .is_none_or(|g| g.completed_stars < MASTERED_STARS)
                    })
                    .take(PER_SOURCE)
                    .map(|entry| Suggested {
                        game_id: entry.game_id,
                        reason: Reason::WeakSkill,
                        because: skill.clone(),
                    }),
            );
        }

        // The games the profile finished most recently, from its latest results (one query: with one job per
        // result, the job's own results are only the last of them).
        let latest = self
            .platform
            .table
            .query(
                GameResult::INFO
                    .query(&[&profile.profile_id])
                    .backwards()
                    .limit(RECENT_RESULTS),
            )
            .await?;
        let mut finished: Vec<String> = Vec::new();
        for item in latest.items {
            let result = GameResult::from_item(item)?;
            if result.completed
                && !finished.contains(&result.game_id)
                && finished.len() < RECENT_GAMES
            {
                finished.push(result.game_id);
            }
        }
        let mut from_learners = Vec::new();
        for game in &finished {
            let page = self
                .platform
                .table
                .query(Successor::INFO.query(&[game]).limit(SUCCESSORS_READ))
                .await?;
            let mut next: Vec<Successor> = page
                .items
                .into_iter()
                .map(Successor::from_item)
                .collect::<Result<_, _>>()?;
            next.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.next_game_id.cmp(&b.next_game_id))
            });
            from_learners.extend(
                next.into_iter()
                    .filter(|s| !stats.games.contains_key(&s.next_game_id))
                    .take(PER_SOURCE * 2)
                    .map(|s| Suggested {
                        game_id: s.next_game_id,
                        reason: Reason::SimilarLearners,
                        because: game.clone(),
                    }),
            );
        }

        // The curriculum's and other learners' games are checked against the catalog: published, allowed, and
        // (for other learners' picks) made for the profile's age. The skills' come from the catalog's own pages.
        let unchecked: BTreeSet<String> = from_curriculum
            .iter()
            .chain(&from_learners)
            .map(|s| s.game_id.clone())
            .collect();
        let games = self.games_by_id(unchecked).await?;
        let allowed = |id: &str, for_age: bool| {
            games.iter().any(|g| {
                g.game_id == id
                    && g.status == GameStatus::Published
                    && controls.allows(&g.game_id, &g.content.category, g.content.min_age)
                    && (!for_age || (g.content.min_age..=g.content.max_age).contains(&age))
            })
        };
        let from_curriculum = from_curriculum
            .into_iter()
            .filter(|s| allowed(&s.game_id, false))
            .collect();
        let mut per_game: std::collections::BTreeMap<String, usize> = Default::default();
        let from_learners = from_learners
            .into_iter()
            .filter(|s| allowed(&s.game_id, true))
            .filter(|s| {
                let n = per_game.entry(s.because.clone()).or_default();
                *n += 1;
                *n <= PER_SOURCE
            })
            .collect();
        Ok(merge(vec![from_curriculum, from_skills, from_learners]))
    }

    /// The games with these ids that exist, in one batched read.
    async fn games_by_id(&self, ids: BTreeSet<String>) -> LearningResult<Vec<Game>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Key> = ids.iter().map(|id| Game::key_of(id)).collect();
        self.platform
            .table
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(|item| Game::from_item(item).map_err(Into::into))
            .collect()
    }

    /// A profile's recommendations: its stored list, less the games that are no longer published or that its
    /// controls now block. Two reads: the profile and its list, then their games.
    pub async fn recommendations(
        &self,
        viewer: &Viewer,
        profile_id: &str,
    ) -> LearningResult<RecommendationsView> {
        let keys = [
            Profile::key_of(profile_id),
            Recommendations::key_of(profile_id),
        ];
        let (mut profile, mut stored) = (None, None);
        for item in self.platform.table.batch_get(&keys).await? {
            if Key::of(&item).as_ref() == Some(&keys[0]) {
                profile = Some(Profile::from_item(item)?);
            } else {
                stored = Some(Recommendations::from_item(item)?);
            }
        }
        let profile = viewer.seeing(profile)?;
        let Some(stored) = stored else {
            return Ok(RecommendationsView {
                profile_id: profile.profile_id,
                items: Vec::new(),
                computed_at: None,
            });
        };
        let games = self
            .games_by_id(stored.items.iter().map(|s| s.game_id.clone()).collect())
            .await?;
        let controls = profile.controls();
        let items = stored
            .items
            .into_iter()
            .filter_map(|s| {
                let game = games.iter().find(|g| g.game_id == s.game_id)?;
                let shown = game.status == GameStatus::Published
                    && controls.allows(&game.game_id, &game.content.category, game.content.min_age);
                shown.then(|| Recommendation {
                    game_id: s.game_id,
                    title: game.content.title.clone(),
                    category: game.content.category.clone(),
                    estimated_minutes: game.content.estimated_minutes,
                    reason: s.reason,
                    because: s.because,
                })
            })
            .collect();
        Ok(RecommendationsView {
            profile_id: profile.profile_id,
            items,
            computed_at: Some(stored.computed_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{GameStats, SkillStats};

    #[test]
    fn weak_skills_need_enough_results_and_a_low_average() {
        let mut stats = LearnerStats::default();
        let skill = |results, stars| SkillStats { results, stars };
        stats.skills.insert("phonics".into(), skill(4, 4)); // 1.0
        stats.skills.insert("counting".into(), skill(3, 5)); // 1.67
        stats.skills.insert("shapes".into(), skill(2, 0)); // too few results
        stats.skills.insert("colours".into(), skill(5, 15)); // 3.0: strong
        stats.skills.insert("rhymes".into(), skill(6, 11)); // 1.83: third weakest
        assert_eq!(weak_skills(&stats), vec!["phonics", "counting"]);
    }

    #[test]
    fn merging_keeps_source_order_drops_repeats_and_caps_the_list() {
        let s = |id: &str, reason| Suggested {
            game_id: id.into(),
            reason,
            because: "x".into(),
        };
        let many: Vec<Suggested> = (0..20)
            .map(|n| s(&format!("g{n}"), Reason::SimilarLearners))
            .collect();
        let merged = merge(vec![
            vec![s("a", Reason::Curriculum)],
            vec![s("a", Reason::WeakSkill), s("b", Reason::WeakSkill)],
            many,
        ]);
        assert_eq!(merged.len(), MAX_RECOMMENDATIONS);
        assert_eq!(merged[0], s("a", Reason::Curriculum));
        assert_eq!(merged[1], s("b", Reason::WeakSkill));
    }

    #[test]
    fn finished_games_of_a_module_are_not_recommended_again() {
        use crate::curriculum::{Module, ModuleInput};
        let module = |id: &str, games: &[&str], requires: &[&str]| Module {
            module_id: id.into(),
            content: ModuleInput {
                path: "reading".into(),
                title: id.into(),
                description: String::new(),
                order: 1,
                games: games.iter().map(|g| g.to_string()).collect(),
                prerequisites: requires.iter().map(|r| r.to_string()).collect(),
                min_stars: 2,
            },
            created_at: 0,
            updated_at: 0,
        };
        let curriculum = Curriculum {
            modules: vec![
                module("m1", &["g1", "g2"], &[]),
                module("m2", &["g3"], &["m1"]),
            ],
            version: 1,
        };
        let mut stats = LearnerStats::default();
        stats.games.insert(
            "g1".into(),
            GameStats {
                plays: 1,
                completions: 1,
                completed_stars: 3,
                ..GameStats::default()
            },
        );
        // m2 is locked until m1 is complete: only m1's unfinished game.
        assert_eq!(
            curriculum_games(&curriculum, &stats),
            vec![("g2".to_string(), "m1".to_string())]
        );
    }
}
