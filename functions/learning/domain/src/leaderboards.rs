//! Leaderboards: per game and period (`weekly`, `monthly`, `all-time`), each profile's best score of the period,
//! counted once; the top N with display names and avatars, and a profile's rank.
//!
//! # Periods
//!
//! Periods roll over at UTC calendar boundaries: a week is an ISO week (Monday 00:00 UTC to the next Monday), a
//! month a calendar month (the 1st, 00:00 UTC). A result counts in the periods holding the moment it was played
//! (`played_at`), so an offline result synced on Monday still counts for the week it was played in.
//!
//! # Writes: through the queue, sharded, exactly once
//!
//! Results reach the boards through the learning worker (the result's transaction queues the job through the
//! outbox, so none is lost). For each result and period the worker keeps the profile's **entry** — its best score
//! of the period — in one of [`SHARDS`] partitions chosen by the profile id: `BOARD#<game>#<period>#<shard>` /
//! `PROFILE#<profile>`. An entry only ever improves, with a transaction conditional on the score it read (absent,
//! or equal), so a redelivered job, two results racing and two workers racing all end with the best score once.
//!
//! The same transaction moves the profile between the **score buckets** of its shard (`BOARD_BUCKETS#..#<shard>`,
//! one counter per bucket: score 0, then four buckets per doubling — `1 + ⌊4·log2(score)⌋`, 81 buckets up to the
//! highest score of 1,000,000, each spanning at most 19% of its lower bound): one decrement, one increment.
//!
//! Numbers: a popular game taking 2,000 results a second touches 3 periods, so up to 6,000 conditional writes a
//! second, spread over 3 × 8 = 24 entry partitions and 24 bucket items (~250 a second each; DynamoDB takes 1,000
//! writes a second per partition, and adaptive capacity splits hot ones). Most results do not beat the
//! profile's best and write nothing (one read of the entries, batched for the three periods). 1M learners make at
//! most 1M entries per board (~120 MB), 125k per shard.
//!
//! # Reads
//!
//! - **Top N** (N ≤ 100): one query per shard of its index `BOARD_TOP#<game>#<period>#<shard>`, ordered by score
//!   (highest first, ties by who got there first), N + [`SLACK`] entries each, merged — the top N of the board are
//!   among the top N of their shards, so the list is exact; then the profiles in one batch read, for the current
//!   display name and avatar and to skip profiles whose parents hid them from public boards (at most `SLACK` hidden
//!   among a shard's top are made up for). 8 queries and one batch read, whatever the board's size.
//! - **Rank**: the profile's entry (one read), then, per shard, the entries ahead of it (a query up to 100 each).
//!   When fewer than 100 are ahead in all, the rank is **exact** (`rank_from == rank_to`). Beyond, the buckets of
//!   every shard (one batch read) bound it: `rank_from` = 1 + the profiles of higher buckets, `rank_to` = that +
//!   the others in the profile's own bucket — a band no wider than the profiles within 19% of its score.
//!
//! Ranks count every profile that played, hidden ones too (hidden from the public list, not from the game), so a
//! public list may skip a rank.
//!
//! Entities (declared once, here): board entry (above; gsi1 `BOARD_TOP#<game>#<period>#<shard>` /
//! `<inverted score><achieved at>#<profile>`; gsi2 `BOARDS_OF#<profile>` / `<game>#<period>`, so a deleted
//! profile's entries are found and erased), board buckets (a counter, written only by updates).
//!
//! Only a profile that exists gets entries: the entry's transaction checks the profile item, so once a profile is
//! deleted nothing lands on a board after its eraser ran (see `erasure`).

use std::collections::BTreeMap;

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, SortKey,
    TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Viewer;
use crate::errors::{LearningError, LearningResult};
use crate::profiles::{AVATAR_URL_TTL, Profile};
use crate::progress::MAX_SCORE;
use crate::service::Learning;

/// Partitions a board is spread over.
pub const SHARDS: u32 = 8;
/// Longest list.
pub const MAX_TOP: usize = 100;
/// Extra entries read per shard, to make up for hidden profiles.
pub const SLACK: usize = 20;
/// Entries ahead of a profile counted exactly.
pub const EXACT_RANKS: usize = 100;
/// Score buckets: 0, then four per doubling up to [`MAX_SCORE`].
pub const BUCKETS: u32 = 81;
/// Attempts at an entry's transaction that loses a race.
const ATTEMPTS: usize = 5;

