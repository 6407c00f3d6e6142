//! The weekly report to parents (issue 9): on Monday at 08:00 in the family's zone, each parent with child
//! profiles gets one `weekly_report` notification with each child's last week — time played, games, stars, the
//! games played most, new achievements and the skills mastered (the figures of [`crate::reports`]). Only what the
//! message shows travels: display names, numbers, titles and names, never a profile id. The notification centre
//! delivers it as the parent's preferences for `weekly_report` and quiet hours say.
//!
//! # Fan-out without a scan
//!
//! Every child profile carries its zone's bucket on gsi2 ([`crate::profiles::WEEKLY_REPORT_BUCKET`]), and each
//! zone a child lives in is recorded among the weekly report's zones in the write that sets it. The hourly
//! `weekly-parent-reports` job (the `scheduler` function) finds the zones where Monday 08:00 begins and enqueues
//! the first [`WeeklyReportsPage`] of each; a page ([`Learning::weekly_reports_page`]) reads up to [`PAGE`]
//! children of the bucket, reports on each of their families once and enqueues the next page.
//!
//! A family is reported on from the bucket of its **oldest** child profile (children of one family may live in
//! different zones; the first child's zone is the family's). Each child's section covers the week that began on
//! that Monday in the child's own zone. The notification is keyed `weekly_report:<Monday>`: however often a page
//! runs (an overlapping tick, a crash and rerun, a redelivered job, a family met on two pages), the parent gets
//! one report a week.

use std::collections::BTreeSet;

use lectern_messages::{
    ChildWeek, GameWeek, NotificationContent, NotificationType, Notify, WeeklyReportsPage,
};
use lectern_shared::queue::{JobKind, MAX_BATCH};
use lectern_shared::table::Entity;
use serde::Serialize;

use crate::access::Viewer;
use crate::errors::{LearningError, LearningResult};
use crate::profiles::{BY_FAMILY, Profile, ProfileKind, WEEKLY_REPORT_BUCKET};
use crate::reports::{MAX_OFFSET, Report, ReportPeriod};
use crate::service::Learning;

/// Child profiles one page reads (each family costs a query and five reads per child: a page stays well inside
/// the worker's 30 s).
pub const PAGE: usize = 20;
/// Games listed per child.
const TOP_GAMES: usize = 5;
/// Mastery from which a skill practised in the week counts as mastered (two of three stars on average).
const MASTERED: f64 = 0.66;

/// What a page did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct PageReport {
    /// Families sent a report.
    pub families: i64,
    /// Families of this page whose report goes with another zone's bucket (their oldest child lives there).
    pub elsewhere: i64,
    pub more: bool,
}

/// One child's week, as the notification carries it.
pub fn child_week(report: &Report) -> ChildWeek {
    ChildWeek {
        name: report.display_name.clone(),
        seconds: report.seconds,
        results: report.results,
        completed: report.completed,
        stars: report.stars,
        days_played: report.days_played as i64,
        games: report
            .games
            .iter()
            .filter_map(|g| {
                Some(GameWeek {
                    title: g.title.clone()?,
                    plays: g.plays,
                    best_stars: g.best_stars,
                })
            })
            .take(TOP_GAMES)
            .collect(),
        achievements: report.achievements.iter().map(|a| a.name.clone()).collect(),
        skills_mastered: report
            .skills
            .iter()
            .filter(|s| s.mastery >= MASTERED)
            .map(|s| s.skill.clone())
            .collect(),
    }
}

/// The Monday (`YYYY-MM-DD`) of the week before the one `now` is in, in `zone`.
pub fn last_monday(zone: &jiff::tz::TimeZone, now: i64) -> LearningResult<jiff::civil::Date> {
    let internal = |e: jiff::Error| LearningError::Internal(e.to_string());
    let today = jiff::Timestamp::from_second(now)
        .map_err(internal)?
        .to_zoned(zone.clone())
        .date();
    let days = i64::from(today.weekday().to_monday_zero_offset()) + 7;
    today
        .checked_sub(jiff::Span::new().days(days))
        .map_err(internal)
}

