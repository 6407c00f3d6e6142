//! Learner profiles and the family: a parent account owns up to `max_children` child profiles, a learner account
//! one profile of its own. Creating a child profile records the parent's consent.
//!
//! Entities (declared once, here; see the crate's key-design note):
//! - learner profile `LEARNER#<profile_id>` / `PROFILE`, on gsi1 `FAMILY#<owner_id>` / `PROFILE#<profile_id>`;
//! - family counter `FAMILY#<owner_id>` / `FAMILY`: how many profiles of each kind, and a version that every
//!   create and delete moves in the same transaction as the profile, so the limit holds under concurrent creates;
//! - parental consent `FAMILY#<owner_id>` / `CONSENT#<profile_id>`: who, when, how, which policy — kept (marked)
//!   when the profile is deleted, as the record that consent was given.

use std::time::Duration;

use lectern_messages::EraseProfile;
use lectern_shared::blobs::confirm::confirm_upload;
use lectern_shared::blobs::pending::{PendingUpload, presign_pending};
use lectern_shared::blobs::{PresignedUpload, UploadRules};
use lectern_shared::locale;
use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::{self, OutboxEntry};
use lectern_shared::schedule::ScheduleZone;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, TableError,
    TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::access::Viewer;
use crate::controls::Controls;
use crate::errors::{LearningError, LearningResult};
use crate::service::Learning;
use crate::validate;

/// Longest display name of a profile, in characters.
pub const MAX_PROFILE_NAME: usize = 40;
/// Oldest birth year accepted at all; the age rules below narrow it.
pub const MIN_BIRTH_YEAR: i32 = 1900;
/// Latest birth year the schema accepts (a year after the current one is refused by the rule).
pub const MAX_BIRTH_YEAR: i32 = 2100;
/// Oldest a child profile may be.
pub const MAX_CHILD_AGE: i32 = 17;
/// Largest profile avatar.
pub const AVATAR_MAX_BYTES: u64 = 1024 * 1024;
/// Image types a profile avatar may have.
pub const AVATAR_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];
/// How long an avatar upload form and an avatar link stay valid.
pub const AVATAR_UPLOAD_TTL: Duration = Duration::from_secs(600);
pub const AVATAR_URL_TTL: Duration = Duration::from_secs(3600);
/// How a parent's consent is obtained: the holder of a verified account creates the child's profile and
/// confirms, in that request, that they are the parent or guardian and accept the policy.
pub const CONSENT_METHOD: &str = "verified_account_attestation";

const LEARNER: Shape = Shape::new("LEARNER", &["profile_id"]);
const FAMILY: Shape = Shape::new("FAMILY", &["owner_id"]);
/// gsi1: an account's profiles.
pub const BY_FAMILY: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(FAMILY, Shape::new("PROFILE", &["profile_id"])),
);

/// gsi2: the child profiles living in one zone, for the weekly parent report
/// (`WEEKLY_REPORT#<timezone>` / `<owner_id>#<profile_id>`; see [`crate::weekly`]). Carried by the profile item, so
/// it changes in the very write that creates, moves or deletes the profile.
pub const WEEKLY_REPORT_BUCKET: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("WEEKLY_REPORT", &["timezone"]),
        Shape::values(&["owner_id", "profile_id"]),
    ),
);

/// The write recording a child's zone among the weekly report's zones, in the transaction that sets it.
fn weekly_zone(timezone: &str) -> LearningResult<TxOp> {
    Ok(ScheduleZone::record(
        lectern_messages::schedules::WEEKLY_REPORT_ZONES,
        timezone,
    )?)
}

/// Where a profile's avatars are stored (every upload under it; the eraser deletes the whole prefix).
pub fn avatar_prefix(profile_id: &str) -> String {
    format!("profile-avatars/{profile_id}/")
}

/// Whose profile it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// A parent's child (consent recorded).
    Child,
    /// A learner account's own profile.
    Own,
}

