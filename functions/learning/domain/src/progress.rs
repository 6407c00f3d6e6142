//! Progress: the results a profile records, exactly once per `Idempotency-Key`, and the statistics kept with them.
//!
//! Recording a result is one batched read and one transaction:
//! - read (one `batch_get`): the profile (with its parental controls), the game, the profile's statistics and the
//!   key's record;
//! - write (one transaction): the result, the key's record (`NotExists`: a key counts once, however many
//!   retries race), the statistics (conditional on the version read; a lost race is retried from the read), and
//!   the learning worker's job in the outbox (leaderboards, achievements), sent right after the commit — or by
//!   the outbox relay if that fails — so no recorded result is ever left out of them.
//!
//! A key seen again with the same body answers the first answer again (marked replayed); with a different body
//! it is a 422 (`idempotency-key-reused`). Keys are remembered for [`KEY_RETENTION_SECS`], longer than any device
//! stays offline with a result to sync.
//!
//! Statistics are one item per profile, updated with each result: totals, per game (plays, completions, best and
//! total score, best stars), per skill (results and stars, for mastery), and the distinct days played in the
//! profile's time zone (for streaks), so `GET .../progress/stats` is one read.
//!
//! Entities (declared once, here):
//! - result `LEARNER#<profile_id>` / `RESULT#<played_at>#<result_id>` (a profile's results by time), on gsi1
//!   `PLAYS#<profile_id>#<game_id>` / `<played_at>#<result_id>` (one game's, by time);
//! - progress key `LEARNER#<profile_id>` / `IDEMPOTENCY#<key>`: the body's hash and the first answer, expiring;
//! - learner stats `LEARNER#<profile_id>` / `STATS`.

use std::collections::BTreeMap;

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, SortKey,
    TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use lectern_messages::webhooks::{self, WebhookEvent};
use lectern_messages::{RecordedScore, ResultsRecorded};
use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::{self, OutboxEntry};

use crate::access::Viewer;
use crate::catalog::{Game, GameStatus};
use crate::controls::{check_content, may_play_at};
use crate::errors::{LearningError, LearningResult};
use crate::profiles::Profile;
use crate::service::Learning;

/// How long an idempotency key is remembered.
pub const KEY_RETENTION_SECS: i64 = 90 * 24 * 3600;
/// The pattern of an idempotency key.
pub const KEY_PATTERN: &str = "^[A-Za-z0-9_-]{8,128}$";
/// Most results in one batch.
pub const MAX_BATCH: usize = 100;
/// Highest score.
pub const MAX_SCORE: i64 = 1_000_000;
/// Most stars.
pub const MAX_STARS: i32 = 3;
/// Longest play, in seconds.
pub const MAX_DURATION_SECS: i64 = 4 * 3600;
/// How far ahead of the server's clock a client's timestamp may be.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// How old a result may be when it is synced.
pub const MAX_RESULT_AGE_SECS: i64 = 365 * 24 * 3600;
/// Days kept in the statistics for streaks (older days are summarised in `longest_streak`).
pub const MAX_DAYS_KEPT: usize = 800;
/// Days of play time kept for the daily limit (a device may sync a few days late).
pub const USAGE_DAYS_KEPT: usize = 14;
/// Attempts at a transaction that loses the statistics race.
const ATTEMPTS: usize = 5;

const LEARNER: Shape = Shape::new("LEARNER", &["profile_id"]);
/// gsi1: one game's results of one profile.
pub const BY_GAME: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("PLAYS", &["profile_id", "game_id"]),
        Shape::values(&["played_key", "result_id"]),
    ),
);

