//! The activity catalog: games are data. Authors (`content:write`) create drafts, change, publish, unpublish and
//! soft-delete them; learners see published games only, filtered and sorted, in pages.
//!
//! # Filtering without scanning: facet entries
//!
//! A published game writes one small **catalog entry** (the fields a list card shows) into the partition of
//! every filter combination it satisfies; a filtered page is then one query of one partition, whatever the size
//! of the catalog, and each page holds exactly `limit` matching games (no reading past non-matches).
//!
//! A combination is a subset of `{age band, category, difficulty}` plus at most one of `{skill, search term}`:
//! `all`, `a=4-5`, `a=4-5,c=alphabets`, `a=4-5,c=alphabets,d=easy,s=phonics`, `c=alphabets,q=letter`... A game
//! covering `b` age bands with `k` skills and `t` search terms writes `4·(1+b)·(1+k+t)` entries: 96 for a typical
//! game (2 bands, 3 skills, 5 terms). Each entry carries the three sort orders as three keys: the table's sort key
//! is "newest" (`<published_at>#<game_id>`), gsi1 sorts by title, gsi2 by popularity then title.
//!
//! Numbers, for 10,000 games: ~1M entries of ~300 bytes (~300 MB) — storage is cheap. Reading a filtered page of
//! 20: one query, ~6 KB, 1.5 read units (eventually consistent), the same for 20 games or 10,000. Publishing a
//! game: ~96 puts in one or two transactions (≤ 100 operations each); unpublishing deletes them the same way;
//! changing a published game replaces its entries. Authoring is rare next to reading, which is the trade.
//!
//! Trade-offs: a skill and a search term cannot be combined in one request (the fan-out would multiply; 400 on
//! `q`); search matches whole title words, case-insensitively, and a trailing plural `s` (`q=letter` finds
//! "Letters"), not arbitrary substrings; popularity is bucketed (`⌊log2(plays+1)⌋`) so a game's entries move at
//! most ~20 times in its life, and is refreshed when the game is republished. Publishing is not atomic across
//! its transactions: the game is marked published first, then entries are written (idempotently); unpublishing
//! marks first, then deletes. A crash in between is repaired by repeating the call, and a learner never reads an
//! unpublished game by id (that read checks the game itself).
//!
//! # A/B variants
//!
//! A game may carry weighted variants; a profile gets one, deterministically: SHA-256 of `game_id/profile_id`
//! modulo the total weight picks it, so the same profile always sees the same variant without storing anything,
//! and changing the weights moves the fewest profiles the new weights allow only when weights grow at the end.
//!
//! Entities (declared once, here):
//! - game `GAME#<game_id>` / `GAME`: the whole game, any status;
//! - catalog entry `CATALOG#<facets>` / `<published_at>#<game_id>`, gsi1 `CATALOG_TITLE#<facets>` /
//!   `<title_key>#<game_id>`, gsi2 `CATALOG_POPULAR#<facets>` / `<popularity>#<title_key>#<game_id>`.

use std::collections::{BTreeMap, BTreeSet};

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Query, Shape,
    SortKey, TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::errors::{LearningError, LearningResult};
use crate::profiles::AgeBand;
use crate::service::Learning;
use crate::validate;

/// Longest title.
pub const MAX_TITLE: usize = 80;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest rules text, in characters.
pub const MAX_RULES: usize = 4000;
/// Oldest age a game can be aimed at.
pub const MAX_AGE: i32 = 18;
/// Most skills a game trains.
pub const MAX_SKILLS: usize = 8;
/// Longest game, in minutes.
pub const MAX_MINUTES: i32 = 120;
/// Most assets.
pub const MAX_ASSETS: usize = 20;
/// Longest asset URL or key.
pub const MAX_ASSET_URL: usize = 500;
/// Most locale variants.
pub const MAX_LOCALES: usize = 20;
/// Most A/B variants.
pub const MAX_VARIANTS: usize = 5;
/// Largest variant weight.
pub const MAX_WEIGHT: i64 = 1000;
/// Largest `overrides` object of a variant, as compact JSON.
pub const MAX_OVERRIDES_BYTES: usize = 2048;
/// A slug: categories, skills, variant keys.
pub const SLUG_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$";
/// A search word.
pub const TERM_PATTERN: &str = "^[A-Za-z0-9]{2,32}$";

