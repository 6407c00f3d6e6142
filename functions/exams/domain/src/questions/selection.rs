//! Random selection: N approved questions of a course or topic, weighted by difficulty, never two alike, none
//! the session already served, preferring what the learner has never seen, then what they saw least recently (as
//! Moodle's random questions do) — without reading the pool.
//!
//! # How, for 100,000 questions per course
//!
//! - **Quotas.** Each pool (course or topic, by difficulty) keeps its exact size beside it ([`pool::POOL_SIZE`],
//!   changed in the transaction that approves or withdraws a question). One batch read of the three sizes gives
//!   the quota per difficulty ([`quotas`]): the mix's shares of N by largest remainder; a difficulty whose pool is
//!   too small hands its shortfall to the others by weight; fewer than N only when the whole pool is short, and
//!   then the answer says so.
//! - **Unseen first.** Pool entries sort by a pseudo-random slot ([`pool::slot`]), so a query from a random
//!   position reads a random sample. A probe reads a few times the quota from a random start (wrapping round),
//!   then one batch read of the learner's [`Seen`] records for those candidates keeps the unseen ones; up to
//!   [`PROBES`] probes, each four times the size of the one before (at most [`MAX_PROBE`]), so unseen questions
//!   that have grown sparse are still found. Reads grow with the quota, never with the pool. (In a very large
//!   pool that the learner has nearly exhausted, a few unseen questions may go unfound by the probes; the draw
//!   then takes the least recently seen, which is the next preference anyway.)
//! - **Then least recently seen.** The learner's [`Seen`] records are indexed by (learner, course or topic,
//!   difficulty) in order of last sight; reading that index from the start gives the least recently seen, checked
//!   to still be in the pool by one batch read of their pool keys, a bounded number of pages.
//!
//! So a draw costs one read for the sizes and, per difficulty, about 2–4 reads for the unseen probes plus 2 per
//! page of the least-recently-seen fill, whatever the size of the pool.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lectern_shared::table::{Entity, Item, SortKey};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::Exams;
use crate::errors::{ExamError, Result};
use crate::questions::model::Difficulty;
use crate::questions::pool::{self, PoolEntry, SEEN_BY_COURSE, SEEN_BY_TOPIC, Seen};

/// Unseen probes per difficulty at most.
pub const PROBES: usize = 3;
/// Most pool entries one probe reads.
pub const MAX_PROBE: usize = 1000;
/// Pages of the least-recently-seen index read per difficulty at most.
pub const LRU_PAGES: usize = 4;
/// Items per least-recently-seen page.
const LRU_PAGE: usize = 50;

/// What a draw draws from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Course(String),
    Topic(String),
}

impl Scope {
    /// `(facet, id)` of the pool.
    pub fn pool(&self) -> (&'static str, &str) {
        match self {
            Scope::Course(id) => ("course", id),
            Scope::Topic(id) => ("topic", id),
        }
    }
}

/// Weights by difficulty (`easy:30,medium:50,hard:20`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix(pub BTreeMap<Difficulty, u32>);

/// Most a weight may be.
pub const MAX_WEIGHT: u32 = 1000;
/// The mix syntax (`Mix::parse`): 1 to 3 `difficulty:weight` pairs, comma separated, each weight a whole number
/// from 0 to [`MAX_WEIGHT`] without leading zeros. (Repeats and all-zero weights are refused after it: a pattern
/// cannot say that.)
pub const MIX_PATTERN: &str = "^(?:easy|medium|hard):(?:1000|[1-9][0-9]{0,2}|0)(?:,(?:easy|medium|hard):(?:1000|[1-9][0-9]{0,2}|0)){0,2}$";

/// A weight as [`MIX_PATTERN`] writes it: `0`, or 1 to 1000 without leading zeros.
fn parse_weight(text: &str) -> Option<u32> {
    let digits = !text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit());
    let padded = text.len() > 1 && text.starts_with('0');
    (digits && !padded)
        .then(|| text.parse().ok())
        .flatten()
        .filter(|w| *w <= MAX_WEIGHT)
}