/// Age bands the catalog filters by (`?age=4-5`), from the birth year.
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
pub enum AgeBand {
    #[serde(rename = "0-3")]
    Toddler,
    #[serde(rename = "4-5")]
    Preschool,
    #[serde(rename = "6-7")]
    EarlyReader,
    #[serde(rename = "8-10")]
    Junior,
    #[serde(rename = "11-13")]
    Tween,
    #[serde(rename = "14-17")]
    Teen,
    #[serde(rename = "18+")]
    Adult,
}

impl AgeBand {
    pub const ALL: [AgeBand; 7] = [
        AgeBand::Toddler,
        AgeBand::Preschool,
        AgeBand::EarlyReader,
        AgeBand::Junior,
        AgeBand::Tween,
        AgeBand::Teen,
        AgeBand::Adult,
    ];

    /// The youngest and oldest age of the band (years).
    pub fn ages(self) -> (i32, i32) {
        match self {
            AgeBand::Toddler => (0, 3),
            AgeBand::Preschool => (4, 5),
            AgeBand::EarlyReader => (6, 7),
            AgeBand::Junior => (8, 10),
            AgeBand::Tween => (11, 13),
            AgeBand::Teen => (14, 17),
            AgeBand::Adult => (18, 150),
        }
    }

    pub fn of_age(age: i32) -> AgeBand {
        AgeBand::ALL
            .into_iter()
            .find(|b| age <= b.ages().1)
            .unwrap_or(AgeBand::Adult)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgeBand::Toddler => "0-3",
            AgeBand::Preschool => "4-5",
            AgeBand::EarlyReader => "6-7",
            AgeBand::Junior => "8-10",
            AgeBand::Tween => "11-13",
            AgeBand::Teen => "14-17",
            AgeBand::Adult => "18+",
        }
    }

    pub fn parse(s: &str) -> Option<AgeBand> {
        AgeBand::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// The age someone born in `birth_year` reaches in `year` (only the year is kept: data minimisation).
pub fn age_in(year: i32, birth_year: i32) -> i32 {
    year - birth_year
}

/// The record of a parent's consent to a child's profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consent {
    /// The consenting parent's account.
    pub owner_id: String,
    pub profile_id: String,
    /// How consent was obtained (`verified_account_attestation`).
    pub method: String,
    /// The privacy policy version consented to.
    pub policy_version: String,
    /// When (epoch seconds).
    pub consented_at: i64,
    /// Where from, as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// When the profile was deleted (the record is kept as evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_deleted_at: Option<i64>,
}

impl Consent {
    pub fn key_of(owner_id: &str, profile_id: &str) -> Key {
        Self::INFO.key(&[owner_id], &[profile_id])
    }
}

impl Entity for Consent {
    const INFO: EntityInfo = EntityInfo::new(
        "parental_consent",
        KeyLayout::new(FAMILY, Shape::new("CONSENT", &["profile_id"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.owner_id, &self.profile_id)
    }
}

/// The family counter, written only by the transactions of [`Learning::create_profile`] and
/// [`Learning::delete_profile`] (`children`, `own`, `version`).
pub const FAMILY_COUNTER: EntityInfo =
    EntityInfo::new("family", KeyLayout::new(FAMILY, Shape::fixed("FAMILY")));

fn family_key(owner_id: &str) -> Key {
    FAMILY_COUNTER.key(&[owner_id], &[])
}

/// A learner profile as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub profile_id: String,
    /// The account that owns it (the parent, or the learner themselves).
    pub owner_id: String,
    pub kind: ProfileKind,
    pub display_name: String,
    pub birth_year: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA zone: streaks, allowed hours and "today" are counted in it.
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_key: Option<String>,
    #[serde(default)]
    pub preferences: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Moves on every write; writes are conditional on the version read.
    pub version: i64,
    /// The family's parental controls (`None`: the defaults, which control nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<Controls>,
}

/// The controls of a profile that has none set.
static NO_CONTROLS: std::sync::LazyLock<Controls> = std::sync::LazyLock::new(Controls::default);

impl Profile {
    /// The profile's parental controls.
    pub fn controls(&self) -> &Controls {
        self.controls.as_ref().unwrap_or(&NO_CONTROLS)
    }

    /// Whether the family lets the profile show on public leaderboards.
    pub fn on_public_boards(&self) -> bool {
        self.controls().leaderboard_visible
    }