/// A board's period.
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
pub enum Period {
    #[serde(rename = "weekly")]
    Weekly,
    #[serde(rename = "monthly")]
    Monthly,
    #[serde(rename = "all-time")]
    AllTime,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Weekly, Period::Monthly, Period::AllTime];

    /// The period holding `at` (epoch seconds, UTC): its key and its bounds (`None` for all time).
    pub fn of(self, at: i64) -> LearningResult<PeriodSpan> {
        let ts =
            jiff::Timestamp::from_second(at).map_err(|e| LearningError::Internal(e.to_string()))?;
        let date = ts.to_zoned(jiff::tz::TimeZone::UTC).date();
        let internal = |e: jiff::Error| LearningError::Internal(e.to_string());
        let span =
            |start: jiff::civil::Date, end: jiff::civil::Date| -> LearningResult<(i64, i64)> {
                let second = |d: jiff::civil::Date| -> LearningResult<i64> {
                    Ok(d.to_zoned(jiff::tz::TimeZone::UTC)
                        .map_err(internal)?
                        .timestamp()
                        .as_second())
                };
                Ok((second(start)?, second(end)?))
            };
        match self {
            Period::Weekly => {
                let week = date.iso_week_date();
                let monday = date
                    .checked_sub(
                        jiff::Span::new().days(i64::from(week.weekday().to_monday_zero_offset())),
                    )
                    .map_err(internal)?;
                let next = monday
                    .checked_add(jiff::Span::new().days(7))
                    .map_err(internal)?;
                let (starts, ends) = span(monday, next)?;
                Ok(PeriodSpan {
                    key: format!("W{}-{:02}", week.year(), week.week()),
                    starts_at: Some(starts),
                    ends_at: Some(ends),
                })
            }
            Period::Monthly => {
                let first = date.first_of_month();
                let next = first
                    .checked_add(jiff::Span::new().months(1))
                    .map_err(internal)?;
                let (starts, ends) = span(first, next)?;
                Ok(PeriodSpan {
                    key: format!("M{}-{:02}", date.year(), date.month()),
                    starts_at: Some(starts),
                    ends_at: Some(ends),
                })
            }
            Period::AllTime => Ok(PeriodSpan {
                key: "ALL".into(),
                starts_at: None,
                ends_at: None,
            }),
        }
    }
}

/// One period of a board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PeriodSpan {
    /// `W2026-48`, `M2026-11` or `ALL`.
    pub key: String,
    /// Its first second (UTC), and the first second after it.
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
}

/// The shard of a profile: a stable hash of its id.
fn shard_of(profile_id: &str) -> String {
    let hash = profile_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (hash % SHARDS).to_string()
}

/// A score's bucket: 0 for 0, then `1 + ⌊4·log2(score)⌋`.
pub fn bucket(score: i64) -> u32 {
    if score <= 0 {
        0
    } else {
        let b = 1 + (4.0 * (score as f64).log2()).floor() as u32;
        b.min(BUCKETS - 1)
    }
}

fn bucket_attr(b: u32) -> String {
    format!("b{b:02}")
}

const BOARD: Shape = Shape::new("BOARD", &["game_id", "period", "shard"]);
/// gsi1: a shard's entries, best first.
pub const BY_SCORE: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("BOARD_TOP", &["game_id", "period", "shard"]),
        Shape::values(&["rank_key", "profile_id"]),
    ),
);
/// gsi2: a profile's entries on every board, so erasing the profile finds them without knowing what it played.
pub const BY_PROFILE: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("BOARDS_OF", &["profile_id"]),
        Shape::values(&["game_id", "period"]),
    ),
);

/// A profile's best of one game in one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardEntry {
    pub game_id: String,
    /// The period's key (`W2026-48`).
    pub period: String,
    pub shard: String,
    pub profile_id: String,
    pub score: i64,
    /// When the score was played (ties: who got there first ranks first).
    pub achieved_at: i64,
}

impl BoardEntry {
    pub fn key_of(game_id: &str, period: &str, profile_id: &str) -> Key {
        Self::INFO.key(&[game_id, period, &shard_of(profile_id)], &[profile_id])
    }

    /// The transaction that takes this entry (as read) off its board, with its count in its shard's buckets.
    pub fn removal(&self) -> Vec<TxOp> {
        vec![
            TxOp::Delete {
                key: self.key(),
                condition: Condition::equals("score", self.score),
            },
            TxOp::Update {
                key: buckets_key(&self.game_id, &self.period, &self.shard),
                update: BOARD_BUCKETS
                    .update()
                    .add(bucket_attr(bucket(self.score)), -1),
                condition: Condition::Always,
            },
        ]
    }