/// How hard a game is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

/// Where a game is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GameStatus {
    Draft,
    Published,
    /// Soft-deleted: kept for the results that name it, shown to nobody.
    Deleted,
}

/// A file a game uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    pub kind: AssetKind,
    /// An `https://` URL or a key in the content store.
    #[schema(min_length = 1, max_length = 500)]
    pub url: String,
}

/// What an asset is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Image,
    Audio,
    Video,
    Bundle,
}

/// A game's texts in another language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocaleText {
    #[schema(schema_with = crate::schema::game_title)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub rules: String,
}

/// One arm of an A/B test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The variant's name, reported on results (`a`, `bigger-buttons`).
    #[schema(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
    pub key: String,
    /// Relative share of profiles, 1..=1000.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "validate::whole")]
    pub weight: i64,
    /// What the app changes for this variant (any JSON object up to 2,048 bytes).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub overrides: Map<String, Value>,
}

/// A game as authors write it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = GameInput)]
#[serde(deny_unknown_fields)]
pub struct GameInput {
    #[schema(schema_with = crate::schema::game_title)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub rules: String,
    /// Youngest age the game is for.
    #[schema(minimum = 0, maximum = 18)]
    #[serde(deserialize_with = "validate::whole")]
    pub min_age: i32,
    /// Oldest age the game is for (at least `min_age`).
    #[schema(minimum = 0, maximum = 18)]
    #[serde(deserialize_with = "validate::whole")]
    pub max_age: i32,
    #[schema(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
    pub category: String,
    /// What it trains (slugs), 1 to 8; duplicates count once.
    #[schema(schema_with = crate::schema::skills)]
    pub skills: Vec<String>,
    pub difficulty: Difficulty,
    #[schema(minimum = 1, maximum = 120)]
    #[serde(deserialize_with = "validate::whole")]
    pub estimated_minutes: i32,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub assets: Vec<Asset>,
    /// Texts by BCP 47 locale, at most 20.
    #[serde(default)]
    #[schema(schema_with = crate::schema::locales)]
    pub locales: BTreeMap<String, LocaleText>,
    /// A/B variants, at most 5 with distinct keys.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub variants: Vec<Variant>,
}

/// A game as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Game {
    pub game_id: String,
    /// What authors wrote (a map attribute: `GameInput` refuses unknown fields, so it cannot be flattened here).
    pub content: GameInput,
    pub status: GameStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<i64>,
    /// Times a result was recorded for it, as of the last (re)publication: its popularity bucket.
    #[serde(default)]
    pub plays: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Game {
    pub fn key_of(game_id: &str) -> Key {
        Self::INFO.key(&[game_id], &[])
    }

    /// The age bands the game's age range overlaps.
    pub fn bands(&self) -> Vec<AgeBand> {
        AgeBand::ALL
            .into_iter()
            .filter(|b| {
                let (lo, hi) = b.ages();
                lo <= self.content.max_age && self.content.min_age <= hi
            })
            .collect()
    }

    /// The variant a profile gets, if the game has variants.
    pub fn variant_for(&self, profile_id: &str) -> Option<&Variant> {
        assign_variant(&self.game_id, profile_id, &self.content.variants)
    }
}