    pub fn key_of(profile_id: &str) -> Key {
        Self::INFO.key(&[profile_id], &[])
    }

    /// The profile's age band in `year`.
    pub fn age_band(&self, year: i32) -> AgeBand {
        AgeBand::of_age(age_in(year, self.birth_year))
    }

    /// The profile's time zone (UTC if the stored name is no longer known).
    pub fn zone(&self) -> jiff::tz::TimeZone {
        locale::timezone(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

impl Entity for Profile {
    const INFO: EntityInfo = EntityInfo::new(
        "learner_profile",
        KeyLayout::new(LEARNER, Shape::fixed("PROFILE")),
    )
    .indexed(&[BY_FAMILY, WEEKLY_REPORT_BUCKET]);

    fn key(&self) -> Key {
        Self::key_of(&self.profile_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        let mut keys = vec![BY_FAMILY.key(&[&self.owner_id], &[&self.profile_id])];
        // Only children are reported on to their parents.
        if self.kind == ProfileKind::Child {
            keys.push(
                WEEKLY_REPORT_BUCKET.key(&[&self.timezone], &[&self.owner_id, &self.profile_id]),
            );
        }
        keys
    }
}

/// A profile as its family sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = LearnerProfile)]
pub struct ProfileView {
    pub profile_id: String,
    pub kind: ProfileKind,
    pub display_name: String,
    pub birth_year: i32,
    /// From the birth year, this calendar year.
    pub age_band: AgeBand,
    pub locale: Option<String>,
    pub timezone: String,
    /// A short-lived link to the avatar image.
    pub avatar_url: Option<String>,
    #[schema(value_type = Object)]
    pub preferences: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new profile.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = NewLearnerProfile)]
#[serde(deny_unknown_fields)]
pub struct NewProfile {
    /// `child` (needs `children:manage` and a verified address; the default for those who hold it) or `own`.
    #[serde(default)]
    pub kind: Option<ProfileKind>,
    #[schema(schema_with = crate::schema::profile_name)]
    pub display_name: String,
    #[serde(deserialize_with = "validate::whole")]
    #[schema(schema_with = crate::schema::birth_year)]
    pub birth_year: i32,
    #[serde(default)]
    #[schema(schema_with = crate::schema::locale_or_null)]
    pub locale: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::timezone_or_null)]
    pub timezone: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::preferences_or_null)]
    pub preferences: Option<Map<String, Value>>,
    /// For a child profile: `true` records that you are the child's parent or guardian and consent, under the
    /// current privacy policy, to the child's data being kept for this service. Required for `child`.
    #[serde(default)]
    pub parental_consent: Option<bool>,
}

/// Profile changes; absent or `null` fields are unchanged. (No `#[serde(default)]` on the fields: serde would
/// then read a JSON array as an empty patch.)
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = LearnerProfilePatch)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[schema(schema_with = crate::schema::profile_name_or_null)]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    #[schema(schema_with = crate::schema::birth_year_or_null)]
    pub birth_year: Option<i32>,
    #[schema(schema_with = crate::schema::locale_or_null)]
    pub locale: Option<String>,
    #[schema(schema_with = crate::schema::timezone_or_null)]
    pub timezone: Option<String>,
    #[schema(schema_with = crate::schema::preferences_or_null)]
    pub preferences: Option<Map<String, Value>>,
}

/// The family as its account sees it: counts, the limit, and the consents given.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FamilyView {
    pub children: i64,
    pub max_children: i64,
    pub own: i64,
    /// Every consent given from this account, including those of deleted profiles.
    pub consents: Vec<Consent>,
}

/// Validated profile fields (shared by create and update).
struct Fields {
    errors: Vec<(String, String)>,
}

impl Fields {
    fn new() -> Self {
        Self { errors: Vec::new() }
    }

    fn name(&mut self, v: &str) -> String {
        validate::trimmed_text(v, MAX_PROFILE_NAME).unwrap_or_else(|| {
            self.fail(
                "display_name",
                format!("1 to {MAX_PROFILE_NAME} characters without control characters"),
            );
            String::new()
        })
    }