/// Whether a string is a usable idempotency key.
pub fn valid_key(key: &str) -> bool {
    (8..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One result as a client sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultInput {
    #[schema(value_type = String, pattern = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
    pub game_id: lectern_shared::ids::Id,
    /// The A/B variant played, when the game has variants (else the profile's assigned one is recorded).
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
    pub variant: Option<String>,
    #[serde(deserialize_with = "crate::validate::whole")]
    #[schema(minimum = 0, maximum = 1000000)]
    pub score: i64,
    #[serde(deserialize_with = "crate::validate::whole")]
    #[schema(minimum = 0, maximum = 3)]
    pub stars: i32,
    /// Seconds played.
    #[serde(deserialize_with = "crate::validate::whole")]
    #[schema(minimum = 0, maximum = 14400)]
    pub duration_secs: i64,
    pub completed: bool,
    /// When it was played, on the device (RFC 3339): at most 5 minutes ahead of the server, at most a year old.
    #[schema(format = DateTime)]
    pub played_at: String,
}

/// A recorded result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameResult {
    pub result_id: String,
    pub profile_id: String,
    pub game_id: String,
    pub variant: Option<String>,
    pub score: i64,
    pub stars: i32,
    pub duration_secs: i64,
    pub completed: bool,
    /// When it was played (epoch seconds, the device's clock).
    pub played_at: i64,
    /// When the server recorded it.
    pub recorded_at: i64,
    /// The day it was played on, in the profile's time zone (`YYYY-MM-DD`).
    pub day: String,
}

impl GameResult {
    fn played_key(&self) -> String {
        format!("{:012}", self.played_at)
    }
}

impl Entity for GameResult {
    const INFO: EntityInfo = EntityInfo::new(
        "game_result",
        KeyLayout::new(LEARNER, Shape::new("RESULT", &["played_key", "result_id"])),
    )
    .indexed(&[BY_GAME]);

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.profile_id], &[&self.played_key(), &self.result_id])
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![BY_GAME.key(
            &[&self.profile_id, &self.game_id],
            &[&self.played_key(), &self.result_id],
        )]
    }
}

/// What an idempotency key was first used for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgressKey {
    pub profile_id: String,
    /// The client's key; in the item's key only.
    #[serde(skip_serializing)]
    pub key: String,
    /// SHA-256 of the body as first received (canonical JSON).
    pub body_hash: String,
    /// The first answer.
    pub result: GameResult,
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl ProgressKey {
    pub fn key_of(profile_id: &str, key: &str) -> Key {
        Self::INFO.key(&[profile_id], &[key])
    }
}

impl Entity for ProgressKey {
    const INFO: EntityInfo = EntityInfo::new(
        "progress_key",
        KeyLayout::new(LEARNER, Shape::new("IDEMPOTENCY", &["key"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.profile_id, &self.key)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// A game's numbers for one profile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameStats {
    pub plays: i64,
    pub completions: i64,
    pub best_score: i64,
    pub total_score: i64,
    pub best_stars: i32,
    pub seconds: i64,
    /// Best stars of a completed result (what curriculum modules ask for).
    #[serde(default)]
    pub completed_stars: i32,
}

/// A skill's numbers for one profile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkillStats {
    pub results: i64,
    pub stars: i64,
}

/// A profile's statistics as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnerStats {
    pub profile_id: String,
    pub results: i64,
    pub completed: i64,
    pub seconds: i64,
    #[serde(default)]
    pub games: BTreeMap<String, GameStats>,
    #[serde(default)]
    pub skills: BTreeMap<String, SkillStats>,
    /// Distinct days played (days since 1970-01-01 in the profile's zone), ascending, the last [`MAX_DAYS_KEPT`].
    #[serde(default)]
    pub days: Vec<i32>,
    /// The longest streak among days no longer kept.
    #[serde(default)]
    pub longest_dropped: i32,
    /// Seconds played per day (days since 1970-01-01 in the profile's zone), the last [`USAGE_DAYS_KEPT`] days
    /// played: the daily time limit counts them.
    #[serde(default)]
    pub day_seconds: BTreeMap<i32, i64>,
    pub version: i64,
}

impl LearnerStats {
    pub fn key_of(profile_id: &str) -> Key {
        Self::INFO.key(&[profile_id], &[])
    }