/// The variant of `variants` a profile gets in a game: SHA-256 of `game_id/profile_id`, modulo the total weight,
/// picks it — the same every time, without storing anything.
pub fn assign_variant<'v>(
    game_id: &str,
    profile_id: &str,
    variants: &'v [Variant],
) -> Option<&'v Variant> {
    let total: i64 = variants.iter().map(|v| v.weight).sum();
    if total <= 0 {
        return None;
    }
    let digest = sha2::Sha256::digest(format!("{game_id}/{profile_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let mut point = (u64::from_be_bytes(first) % total as u64) as i64;
    for v in variants {
        if point < v.weight {
            return Some(v);
        }
        point -= v.weight;
    }
    variants.last()
}

impl Entity for Game {
    const INFO: EntityInfo = EntityInfo::new(
        "game",
        KeyLayout::new(Shape::new("GAME", &["game_id"]), Shape::fixed("GAME")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.game_id)
    }
}

/// The words of a title a search finds it by: lowercase alphanumeric words of 2+ characters, and each without
/// a trailing plural `s`.
pub fn search_terms(title: &str) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for word in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .filter(|w| w.len() >= 2 && w.len() <= 32)
    {
        if word.len() > 3
            && let Some(singular) = word.strip_suffix('s')
        {
            terms.insert(singular.to_string());
        }
        terms.insert(word);
    }
    terms
}

/// A search word as the index holds it.
pub fn normalize_term(q: &str) -> Option<String> {
    let ok = (2..=32).contains(&q.len()) && q.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| q.to_ascii_lowercase())
}

const NEWEST: Shape = Shape::values(&["published_at", "game_id"]);
/// gsi1: a facet's games by title.
pub const BY_TITLE: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("CATALOG_TITLE", &["facets"]),
        Shape::values(&["title_key", "game_id"]),
    ),
);
/// gsi2: a facet's games by popularity, then title.
pub const BY_POPULARITY: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("CATALOG_POPULAR", &["facets"]),
        Shape::values(&["popularity", "title_key", "game_id"]),
    ),
);

/// One published game in one facet partition: what a list shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogEntry {
    /// The facet combination (`all`, `a=4-5,c=alphabets`); in the key only.
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub facets: String,
    pub game_id: String,
    pub title: String,
    pub category: String,
    pub difficulty: Difficulty,
    pub min_age: i32,
    pub max_age: i32,
    pub skills: Vec<String>,
    pub estimated_minutes: i32,
    /// When it was (last) published.
    pub published_at: i64,
    /// In the index keys only.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub title_key: String,
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub popularity: String,
}

impl Entity for CatalogEntry {
    const INFO: EntityInfo = EntityInfo::new(
        "catalog_entry",
        KeyLayout::new(Shape::new("CATALOG", &["facets"]), NEWEST),
    )
    .indexed(&[BY_TITLE, BY_POPULARITY]);

    fn key(&self) -> Key {
        Self::INFO.key(
            &[&self.facets],
            &[&published_key(self.published_at), &self.game_id],
        )
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![
            BY_TITLE.key(&[&self.facets], &[&self.title_key, &self.game_id]),
            BY_POPULARITY.key(
                &[&self.facets],
                &[&self.popularity, &self.title_key, &self.game_id],
            ),
        ]
    }
}

/// Newest first sorts backwards on a fixed-width number.
fn published_key(at: i64) -> String {
    format!("{at:012}")
}

/// Titles sort by their lowercase letters and digits (ties broken by the game id), fixed at 40 characters.
fn title_key(title: &str) -> String {
    let key: String = title
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .flat_map(char::to_lowercase)
        .take(40)
        .collect();
    if key.trim().is_empty() {
        "_".into()
    } else {
        key
    }
}

/// Most popular first: the bucket inverted, so the index's ascending order puts big buckets first.
fn popularity_key(plays: i64) -> String {
    let bucket = 64 - (plays.max(0) as u64 + 1).leading_zeros() as i64;
    format!("{:02}", 99 - bucket)
}

/// The filters of one catalog request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub age: Option<AgeBand>,
    pub category: Option<String>,
    pub difficulty: Option<Difficulty>,
    pub skill: Option<String>,
    pub term: Option<String>,
}

impl Filters {
    /// The facet partition these filters read: `all` or `a=..,c=..,d=..,s=..|q=..` in that order.
    pub fn facets(&self) -> String {
        facet_key(
            self.age,
            self.category.as_deref(),
            self.difficulty,
            self.skill.as_deref(),
            self.term.as_deref(),
        )
    }
}

