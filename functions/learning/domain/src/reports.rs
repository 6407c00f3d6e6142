//! Parent reports: what a profile did in a week or a month — time played, results, games, skills practised,
//! achievements earned, streaks — for `GET /v1/profiles/{id}/report?period=week|month&offset=`.
//!
//! Periods are calendar periods **in the profile's time zone** (a parent reads "this week" as their child lives it):
//! a week from Monday 00:00, a month from the 1st; `offset` 0 is the current period so far, 1 the last complete
//! one, up to [`MAX_OFFSET`] back (results are kept; older ones are not reported on).
//!
//! Cost, whatever the profile's history: the profile with its statistics (one batch), the period's results (one
//! query of the profile's partition between two sort keys, in pages, at most [`MAX_REPORT_RESULTS`] of them), the
//! earned achievements (one query; at most 200 definitions exist) and the games played (one batch, for titles
//! and skills). A period with more results than that reports on the newest and says so (`complete: false`).

use std::collections::{BTreeMap, BTreeSet};

use lectern_shared::table::{Entity, Key, SortKey};
use serde::{Deserialize, Serialize};

use crate::access::Viewer;
use crate::achievements::{Earned, EarnedView};
use crate::catalog::Game;
use crate::errors::{LearningError, LearningResult};
use crate::progress::{GameResult, MAX_STARS, current_run, day_in, longest_run};
use crate::service::Learning;

/// Most results one report reads.
pub const MAX_REPORT_RESULTS: usize = 2000;
/// How many periods back a report may look.
pub const MAX_OFFSET: u32 = 12;
/// Results per page of the period's query.
const PAGE: usize = 500;

/// The length of a report's period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportPeriod {
    Week,
    Month,
}

/// One game in a report.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportGame {
    pub game_id: String,
    /// `null` when the game has been deleted since.
    pub title: Option<String>,
    pub plays: i64,
    pub completions: i64,
    pub best_score: i64,
    pub best_stars: i32,
    pub seconds: i64,
}

/// One skill practised in the period.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportSkill {
    pub skill: String,
    pub results: i64,
    /// Average stars ÷ 3 over the period's results of games training it (0–1).
    pub mastery: f64,
}

/// A profile's report for one period.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub profile_id: String,
    pub display_name: String,
    pub period: ReportPeriod,
    /// The first day of the period (`YYYY-MM-DD`, the profile's time zone).
    pub from: String,
    /// The last day of the period (inclusive); for the current period, a day not over yet.
    pub to: String,
    pub timezone: String,
    pub results: i64,
    pub completed: i64,
    pub seconds: i64,
    pub stars: i64,
    /// Days of the period with at least one result.
    pub days_played: usize,
    /// Games by plays, most first.
    pub games: Vec<ReportGame>,
    /// Skills by results, most first.
    pub skills: Vec<ReportSkill>,
    /// Achievements earned in the period, oldest first.
    pub achievements: Vec<EarnedView>,
    /// Streaks now (not as they were at the end of a past period).
    pub current_streak: i32,
    pub longest_streak: i32,
    /// `false` when the period held more than [`MAX_REPORT_RESULTS`] results: the figures cover the newest.
    pub complete: bool,
}

/// The period `offset` periods before the current one, in `zone`: its first and last day and its bounds (epoch
/// seconds, the end exclusive).
fn bounds(
    zone: &jiff::tz::TimeZone,
    now: i64,
    period: ReportPeriod,
    offset: u32,
) -> LearningResult<(jiff::civil::Date, jiff::civil::Date, i64, i64)> {
    let internal = |e: jiff::Error| LearningError::Internal(e.to_string());
    let today = jiff::Timestamp::from_second(now)
        .map_err(internal)?
        .to_zoned(zone.clone())
        .date();
    let (start, next) = match period {
        ReportPeriod::Week => {
            let monday = today
                .checked_sub(
                    jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())),
                )
                .map_err(internal)?;
            let start = monday
                .checked_sub(jiff::Span::new().weeks(i64::from(offset)))
                .map_err(internal)?;
            (
                start,
                start
                    .checked_add(jiff::Span::new().weeks(1))
                    .map_err(internal)?,
            )
        }
        ReportPeriod::Month => {
            let start = today
                .first_of_month()
                .checked_sub(jiff::Span::new().months(i64::from(offset)))
                .map_err(internal)?;
            (
                start,
                start
                    .checked_add(jiff::Span::new().months(1))
                    .map_err(internal)?,
            )
        }
    };
    let instant = |d: jiff::civil::Date| -> LearningResult<i64> {
        Ok(d.to_zoned(zone.clone())
            .map_err(internal)?
            .timestamp()
            .as_second())
    };
    let last = next.yesterday().map_err(internal)?;
    Ok((start, last, instant(start)?, instant(next)?))
}

