//! Parental controls: a daily time limit, allowed hours (in the profile's time zone), blocked games and
//! categories, a maximum age rating, and whether the profile shows on public leaderboards. Set by the family
//! (never from the child's own device), enforced on the server: the start of a play session
//! (`POST /v1/profiles/{id}/play`) and recorded results that break a control are refused with a problem type of
//! their own (`time-limit-reached`, `outside-allowed-hours`, `content-blocked`), and the catalog hides blocked
//! content from the profile.
//!
//! The controls live **on the profile item**, which every profile route reads first anyway, so enforcing them costs
//! no read. Time used is counted per day of the profile's time zone in its statistics (written in the result's own
//! transaction), so `GET .../usage` and the checks cost no read beyond the statistics the result reads already.
//!
//! What counts: the seconds of recorded results, on the day (in the profile's zone) they were played. A play
//! session that starts within the limit runs to its end (`POST .../play` answers how long it may last); a result
//! played once the day's limit was used up, outside the allowed hours, or of blocked content is refused. A game's
//! age rating is its `min_age`: a game whose youngest age is above `max_age_rating` is blocked.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::access::Viewer;
use crate::catalog::{CatalogEntry, Game, GameStatus, is_slug};
use crate::errors::{LearningError, LearningResult};
use crate::profiles::Profile;
use crate::progress::{LearnerStats, day_in};
use crate::service::Learning;

/// Longest daily limit, in minutes (a whole day).
pub const MAX_DAILY_MINUTES: i32 = 1440;
/// Most blocked games.
pub const MAX_BLOCKED_GAMES: usize = 100;
/// Most blocked categories.
pub const MAX_BLOCKED_CATEGORIES: usize = 50;
/// The shape of a time of day.
pub const TIME_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

/// Hours of the day (in the profile's zone) when play is allowed: from `start` up to, not including, `end`; when
/// `end` is not after `start` the window runs over midnight (`20:00`–`07:00`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowedHours {
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "08:00")]
    pub start: String,
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "19:30")]
    pub end: String,
}

/// Minutes since midnight of `HH:MM`.
fn minutes_of(t: &str) -> Option<i32> {
    let (h, m) = t.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h)
        && (0..60).contains(&m)
        && t.bytes().filter(u8::is_ascii_digit).count() == 4)
        .then_some(h * 60 + m)
}

impl AllowedHours {
    /// Whether `minute` (since midnight) is inside, and how many minutes are left of the window from it.
    fn left_at(&self, minute: i32) -> Option<i32> {
        let (start, end) = (minutes_of(&self.start)?, minutes_of(&self.end)?);
        let day = 24 * 60;
        let length = if end > start {
            end - start
        } else {
            end + day - start
        };
        let since_start = (minute - start).rem_euclid(day);
        (since_start < length).then_some(length - since_start)
    }
}

/// A profile's controls, as the family sets them (the whole set is replaced by `PUT`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    /// Minutes of play a day (in the profile's zone); `null`: no limit.
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    #[schema(minimum = 1, maximum = 1440)]
    pub daily_limit_minutes: Option<i32>,
    /// When play is allowed; `null`: any time. (Absent is `null` without `#[serde(default)]`, which would also
    /// let a JSON array pass for an empty set of controls.)
    pub allowed_hours: Option<AllowedHours>,
    /// Games the profile may not play or see (at most 100); duplicates count once.
    #[serde(default)]
    #[schema(schema_with = crate::schema::blocked_games)]
    pub blocked_games: Vec<String>,
    /// Categories the profile may not play or see (at most 50 slugs).
    #[serde(default)]
    #[schema(schema_with = crate::schema::blocked_categories)]
    pub blocked_categories: Vec<String>,
    /// Games whose youngest age (`min_age`) is above this are blocked; `null`: none.
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    #[schema(minimum = 0, maximum = 18)]
    pub max_age_rating: Option<i32>,
    /// Whether the profile's name and avatar show on public leaderboards (default `true`).
    #[serde(default = "visible")]
    pub leaderboard_visible: bool,
}

fn visible() -> bool {
    true
}

impl Default for Controls {
    fn default() -> Self {
        Self {
            daily_limit_minutes: None,
            allowed_hours: None,
            blocked_games: Vec::new(),
            blocked_categories: Vec::new(),
            max_age_rating: None,
            leaderboard_visible: true,
        }
    }
}

