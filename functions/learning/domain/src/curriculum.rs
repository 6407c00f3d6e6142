//! The curriculum: modules grouped into learning paths. A module lists games (played to completion with at least
//! `min_stars` stars each to complete it), has an order within its path, and may require other modules first.
//! A prerequisite cycle is refused.
//!
//! # One item
//!
//! The whole curriculum is **one item** (`CURRICULUM` / `CURRICULUM`), written conditionally on its version. The
//! reasons, in order:
//! - a cycle is a property of the whole graph: two authors adding `A → B` and `B → A` at once would each pass a
//!   check of their own snapshot; with one versioned item, the second write fails and is told to retry (409);
//! - every read is one `get`: `GET /v1/curriculum` and, batched with the profile and its statistics,
//!   `GET /v1/profiles/{id}/curriculum` (one round trip, however many modules);
//! - a curriculum is small and changes rarely: at most [`MAX_MODULES`] modules of at most [`MAX_MODULE_GAMES`]
//!   games and [`MAX_PREREQUISITES`] prerequisites, with descriptions of at most [`MAX_MODULE_DESCRIPTION`]
//!   characters — under ~300 KB in the worst case, inside DynamoDB's 400 KB item limit (checked on every write,
//!   [`MAX_CURRICULUM_BYTES`]).
//!
//! The trade: authoring is serialised (one write at a time, losers retry), and readers of a busy product all read
//! one item — DynamoDB serves ~3,000 strongly consistent reads per second from one partition, more with eventually
//! consistent reads; beyond that the item is a natural candidate for a cache in front (it changes rarely).
//!
//! # A profile's curriculum
//!
//! From the profile's statistics (`progress::LearnerStats`, per game: completions and best stars of a completed
//! result): a module is **complete** when every game of it has a completed result with at least `min_stars`
//! stars; **locked** when one of its (direct) prerequisites is not complete; **in progress** when one of its games
//! has been played; else **available**.
//!
//! A game a module lists cannot be soft-deleted while the module lists it (409 `game-in-curriculum`; see
//! [`Learning::delete_game`]); an unpublished game keeps its module incomplete until it is published again.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use lectern_shared::table::{Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TableError};
use serde::{Deserialize, Serialize};

use crate::access::Viewer;
use crate::catalog::{Game, GameStatus, is_slug};
use crate::errors::{LearningError, LearningResult};
use crate::profiles::Profile;
use crate::progress::LearnerStats;
use crate::service::Learning;
use crate::validate;

/// Most modules in the curriculum.
pub const MAX_MODULES: usize = 200;
/// Most games in a module.
pub const MAX_MODULE_GAMES: usize = 12;
/// Most prerequisites of a module.
pub const MAX_PREREQUISITES: usize = 8;
/// Longest module title, in characters.
pub const MAX_MODULE_TITLE: usize = 80;
/// Longest module description, in characters.
pub const MAX_MODULE_DESCRIPTION: usize = 1000;
/// Largest `order` of a module in its path.
pub const MAX_ORDER: i32 = 9999;
/// Largest stored curriculum, as JSON (DynamoDB items hold 400 KB).
pub const MAX_CURRICULUM_BYTES: usize = 350 * 1024;

/// A module as authors write it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleInput {
    /// The learning path (a slug) the module belongs to.
    #[schema(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
    pub path: String,
    #[schema(schema_with = crate::schema::module_title)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// The module's place in its path (ascending; ties by title).
    #[serde(deserialize_with = "validate::whole")]
    #[schema(minimum = 0, maximum = 9999)]
    pub order: i32,
    /// The games to complete, 1 to 12 existing games (not deleted); duplicates count once.
    #[schema(schema_with = crate::schema::module_games)]
    pub games: Vec<String>,
    /// Modules to complete first, at most 8 existing modules; a cycle is refused (409 `prerequisite-cycle`).
    #[serde(default)]
    #[schema(schema_with = crate::schema::prerequisites)]
    pub prerequisites: Vec<String>,
    /// Stars a completed result of each game needs for the module to count as complete (1 to 3, default 1).
    #[serde(default = "one_star", deserialize_with = "validate::whole")]
    #[schema(minimum = 1, maximum = 3, default = 1)]
    pub min_stars: i32,
}

fn one_star() -> i32 {
    1
}