    /// Adds a result (of a game training `skills`, played on `day`).
    fn add(&mut self, r: &GameResult, skills: &[String], day: i32) {
        self.results += 1;
        self.completed += i64::from(r.completed);
        self.seconds += r.duration_secs;
        let g = self.games.entry(r.game_id.clone()).or_default();
        g.plays += 1;
        g.completions += i64::from(r.completed);
        g.best_score = g.best_score.max(r.score);
        g.total_score += r.score;
        g.best_stars = g.best_stars.max(r.stars);
        g.seconds += r.duration_secs;
        if r.completed {
            g.completed_stars = g.completed_stars.max(r.stars);
        }
        for skill in skills {
            let s = self.skills.entry(skill.clone()).or_default();
            s.results += 1;
            s.stars += i64::from(r.stars);
        }
        if let Err(at) = self.days.binary_search(&day) {
            self.days.insert(at, day);
        }
        *self.day_seconds.entry(day).or_default() += r.duration_secs;
        while self.day_seconds.len() > USAGE_DAYS_KEPT {
            self.day_seconds.pop_first();
        }
        if self.days.len() > MAX_DAYS_KEPT {
            let dropped: Vec<i32> = self.days.drain(..self.days.len() - MAX_DAYS_KEPT).collect();
            self.longest_dropped = self.longest_dropped.max(longest_run(&dropped));
        }
    }
}

impl LearnerStats {
    /// Seconds played on `day` (days since 1970-01-01 in the profile's zone).
    pub fn seconds_on(&self, day: i32) -> i64 {
        self.day_seconds.get(&day).copied().unwrap_or(0)
    }
}

impl Entity for LearnerStats {
    const INFO: EntityInfo = EntityInfo::new(
        "learner_stats",
        KeyLayout::new(LEARNER, Shape::fixed("STATS")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.profile_id)
    }
}

/// The longest run of consecutive days.
pub fn longest_run(days: &[i32]) -> i32 {
    let mut best = 0;
    let mut run = 0;
    for (i, d) in days.iter().enumerate() {
        run = if i > 0 && days[i - 1] + 1 == *d {
            run + 1
        } else {
            1
        };
        best = best.max(run);
    }
    best
}

/// The run of consecutive days ending today or yesterday (a streak is not broken until a whole day passes).
pub fn current_run(days: &[i32], today: i32) -> i32 {
    let Some(&last) = days.last() else { return 0 };
    if last < today - 1 {
        return 0;
    }
    let mut run = 1;
    for pair in days.windows(2).rev() {
        if pair[0] + 1 == pair[1] {
            run += 1;
        } else {
            break;
        }
    }
    run
}

/// A day as days since 1970-01-01, and its date, of an instant in a zone.
pub fn day_in(zone: &jiff::tz::TimeZone, epoch: i64) -> LearningResult<(i32, String)> {
    let ts =
        jiff::Timestamp::from_second(epoch).map_err(|e| LearningError::Internal(e.to_string()))?;
    let date = ts.to_zoned(zone.clone()).date();
    let epoch_day = date
        .since(jiff::civil::date(1970, 1, 1))
        .map_err(|e| LearningError::Internal(e.to_string()))?
        .get_days();
    Ok((epoch_day, date.to_string()))
}

/// A profile's statistics as shown.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatsView {
    pub results: i64,
    pub completed: i64,
    /// Seconds played in all.
    pub seconds: i64,
    /// Per game: plays, completions, best and average score, best stars, time.
    pub games: BTreeMap<String, GameStatsView>,
    /// Per skill: results and mastery (average stars out of 3, 0 to 1).
    pub skills: BTreeMap<String, SkillView>,
    /// Consecutive days played, ending today or yesterday in the profile's time zone.
    pub current_streak: i32,
    pub longest_streak: i32,
    /// The profile's time zone the days are counted in.
    pub timezone: String,
}

/// A game's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GameStatsView {
    pub plays: i64,
    pub completions: i64,
    pub best_score: i64,
    pub average_score: f64,
    pub best_stars: i32,
    pub seconds: i64,
}

/// A skill's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SkillView {
    pub results: i64,
    pub mastery: f64,
}

/// What recording answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub result: GameResult,
    /// The key had been used for this very body before: this is the first answer again.
    pub replayed: bool,
    /// The worker's job and the `progress.recorded` webhook event, committed with the result in the outbox, to
    /// send (none for a replay).
    pub announcements: Vec<OutboxEntry>,
}

/// The canonical hash of a request body.
fn body_hash(input: &ResultInput) -> LearningResult<String> {
    let canonical =
        serde_json::to_vec(input).map_err(|e| LearningError::Internal(e.to_string()))?;
    Ok(hex_digest(&canonical))
}