impl Learning {
    /// A profile's report (the family, or an admin; not its own device: the report is for the grown-ups).
    pub async fn report(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        period: ReportPeriod,
        offset: u32,
    ) -> LearningResult<Report> {
        if viewer.acting_profile.is_some() {
            return Err(LearningError::Forbidden(
                "reports are for the family; a profile session cannot read them".into(),
            ));
        }
        if offset > MAX_OFFSET {
            return Err(LearningError::field(
                "query.offset",
                format!("0 to {MAX_OFFSET}"),
            ));
        }
        let (profile, stats) = self.profile_and_stats(viewer, profile_id).await?;
        let zone = profile.zone();
        let now = self.now();
        let (first, last, from, until) = bounds(&zone, now, period, offset)?;

        // The period's results, newest first: `RESULT#<played_at>#<id>` between the bounds.
        let shape = GameResult::INFO.primary.sk;
        let query = GameResult::INFO
            .query(&[profile_id])
            .sk(SortKey::Between(
                shape.prefix(&[]) + &format!("{from:012}"),
                shape.prefix(&[]) + &format!("{:012}", until - 1) + "$",
            ))
            .backwards();
        let mut results = Vec::new();
        let mut position = None;
        let complete = loop {
            let page = self
                .platform
                .table
                .query(query.clone().limit(PAGE).after(position))
                .await?;
            for item in page.items {
                results.push(GameResult::from_item(item)?);
            }
            match page.cursor {
                None => break true,
                Some(_) if results.len() >= MAX_REPORT_RESULTS => break false,
                Some(next) => position = Some(next),
            }
        };
        results.truncate(MAX_REPORT_RESULTS);

        let game_ids: BTreeSet<&str> = results.iter().map(|r| r.game_id.as_str()).collect();
        let keys: Vec<Key> = game_ids.iter().map(|g| Game::key_of(g)).collect();
        let mut games: BTreeMap<String, Game> = BTreeMap::new();
        let found = match keys.is_empty() {
            true => Vec::new(),
            false => self.platform.table.batch_get(&keys).await?,
        };
        for item in found {
            let game = Game::from_item(item)?;
            games.insert(game.game_id.clone(), game);
        }
        let earned = self
            .platform
            .table
            .query(Earned::INFO.query(&[profile_id]).limit(1000))
            .await?
            .items
            .into_iter()
            .map(Earned::from_item)
            .collect::<Result<Vec<_>, _>>()?;

        let mut per_game: BTreeMap<&str, ReportGame> = BTreeMap::new();
        let mut per_skill: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut days = BTreeSet::new();
        for r in &results {
            days.insert(r.day.as_str());
            let game = games.get(&r.game_id);
            let entry = per_game.entry(&r.game_id).or_insert_with(|| ReportGame {
                game_id: r.game_id.clone(),
                title: game.map(|g| g.content.title.clone()),
                plays: 0,
                completions: 0,
                best_score: 0,
                best_stars: 0,
                seconds: 0,
            });
            entry.plays += 1;
            entry.completions += i64::from(r.completed);
            entry.best_score = entry.best_score.max(r.score);
            entry.best_stars = entry.best_stars.max(r.stars);
            entry.seconds += r.duration_secs;
            for skill in game
                .map(|g| g.content.skills.as_slice())
                .unwrap_or_default()
            {
                let s = per_skill.entry(skill.clone()).or_default();
                s.0 += 1;
                s.1 += i64::from(r.stars);
            }
        }
        let mut games: Vec<ReportGame> = per_game.into_values().collect();
        games.sort_by(|a, b| b.plays.cmp(&a.plays).then(a.game_id.cmp(&b.game_id)));
        let mut skills: Vec<ReportSkill> = per_skill
            .into_iter()
            .map(|(skill, (n, stars))| ReportSkill {
                skill,
                results: n,
                mastery: ((stars as f64 / (n as f64 * f64::from(MAX_STARS))) * 100.0).round()
                    / 100.0,
            })
            .collect();
        skills.sort_by(|a, b| b.results.cmp(&a.results).then(a.skill.cmp(&b.skill)));
        let mut achievements: Vec<EarnedView> = earned
            .into_iter()
            .filter(|e| (from..until).contains(&e.earned_at))
            .map(EarnedView::from)
            .collect();
        achievements.sort_by_key(|e| e.earned_at);
        let (today, _) = day_in(&zone, now)?;
        Ok(Report {
            profile_id: profile.profile_id.clone(),
            display_name: profile.display_name.clone(),
            period,
            from: first.to_string(),
            to: last.to_string(),
            timezone: profile.timezone.clone(),
            results: results.len() as i64,
            completed: results.iter().filter(|r| r.completed).count() as i64,
            seconds: results.iter().map(|r| r.duration_secs).sum(),
            stars: results.iter().map(|r| i64::from(r.stars)).sum(),
            days_played: days.len(),
            games,
            skills,
            achievements,
            current_streak: current_run(&stats.days, today),
            longest_streak: longest_run(&stats.days).max(stats.longest_dropped),
            complete,
        })
    }
}