/// A module as stored and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CurriculumModule)]
pub struct Module {
    pub module_id: String,
    #[serde(flatten)]
    pub content: ModuleInput,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The stored curriculum: every module, and a version every write moves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curriculum {
    pub modules: Vec<Module>,
    pub version: i64,
}

impl Curriculum {
    pub fn key_of() -> Key {
        Self::INFO.key(&[], &[])
    }

    fn find(&self, module_id: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.module_id == module_id)
    }

    /// The modules that list `game_id`.
    pub fn listing_game(&self, game_id: &str) -> Vec<&Module> {
        self.modules
            .iter()
            .filter(|m| m.content.games.iter().any(|g| g == game_id))
            .collect()
    }

    /// The curriculum grouped by path (paths by slug, modules by order, title, id).
    pub fn paths(&self) -> Vec<PathView> {
        let mut paths: BTreeMap<&str, Vec<Module>> = BTreeMap::new();
        for m in &self.modules {
            paths.entry(&m.content.path).or_default().push(m.clone());
        }
        paths
            .into_iter()
            .map(|(path, mut modules)| {
                modules.sort_by(|a, b| {
                    (a.content.order, &a.content.title, &a.module_id).cmp(&(
                        b.content.order,
                        &b.content.title,
                        &b.module_id,
                    ))
                });
                PathView {
                    path: path.to_string(),
                    modules,
                }
            })
            .collect()
    }
}

impl Entity for Curriculum {
    const INFO: EntityInfo = EntityInfo::new(
        "curriculum",
        KeyLayout::new(Shape::fixed("CURRICULUM"), Shape::fixed("CURRICULUM")),
    );

    fn key(&self) -> Key {
        Self::key_of()
    }
}

/// A learning path and its modules, in order.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PathView {
    pub path: String,
    pub modules: Vec<Module>,
}

/// The curriculum as shown.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurriculumView {
    pub paths: Vec<PathView>,
}

/// Where a profile stands in a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModuleState {
    /// A prerequisite is not complete.
    Locked,
    /// Open, nothing of it played yet.
    Available,
    /// Open, some of its games played.
    InProgress,
    /// Every game completed with at least `min_stars` stars.
    Complete,
}

/// A module as one profile sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModuleProgress {
    pub module_id: String,
    pub title: String,
    pub order: i32,
    pub state: ModuleState,
    /// Games of the module completed with enough stars.
    pub games_done: usize,
    pub games_total: usize,
    /// Prerequisites not complete yet (why it is locked).
    pub missing_prerequisites: Vec<String>,
}

/// A path as one profile sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PathProgress {
    pub path: String,
    pub modules: Vec<ModuleProgress>,
}

/// A profile's curriculum.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProfileCurriculum {
    pub profile_id: String,
    pub paths: Vec<PathProgress>,
}

/// Whether a game of a module is done for the profile whose statistics are `stats`.
fn game_done(stats: &LearnerStats, game_id: &str, min_stars: i32) -> bool {
    stats
        .games
        .get(game_id)
        .is_some_and(|g| g.completions > 0 && g.completed_stars >= min_stars)
}

/// Whether `module` is complete for the profile whose statistics are `stats`.
pub fn module_complete(stats: &LearnerStats, module: &Module) -> bool {
    module
        .content
        .games
        .iter()
        .all(|g| game_done(stats, g, module.content.min_stars))
}

/// The modules the profile whose statistics are `stats` has completed (for achievements).
pub fn completed_modules<'c>(curriculum: &'c Curriculum, stats: &LearnerStats) -> Vec<&'c Module> {
    curriculum
        .modules
        .iter()
        .filter(|m| module_complete(stats, m))
        .collect()
}

/// A profile's place in every module.
pub fn progress_of(curriculum: &Curriculum, stats: &LearnerStats) -> Vec<PathProgress> {
    let complete: BTreeSet<&str> = completed_modules(curriculum, stats)
        .into_iter()
        .map(|m| m.module_id.as_str())
        .collect();
    curriculum
        .paths()
        .into_iter()
        .map(|p| PathProgress {
            path: p.path,
            modules: p
                .modules
                .iter()
                .map(|m| {
                    let c = &m.content;
                    let games_done = c
                        .games
                        .iter()
                        .filter(|g| game_done(stats, g, c.min_stars))
                        .count();
                    let missing: Vec<String> = c
                        .prerequisites
                        .iter()
                        .filter(|p| !complete.contains(p.as_str()))
                        .cloned()
                        .collect();
                    let played = c.games.iter().any(|g| stats.games.contains_key(g));
                    let state = if complete.contains(m.module_id.as_str()) {
                        ModuleState::Complete
                    } else if !missing.is_empty() {
                        ModuleState::Locked
                    } else if played {
                        ModuleState::InProgress
                    } else {
                        ModuleState::Available
                    };
                    ModuleProgress {
                        module_id: m.module_id.clone(),
                        title: c.title.clone(),
                        order: c.order,
                        state,
                        games_done,
                        games_total: c.games.len(),
                        missing_prerequisites: missing,
                    }
                })
                .collect(),
        })
        .collect()
}