fn hex_digest(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A profile's results, filtered.
#[derive(Clone, Debug, Default)]
pub struct ResultFilter {
    pub game_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Learning {
    /// Records one result for a profile the viewer may act as, and sends what follows from it (the job written
    /// to the outbox in the result's transaction).
    pub async fn record_result(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        key: &str,
        input: ResultInput,
    ) -> LearningResult<Recorded> {
        let recorded = self
            .record_result_only(viewer, profile_id, key, input)
            .await?;
        self.send_announcements(recorded.announcements.clone())
            .await;
        Ok(recorded)
    }

    /// Sends the worker's jobs of recorded results at once (the outbox's fast path; never fails: what does not go
    /// out now, the outbox relay sends).
    pub async fn send_announcements(&self, entries: Vec<OutboxEntry>) {
        if entries.is_empty() {
            return;
        }
        outbox::deliver(
            self.platform.table.as_ref(),
            self.platform.queue.as_ref(),
            &self.platform.outbox_key,
            &entries,
            self.now(),
        )
        .await;
    }

    /// Records one result; its worker job is written to the outbox in the same transaction and answered in
    /// [`Recorded::announcements`] for the caller to send (an offline batch sends its results' jobs together).
    pub async fn record_result_only(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        key: &str,
        input: ResultInput,
    ) -> LearningResult<Recorded> {
        if !valid_key(key) {
            return Err(LearningError::field(
                "header.idempotency-key",
                "8 to 128 letters, digits, `_` or `-`",
            ));
        }
        let hash = body_hash(&input)?;
        let game_id = input.game_id.as_str().to_string();
        for _ in 0..ATTEMPTS {
            let keys = [
                Profile::key_of(profile_id),
                Game::key_of(&game_id),
                LearnerStats::key_of(profile_id),
                ProgressKey::key_of(profile_id, key),
            ];
            let mut profile = None;
            let mut game = None;
            let mut stats = None;
            let mut seen = None;
            for item in self.platform.table.batch_get(&keys).await? {
                match Key::of(&item) {
                    Some(k) if k == keys[0] => profile = Some(Profile::from_item(item)?),
                    Some(k) if k == keys[1] => game = Some(Game::from_item(item)?),
                    Some(k) if k == keys[2] => stats = Some(LearnerStats::from_item(item)?),
                    _ => seen = Some(ProgressKey::from_item(item)?),
                }
            }
            let profile = viewer.seeing(profile)?;
            if let Some(seen) = seen {
                return replay(seen, &hash);
            }
            let game = game
                .filter(|g| g.status == GameStatus::Published)
                .ok_or_else(|| LearningError::field("game_id", "no such published game"))?;
            let result = self.new_result(&profile, &game, &input)?;
            // The parental controls, as they stand, for when it was played.
            check_content(&profile, &game)?;
            may_play_at(
                &profile,
                stats.as_ref().unwrap_or(&LearnerStats::default()),
                result.played_at,
            )?;
            let zone = profile.zone();
            let (day, _) = day_in(&zone, result.played_at)?;
            let version = stats.as_ref().map(|s| s.version);
            let mut next = stats.unwrap_or_else(|| LearnerStats {
                profile_id: profile_id.to_string(),
                ..LearnerStats::default()
            });
            next.add(&result, &game.content.skills, day);
            next.version = version.unwrap_or(0) + 1;
            let job = ResultsRecorded {
                profile_id: profile_id.to_string(),
                results: vec![RecordedScore {
                    result_id: result.result_id.clone(),
                    game_id: result.game_id.clone(),
                    score: result.score,
                    played_at: result.played_at,
                }],
                stats_version: next.version,
            };
            let job = NewJob::new(&job)
                .map_err(|e| LearningError::Internal(e.to_string()))?
                .idempotency_key(format!("results:{}", result.result_id));
            let announcement =
                OutboxEntry::new::<ResultsRecorded>(job, self.now(), &self.platform.outbox_key)
                    .map_err(|e| LearningError::Internal(e.to_string()))?;
            // Integrators' `progress.recorded` webhook event, committed with the result.
            let event = WebhookEvent::of(
                webhooks::PROGRESS_RECORDED,
                &result.result_id,
                self.now(),
                &webhooks::ProgressRecordedData {
                    profile_id: profile_id.to_string(),
                    result_id: result.result_id.clone(),
                    game_id: result.game_id.clone(),
                    score: result.score,
                    played_at: result.played_at,
                },
            );
            let event = event
                .job()
                .and_then(|job| {
                    OutboxEntry::new::<WebhookEvent>(job, self.now(), &self.platform.outbox_key)
                })
                .map_err(|e| LearningError::Internal(e.to_string()))?;
            let record = ProgressKey {
                profile_id: profile_id.to_string(),
                key: key.to_string(),
                body_hash: hash.clone(),
                result: result.clone(),
                expires_at: self.now() + KEY_RETENTION_SECS,
            };
            let ops = vec![
                TxOp::Put {
                    item: record.to_item()?,
                    condition: Condition::NotExists,
                },
                TxOp::Put {
                    item: result.to_item()?,
                    condition: Condition::NotExists,
                },
                TxOp::Put {
                    item: next.to_item()?,
                    condition: match version {
                        None => Condition::NotExists,
                        Some(v) => Condition::equals("version", v),
                    },
                },
                announcement.put()?,
                event.put()?,
                // Only while the profile exists: nothing is recorded under a profile once its eraser ran.
                TxOp::Check {
                    key: profile.key(),
                    condition: Condition::Exists,
                },
            ];
            match self.platform.table.transact(ops).await {
                Ok(()) => {
                    return Ok(Recorded {
                        result,
                        replayed: false,
                        announcements: vec![announcement, event],
                    });
                }
                // The key was taken meanwhile, or the statistics moved: read again (a taken key then replays).
                Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(LearningError::Conflict(
            "the profile is recording many results at once; retry".into(),
        ))
    }

    fn new_result(
        &self,
        profile: &Profile,
        game: &Game,
        input: &ResultInput,
    ) -> LearningResult<GameResult> {
        let now = self.now();
        let mut errors = Vec::new();
        let played_at = time::OffsetDateTime::parse(
            &input.played_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|t| t.unix_timestamp())
        .ok();
        match played_at {
            None => errors.push(("played_at".to_string(), "an RFC 3339 time".to_string())),
            Some(t) if t > now + MAX_CLOCK_SKEW_SECS => {
                errors.push(("played_at".into(), "is in the future".into()))
            }
            Some(t) if t < now - MAX_RESULT_AGE_SECS => {
                errors.push(("played_at".into(), "is more than a year ago".into()))
            }
            Some(_) => {}
        }
        if !(0..=MAX_SCORE).contains(&input.score) {
            errors.push(("score".into(), format!("0 to {MAX_SCORE}")));
        }
        if !(0..=MAX_STARS).contains(&input.stars) {
            errors.push(("stars".into(), format!("0 to {MAX_STARS}")));
        }
        if !(0..=MAX_DURATION_SECS).contains(&input.duration_secs) {
            errors.push(("duration_secs".into(), format!("0 to {MAX_DURATION_SECS}")));
        }
        let variant = match &input.variant {
            Some(v) if game.content.variants.iter().any(|x| &x.key == v) => Some(v.clone()),
            Some(_) => {
                errors.push(("variant".into(), "not a variant of this game".into()));
                None
            }
            None => game.variant_for(&profile.profile_id).map(|v| v.key.clone()),
        };
        if !errors.is_empty() {
            return Err(LearningError::Invalid(errors));
        }
        let played_at = played_at.unwrap_or(now);
        let (_, day) = day_in(&profile.zone(), played_at)?;
        Ok(GameResult {
            result_id: lectern_shared::ids::new_id(),
            profile_id: profile.profile_id.clone(),
            game_id: game.game_id.clone(),
            variant,
            score: input.score,
            stars: input.stars,
            duration_secs: input.duration_secs,
            completed: input.completed,
            played_at,
            recorded_at: now,
            day,
        })
    }

    /// A profile's results, newest first, optionally of one game and within `[from, to]` (epoch seconds).
    pub async fn results(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        filter: &ResultFilter,
        limit: usize,
        position: Option<String>,
    ) -> LearningResult<(Vec<GameResult>, Option<String>)> {
        self.visible_profile(viewer, profile_id).await?;
        let bound = |t: i64| format!("{t:012}");
        let (low, high) = (
            filter.from.map_or_else(|| "0".repeat(12), bound),
            // Everything of the last second: `<to>#` sorts after `<to>#<any id>`... the separator is `#`, and
            // `$` sorts right after it.
            filter.to.map_or_else(|| "9".repeat(12), bound) + "$",
        );
        let query = match &filter.game_id {
            Some(game) => BY_GAME
                .query(&[profile_id, game])
                .sk(SortKey::Between(low, high)),
            None => {
                let shape = GameResult::INFO.primary.sk;
                GameResult::INFO.query(&[profile_id]).sk(SortKey::Between(
                    shape.prefix(&[]) + &low,
                    shape.prefix(&[]) + &high,
                ))
            }
        };
        let page = self
            .platform
            .table
            .query(query.backwards().limit(limit).after(position))
            .await?;
        let items = page
            .items
            .into_iter()
            .map(GameResult::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, page.cursor))
    }

    /// A profile the viewer may see and its statistics, in one batched read.
    pub async fn profile_and_stats(
        &self,
        viewer: &Viewer,
        profile_id: &str,
    ) -> LearningResult<(Profile, LearnerStats)> {
        let (profile, stats, _) = self.profile_stats_game(viewer, profile_id, "").await?;
        Ok((profile, stats))
    }

    /// A profile the viewer may see, its statistics and a game (none when `game_id` is empty), in one batched
    /// read.
    pub async fn profile_stats_game(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        game_id: &str,
    ) -> LearningResult<(Profile, LearnerStats, Option<Game>)> {
        let mut keys = vec![
            Profile::key_of(profile_id),
            LearnerStats::key_of(profile_id),
        ];
        if !game_id.is_empty() {
            keys.push(Game::key_of(game_id));
        }
        let mut profile = None;
        let mut stats = LearnerStats::default();
        let mut game = None;
        for item in self.platform.table.batch_get(&keys).await? {
            match Key::of(&item) {
                Some(k) if k == keys[0] => profile = Some(Profile::from_item(item)?),
                Some(k) if k == keys[1] => stats = LearnerStats::from_item(item)?,
                _ => game = Some(Game::from_item(item)?),
            }
        }
        Ok((viewer.seeing(profile)?, stats, game))
    }

    /// A profile's statistics (one read with the profile).
    pub async fn stats(&self, viewer: &Viewer, profile_id: &str) -> LearningResult<StatsView> {
        let (profile, stats) = self.profile_and_stats(viewer, profile_id).await?;
        let (today, _) = day_in(&profile.zone(), self.now())?;
        Ok(StatsView {
            results: stats.results,
            completed: stats.completed,
            seconds: stats.seconds,
            games: stats
                .games
                .iter()
                .map(|(id, g)| {
                    let average = if g.plays > 0 {
                        g.total_score as f64 / g.plays as f64
                    } else {
                        0.0
                    };
                    (
                        id.clone(),
                        GameStatsView {
                            plays: g.plays,
                            completions: g.completions,
                            best_score: g.best_score,
                            average_score: (average * 100.0).round() / 100.0,
                            best_stars: g.best_stars,
                            seconds: g.seconds,
                        },
                    )
                })
                .collect(),
            skills: stats
                .skills
                .iter()
                .map(|(skill, s)| {
                    let mastery = if s.results > 0 {
                        s.stars as f64 / (s.results as f64 * f64::from(MAX_STARS))
                    } else {
                        0.0
                    };
                    (
                        skill.clone(),
                        SkillView {
                            results: s.results,
                            mastery: (mastery * 100.0).round() / 100.0,
                        },
                    )
                })
                .collect(),
            current_streak: current_run(&stats.days, today),
            longest_streak: longest_run(&stats.days).max(stats.longest_dropped),
            timezone: profile.timezone,
        })
    }
}

/// The first answer of a key, if the body is the same.
fn replay(seen: ProgressKey, hash: &str) -> LearningResult<Recorded> {
    if seen.body_hash == hash {
        Ok(Recorded {
            result: seen.result,
            replayed: true,
            announcements: Vec::new(),
        })
    } else {
        Err(LearningError::KeyReused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaks_count_consecutive_days_up_to_yesterday() {
        assert_eq!(longest_run(&[1, 2, 3, 5, 6]), 3);
        assert_eq!(longest_run(&[]), 0);
        assert_eq!(current_run(&[1, 2, 3, 5, 6], 6), 2);
        assert_eq!(
            current_run(&[1, 2, 3, 5, 6], 7),
            2,
            "yesterday still counts"
        );
        assert_eq!(current_run(&[1, 2, 3, 5, 6], 8), 0);
        assert_eq!(current_run(&[], 8), 0);
    }

    #[test]
    fn days_are_counted_in_the_profile_zone() {
        // 2026-03-01T23:30:00Z is already 2 March in Paris, still 1 March in New York.
        let t = 1_772_407_800;
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let (dp, sp) = day_in(&paris, t).unwrap();
        let (dn, sn) = day_in(&ny, t).unwrap();
        assert_eq!(sp, "2026-03-02");
        assert_eq!(sn, "2026-03-01");
        assert_eq!(dp, dn + 1);
    }

    #[test]
    fn keys_are_bounded_and_plain() {
        assert!(valid_key("retry-0001"));
        assert!(!valid_key("short"));
        assert!(!valid_key("has space here"));
        assert!(!valid_key(&"k".repeat(129)));
    }
}