/// "1 h 05 min", "12 min", "40 s".
fn duration(seconds: i64) -> String {
    match seconds {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The report as a printable PDF (A4), for `Accept: application/pdf`: the same figures as the JSON.
pub fn render_pdf(report: &Report) -> Vec<u8> {
    use lectern_shared::pdf::{Document, Weight};
    let period = match report.period {
        ReportPeriod::Week => "Week",
        ReportPeriod::Month => "Month",
    };
    let mut doc = Document::portrait(&format!("{} - report", report.display_name));
    doc.line(
        Weight::Bold,
        22.0,
        &format!("{}'s report", report.display_name),
    )
    .line(
        Weight::Regular,
        12.0,
        &format!(
            "{period} from {} to {} ({})",
            report.from, report.to, report.timezone
        ),
    )
    .space(12.0)
    .line(Weight::Bold, 14.0, "In short")
    .line(
        Weight::Regular,
        11.0,
        &format!(
            "{} played on {} day(s): {} result(s), {} completed, {} star(s).",
            duration(report.seconds),
            report.days_played,
            report.results,
            report.completed,
            report.stars
        ),
    )
    .line(
        Weight::Regular,
        11.0,
        &format!(
            "Streak: {} day(s) now, {} at the longest.",
            report.current_streak, report.longest_streak
        ),
    );
    if !report.complete {
        doc.line(
            Weight::Regular,
            9.0,
            &format!("Only the newest {MAX_REPORT_RESULTS} results of the period are counted."),
        );
    }
    doc.space(12.0).line(Weight::Bold, 14.0, "Games");
    if report.games.is_empty() {
        doc.line(Weight::Regular, 11.0, "No game played.");
    }
    for g in &report.games {
        doc.line(
            Weight::Regular,
            11.0,
            &format!(
                "{}: {} play(s), {} completed, best score {}, best {} star(s), {}",
                g.title.as_deref().unwrap_or("(a game since removed)"),
                g.plays,
                g.completions,
                g.best_score,
                g.best_stars,
                duration(g.seconds)
            ),
        );
    }
    if !report.skills.is_empty() {
        doc.space(12.0).line(Weight::Bold, 14.0, "Skills practised");
        for s in &report.skills {
            doc.line(
                Weight::Regular,
                11.0,
                &format!(
                    "{}: {} result(s), mastery {}%",
                    s.skill,
                    s.results,
                    (s.mastery * 100.0).round()
                ),
            );
        }
    }
    if !report.achievements.is_empty() {
        doc.space(12.0)
            .line(Weight::Bold, 14.0, "Achievements earned");
        for a in &report.achievements {
            doc.line(Weight::Regular, 11.0, &a.name);
        }
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: &str, rfc: &str) -> (jiff::tz::TimeZone, i64) {
        let ts: jiff::Timestamp = rfc.parse().unwrap();
        (jiff::tz::TimeZone::get(zone).unwrap(), ts.as_second())
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(40), "40 s");
        assert_eq!(duration(720), "12 min");
        assert_eq!(duration(3900), "1 h 05 min");
    }

    #[test]
    fn weeks_start_on_monday_in_the_profiles_zone() {
        // Sunday 23:30 UTC is already Monday in Paris: a new week there.
        let (paris, now) = at("Europe/Paris", "2026-11-29T23:30:00Z");
        let (first, last, from, until) = bounds(&paris, now, ReportPeriod::Week, 0).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2026-11-30".into(), "2026-12-06".into())
        );
        assert_eq!(from, at("UTC", "2026-11-29T23:00:00Z").1);
        assert_eq!(until - from, 7 * 24 * 3600);
        let (ny, _) = at("America/New_York", "2026-11-29T23:30:00Z");
        let (first, _, _, _) = bounds(&ny, now, ReportPeriod::Week, 1).unwrap();
        assert_eq!(
            first.to_string(),
            "2026-11-16",
            "the week before the current one"
        );
    }

    #[test]
    fn months_run_from_the_first_and_daylight_saving_changes_their_length() {
        let (paris, now) = at("Europe/Paris", "2026-11-10T12:00:00Z");
        let (first, last, from, until) = bounds(&paris, now, ReportPeriod::Month, 1).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2026-10-01".into(), "2026-10-31".into())
        );
        // October 2026 in Paris has 31 days and one hour more (summer time ends on the 25th).
        assert_eq!(until - from, 31 * 24 * 3600 + 3600);
    }
}