fn facet_key(
    age: Option<AgeBand>,
    category: Option<&str>,
    difficulty: Option<Difficulty>,
    skill: Option<&str>,
    term: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    if let Some(a) = age {
        parts.push(format!("a={}", a.as_str()));
    }
    if let Some(c) = category {
        parts.push(format!("c={c}"));
    }
    if let Some(d) = difficulty {
        parts.push(format!("d={}", d.as_str()));
    }
    if let Some(s) = skill {
        parts.push(format!("s={s}"));
    }
    if let Some(q) = term {
        parts.push(format!("q={q}"));
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(",")
    }
}

/// How a list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Title,
    Newest,
    Popular,
}

impl Game {
    /// Every facet partition this game is listed in.
    pub fn facet_partitions(&self) -> Vec<String> {
        let c = &self.content;
        let skills: BTreeSet<&str> = c.skills.iter().map(String::as_str).collect();
        let terms = search_terms(&c.title);
        let mut tails: Vec<(Option<&str>, Option<&str>)> = vec![(None, None)];
        tails.extend(skills.iter().map(|s| (Some(*s), None)));
        tails.extend(terms.iter().map(|t| (None, Some(t.as_str()))));
        let mut ages: Vec<Option<AgeBand>> = vec![None];
        ages.extend(self.bands().into_iter().map(Some));
        let mut out = Vec::new();
        for age in &ages {
            for category in [None, Some(c.category.as_str())] {
                for difficulty in [None, Some(c.difficulty)] {
                    for (skill, term) in &tails {
                        out.push(facet_key(*age, category, difficulty, *skill, *term));
                    }
                }
            }
        }
        out
    }

    /// The entries of this game (when published).
    pub fn entries(&self) -> Vec<CatalogEntry> {
        let published_at = self.published_at.unwrap_or(self.created_at);
        let c = &self.content;
        self.facet_partitions()
            .into_iter()
            .map(|facets| CatalogEntry {
                facets,
                game_id: self.game_id.clone(),
                title: c.title.clone(),
                category: c.category.clone(),
                difficulty: c.difficulty,
                min_age: c.min_age,
                max_age: c.max_age,
                skills: c.skills.clone(),
                estimated_minutes: c.estimated_minutes,
                published_at,
                title_key: title_key(&c.title),
                popularity: popularity_key(self.plays),
            })
            .collect()
    }
}

/// A game as readers see it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GameView {
    pub game_id: String,
    #[serde(flatten)]
    pub content: GameInput,
    pub status: GameStatus,
    pub published_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The variant the asked-for profile gets (when the game has variants and a profile was named).
    pub variant: Option<Variant>,
}

/// A slug taken from outside (a path parameter): deserializing refuses anything else, so the error names the
/// parameter (400) and a well-formed slug of nothing is a 404.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if is_slug(&raw) {
            Ok(Slug(raw))
        } else {
            Err(serde::de::Error::custom(format!(
                "not a slug ({SLUG_PATTERN})"
            )))
        }
    }
}