    fn birth_year(&mut self, year: i32, kind: ProfileKind, this_year: i32) {
        if !(MIN_BIRTH_YEAR..=MAX_BIRTH_YEAR).contains(&year) {
            self.fail(
                "birth_year",
                format!("between {MIN_BIRTH_YEAR} and {MAX_BIRTH_YEAR}"),
            );
        } else if year > this_year {
            self.fail("birth_year", "is in the future");
        } else if kind == ProfileKind::Child && age_in(this_year, year) > MAX_CHILD_AGE {
            self.fail(
                "birth_year",
                format!("a child profile is for ages up to {MAX_CHILD_AGE}"),
            );
        }
    }

    fn locale(&mut self, v: &str) {
        if !locale::valid_locale(v) {
            self.fail("locale", locale::LOCALE_PROBLEM);
        }
    }

    fn timezone(&mut self, v: &str) {
        if let Some(problem) = locale::timezone_problem(v) {
            self.fail("timezone", problem);
        }
    }

    fn preferences(&mut self, map: &Map<String, Value>) {
        if let Err(message) = validate::preferences(map) {
            self.fail("preferences", message);
        }
    }

    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push((field.to_string(), message.into()));
    }

    fn done(self) -> LearningResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(LearningError::Invalid(self.errors))
        }
    }
}

/// What the family counter holds.
#[derive(Default)]
struct Counts {
    children: i64,
    own: i64,
    version: Option<i64>,
}

impl Learning {
    /// Reads a profile by id, whoever owns it (callers filter through a [`Viewer`]).
    pub async fn load_profile(&self, profile_id: &str) -> LearningResult<Option<Profile>> {
        Ok(self
            .platform
            .table
            .get(&Profile::key_of(profile_id))
            .await?
            .map(Profile::from_item)
            .transpose()?)
    }

    /// A profile the viewer may see.
    pub async fn visible_profile(
        &self,
        viewer: &Viewer,
        profile_id: &str,
    ) -> LearningResult<Profile> {
        viewer.seeing(self.load_profile(profile_id).await?)
    }

    /// A profile the viewer may manage.
    pub async fn managed_profile(
        &self,
        viewer: &Viewer,
        profile_id: &str,
    ) -> LearningResult<Profile> {
        viewer.managing(self.load_profile(profile_id).await?)
    }

    async fn counts(&self, owner_id: &str) -> LearningResult<Counts> {
        let Some(item) = self.platform.table.get(&family_key(owner_id)).await? else {
            return Ok(Counts::default());
        };
        let num = |name: &str| item.get(name).and_then(Value::as_i64);
        Ok(Counts {
            children: num("children").unwrap_or(0),
            own: num("own").unwrap_or(0),
            version: Some(num("version").unwrap_or(0)),
        })
    }

    /// The counter update of a create or delete: conditional on the version read, so two concurrent writes
    /// cannot both pass the limit (the loser's transaction is cancelled and it is told to retry).
    fn counter_op(owner_id: &str, counts: &Counts, kind: ProfileKind, by: i64) -> TxOp {
        let (field, now) = match kind {
            ProfileKind::Child => ("children", counts.children),
            ProfileKind::Own => ("own", counts.own),
        };
        let version = counts.version.unwrap_or(0);
        TxOp::Update {
            key: family_key(owner_id),
            update: FAMILY_COUNTER
                .update()
                .set(field, now + by)
                .set("version", version + 1),
            condition: match counts.version {
                None => Condition::NotExists,
                Some(v) => Condition::equals("version", v),
            },
        }
    }

