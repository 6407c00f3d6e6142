//! The learning domain: learner profiles and families, the catalog, the curriculum, progress, achievements,
//! controls and leaderboards, and the erasure of deleted profiles. Written once on the ports, so it runs on Lambda
//! and in the dev server alike. It depends on `lectern-shared` and `lectern-messages` only: the function crates check the caller's
//! permissions (named by the accounts domain) and hand this crate a [`access::Viewer`].
//!
//! # Key design
//!
//! One table, keys declared once per entity (`shared/src/table/entity.rs`). Every request path is a `get`, a
//! `batch_get` or a `query` of one partition; none scans.
//!
//! | entity | pk / sk | index | access pattern |
//! |---|---|---|---|
//! | `learner_profile` (with its parental controls) | `LEARNER#<profile_id>` / `PROFILE` | gsi1 `FAMILY#<owner_id>` / `PROFILE#<profile_id>` | every profile-scoped route reads the profile by id first (ownership and the profile's zone in one get); a family's profiles are one gsi1 query |
//! | `family` (counter) | `FAMILY#<owner_id>` / `FAMILY` | — | the profile limit: every create and delete moves its `version` in the same transaction as the profile, conditional on the version read, so concurrent creates cannot pass the limit |
//! | `parental_consent` | `FAMILY#<owner_id>` / `CONSENT#<profile_id>` | — | written with a child profile; read with the family (`GET /v1/family`); kept when the profile is deleted |
//! | `game_result` | `LEARNER#<profile_id>` / `RESULT#<played_at>#<result_id>` | gsi1 `PLAYS#<profile_id>#<game_id>` / `<played_at>#<result_id>` | a profile's results by time (a date range is a `Between`), or one game's |
//! | `progress_key` | `LEARNER#<profile_id>` / `IDEMPOTENCY#<key>` (TTL 90 days) | — | read with the profile, game and stats in one batch; put `NotExists` in the result's transaction: a key counts once |
//! | `learner_stats` | `LEARNER#<profile_id>` / `STATS` | — | totals, per game, per skill, days played: `GET .../stats` is one read; updated in the result's transaction (optimistic version) |
//! | `game` | `GAME#<game_id>` / `GAME` | — | a game by id, any status (authors), published only for learners |
//! | `curriculum` | `CURRICULUM` / `CURRICULUM` | — | the whole curriculum in one versioned item: a cycle check sees the whole graph and a racing write fails its condition; every read is one get (see [`curriculum`] for the bounds) |
//! | `achievement` | `ACHIEVEMENTS` / `ACHIEVEMENT#<achievement_id>` | — | every definition (at most 200) in one query, per `GET /v1/achievements` and per evaluation |
//! | `earned_achievement` | `LEARNER#<profile_id>` / `ACHIEVEMENT#<achievement_id>` | — | put `NotExists`: earned exactly once however the evaluation races; a profile's are one query |
//! | `board_entry` | `BOARD#<game_id>#<period>#<shard>` / `PROFILE#<profile_id>` | gsi1 `BOARD_TOP#<game_id>#<period>#<shard>` / `<inverted score><achieved_at>#<profile_id>`; gsi2 `BOARDS_OF#<profile_id>` / `<game_id>#<period>` | a profile's best per game and period, sharded 8 ways by profile; the top N is one query per shard (see [`leaderboards`] for the numbers); a profile's entries on every board, for its erasure ([`erasure`]) |
//! | `board_buckets` (counter) | `BOARD_BUCKETS#<game_id>#<period>#<shard>` / `BUCKETS` | — | profiles per score bucket, moved in the entry's transaction: ranks beyond the top 100 as a band |
//! | `achievement_evaluation` (counter) | `LEARNER#<profile_id>` / `EVALUATED` | — | the statistics version last evaluated: the jobs of a batch evaluate once |
//! | `onboarding_steps` | `ONBOARDING` / `STEPS` | — | the onboarding steps admins define (the built-in defaults while absent): one get, batched with the account's progress |
//! | `onboarding_progress` | `FAMILY#<owner_id>` / `ONBOARDING` | — | the steps an account did, when and how; read with the steps and the family counter in one batch, written conditionally on its version (see [`onboarding`]) |
//! | `recommendations` | `LEARNER#<profile_id>` / `RECOMMENDATIONS` | — | a profile's next games, computed by the worker after its results (versioned; the statistics version it covers makes the job run once); read with the profile in one batch (see [`recommendations`]) |
//! | `game_successor` (counter) | `NEXT#<game_id>` / `<next_game_id>` | — | how often profiles that finished a game played another next: one partition query per game just finished, in the worker only |
//! | `transition_counted` | `LEARNER#<profile_id>` / `COUNTED#<result_id>` (TTL 30 days) | — | put `NotExists` with the counter's update: each result's transition counts once |
//! | `catalog_entry` | `CATALOG#<facets>` / `<published_at>#<game_id>` | gsi1 `CATALOG_TITLE#<facets>` / `<title_key>#<game_id>`; gsi2 `CATALOG_POPULAR#<facets>` / `<popularity>#<title_key>#<game_id>` | a filtered, sorted catalog page is one query of one facet partition (see [`catalog`] for the fan-out and its numbers) |
//!
//! Why the profile lives under its own id and not under the family: the routes name only the profile
//! (`/v1/profiles/{id}`, and a device session knows only its profile), so the id must reach the item in one
//! read; the family view is the index. Profile ids are ULIDs, so a family's profiles list in creation order.

pub mod access;
pub mod achievements;
pub mod catalog;
pub mod config;
pub mod controls;
pub mod curriculum;
pub mod erasure;
pub mod errors;
pub mod export;
pub mod leaderboards;
pub mod onboarding;
pub mod profiles;
pub mod progress;
pub mod recommendations;
pub mod reports;
pub mod schema;
pub mod service;
pub mod validate;
pub mod weekly;

pub use access::Viewer;
pub use errors::{LearningError, LearningResult};
pub use service::Learning;

use lectern_shared::table::{Entity, EntityInfo};

/// Every entity this domain stores (checked with every other crate's by `tests/architecture/keys.rs`).
pub const ENTITIES: &[EntityInfo] = &[
    profiles::Profile::INFO,
    profiles::FAMILY_COUNTER,
    profiles::Consent::INFO,
    catalog::Game::INFO,
    catalog::CatalogEntry::INFO,
    progress::GameResult::INFO,
    progress::ProgressKey::INFO,
    progress::LearnerStats::INFO,
    curriculum::Curriculum::INFO,
    achievements::Achievement::INFO,
    achievements::Earned::INFO,
    achievements::EVALUATED,
    leaderboards::BoardEntry::INFO,
    leaderboards::BOARD_BUCKETS,
    onboarding::OnboardingSteps::INFO,
    onboarding::OnboardingProgress::INFO,
    recommendations::Recommendations::INFO,
    recommendations::Successor::INFO,
    recommendations::Counted::INFO,
];