impl Learning {
    /// Reports on the families of one page of a zone's bucket and enqueues the next page (see the module doc).
    pub async fn weekly_reports_page(
        &self,
        page: &WeeklyReportsPage,
    ) -> LearningResult<PageReport> {
        let week: jiff::civil::Date = page
            .week
            .parse()
            .map_err(|_| LearningError::field("week", "a date as YYYY-MM-DD"))?;
        let found = self
            .platform
            .table
            .query(
                WEEKLY_REPORT_BUCKET
                    .query(&[&page.zone])
                    .limit(PAGE)
                    .after(page.cursor.clone()),
            )
            .await?;
        let mut owners = BTreeSet::new();
        for item in found.items {
            owners.insert(Profile::from_item(item)?.owner_id);
        }
        let mut report = PageReport::default();
        let mut jobs = Vec::new();
        for owner in owners {
            match self.family_week(&owner, &page.zone, week).await? {
                Some(notify) => {
                    jobs.push(notify.job().map_err(internal)?);
                    report.families += 1;
                }
                None => report.elsewhere += 1,
            }
        }
        if let Some(cursor) = found.cursor {
            report.more = true;
            let next = WeeklyReportsPage {
                cursor: Some(cursor),
                ..page.clone()
            };
            self.platform
                .queue
                .send(
                    WeeklyReportsPage::QUEUE,
                    vec![next.job().map_err(internal)?],
                )
                .await
                .map_err(internal)?;
        }
        for chunk in jobs.chunks(MAX_BATCH) {
            self.platform
                .queue
                .send(Notify::QUEUE, chunk.to_vec())
                .await
                .map_err(internal)?;
        }
        Ok(report)
    }

    /// The weekly report of one family for the week of `week`, or `None` when the family's oldest child lives in
    /// another zone than `zone` (its report goes with that zone's bucket) or it has no child any more.
    async fn family_week(
        &self,
        owner_id: &str,
        zone: &str,
        week: jiff::civil::Date,
    ) -> LearningResult<Option<Notify>> {
        // A family holds at most `max_children` + 1 profiles: one page, oldest first (ids are ULIDs).
        let page = self
            .platform
            .table
            .query(BY_FAMILY.query(&[owner_id]).limit(100))
            .await?;
        let children: Vec<Profile> = page
            .items
            .into_iter()
            .map(Profile::from_item)
            .filter(|p| !matches!(p, Ok(p) if p.kind != ProfileKind::Child))
            .collect::<Result<_, _>>()?;
        match children.first() {
            Some(oldest) if oldest.timezone == zone => {}
            _ => return Ok(None),
        }
        // The parent's own view of the family: the same ownership rules as `GET /v1/profiles/{id}/report`.
        let parent = Viewer {
            user_id: owner_id.to_string(),
            acting_profile: None,
            every_profile: false,
            manages_children: true,
            manages_own: true,
        };
        let now = self.now();
        let mut weeks = Vec::with_capacity(children.len());
        for child in &children {
            // The week that began on `week`, in the child's own zone: how many weeks back that is there.
            let this_monday = last_monday(&child.zone(), now + 7 * 86_400)?;
            let back = (this_monday - week).get_days().div_euclid(7);
            let Ok(offset) = u32::try_from(back) else {
                continue;
            };
            if offset > MAX_OFFSET {
                continue;
            }
            let report = self
                .report(&parent, &child.profile_id, ReportPeriod::Week, offset)
                .await?;
            weeks.push(child_week(&report));
        }
        let to = week
            .checked_add(jiff::Span::new().days(6))
            .map_err(|e| LearningError::Internal(e.to_string()))?;
        Ok(Some(Notify {
            user_id: owner_id.to_string(),
            category: NotificationType::WeeklyReport,
            content: NotificationContent::WeeklyReport {
                from: week.to_string(),
                to: to.to_string(),
                children: weeks,
            },
            key: format!("weekly_report:{week}"),
        }))
    }
}

fn internal(e: impl std::fmt::Display) -> LearningError {
    LearningError::Internal(e.to_string())
}