impl Mix {
    /// Parses `easy:30,medium:50,hard:20`: each difficulty at most once, weights 0 to [`MAX_WEIGHT`], not all 0.
    pub fn parse(field: &str, text: &str) -> Result<Mix> {
        let bad =
            |why: &str| ExamError::field(field, format!("{why} (e.g. easy:30,medium:50,hard:20)"));
        let mut weights = BTreeMap::new();
        for part in text.split(',') {
            let (name, weight) = part
                .split_once(':')
                .ok_or_else(|| bad("pairs of difficulty:weight"))?;
            let difficulty = Difficulty::ALL
                .into_iter()
                .find(|d| d.as_str() == name)
                .ok_or_else(|| bad("difficulties are easy, medium and hard"))?;
            let weight = parse_weight(weight)
                .ok_or_else(|| bad("weights are whole numbers from 0 to 1000"))?;
            if weights.insert(difficulty, weight).is_some() {
                return Err(bad("each difficulty at most once"));
            }
        }
        if weights.values().all(|w| *w == 0) {
            return Err(bad("at least one weight above 0"));
        }
        Ok(Mix(weights))
    }
}

/// `mix=adaptive`: weights chosen from the learner's ability instead of given.
pub const ADAPTIVE: &str = "adaptive";

/// The success rate an adaptive draw aims at: hard enough to teach, easy enough to keep going (the "desirable
/// difficulty" of adaptive practice systems).
pub const ADAPTIVE_TARGET: f64 = 0.7;

/// The mix for a learner of ability `theta`: each difficulty weighed by how close its expected success rate
/// (`σ(θ − d)`, with `d` the difficulty's starting estimate −1, 0, +1, see `exams::calibration`) comes to
/// [`ADAPTIVE_TARGET`] — a Gaussian of width 0.15 on the rate, scaled so the best difficulty weighs
/// [`MAX_WEIGHT`] and every difficulty at least 1 (a pool short of the best one still gives the next best).
pub fn adaptive_mix(theta: f64) -> Mix {
    let closeness = |d: Difficulty| {
        let p = crate::exams::calibration::p_correct(theta, crate::exams::calibration::prior(d));
        (-((p - ADAPTIVE_TARGET) / 0.15).powi(2)).exp()
    };
    let best = Difficulty::ALL
        .iter()
        .map(|d| closeness(*d))
        .fold(f64::MIN, f64::max);
    Mix(Difficulty::ALL
        .iter()
        .map(|d| {
            (
                *d,
                ((closeness(*d) / best * f64::from(MAX_WEIGHT)).round() as u32).max(1),
            )
        })
        .collect())
}

/// How many of each difficulty to draw: `count` shared by `weights` (largest remainder), each capped by what
/// is `available`, the shortfall handed on by weight to difficulties with room (and weight). The total is
/// `count`, or everything available with a weight when that is less.
pub fn quotas(
    count: usize,
    weights: &BTreeMap<Difficulty, u32>,
    available: &BTreeMap<Difficulty, u64>,
) -> BTreeMap<Difficulty, usize> {
    let room = |d: &Difficulty| available.get(d).copied().unwrap_or(0) as usize;
    let mut out: BTreeMap<Difficulty, usize> = BTreeMap::new();
    let mut left = count;
    loop {
        let open: Vec<(Difficulty, u64)> = weights
            .iter()
            .filter(|(d, w)| **w > 0 && out.get(*d).copied().unwrap_or(0) < room(d))
            .map(|(d, w)| (*d, u64::from(*w)))
            .collect();
        let total: u64 = open.iter().map(|(_, w)| w).sum();
        if left == 0 || total == 0 {
            return out;
        }
        // Largest remainder: floors first, then one more to the largest fractional parts (ties: easier first).
        let mut shares: Vec<(Difficulty, usize, u64)> = open
            .iter()
            .map(|(d, w)| {
                let exact = left as u64 * w;
                (*d, (exact / total) as usize, exact % total)
            })
            .collect();
        let given: usize = shares.iter().map(|s| s.1).sum();
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(a.cmp(b)));
        for i in order.into_iter().take(left - given) {
            shares[i].1 += 1;
        }
        let mut placed = 0;
        for (d, share, _) in shares {
            let have = out.entry(d).or_insert(0);
            let take = share.min(room(&d) - *have);
            *have += take;
            placed += take;
        }
        left -= placed;
        if placed == 0 {
            return out;
        }
    }
}

/// A draw: where from, how many, in what mix, leaving out what the session served.
#[derive(Clone, Debug)]
pub struct Draw {
    pub scope: Scope,
    pub count: usize,
    /// `None`: in proportion to the pool (a uniform draw).
    pub mix: Option<Mix>,
    pub exclude: BTreeSet<String>,
}

/// What a draw found.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// The questions drawn, with how often the learner had seen each before.
    pub picked: Vec<(PoolEntry, u64)>,
    /// The size of each pool of the scope.
    pub available: BTreeMap<Difficulty, u64>,
}