    /// Best first: the score inverted, then the time, fixed width.
    fn rank_key(&self) -> String {
        format!(
            "{:07}{:012}",
            MAX_SCORE - self.score.clamp(0, MAX_SCORE),
            self.achieved_at.max(0)
        )
    }
}

impl Entity for BoardEntry {
    const INFO: EntityInfo = EntityInfo::new(
        "board_entry",
        KeyLayout::new(BOARD, Shape::new("PROFILE", &["profile_id"])),
    )
    .indexed(&[BY_SCORE, BY_PROFILE]);

    fn key(&self) -> Key {
        Self::key_of(&self.game_id, &self.period, &self.profile_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![
            BY_SCORE.key(
                &[&self.game_id, &self.period, &self.shard],
                &[&self.rank_key(), &self.profile_id],
            ),
            BY_PROFILE.key(&[&self.profile_id], &[&self.game_id, &self.period]),
        ]
    }
}

/// A shard's score-bucket counters (`b00`..`b80`), written only by the entries' transactions.
pub const BOARD_BUCKETS: EntityInfo = EntityInfo::new(
    "board_buckets",
    KeyLayout::new(
        Shape::new("BOARD_BUCKETS", &["game_id", "period", "shard"]),
        Shape::fixed("BUCKETS"),
    ),
);

fn buckets_key(game_id: &str, period: &str, shard: &str) -> Key {
    BOARD_BUCKETS.key(&[game_id, period, shard], &[])
}

/// A score to put on the boards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    pub game_id: String,
    pub score: i64,
    pub played_at: i64,
}

/// One line of a public board: the display name and avatar only.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BoardLine {
    /// Counting every profile that played (hidden ones too), so it may skip a number.
    pub rank: usize,
    pub display_name: String,
    /// A short-lived link to the avatar image.
    pub avatar_url: Option<String>,
    pub score: i64,
}

/// A board.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Leaderboard {
    pub game_id: String,
    pub period: Period,
    pub span: PeriodSpan,
    pub entries: Vec<BoardLine>,
}

/// A profile's rank on a board.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rank {
    pub profile_id: String,
    pub game_id: String,
    pub period: Period,
    pub span: PeriodSpan,
    /// The profile's best of the period (`null`: it has not played the game in the period).
    pub score: Option<i64>,
    /// The rank, exact when `exact` (then `rank_from == rank_to`), else a band (beyond the top 100).
    pub rank_from: Option<u64>,
    pub rank_to: Option<u64>,
    pub exact: bool,
}