    /// Creates a profile owned by the viewer's account. `ip` is recorded with a child's consent.
    pub async fn create_profile(
        &self,
        viewer: &Viewer,
        kind: ProfileKind,
        input: NewProfile,
        ip: Option<String>,
    ) -> LearningResult<ProfileView> {
        if viewer.acting_profile.is_some() {
            return Err(LearningError::Forbidden(
                "a profile session cannot create profiles".into(),
            ));
        }
        let this_year = self.year();
        let mut fields = Fields::new();
        let display_name = fields.name(&input.display_name);
        fields.birth_year(input.birth_year, kind, this_year);
        if let Some(locale) = &input.locale {
            fields.locale(locale);
        }
        if let Some(tz) = &input.timezone {
            fields.timezone(tz);
        }
        if let Some(p) = &input.preferences {
            fields.preferences(p);
        }
        match (kind, input.parental_consent) {
            (ProfileKind::Child, Some(true)) | (ProfileKind::Own, None | Some(false)) => {}
            (ProfileKind::Child, _) => fields.fail(
                "parental_consent",
                "must be true: a child profile needs the parent's consent",
            ),
            (ProfileKind::Own, Some(true)) => {
                fields.fail("parental_consent", "only for a child profile")
            }
        }
        fields.done()?;
        let counts = self.counts(&viewer.user_id).await?;
        match kind {
            ProfileKind::Child if counts.children >= self.config.max_children => {
                return Err(LearningError::ProfileLimit(format!(
                    "an account may have {} child profiles",
                    self.config.max_children
                )));
            }
            ProfileKind::Own if counts.own >= 1 => {
                return Err(LearningError::ProfileLimit(
                    "an account has one profile of its own".into(),
                ));
            }
            _ => {}
        }
        let now = self.now();
        let profile = Profile {
            profile_id: lectern_shared::ids::new_id(),
            owner_id: viewer.user_id.clone(),
            kind,
            display_name,
            birth_year: input.birth_year,
            locale: input.locale,
            timezone: input.timezone.unwrap_or_else(|| "UTC".into()),
            avatar_key: None,
            preferences: input.preferences.unwrap_or_default(),
            created_at: now,
            updated_at: now,
            version: 1,
            controls: None,
        };
        let mut ops = vec![
            Self::counter_op(&viewer.user_id, &counts, kind, 1),
            TxOp::Put {
                item: profile.to_item()?,
                condition: Condition::NotExists,
            },
        ];
        if kind == ProfileKind::Child {
            let consent = Consent {
                owner_id: viewer.user_id.clone(),
                profile_id: profile.profile_id.clone(),
                method: CONSENT_METHOD.into(),
                policy_version: self.config.consent_policy_version.clone(),
                consented_at: now,
                ip,
                profile_deleted_at: None,
            };
            ops.push(TxOp::Put {
                item: consent.to_item()?,
                condition: Condition::NotExists,
            });
            ops.push(weekly_zone(&profile.timezone)?);
        }
        self.platform
            .table
            .transact(ops)
            .await
            .map_err(|e| raced(e, "another profile was created at the same moment; retry"))?;
        self.view(&profile).await
    }