/// A module on the prerequisite cycle `modules` would close, if any: a depth-first walk from every module.
pub fn find_cycle(modules: &[Module]) -> Option<String> {
    let requires: BTreeMap<&str, Vec<&str>> = modules
        .iter()
        .map(|m| {
            (
                m.module_id.as_str(),
                m.content.prerequisites.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for start in requires.keys() {
        if marks.contains_key(start) {
            continue;
        }
        // Iterative DFS: (node, index of the next prerequisite to visit).
        let mut stack: Vec<(&str, usize)> = vec![(*start, 0)];
        marks.insert(*start, Mark::Open);
        while let Some((node, next)) = stack.pop() {
            let deps = requires.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(dep) = deps.get(next).copied() {
                stack.push((node, next + 1));
                match marks.get(dep) {
                    Some(Mark::Open) => return Some(dep.to_string()),
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(dep, Mark::Open);
                        stack.push((dep, 0));
                    }
                }
            } else {
                marks.insert(node, Mark::Done);
            }
        }
    }
    None
}

/// Checks a module as authors send it (the rules that need no stored state); answers it normalised.
pub fn validate_module(mut m: ModuleInput) -> LearningResult<ModuleInput> {
    let mut errors = validate::FieldErrors::default();
    m.title = errors.text("title", &m.title, MAX_MODULE_TITLE);
    errors.at_most("description", &m.description, MAX_MODULE_DESCRIPTION);
    let mut fail = |f: &str, msg: String| errors.fail(f, msg);
    if !is_slug(&m.path) {
        fail(
            "path",
            "a slug: lowercase letters, digits and inner hyphens, 1 to 32".into(),
        );
    }
    if !(0..=MAX_ORDER).contains(&m.order) {
        fail("order", format!("0 to {MAX_ORDER}"));
    }
    // Ids are stored as the catalog writes them (upper case); duplicates count once.
    let canonical = |ids: &mut Vec<String>| -> bool {
        let well_formed = ids.iter().all(|i| lectern_shared::ids::is_id(i));
        let mut seen = BTreeSet::new();
        ids.iter_mut().for_each(|i| *i = i.to_ascii_uppercase());
        ids.retain(|i| seen.insert(i.clone()));
        well_formed
    };
    if !canonical(&mut m.games) || m.games.is_empty() || m.games.len() > MAX_MODULE_GAMES {
        fail("games", format!("1 to {MAX_MODULE_GAMES} game ids"));
    }
    if !canonical(&mut m.prerequisites) || m.prerequisites.len() > MAX_PREREQUISITES {
        fail(
            "prerequisites",
            format!("at most {MAX_PREREQUISITES} module ids"),
        );
    }
    if !(1..=3).contains(&m.min_stars) {
        fail("min_stars", "1 to 3".into());
    }
    errors.done()?;
    Ok(m)
}

impl Learning {
    /// The stored curriculum (empty before the first module).
    pub async fn load_curriculum(&self) -> LearningResult<Curriculum> {
        Ok(self
            .platform
            .table
            .get(&Curriculum::key_of())
            .await?
            .map(Curriculum::from_item)
            .transpose()?
            .unwrap_or_default())
    }

    /// The curriculum by path.
    pub async fn curriculum(&self) -> LearningResult<CurriculumView> {
        Ok(CurriculumView {
            paths: self.load_curriculum().await?.paths(),
        })
    }

    /// One module.
    pub async fn module(&self, module_id: &str) -> LearningResult<Module> {
        self.load_curriculum()
            .await?
            .find(module_id)
            .cloned()
            .ok_or(LearningError::NotFound)
    }

    /// Adds a module.
    pub async fn create_module(&self, input: ModuleInput) -> LearningResult<Module> {
        let content = validate_module(input)?;
        let now = self.now();
        let module = Module {
            module_id: lectern_shared::ids::new_id(),
            content,
            created_at: now,
            updated_at: now,
        };
        let before = self.load_curriculum().await?;
        if before.modules.len() >= MAX_MODULES {
            return Err(LearningError::Refused {
                status: StatusCode::CONFLICT,
                kind: "curriculum-full",
                title: "The curriculum is full",
                detail: format!("the curriculum holds at most {MAX_MODULES} modules"),
            });
        }
        let mut after = before.clone();
        after.modules.push(module.clone());
        self.save_curriculum(&before, after, &module).await?;
        Ok(module)
    }

    /// Replaces a module's content.
    pub async fn replace_module(
        &self,
        module_id: &str,
        input: ModuleInput,
    ) -> LearningResult<Module> {
        let content = validate_module(input)?;
        let before = self.load_curriculum().await?;
        let Some(old) = before.find(module_id) else {
            return Err(LearningError::NotFound);
        };
        let module = Module {
            module_id: old.module_id.clone(),
            content,
            created_at: old.created_at,
            updated_at: self.now(),
        };
        let mut after = before.clone();
        for m in after.modules.iter_mut() {
            if m.module_id == module_id {
                *m = module.clone();
            }
        }
        self.save_curriculum(&before, after, &module).await?;
        Ok(module)
    }

    /// Removes a module no other module requires.
    pub async fn delete_module(&self, module_id: &str) -> LearningResult<()> {
        let before = self.load_curriculum().await?;
        if before.find(module_id).is_none() {
            return Err(LearningError::NotFound);
        }
        let dependents: Vec<&str> = before
            .modules
            .iter()
            .filter(|m| {
                m.content
                    .prerequisites
                    .iter()
                    .any(|p| p.as_str() == module_id)
            })
            .map(|m| m.module_id.as_str())
            .collect();
        if !dependents.is_empty() {
            return Err(LearningError::Refused {
                status: StatusCode::CONFLICT,
                kind: "module-required",
                title: "Other modules require this one",
                detail: format!(
                    "modules {} list it as a prerequisite; change them first",
                    dependents.join(", ")
                ),
            });
        }
        let mut after = before.clone();
        after.modules.retain(|m| m.module_id != module_id);
        self.write_curriculum(&before, after).await
    }

    /// Checks what a write needs of the stored state (its games exist, its prerequisites exist, no cycle, the
    /// size), then writes conditionally on the version read.
    async fn save_curriculum(
        &self,
        before: &Curriculum,
        after: Curriculum,
        module: &Module,
    ) -> LearningResult<()> {
        let keys: Vec<Key> = module
            .content
            .games
            .iter()
            .map(|g| Game::key_of(g))
            .collect();
        let mut found = BTreeSet::new();
        for item in self.platform.table.batch_get(&keys).await? {
            let game = Game::from_item(item)?;
            if game.status != GameStatus::Deleted {
                found.insert(game.game_id);
            }
        }
        let missing: Vec<&str> = module
            .content
            .games
            .iter()
            .map(String::as_str)
            .filter(|g| !found.contains(*g))
            .collect();
        if !missing.is_empty() {
            return Err(LearningError::field(
                "games",
                format!("no such game: {}", missing.join(", ")),
            ));
        }
        let unknown: Vec<&str> = module
            .content
            .prerequisites
            .iter()
            .map(String::as_str)
            .filter(|p| after.find(p).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(LearningError::field(
                "prerequisites",
                format!("no such module: {}", unknown.join(", ")),
            ));
        }
        if let Some(on) = find_cycle(&after.modules) {
            return Err(LearningError::Refused {
                status: StatusCode::CONFLICT,
                kind: "prerequisite-cycle",
                title: "Prerequisites would form a cycle",
                detail: format!(
                    "module {on} would (indirectly) require itself; a module cannot come before itself"
                ),
            });
        }
        self.write_curriculum(before, after).await
    }

    async fn write_curriculum(
        &self,
        before: &Curriculum,
        mut after: Curriculum,
    ) -> LearningResult<()> {
        after.version = before.version + 1;
        let item = after.to_item()?;
        let size = serde_json::to_vec(&after).map_or(usize::MAX, |b| b.len());
        if size > MAX_CURRICULUM_BYTES {
            return Err(LearningError::Refused {
                status: StatusCode::CONFLICT,
                kind: "curriculum-full",
                title: "The curriculum is full",
                detail: format!(
                    "the curriculum would take {size} bytes, over {MAX_CURRICULUM_BYTES}"
                ),
            });
        }
        let condition = Condition::at_version(before.version);
        match self.platform.table.put(item, condition).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed) => Err(LearningError::Conflict(
                "the curriculum changed meanwhile; read it again and retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A profile's state in every module: one batched read of the profile, its statistics and the curriculum.
    pub async fn profile_curriculum(
        &self,
        viewer: &Viewer,
        profile_id: &str,
    ) -> LearningResult<ProfileCurriculum> {
        let keys = [
            Profile::key_of(profile_id),
            LearnerStats::key_of(profile_id),
            Curriculum::key_of(),
        ];
        let mut profile = None;
        let mut stats = LearnerStats::default();
        let mut curriculum = Curriculum::default();
        for item in self.platform.table.batch_get(&keys).await? {
            match Key::of(&item) {
                Some(k) if k == keys[0] => profile = Some(Profile::from_item(item)?),
                Some(k) if k == keys[1] => stats = LearnerStats::from_item(item)?,
                _ => curriculum = Curriculum::from_item(item)?,
            }
        }
        let profile = viewer.seeing(profile)?;
        Ok(ProfileCurriculum {
            profile_id: profile.profile_id,
            paths: progress_of(&curriculum, &stats),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::GameStats;

    fn id(n: u8) -> String {
        format!("01JMZDV1E0000000000000{n:04}")
    }

    fn module(n: u8, games: &[u8], requires: &[u8]) -> Module {
        Module {
            module_id: id(n),
            content: ModuleInput {
                path: "reading".into(),
                title: format!("Module {n}"),
                description: String::new(),
                order: i32::from(n),
                games: games.iter().map(|g| id(100 + g)).collect(),
                prerequisites: requires.iter().map(|r| id(*r)).collect(),
                min_stars: 2,
            },
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn cycles_are_found_however_long() {
        assert_eq!(
            find_cycle(&[module(1, &[1], &[]), module(2, &[1], &[1])]),
            None
        );
        assert!(find_cycle(&[module(1, &[1], &[1])]).is_some(), "itself");
        assert!(find_cycle(&[module(1, &[1], &[2]), module(2, &[1], &[1])]).is_some());
        let chain = [
            module(1, &[1], &[4]),
            module(2, &[1], &[1]),
            module(3, &[1], &[2]),
            module(4, &[1], &[3]),
        ];
        assert!(find_cycle(&chain).is_some(), "1 → 4 → 3 → 2 → 1");
        let diamond = [
            module(1, &[1], &[]),
            module(2, &[1], &[1]),
            module(3, &[1], &[1]),
            module(4, &[1], &[2, 3]),
        ];
        assert_eq!(find_cycle(&diamond), None, "a diamond is no cycle");
    }

    #[test]
    fn states_follow_completions_with_enough_stars() {
        let curriculum = Curriculum {
            modules: vec![
                module(1, &[1, 2], &[]),
                module(2, &[3], &[1]),
                module(3, &[4], &[]),
            ],
            version: 1,
        };
        let mut stats = LearnerStats::default();
        let state = |stats: &LearnerStats| -> Vec<ModuleState> {
            progress_of(&curriculum, stats)[0]
                .modules
                .iter()
                .map(|m| m.state)
                .collect()
        };
        use ModuleState::*;
        assert_eq!(state(&stats), [Available, Locked, Available]);
        let played = |completions, completed_stars| GameStats {
            plays: 1,
            completions,
            completed_stars,
            ..GameStats::default()
        };
        stats.games.insert(id(101).clone(), played(1, 3));
        assert_eq!(state(&stats), [InProgress, Locked, Available]);
        stats.games.insert(id(102).clone(), played(1, 1));
        assert_eq!(
            state(&stats),
            [InProgress, Locked, Available],
            "1 star of 2"
        );
        stats.games.insert(id(102).clone(), played(2, 2));
        assert_eq!(state(&stats), [Complete, Available, Available]);
        stats.games.insert(id(104).clone(), played(0, 0));
        assert_eq!(
            state(&stats),
            [Complete, Available, InProgress],
            "played, not completed"
        );
    }
}