impl Learning {
    /// Puts scores on the boards of their games (the worker, after results are recorded): each period's entry of
    /// the profile improves to the best score, exactly once however often or concurrently this runs.
    pub async fn record_scores(&self, profile_id: &str, scores: &[Score]) -> LearningResult<usize> {
        // The best of each (game, period) among these scores: one write at most per entry.
        let mut best: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        for s in scores {
            for period in Period::ALL {
                let key = (s.game_id.clone(), period.of(s.played_at)?.key);
                let candidate = (s.score, s.played_at);
                best.entry(key)
                    .and_modify(|b| {
                        if candidate.0 > b.0 || (candidate.0 == b.0 && candidate.1 < b.1) {
                            *b = candidate;
                        }
                    })
                    .or_insert(candidate);
            }
        }
        let mut written = 0;
        for _ in 0..ATTEMPTS {
            if best.is_empty() {
                return Ok(written);
            }
            // The profile is read in the same batch: a profile deleted meanwhile gets no entries (see below).
            let profile_key = Profile::key_of(profile_id);
            let mut keys: Vec<Key> = best
                .keys()
                .map(|(game, period)| BoardEntry::key_of(game, period, profile_id))
                .collect();
            keys.push(profile_key.clone());
            let mut current: BTreeMap<Key, BoardEntry> = BTreeMap::new();
            let mut exists = false;
            for item in self.platform.table.batch_get(&keys).await? {
                if Key::of(&item).as_ref() == Some(&profile_key) {
                    exists = true;
                    continue;
                }
                let entry = BoardEntry::from_item(item)?;
                current.insert(entry.key(), entry);
            }
            if !exists {
                tracing::info!("the profile is gone; its scores go on no board");
                return Ok(written);
            }
            let mut lost = BTreeMap::new();
            for ((game, period), (score, at)) in std::mem::take(&mut best) {
                let key = BoardEntry::key_of(&game, &period, profile_id);
                let before = current.get(&key);
                if before
                    .is_some_and(|b| b.score > score || (b.score == score && b.achieved_at <= at))
                {
                    continue;
                }
                let entry = BoardEntry {
                    game_id: game.clone(),
                    period: period.clone(),
                    shard: shard_of(profile_id),
                    profile_id: profile_id.to_string(),
                    score,
                    achieved_at: at,
                };
                let mut counters = BOARD_BUCKETS.update().add(bucket_attr(bucket(score)), 1);
                if let Some(b) = before {
                    counters = counters.add(bucket_attr(bucket(b.score)), -1);
                }
                let ops = vec![
                    TxOp::Put {
                        item: entry.to_item()?,
                        condition: match before {
                            None => Condition::NotExists,
                            Some(b) => Condition::All(vec![
                                Condition::equals("score", b.score),
                                Condition::equals("achieved_at", b.achieved_at),
                            ]),
                        },
                    },
                    TxOp::Update {
                        key: buckets_key(&game, &period, &entry.shard),
                        update: counters,
                        condition: Condition::Always,
                    },
                    // Only while the profile exists: once its deletion commits, the eraser (which runs after it)
                    // finds every entry written before, and none can be written after.
                    TxOp::Check {
                        key: profile_key.clone(),
                        condition: Condition::Exists,
                    },
                ];
                match self.platform.table.transact(ops).await {
                    Ok(()) => written += 1,
                    // Another run moved the entry meanwhile: read it again and see whether this still beats it.
                    Err(TableError::TransactionCancelled { .. })
                    | Err(TableError::Retryable(_)) => {
                        lost.insert((game, period), (score, at));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            best = lost;
        }
        if best.is_empty() {
            Ok(written)
        } else {
            Err(LearningError::Conflict(
                "board entries kept changing; retry".into(),
            ))
        }
    }

    /// The top `limit` of a board: one query per shard, merged, and the profiles in one batch read.
    pub async fn leaderboard(
        &self,
        game_id: &str,
        period: Period,
        limit: usize,
    ) -> LearningResult<Leaderboard> {
        let span = period.of(self.now())?;
        let limit = limit.clamp(1, MAX_TOP);
        let per_shard = limit + SLACK;
        let queries = (0..SHARDS).map(|shard| {
            let shard = shard.to_string();
            let query = BY_SCORE
                .query(&[game_id, &span.key, &shard])
                .sk(SortKey::Any)
                .limit(per_shard);
            self.platform.table.query(query)
        });
        let mut entries = Vec::new();
        for page in futures::future::join_all(queries).await {
            for item in page?.items {
                entries.push(BoardEntry::from_item(item)?);
            }
        }
        entries.sort_by_key(|e| (e.rank_key(), e.profile_id.clone()));
        entries.truncate(limit + SLACK);
        let keys: Vec<Key> = entries
            .iter()
            .map(|e| Profile::key_of(&e.profile_id))
            .collect();
        let mut profiles = BTreeMap::new();
        for item in self.platform.table.batch_get(&keys).await? {
            let p = Profile::from_item(item)?;
            profiles.insert(p.profile_id.clone(), p);
        }
        let mut lines = Vec::new();
        for (position, e) in entries.iter().enumerate() {
            if lines.len() == limit {
                break;
            }
            // A deleted profile or one hidden by its parents is not shown (its rank stays counted).
            let Some(p) = profiles.get(&e.profile_id).filter(|p| p.on_public_boards()) else {
                continue;
            };
            let avatar_url = match &p.avatar_key {
                Some(key) => self
                    .platform
                    .blobs
                    .presign_download(key, AVATAR_URL_TTL)
                    .await
                    .ok(),
                None => None,
            };
            lines.push(BoardLine {
                rank: position + 1,
                display_name: p.display_name.clone(),
                avatar_url,
                score: e.score,
            });
        }
        Ok(Leaderboard {
            game_id: game_id.to_string(),
            period,
            span,
            entries: lines,
        })
    }

    /// A profile's rank on a board (see the module doc for when it is exact).
    pub async fn rank(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        game_id: &str,
        period: Period,
    ) -> LearningResult<Rank> {
        let span = period.of(self.now())?;
        let keys = [
            Profile::key_of(profile_id),
            BoardEntry::key_of(game_id, &span.key, profile_id),
        ];
        let mut profile = None;
        let mut entry = None;
        for item in self.platform.table.batch_get(&keys).await? {
            if Key::of(&item).as_ref() == Some(&keys[0]) {
                profile = Some(Profile::from_item(item)?);
            } else {
                entry = Some(BoardEntry::from_item(item)?);
            }
        }
        let profile = viewer.seeing(profile)?;
        let mut rank = Rank {
            profile_id: profile.profile_id,
            game_id: game_id.to_string(),
            period,
            span,
            score: None,
            rank_from: None,
            rank_to: None,
            exact: false,
        };
        let Some(entry) = entry else {
            return Ok(rank);
        };
        rank.score = Some(entry.score);
        let own = entry.rank_key();
        let queries = (0..SHARDS).map(|shard| {
            let shard = shard.to_string();
            let query = BY_SCORE
                .query(&[game_id, &entry.period, &shard])
                .sk(SortKey::LessThan(BY_SCORE.key.sk.prefix(&[]) + &own))
                .limit(EXACT_RANKS);
            self.platform.table.query(query)
        });
        let mut ahead = 0usize;
        for page in futures::future::join_all(queries).await {
            ahead += page?.items.len();
        }
        if ahead < EXACT_RANKS {
            rank.rank_from = Some(ahead as u64 + 1);
            rank.rank_to = rank.rank_from;
            rank.exact = true;
            return Ok(rank);
        }
        // Beyond the exact top: the band the score buckets allow.
        let keys: Vec<Key> = (0..SHARDS)
            .map(|s| buckets_key(game_id, &entry.period, &s.to_string()))
            .collect();
        let own_bucket = bucket(entry.score);
        let (mut above, mut same) = (0u64, 0u64);
        for item in self.platform.table.batch_get(&keys).await? {
            for b in 0..BUCKETS {
                let n = item
                    .get(&bucket_attr(b))
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    .max(0) as u64;
                if b > own_bucket {
                    above += n;
                } else if b == own_bucket {
                    same += n;
                }
            }
        }
        // At least the exact count seen, at most everyone above plus the others in its own bucket.
        rank.rank_from = Some(above.max(ahead as u64) + 1);
        rank.rank_to = Some((above + same).max(above.max(ahead as u64) + 1));
        Ok(rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_roll_over_at_utc_calendar_boundaries() {
        // Sunday 2026-11-29 23:59:59 UTC and Monday 2026-11-30 00:00:00 UTC.
        let sunday = 1_795_996_799;
        let monday = sunday + 1;
        let w = |t| Period::Weekly.of(t).unwrap();
        assert_eq!(w(sunday).key, "W2026-48");
        assert_eq!(w(monday).key, "W2026-49");
        assert_eq!(w(monday).starts_at, Some(monday));
        assert_eq!(w(monday).ends_at, Some(monday + 7 * 86_400));
        assert_eq!(w(sunday).ends_at, Some(monday));
        let m = |t| Period::Monthly.of(t).unwrap();
        assert_eq!(m(sunday).key, "M2026-11");
        assert_eq!(m(monday).key, "M2026-11");
        assert_eq!(m(monday + 86_400).key, "M2026-12", "1 December");
        assert_eq!(m(monday + 86_400).starts_at, Some(monday + 86_400));
        assert_eq!(Period::AllTime.of(monday).unwrap().key, "ALL");
        // ISO weeks: 2027-01-01 is a Friday of week 53 of 2026.
        assert_eq!(w(1_798_761_600).key, "W2026-53");
    }

    #[test]
    fn buckets_are_ordered_and_narrow() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(MAX_SCORE), BUCKETS - 1);
        let mut last = 0;
        for s in 0..=5000 {
            let b = bucket(s);
            assert!(b >= last, "monotonic at {s}");
            last = b;
        }
        // A bucket spans less than 19% of its lower bound (four per doubling: 2^(1/4) = 1.189).
        for s in [100, 1000, 50_000, 999_999] {
            let lower = (1..=s)
                .rev()
                .take_while(|x| bucket(*x) == bucket(s))
                .last()
                .unwrap();
            assert!((s as f64) < lower as f64 * 1.19 + 1.0, "{s} vs {lower}");
        }
    }

    #[test]
    fn rank_keys_put_the_best_and_earliest_first() {
        let e = |score, at| BoardEntry {
            game_id: "G".into(),
            period: "ALL".into(),
            shard: "0".into(),
            profile_id: "P".into(),
            score,
            achieved_at: at,
        };
        assert!(e(900, 5).rank_key() < e(800, 1).rank_key());
        assert!(e(900, 1).rank_key() < e(900, 5).rank_key());
        assert!(!e(900, 1).rank_key().contains('#'));
    }
}