/// How many of `picked` are of `difficulty`.
fn count_of(picked: &[(PoolEntry, u64)], difficulty: Difficulty) -> u64 {
    picked
        .iter()
        .filter(|(e, _)| e.difficulty == difficulty)
        .count() as u64
}

fn random_slot() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

impl Exams {
    /// The sizes of a scope's pools, by difficulty (one batch read).
    pub async fn pool_sizes(&self, scope: &Scope) -> Result<BTreeMap<Difficulty, u64>> {
        let (facet, value) = scope.pool();
        let keys: Vec<_> = Difficulty::ALL
            .iter()
            .map(|d| pool::size_key(facet, value, *d))
            .collect();
        let mut sizes: BTreeMap<Difficulty, u64> =
            Difficulty::ALL.iter().map(|d| (*d, 0)).collect();
        for item in self.table().batch_get(&keys).await? {
            let size = item
                .get("size")
                .and_then(|v| v.as_i64())
                .unwrap_or(0)
                .max(0) as u64;
            if let Some(d) = Difficulty::ALL.iter().find(|d| {
                lectern_shared::table::Key::of(&item) == Some(pool::size_key(facet, value, **d))
            }) {
                sizes.insert(*d, size);
            }
        }
        Ok(sizes)
    }

    /// Draws questions for `user_id` (reads only; the caller records what it serves).
    pub async fn draw(&self, user_id: &str, draw: &Draw) -> Result<Drawn> {
        let available = self.pool_sizes(&draw.scope).await?;
        let weights = match &draw.mix {
            Some(mix) => mix.0.clone(),
            None => available
                .iter()
                .map(|(d, n)| (*d, u32::try_from(*n).unwrap_or(u32::MAX)))
                .collect(),
        };
        let mut taken = draw.exclude.clone();
        let mut picked: Vec<(PoolEntry, u64)> = Vec::new();
        // What each pool can still give: its size at first; once a pool gives less than asked (the session
        // served the rest, or they left the pool), exactly what it gave. The shortfall goes to the others.
        let mut room = available.clone();
        for _ in 0..Difficulty::ALL.len() {
            let wanted = draw.count - picked.len();
            let left: BTreeMap<Difficulty, u64> = room
                .iter()
                .map(|(d, n)| (*d, n.saturating_sub(count_of(&picked, *d))))
                .collect();
            let quotas = quotas(wanted, &weights, &left);
            if quotas.values().all(|q| *q == 0) {
                break;
            }
            for (difficulty, quota) in quotas {
                if quota == 0 {
                    continue;
                }
                let found = self
                    .fill(user_id, &draw.scope, difficulty, quota, &taken)
                    .await?;
                if found.len() < quota {
                    room.insert(
                        difficulty,
                        count_of(&picked, difficulty) + found.len() as u64,
                    );
                }
                for (entry, _) in &found {
                    taken.insert(entry.question_id.clone());
                }
                picked.extend(found);
            }
            if picked.len() == draw.count {
                break;
            }
        }
        Ok(Drawn { picked, available })
    }