/// In the OpenAPI document: a string of [`SLUG_PATTERN`].
impl utoipa::PartialSchema for Slug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        lectern_shared::http::constraints::string()
            .pattern(Some(SLUG_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for Slug {}

/// Whether a string is a slug ([`SLUG_PATTERN`]).
pub fn is_slug(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks a game as authors send it; answers it normalised (trimmed title, skills deduplicated in order).
pub fn validate_game(mut g: GameInput) -> LearningResult<GameInput> {
    let mut errors = validate::FieldErrors::default();
    g.title = errors.text("title", &g.title, MAX_TITLE);
    errors.at_most("description", &g.description, MAX_DESCRIPTION);
    errors.at_most("rules", &g.rules, MAX_RULES);
    let mut fail = |f: &str, m: String| errors.fail(f, m);
    if !(0..=MAX_AGE).contains(&g.min_age) {
        fail("min_age", format!("0 to {MAX_AGE}"));
    }
    if !(0..=MAX_AGE).contains(&g.max_age) {
        fail("max_age", format!("0 to {MAX_AGE}"));
    } else if g.max_age < g.min_age {
        fail("max_age", "at least min_age".into());
    }
    if !is_slug(&g.category) {
        fail(
            "category",
            "a slug: lowercase letters, digits and inner hyphens, 1 to 32".into(),
        );
    }
    let mut seen = BTreeSet::new();
    g.skills.retain(|s| seen.insert(s.clone()));
    if g.skills.is_empty() || g.skills.len() > MAX_SKILLS || !g.skills.iter().all(|s| is_slug(s)) {
        fail("skills", format!("1 to {MAX_SKILLS} slugs"));
    }
    if !(1..=MAX_MINUTES).contains(&g.estimated_minutes) {
        fail("estimated_minutes", format!("1 to {MAX_MINUTES}"));
    }
    if g.assets.len() > MAX_ASSETS
        || g.assets
            .iter()
            .any(|a| a.url.is_empty() || a.url.chars().count() > MAX_ASSET_URL)
    {
        fail(
            "assets",
            format!("at most {MAX_ASSETS}, each url 1 to {MAX_ASSET_URL} characters"),
        );
    }
    if g.locales.len() > MAX_LOCALES
        || g.locales.iter().any(|(locale, t)| {
            !lectern_shared::locale::valid_locale(locale)
                || validate::trimmed_text(&t.title, MAX_TITLE).is_none()
                || t.description.chars().count() > MAX_DESCRIPTION
                || t.rules.chars().count() > MAX_RULES
        })
    {
        fail(
            "locales",
            format!("at most {MAX_LOCALES} BCP 47 locales, each with a title"),
        );
    }
    let keys: BTreeSet<&str> = g.variants.iter().map(|v| v.key.as_str()).collect();
    if g.variants.len() > MAX_VARIANTS
        || keys.len() != g.variants.len()
        || g.variants.iter().any(|v| {
            !is_slug(&v.key)
                || !(1..=MAX_WEIGHT).contains(&v.weight)
                || serde_json::to_vec(&v.overrides).map_or(true, |b| b.len() > MAX_OVERRIDES_BYTES)
        })
    {
        fail(
            "variants",
            format!("at most {MAX_VARIANTS} with distinct slug keys and weights 1 to {MAX_WEIGHT}"),
        );
    }
    errors.done()?;
    Ok(g)
}

/// One page of a catalog list, as the table left it.
pub struct EntryPage {
    pub items: Vec<CatalogEntry>,
    pub position: Option<String>,
}

impl Learning {
    /// Reads a game of any status.
    pub async fn load_game(&self, game_id: &str) -> LearningResult<Option<Game>> {
        Ok(self
            .platform
            .table
            .get(&Game::key_of(game_id))
            .await?
            .map(Game::from_item)
            .transpose()?)
    }

    /// A game as a reader may see it: published, or any status for authors (never a deleted one to others).
    pub async fn visible_game(&self, game_id: &str, author: bool) -> LearningResult<Game> {
        match self.load_game(game_id).await? {
            Some(g) if g.status == GameStatus::Published => Ok(g),
            Some(g) if author && g.status != GameStatus::Deleted => Ok(g),
            _ => Err(LearningError::NotFound),
        }
    }

    /// Creates a draft.
    pub async fn create_game(&self, author: &str, input: GameInput) -> LearningResult<Game> {
        let content = validate_game(input)?;
        let now = self.now();
        let game = Game {
            game_id: lectern_shared::ids::new_id(),
            content,
            status: GameStatus::Draft,
            published_at: None,
            plays: 0,
            created_by: author.to_string(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.platform
            .table
            .put(game.to_item()?, Condition::NotExists)
            .await?;
        Ok(game)
    }

    /// Replaces a game's content; a published game's list entries follow.
    pub async fn replace_game(&self, game_id: &str, input: GameInput) -> LearningResult<Game> {
        let content = validate_game(input)?;
        let before = self.authored(game_id).await?;
        let mut after = before.clone();
        after.content = content;
        let after = self.save_game(&before, after).await?;
        if after.status == GameStatus::Published {
            self.reindex(Some(&before), Some(&after)).await?;
        }
        Ok(after)
    }

    /// Publishes (or republishes, refreshing its entries and popularity) a game.
    pub async fn publish_game(&self, game_id: &str) -> LearningResult<Game> {
        let before = self.authored(game_id).await?;
        let mut after = before.clone();
        after.status = GameStatus::Published;
        after.published_at = Some(before.published_at.unwrap_or(self.now()));
        let after = self.save_game(&before, after).await?;
        let old = (before.status == GameStatus::Published).then_some(&before);
        self.reindex(old, Some(&after)).await?;
        Ok(after)
    }

    /// Takes a game out of the catalog (kept as a draft).
    pub async fn unpublish_game(&self, game_id: &str) -> LearningResult<Game> {
        self.unlist(game_id, GameStatus::Draft).await
    }

    /// Soft-deletes a game: out of every list and read, kept for the results that name it. Refused while a
    /// curriculum module lists it (the module could never be completed).
    pub async fn delete_game(&self, game_id: &str) -> LearningResult<Game> {
        let curriculum = self.load_curriculum().await?;
        let modules: Vec<&str> = curriculum
            .listing_game(game_id)
            .into_iter()
            .map(|m| m.module_id.as_str())
            .collect();
        if !modules.is_empty() {
            return Err(LearningError::Refused {
                status: axum::http::StatusCode::CONFLICT,
                kind: "game-in-curriculum",
                title: "A curriculum module lists this game",
                detail: format!(
                    "modules {} list this game; take it out of them first",
                    modules.join(", ")
                ),
            });
        }
        self.unlist(game_id, GameStatus::Deleted).await
    }

    async fn unlist(&self, game_id: &str, status: GameStatus) -> LearningResult<Game> {
        let before = self.authored(game_id).await?;
        let mut after = before.clone();
        after.status = status;
        let after = self.save_game(&before, after).await?;
        // Entries are removed even when the game already looked unlisted: a crash may have left some behind.
        self.reindex(Some(&before), None).await?;
        Ok(after)
    }

    /// A game authors may change (not a deleted one).
    async fn authored(&self, game_id: &str) -> LearningResult<Game> {
        self.load_game(game_id)
            .await?
            .filter(|g| g.status != GameStatus::Deleted)
            .ok_or(LearningError::NotFound)
    }

    async fn save_game(&self, before: &Game, mut after: Game) -> LearningResult<Game> {
        after.version = before.version + 1;
        after.updated_at = self.now();
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
                "the game changed meanwhile; read it again and retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves a game's entries from what `old` listed to what `new` lists: deletes the keys no longer wanted, puts
    /// the new entries, in transactions of at most 100 operations. Idempotent.
    async fn reindex(&self, old: Option<&Game>, new: Option<&Game>) -> LearningResult<()> {
        let wanted: Vec<CatalogEntry> = new.map(Game::entries).unwrap_or_default();
        let wanted_keys: BTreeSet<Key> = wanted.iter().map(Entity::key).collect();
        let mut ops: Vec<TxOp> = Vec::new();
        if let Some(old) = old {
            for entry in old.entries() {
                let key = entry.key();
                if !wanted_keys.contains(&key) {
                    ops.push(TxOp::Delete {
                        key,
                        condition: Condition::Always,
                    });
                }
            }
        }
        for entry in &wanted {
            ops.push(TxOp::Put {
                item: entry.to_item()?,
                condition: Condition::Always,
            });
        }
        for chunk in ops.chunks(lectern_shared::table::MAX_TRANSACTION_OPS) {
            self.platform.table.transact(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// One page of the catalog: one query of one facet partition.
    pub async fn catalog_page(
        &self,
        filters: &Filters,
        sort: Sort,
        limit: usize,
        position: Option<String>,
    ) -> LearningResult<EntryPage> {
        let facets = filters.facets();
        let query: Query = match sort {
            Sort::Newest => CatalogEntry::INFO.query(&[&facets]).backwards(),
            Sort::Title => BY_TITLE.query(&[&facets]),
            Sort::Popular => BY_POPULARITY.query(&[&facets]),
        };
        let page = self
            .platform
            .table
            .query(query.sk(SortKey::Any).limit(limit).after(position))
            .await?;
        let items = page
            .items
            .into_iter()
            .map(CatalogEntry::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EntryPage {
            items,
            position: page.cursor,
        })
    }

    /// A game as shown, with the variant of `profile_id` when one is named.
    pub fn game_view(&self, game: Game, profile_id: Option<&str>) -> GameView {
        let variant = profile_id.and_then(|p| game.variant_for(p)).cloned();
        GameView {
            game_id: game.game_id,
            content: game.content,
            status: game.status,
            published_at: game.published_at,
            created_at: game.created_at,
            updated_at: game.updated_at,
            variant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(variants: Vec<Variant>) -> Game {
        Game {
            game_id: "01JGAME0000000000000000000".into(),
            content: GameInput {
                title: "Letters and Sounds".into(),
                description: String::new(),
                rules: String::new(),
                min_age: 4,
                max_age: 6,
                category: "alphabets".into(),
                skills: vec!["phonics".into(), "letters".into()],
                difficulty: Difficulty::Easy,
                estimated_minutes: 5,
                assets: vec![],
                locales: BTreeMap::new(),
                variants,
            },
            status: GameStatus::Published,
            published_at: Some(1),
            plays: 0,
            created_by: "x".into(),
            created_at: 1,
            updated_at: 1,
            version: 1,
        }
    }

    #[test]
    fn a_game_is_listed_under_every_combination_it_matches() {
        let g = game(vec![]);
        let parts = g.facet_partitions();
        // bands 4-5 and 6-7; 2 skills; terms letters, letter, and, sounds, sound.
        assert_eq!(parts.len(), 4 * (1 + 2) * (1 + 2 + 5));
        for wanted in [
            "all",
            "a=4-5",
            "a=6-7,c=alphabets,d=easy,s=phonics",
            "c=alphabets,q=letter",
            "q=sound",
        ] {
            assert!(parts.contains(&wanted.to_string()), "{wanted}");
        }
        assert!(!parts.contains(&"a=8-10".to_string()));
        let unique: BTreeSet<&String> = parts.iter().collect();
        assert_eq!(unique.len(), parts.len());
        let filters = Filters {
            age: Some(AgeBand::Preschool),
            category: Some("alphabets".into()),
            difficulty: Some(Difficulty::Easy),
            skill: Some("phonics".into()),
            term: None,
        };
        assert!(parts.contains(&filters.facets()));
    }

    #[test]
    fn variants_are_deterministic_and_follow_the_weights() {
        let v = |key: &str, weight| Variant {
            key: key.into(),
            weight,
            overrides: Map::new(),
        };
        let g = game(vec![v("a", 1), v("b", 3)]);
        let mut counts = BTreeMap::new();
        for i in 0..4000 {
            let profile = format!("profile-{i}");
            let first = g.variant_for(&profile).unwrap().key.clone();
            assert_eq!(g.variant_for(&profile).unwrap().key, first, "stable");
            *counts.entry(first).or_insert(0) += 1;
        }
        let b = counts["b"] as f64 / 4000.0;
        assert!((0.70..0.80).contains(&b), "{counts:?}");
        assert!(game(vec![]).variant_for("p").is_none());
    }

    #[test]
    fn popularity_buckets_sort_busy_games_first() {
        assert!(popularity_key(1000) < popularity_key(10));
        assert!(popularity_key(10) < popularity_key(0));
        assert_eq!(popularity_key(0), popularity_key(0));
        assert_eq!(title_key("Letters & Sounds!"), "letters  sounds");
    }
}