    /// The profiles the viewer sees: its own account's (a profile session: only its own profile).
    pub async fn profiles(&self, viewer: &Viewer) -> LearningResult<Vec<ProfileView>> {
        let profiles = match &viewer.acting_profile {
            Some(id) => self.load_profile(id).await?.into_iter().collect(),
            None => {
                // A family holds at most `max_children` + 1 profiles: one page.
                let page = self
                    .platform
                    .table
                    .query(BY_FAMILY.query(&[&viewer.user_id]).limit(100))
                    .await?;
                page.items
                    .into_iter()
                    .map(Profile::from_item)
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut out = Vec::with_capacity(profiles.len());
        for p in profiles.iter().filter(|p| viewer.may_see(p)) {
            out.push(self.view(p).await?);
        }
        Ok(out)
    }

    /// One profile.
    pub async fn profile(&self, viewer: &Viewer, profile_id: &str) -> LearningResult<ProfileView> {
        let profile = self.visible_profile(viewer, profile_id).await?;
        self.view(&profile).await
    }

    /// Changes a profile (all fields validated before any is applied).
    pub async fn update_profile(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        patch: ProfilePatch,
    ) -> LearningResult<ProfileView> {
        let before = self.managed_profile(viewer, profile_id).await?;
        let mut after = before.clone();
        let mut fields = Fields::new();
        if let Some(name) = &patch.display_name {
            after.display_name = fields.name(name);
        }
        if let Some(year) = patch.birth_year {
            fields.birth_year(year, before.kind, self.year());
            after.birth_year = year;
        }
        if let Some(locale) = patch.locale {
            fields.locale(&locale);
            after.locale = Some(locale);
        }
        if let Some(tz) = patch.timezone {
            fields.timezone(&tz);
            after.timezone = tz;
        }
        if let Some(p) = patch.preferences {
            fields.preferences(&p);
            after.preferences = p;
        }
        fields.done()?;
        self.save(&before, after).await
    }

    /// Writes a changed profile if nobody changed it since it was read.
    pub(crate) async fn save(
        &self,
        before: &Profile,
        mut after: Profile,
    ) -> LearningResult<ProfileView> {
        after.version = before.version + 1;
        after.updated_at = self.now();
        let item = after.to_item()?;
        let condition = Condition::equals("version", before.version);
        let written = if after.kind == ProfileKind::Child && after.timezone != before.timezone {
            // A child moving zone moves its weekly report bucket: the new zone is recorded in the same write.
            self.platform
                .table
                .transact(vec![
                    TxOp::Put { item, condition },
                    weekly_zone(&after.timezone)?,
                ])
                .await
        } else {
            self.platform.table.put(item, condition).await
        };
        written.map_err(|e| raced(e, "the profile changed meanwhile; read it again and retry"))?;
        self.view(&after).await
    }

    /// Deletes a profile; its consent record is kept, marked with the deletion. The profile's data (results,
    /// statistics, achievements, leaderboard entries, avatar) is erased by the learning worker, through a job
    /// written to the outbox in the deleting transaction. Answers the deleted profile (the caller ends its device
    /// sessions).
    pub async fn delete_profile(
        &self,
        viewer: &Viewer,
        profile_id: &str,
    ) -> LearningResult<Profile> {
        let profile = self.managed_profile(viewer, profile_id).await?;
        let counts = self.counts(&profile.owner_id).await?;
        let mut ops = vec![
            Self::counter_op(&profile.owner_id, &counts, profile.kind, -1),
            TxOp::Delete {
                key: profile.key(),
                condition: Condition::equals("version", profile.version),
            },
        ];
        let erase = NewJob::new(&EraseProfile {
            profile_id: profile.profile_id.clone(),
        })
        .and_then(|job| {
            OutboxEntry::new::<EraseProfile>(job, self.now(), &self.platform.outbox_key)
        })
        .map_err(|e| LearningError::Internal(e.to_string()))?;
        ops.push(erase.put()?);
        if profile.kind == ProfileKind::Child {
            ops.push(TxOp::Update {
                key: Consent::key_of(&profile.owner_id, &profile.profile_id),
                update: Consent::INFO.update().set("profile_deleted_at", self.now()),
                condition: Condition::Exists,
            });
        }
        self.platform
            .table
            .transact(ops)
            .await
            .map_err(|e| raced(e, "the profile changed meanwhile; retry"))?;
        outbox::deliver(
            self.platform.table.as_ref(),
            self.platform.queue.as_ref(),
            &self.platform.outbox_key,
            &[erase],
            self.now(),
        )
        .await;
        Ok(profile)
    }

    /// The family of the viewer's account.
    pub async fn family(&self, viewer: &Viewer) -> LearningResult<FamilyView> {
        if viewer.acting_profile.is_some() {
            return Err(LearningError::Forbidden(
                "a profile session cannot read the family".into(),
            ));
        }
        let counts = self.counts(&viewer.user_id).await?;
        let page = self
            .platform
            .table
            .query(Consent::INFO.query(&[&viewer.user_id]).limit(1000))
            .await?;
        let consents = page
            .items
            .into_iter()
            .map(Consent::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FamilyView {
            children: counts.children,
            max_children: self.config.max_children,
            own: counts.own,
            consents,
        })
    }

    /// A presigned upload for a profile's new avatar.
    pub async fn avatar_upload(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        content_type: &str,
    ) -> LearningResult<PresignedUpload> {
        let profile = self.managed_profile(viewer, profile_id).await?;
        avatar_type(content_type)?;
        let key = format!(
            "{}{}",
            avatar_prefix(&profile.profile_id),
            lectern_shared::ids::new_id()
        );
        // Removed by housekeeping unless confirmed (lectern_shared::blobs::pending).
        presign_pending(
            self.platform.blobs.as_ref(),
            self.platform.table.as_ref(),
            &key,
            &avatar_rules(content_type),
            self.now(),
        )
        .await
        .map_err(|e| LearningError::Internal(e.to_string()))
    }

    /// Accepts an uploaded avatar after checking its size and magic bytes.
    pub async fn confirm_avatar(
        &self,
        viewer: &Viewer,
        profile_id: &str,
        key: &str,
        content_type: &str,
    ) -> LearningResult<ProfileView> {
        let before = self.managed_profile(viewer, profile_id).await?;
        if !key.starts_with(&avatar_prefix(&before.profile_id))
            || lectern_shared::blobs::validate_key(key).is_err()
        {
            return Err(LearningError::field(
                "key",
                "not an avatar upload of this profile",
            ));
        }
        avatar_type(content_type)?;
        match confirm_upload(
            self.platform.blobs.as_ref(),
            key,
            &avatar_rules(content_type),
        )
        .await
        {
            Ok(_) => {}
            Err(refused) => {
                return Err(match refused.client_field() {
                    Ok((field, message)) => LearningError::field(field, message),
                    Err(store) => LearningError::Internal(store.to_string()),
                });
            }
        }
        // Kept from now on (before the save: a crash in between leaks the object, never deletes one in use).
        PendingUpload::settle(self.platform.table.as_ref(), key).await?;
        let mut after = before.clone();
        let previous = after.avatar_key.replace(key.to_string());
        let view = self.save(&before, after).await?;
        if let Some(old) = previous
            && let Err(e) = self.platform.blobs.delete(&old).await
        {
            tracing::warn!(error = %e, "old profile avatar not deleted");
        }
        Ok(view)
    }

    /// What the family sees of a profile.
    pub async fn view(&self, p: &Profile) -> LearningResult<ProfileView> {
        let avatar_url = match &p.avatar_key {
            Some(key) => self
                .platform
                .blobs
                .presign_download(key, AVATAR_URL_TTL)
                .await
                .ok(),
            None => None,
        };
        Ok(ProfileView {
            profile_id: p.profile_id.clone(),
            kind: p.kind,
            display_name: p.display_name.clone(),
            birth_year: p.birth_year,
            age_band: p.age_band(self.year()),
            locale: p.locale.clone(),
            timezone: p.timezone.clone(),
            avatar_url,
            preferences: p.preferences.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
    }
}

/// A lost optimistic race is a 409 the client may retry; other store failures stay what they are.
fn raced(e: TableError, detail: &str) -> LearningError {
    match e {
        TableError::ConditionFailed | TableError::TransactionCancelled { .. } => {
            LearningError::Conflict(detail.into())
        }
        e => e.into(),
    }
}

fn avatar_type(content_type: &str) -> LearningResult<()> {
    if AVATAR_TYPES.contains(&content_type) {
        Ok(())
    } else {
        Err(LearningError::field(
            "content_type",
            format!("one of {}", AVATAR_TYPES.join(", ")),
        ))
    }
}

fn avatar_rules(content_type: &str) -> UploadRules {
    UploadRules {
        content_type: content_type.to_string(),
        min_bytes: 1,
        max_bytes: AVATAR_MAX_BYTES,
        expires_in: AVATAR_UPLOAD_TTL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_cover_every_age_once() {
        assert_eq!(AgeBand::of_age(4), AgeBand::Preschool);
        assert_eq!(AgeBand::of_age(5), AgeBand::Preschool);
        assert_eq!(AgeBand::of_age(0), AgeBand::Toddler);
        assert_eq!(AgeBand::of_age(17), AgeBand::Teen);
        assert_eq!(AgeBand::of_age(40), AgeBand::Adult);
        for band in AgeBand::ALL {
            assert_eq!(AgeBand::parse(band.as_str()), Some(band));
            let (lo, hi) = band.ages();
            assert_eq!(AgeBand::of_age(lo), band);
            assert_eq!(AgeBand::of_age(hi), band);
            assert_eq!(
                serde_json::to_value(band).unwrap(),
                serde_json::Value::from(band.as_str())
            );
        }
    }
}