    /// Up to `quota` questions of one pool not in `taken`: unseen ones from random probes, then the least
    /// recently seen.
    async fn fill(
        &self,
        user_id: &str,
        scope: &Scope,
        difficulty: Difficulty,
        quota: usize,
        taken: &BTreeSet<String>,
    ) -> Result<Vec<(PoolEntry, u64)>> {
        let (facet, value) = scope.pool();
        let mut probe = (quota * 3 + 8).clamp(10, 200);
        let mut chosen: Vec<(PoolEntry, u64)> = Vec::new();
        let mut looked: BTreeSet<String> = BTreeSet::new();
        for _ in 0..PROBES {
            let (candidates, whole) = self.probe(facet, value, difficulty, probe).await?;
            // Each probe reads four times more: unseen questions that have grown sparse are still found in a
            // pool of a few thousand, and the reads stay bounded (at most MAX_PROBE) in any pool.
            probe = (probe * 4).min(MAX_PROBE);
            let fresh: Vec<PoolEntry> = candidates
                .into_iter()
                .filter(|e| !taken.contains(&e.question_id) && looked.insert(e.question_id.clone()))
                .collect();
            let keys: Vec<_> = fresh
                .iter()
                .map(|e| Seen::key_of(user_id, &e.question_id))
                .collect();
            let seen: BTreeSet<String> = self
                .table()
                .batch_get(&keys)
                .await?
                .into_iter()
                .filter_map(|item| Seen::from_item(item).ok().map(|s| s.question_id))
                .collect();
            let mut unseen: Vec<PoolEntry> = fresh
                .into_iter()
                .filter(|e| !seen.contains(&e.question_id))
                .collect();
            unseen.shuffle(&mut rand::rng());
            chosen.extend(
                unseen
                    .into_iter()
                    .take(quota - chosen.len())
                    .map(|e| (e, 0)),
            );
            if chosen.len() == quota {
                return Ok(chosen);
            }
            // A probe that read the whole pool has seen every unseen question there is.
            if whole {
                break;
            }
        }
        let index = match scope {
            Scope::Course(_) => SEEN_BY_COURSE,
            Scope::Topic(_) => SEEN_BY_TOPIC,
        };
        let mut cursor = None;
        for _ in 0..LRU_PAGES {
            let query = index
                .query(&[user_id, difficulty.as_str(), value])
                .limit(LRU_PAGE)
                .after(cursor);
            let page = self.table().query(query).await?;
            let seen: Vec<Seen> = page
                .items
                .into_iter()
                .filter_map(|item| Seen::from_item(item).ok())
                .filter(|s| {
                    !taken.contains(&s.question_id)
                        && !chosen.iter().any(|(e, _)| e.question_id == s.question_id)
                })
                .collect();
            // Still in the pool (approved, same difficulty)?
            let keys: Vec<_> = seen
                .iter()
                .map(|s| PoolEntry::key_of(facet, difficulty, value, &s.question_id))
                .collect();
            let live: HashMap<String, PoolEntry> = self
                .table()
                .batch_get(&keys)
                .await?
                .into_iter()
                .filter_map(|item| PoolEntry::from_item(item).ok())
                .map(|e| (e.question_id.clone(), e))
                .collect();
            for s in seen {
                if chosen.len() == quota {
                    return Ok(chosen);
                }
                if let Some(entry) = live.get(&s.question_id) {
                    chosen.push((entry.clone(), s.times));
                }
            }
            cursor = page.cursor;
            if cursor.is_none() || chosen.len() == quota {
                break;
            }
        }
        Ok(chosen)
    }