impl Controls {
    /// Whether the controls let the profile see and play a game of this category and minimum age.
    pub fn allows(&self, game_id: &str, category: &str, min_age: i32) -> bool {
        !self.blocked_games.iter().any(|g| g == game_id)
            && !self.blocked_categories.iter().any(|c| c == category)
            && self.max_age_rating.is_none_or(|max| min_age <= max)
    }

    /// Whether a catalog entry is shown to the profile.
    pub fn shows(&self, entry: &CatalogEntry) -> bool {
        self.allows(&entry.game_id, &entry.category, entry.min_age)
    }

    fn allows_game(&self, game: &Game) -> bool {
        self.allows(&game.game_id, &game.content.category, game.content.min_age)
    }
}

/// Checks controls as the family sends them; answers them normalised.
pub fn validate_controls(mut c: Controls) -> LearningResult<Controls> {
    let mut errors: Vec<(String, String)> = Vec::new();
    if c.daily_limit_minutes
        .is_some_and(|m| !(1..=MAX_DAILY_MINUTES).contains(&m))
    {
        errors.push((
            "daily_limit_minutes".into(),
            format!("1 to {MAX_DAILY_MINUTES}"),
        ));
    }
    if let Some(h) = &c.allowed_hours {
        let (start, end) = (minutes_of(&h.start), minutes_of(&h.end));
        if start.is_none() {
            errors.push((
                "allowed_hours.start".into(),
                "a time of day as HH:MM (24-hour)".into(),
            ));
        }
        if end.is_none() {
            errors.push((
                "allowed_hours.end".into(),
                "a time of day as HH:MM (24-hour)".into(),
            ));
        }
        if start.is_some() && start == end {
            errors.push(("allowed_hours".into(), "start and end differ".into()));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let ids_ok = c
        .blocked_games
        .iter()
        .all(|g| lectern_shared::ids::is_id(g));
    c.blocked_games
        .iter_mut()
        .for_each(|g| *g = g.to_ascii_uppercase());
    c.blocked_games.retain(|g| seen.insert(g.clone()));
    if !ids_ok || c.blocked_games.len() > MAX_BLOCKED_GAMES {
        errors.push((
            "blocked_games".into(),
            format!("at most {MAX_BLOCKED_GAMES} game ids"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    c.blocked_categories.retain(|x| seen.insert(x.clone()));
    if c.blocked_categories.len() > MAX_BLOCKED_CATEGORIES
        || !c.blocked_categories.iter().all(|x| is_slug(x))
    {
        errors.push((
            "blocked_categories".into(),
            format!("at most {MAX_BLOCKED_CATEGORIES} category slugs"),
        ));
    }
    if c.max_age_rating.is_some_and(|a| !(0..=18).contains(&a)) {
        errors.push(("max_age_rating".into(), "0 to 18".into()));
    }
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(LearningError::Invalid(errors))
    }
}

/// Time used and left today, in the profile's zone.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub profile_id: String,
    /// Today in the profile's zone (`YYYY-MM-DD`).
    pub day: String,
    pub timezone: String,
    /// Seconds of results played today.
    pub used_seconds: i64,
    /// The daily limit, in seconds (`null`: none).
    pub limit_seconds: Option<i64>,
    /// What is left of it (`null`: no limit).
    pub remaining_seconds: Option<i64>,
    /// Whether now is inside the allowed hours (always `true` without them).
    pub within_allowed_hours: bool,
}

/// What starting to play answered.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlayGrant {
    pub profile_id: String,
    pub game_id: String,
    /// How long this session may last, in seconds: until the day's limit is used or the allowed hours end
    /// (`null`: no control limits it).
    pub allowed_seconds: Option<i64>,
}

fn refused(kind: &'static str, title: &'static str, detail: String) -> LearningError {
    LearningError::Refused {
        status: StatusCode::FORBIDDEN,
        kind,
        title,
        detail,
    }
}

/// The controls' verdict for `profile` playing at `at` (epoch seconds), given what it used that day: the seconds
/// it may play from then (`None`: unlimited), or the refusal.
pub fn may_play_at(
    profile: &Profile,
    stats: &LearnerStats,
    at: i64,
) -> LearningResult<Option<i64>> {
    let controls = profile.controls();
    let zone = profile.zone();
    let mut allowed: Option<i64> = None;
    if let Some(hours) = &controls.allowed_hours {
        let local = jiff::Timestamp::from_second(at)
            .map_err(|e| LearningError::Internal(e.to_string()))?
            .to_zoned(zone.clone());
        let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
        match hours.left_at(minute) {
            Some(left) => {
                allowed = Some(i64::from(left) * 60 - i64::from(local.second()));
            }
            None => {
                return Err(refused(
                    "outside-allowed-hours",
                    "Outside the allowed hours",
                    format!(
                        "play is allowed from {} to {} ({})",
                        hours.start, hours.end, profile.timezone
                    ),
                ));
            }
        }
    }
    if let Some(minutes) = controls.daily_limit_minutes {
        let (day, _) = day_in(&zone, at)?;
        let used = stats.seconds_on(day);
        let left = i64::from(minutes) * 60 - used;
        if left <= 0 {
            return Err(refused(
                "time-limit-reached",
                "Daily time limit reached",
                format!("the daily limit of {minutes} minutes is used up for this day"),
            ));
        }
        allowed = Some(allowed.map_or(left, |a| a.min(left)));
    }
    Ok(allowed)
}

/// The refusal of blocked content.
pub fn blocked(game: &Game) -> LearningError {
    refused(
        "content-blocked",
        "Blocked by parental controls",
        format!("the game {} is blocked for this profile", game.game_id),
    )
}

/// Refuses a game the profile's controls block.
pub fn check_content(profile: &Profile, game: &Game) -> LearningResult<()> {
    if profile.controls().allows_game(game) {
        Ok(())
    } else {
        Err(blocked(game))
    }
}

impl Learning {
    /// A profile's controls (the family and the profile's device read them).
    pub async fn controls(&self, viewer: &Viewer, profile_id: &str) -> LearningResult<Controls> {
        Ok(self
            .visible_profile(viewer, profile_id)
            .await?
            .controls()
            .clone())
    }

    /// Replaces a profile's controls (the family only; never from the profile's own device).
    pub async fn set_controls(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        controls: Controls,
    ) -> LearningResult<Controls> {
        let controls = validate_controls(controls)?;
        let before = self.managed_profile(viewer, profile_id).await?;
        let mut after = before.clone();
        after.controls = Some(controls.clone());
        self.save(&before, after).await?;
        Ok(controls)
    }

    /// Time used and left today (one batched read of the profile and its statistics).
    pub async fn usage(&self, viewer: &Viewer, profile_id: &str) -> LearningResult<Usage> {
        let (profile, stats) = self.profile_and_stats(viewer, profile_id).await?;
        let now = self.now();
        let (day, date) = day_in(&profile.zone(), now)?;
        let used = stats.seconds_on(day);
        let controls = profile.controls();
        let limit = controls.daily_limit_minutes.map(|m| i64::from(m) * 60);
        let within = !matches!(
            may_play_at(&profile, &stats, now),
            Err(LearningError::Refused {
                kind: "outside-allowed-hours",
                ..
            })
        );
        Ok(Usage {
            profile_id: profile.profile_id.clone(),
            day: date,
            timezone: profile.timezone.clone(),
            used_seconds: used,
            limit_seconds: limit,
            remaining_seconds: limit.map(|l| (l - used).max(0)),
            within_allowed_hours: within,
        })
    }

    /// The start of a play session: the game must be published and allowed, now inside the allowed hours and the
    /// day's limit not used up; answers how long the session may last.
    pub async fn start_play(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        game_id: &str,
    ) -> LearningResult<PlayGrant> {
        let (profile, stats, game) = self.profile_stats_game(viewer, profile_id, game_id).await?;
        let game = game
            .filter(|g| g.status == GameStatus::Published)
            .ok_or_else(|| LearningError::field("game_id", "no such published game"))?;
        check_content(&profile, &game)?;
        let allowed_seconds = may_play_at(&profile, &stats, self.now())?;
        Ok(PlayGrant {
            profile_id: profile.profile_id,
            game_id: game.game_id,
            allowed_seconds,
        })
    }
}