    /// Up to `limit` entries of a pool from a random slot on, wrapping round to the start; and whether that
    /// was the whole pool.
    async fn probe(
        &self,
        facet: &str,
        value: &str,
        difficulty: Difficulty,
        limit: usize,
    ) -> Result<(Vec<PoolEntry>, bool)> {
        let start = random_slot();
        let base = || PoolEntry::INFO.query(&[facet, difficulty.as_str(), value]);
        let first = self
            .table()
            .query(
                base()
                    .sk(SortKey::GreaterOrEqual(start.clone()))
                    .limit(limit),
            )
            .await?;
        let mut items: Vec<Item> = first.items;
        if items.len() < limit {
            let rest = self
                .table()
                .query(
                    base()
                        .sk(SortKey::LessThan(start))
                        .limit(limit - items.len()),
                )
                .await?;
            items.extend(rest.items);
        }
        let whole = items.len() < limit;
        let entries = items
            .into_iter()
            .filter_map(|item| PoolEntry::from_item(item).ok())
            .collect();
        Ok((entries, whole))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn weights(e: u32, m: u32, h: u32) -> BTreeMap<Difficulty, u32> {
        BTreeMap::from([
            (Difficulty::Easy, e),
            (Difficulty::Medium, m),
            (Difficulty::Hard, h),
        ])
    }

    fn sizes(e: u64, m: u64, h: u64) -> BTreeMap<Difficulty, u64> {
        BTreeMap::from([
            (Difficulty::Easy, e),
            (Difficulty::Medium, m),
            (Difficulty::Hard, h),
        ])
    }

    #[test]
    fn mixes_parse_strictly() {
        let mix = Mix::parse("mix", "easy:30,medium:50,hard:20").unwrap();
        assert_eq!(mix.0, weights(30, 50, 20));
        for bad in [
            "",
            "easy",
            "easy:",
            "easy:-1",
            "easy:1001",
            "easy:1,easy:2",
            "tricky:1",
            "easy:0",
            "easy:1,",
            "easy:07",
        ] {
            assert!(Mix::parse("mix", bad).is_err(), "{bad:?}");
        }
        let schema = regex::Regex::new(MIX_PATTERN).unwrap();
        let samples = [
            "easy:30,medium:50,hard:20",
            "hard:1",
            "hard:1000",
            "hard:999",
            "easy:0,hard:7",
            "easy:1001",
            "easy:9999",
            "easy:07",
            "easy:00",
            "easy:0",
            "easy:0,hard:0",
            "medium:1,medium:2",
            "easy:1,medium:1,hard:1,easy:1",
            "Easy:1",
            "easy:1 ",
            "easy:+1",
            "easy:1.0",
            ":1",
            "easy:",
        ];
        for text in samples {
            // The pattern is the syntax and the range; only repeats and all-zero weights are refused after it.
            let beyond_a_pattern = ["easy:0", "easy:0,hard:0", "medium:1,medium:2"].contains(&text);
            assert_eq!(
                schema.is_match(text),
                Mix::parse("mix", text).is_ok() || beyond_a_pattern,
                "{text}"
            );
        }
    }

    #[test]
    fn adaptive_mixes_follow_the_ability() {
        let weak = adaptive_mix(-2.0).0;
        let even = adaptive_mix(0.0).0;
        let strong = adaptive_mix(2.0).0;
        assert!(
            weak[&Difficulty::Easy] > weak[&Difficulty::Medium]
                && weak[&Difficulty::Medium] >= weak[&Difficulty::Hard]
        );
        assert!(
            strong[&Difficulty::Hard] > strong[&Difficulty::Medium]
                && strong[&Difficulty::Medium] >= strong[&Difficulty::Easy]
        );
        assert_eq!(
            even[&Difficulty::Easy],
            MAX_WEIGHT,
            "at 0, easy questions (σ(1) ≈ 0.73) are nearest the target"
        );
        for mix in [weak, even, strong] {
            assert!(mix.values().all(|w| (1..=MAX_WEIGHT).contains(w)));
        }
        let inner = MIX_PATTERN.trim_start_matches('^').trim_end_matches('$');
        assert_eq!(
            crate::schema::RANDOM_MIX_PATTERN,
            format!("^(?:adaptive|{inner})$")
        );
        let schema = regex::Regex::new(crate::schema::RANDOM_MIX_PATTERN).unwrap();
        assert!(
            schema.is_match("adaptive")
                && schema.is_match("easy:1")
                && !schema.is_match("adaptive,easy:1")
        );
    }

    #[test]
    fn quotas_follow_the_mix_and_hand_on_shortfalls() {
        assert_eq!(
            quotas(10, &weights(30, 50, 20), &sizes(100, 100, 100)),
            BTreeMap::from([
                (Difficulty::Easy, 3),
                (Difficulty::Medium, 5),
                (Difficulty::Hard, 2)
            ])
        );
        let short_hard = quotas(10, &weights(30, 50, 20), &sizes(100, 100, 0));
        assert_eq!(short_hard.values().sum::<usize>(), 10);
        assert_eq!(short_hard.get(&Difficulty::Hard).copied().unwrap_or(0), 0);
        let tiny = quotas(10, &weights(1, 1, 1), &sizes(1, 2, 3));
        assert_eq!(tiny.values().sum::<usize>(), 6, "everything there is");
        let zero_weight = quotas(10, &weights(0, 1, 0), &sizes(50, 3, 50));
        assert_eq!(
            zero_weight.values().sum::<usize>(),
            3,
            "a weight of 0 means none of that difficulty"
        );
    }

    proptest! {
        #[test]
        fn quotas_sum_to_what_can_be_had_and_respect_the_mix(
            count in 0usize..120,
            (e, m, h) in (0u32..100, 0u32..100, 0u32..100),
            (ae, am, ah) in (0u64..150, 0u64..150, 0u64..150),
        ) {
            prop_assume!(e + m + h > 0);
            let w = weights(e, m, h);
            let a = sizes(ae, am, ah);
            let q = quotas(count, &w, &a);
            let can: u64 = w.iter().filter(|(_, w)| **w > 0).map(|(d, _)| a[d]).sum();
            prop_assert_eq!(q.values().sum::<usize>() as u64, (count as u64).min(can));
            for (d, n) in &q {
                prop_assert!(*n as u64 <= a[d], "over the pool");
                if w[d] == 0 { prop_assert_eq!(*n, 0); }
            }
            // With room everywhere, each share is within one of its exact share.
            if a.values().all(|n| *n as usize >= count) {
                let total = f64::from(e + m + h);
                for (d, n) in &q {
                    let exact = count as f64 * f64::from(w[d]) / total;
                    prop_assert!((*n as f64 - exact).abs() < 1.0, "{:?}: {} vs {}", d, n, exact);
                }
            }
        }
    }
}
