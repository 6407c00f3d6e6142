//! Onboarding: the steps a new account is guided through (verify the email, create a first profile, play a first
//! game, set parental controls, …) and how far each account has come.
//!
//! **Steps are data.** The list is one versioned item (`ONBOARDING` / `STEPS`), which admins replace as a whole
//! (`PUT /v1/admin/onboarding`, at most [`MAX_STEPS`] steps); until they do, [`default_steps`] apply. A step has an
//! id, a title and description, the roles it is shown to (none: every account) and, optionally, the event that
//! completes it by itself ([`Trigger`]); any step can also be marked done by the account
//! (`POST /v1/users/me/onboarding/{step}`, which is also how a user skips one).
//!
//! **Progress** is one item per account in its family partition (`FAMILY#<user_id>` / `ONBOARDING`): when each step
//! was done and how. Steps done by an event are found when the account reads its onboarding, from what the account
//! already holds, not by listening to every event: the account's verified address, its family's profiles (one
//! index query) and their statistics (one batch read), read only while such a step is still open. Once found, a
//! step stays done (the progress item records it, conditional on the version read), so deleting the only profile
//! does not take "first profile" back. A finished onboarding costs one batched read.
//!
//! The progress item is erased with the family (see `erasure`).

use std::collections::BTreeMap;

use lectern_shared::table::{Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TableError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Viewer;
use crate::catalog::{SLUG_PATTERN, is_slug};
use crate::errors::{LearningError, LearningResult};
use crate::profiles::{BY_FAMILY, FAMILY_COUNTER, Profile, ProfileKind};
use crate::progress::LearnerStats;
use crate::service::Learning;
use crate::validate::FieldErrors;

/// Most steps in the onboarding.
pub const MAX_STEPS: usize = 20;
/// Longest step title, in characters.
pub const MAX_STEP_TITLE: usize = 80;
/// Longest step description, in characters.
pub const MAX_STEP_DESCRIPTION: usize = 500;
/// Most roles a step is shown to.
pub const MAX_STEP_ROLES: usize = 5;
/// Most profiles read to see whether a family has played or set controls (a family has at most 51).
const FAMILY_PAGE: usize = 100;

/// The event that completes a step by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The account's email address is verified.
    EmailVerified,
    /// The account has a learner profile (a child's or its own).
    ProfileCreated,
    /// A profile of the account recorded a result.
    ResultRecorded,
    /// A child profile of the account has parental controls.
    ControlsSet,
}

/// One step, as admins define it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A slug, unique in the list.
    #[schema(
        pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$",
        example = "first-profile"
    )]
    pub id: String,
    #[schema(schema_with = crate::schema::step_title)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    #[serde(default)]
    #[schema(schema_with = crate::schema::step_roles)]
    pub roles: Vec<String>,
    /// What completes the step by itself; `null`: only the account marks it done.
    #[serde(default)]
    pub completed_by: Option<Trigger>,
}

/// The whole list, as `PUT /v1/admin/onboarding` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepsInput {
    /// In the order they are shown; 1 to 20 steps.
    #[schema(min_items = 1, max_items = 20)]
    pub steps: Vec<Step>,
}

/// The stored list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingSteps {
    pub steps: Vec<Step>,
    /// 0 until an admin first replaces the defaults.
    pub version: i64,
}

/// The steps in force while none are stored: the built-in ones, at version 0.
impl Default for OnboardingSteps {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            version: 0,
        }
    }
}

impl OnboardingSteps {
    pub fn key_of() -> Key {
        Self::INFO.key(&[], &[])
    }
}

impl Entity for OnboardingSteps {
    const INFO: EntityInfo = EntityInfo::new(
        "onboarding_steps",
        KeyLayout::new(Shape::fixed("ONBOARDING"), Shape::fixed("STEPS")),
    );

    fn key(&self) -> Key {
        Self::key_of()
    }
}

/// The steps that apply until an admin defines others.
pub fn default_steps() -> Vec<Step> {
    let step = |id: &str, title: &str, description: &str, roles: &[&str], by| Step {
        id: id.into(),
        title: title.into(),
        description: description.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        completed_by: by,
    };
    vec![
        step(
            "verify-email",
            "Verify your email address",
            "Open the link we emailed you, so you can recover your account.",
            &[],
            Some(Trigger::EmailVerified),
        ),
        step(
            "first-profile",
            "Create a profile",
            "A profile for each child (or for yourself) keeps their progress apart.",
            &["parent", "learner"],
            Some(Trigger::ProfileCreated),
        ),
        step(
            "first-game",
            "Play a first game",
            "Pick a game from the catalog on the child's device.",
            &["parent", "learner"],
            Some(Trigger::ResultRecorded),
        ),
        step(
            "set-controls",
            "Set parental controls",
            "Daily time, allowed hours and what your child may play.",
            &["parent"],
            Some(Trigger::ControlsSet),
        ),
    ]
}

/// How a step was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoneBy {
    /// Its event happened.
    Event,
    /// The account marked it done (or skipped it).
    Account,
}

/// When and how a step was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub at: i64,
    pub by: DoneBy,
}

/// An account's progress: the steps done, by id (ids of steps removed since are kept, harmlessly).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingProgress {
    pub owner_id: String,
    pub done: BTreeMap<String, Done>,
    pub version: i64,
}

impl OnboardingProgress {
    pub fn key_of(owner_id: &str) -> Key {
        Self::INFO.key(&[owner_id], &[])
    }
}

impl Entity for OnboardingProgress {
    const INFO: EntityInfo = EntityInfo::new(
        "onboarding_progress",
        KeyLayout::new(
            Shape::new("FAMILY", &["owner_id"]),
            Shape::fixed("ONBOARDING"),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.owner_id)
    }
}

/// A step as the account sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StepView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub completed_by: Option<Trigger>,
    pub done: bool,
    /// When it was done (epoch seconds).
    pub done_at: Option<i64>,
    pub done_by: Option<DoneBy>,
}

/// An account's onboarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OnboardingView {
    /// The steps shown to this account, in order.
    pub steps: Vec<StepView>,
    /// How many are not done yet.
    pub remaining: usize,
    /// Whether every step is done.
    pub complete: bool,
}

/// Who reads their onboarding: the account, its roles, whether its address is verified.
#[derive(Clone, Debug)]
pub struct Newcomer<'a> {
    pub viewer: &'a Viewer,
    pub roles: Vec<String>,
    pub email_verified: bool,
}

impl Newcomer<'_> {
    fn sees(&self, step: &Step) -> bool {
        step.roles.is_empty() || step.roles.iter().any(|r| self.roles.contains(r))
    }

    fn account(&self) -> LearningResult<&str> {
        if self.viewer.acting_profile.is_some() {
            return Err(LearningError::Forbidden(
                "onboarding belongs to the account; a profile session cannot read or change it"
                    .into(),
            ));
        }
        Ok(&self.viewer.user_id)
    }
}

/// Checks a list of steps; answers it with titles trimmed.
pub fn validate_steps(input: StepsInput) -> LearningResult<Vec<Step>> {
    let mut errors = FieldErrors::default();
    if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
        errors.fail("steps", format!("1 to {MAX_STEPS} steps"));
    }
    let mut seen = Vec::new();
    let mut steps = Vec::new();
    for (n, mut step) in input.steps.into_iter().enumerate() {
        let field = |f: &str| format!("steps[{n}].{f}");
        if !is_slug(&step.id) {
            errors.fail(&field("id"), format!("a slug ({SLUG_PATTERN})"));
        } else if seen.contains(&step.id) {
            errors.fail(&field("id"), "used by an earlier step");
        }
        seen.push(step.id.clone());
        step.title = errors.text(&field("title"), &step.title, MAX_STEP_TITLE);
        errors.at_most(
            &field("description"),
            &step.description,
            MAX_STEP_DESCRIPTION,
        );
        if step.roles.len() > MAX_STEP_ROLES || step.roles.iter().any(|r| !is_slug(r)) {
            errors.fail(&field("roles"), format!("at most {MAX_STEP_ROLES} slugs"));
        }
        steps.push(step);
    }
    errors.done()?;
    Ok(steps)
}

impl Learning {
    /// The steps in force (the defaults until an admin replaced them).
    pub async fn onboarding_steps(&self) -> LearningResult<OnboardingSteps> {
        Ok(self
            .platform
            .table
            .get(&OnboardingSteps::key_of())
            .await?
            .map(OnboardingSteps::from_item)
            .transpose()?
            .unwrap_or_default())
    }

    /// Replaces every step (admins); a concurrent replacement makes the later one a conflict.
    pub async fn replace_onboarding_steps(
        &self,
        input: StepsInput,
    ) -> LearningResult<OnboardingSteps> {
        let steps = validate_steps(input)?;
        let before = self.onboarding_steps().await?;
        let after = OnboardingSteps {
            steps,
            version: before.version + 1,
        };
        let condition = Condition::at_version(before.version);
        match self.platform.table.put(after.to_item()?, condition).await {
            Ok(()) => Ok(after),
            Err(TableError::ConditionFailed) => Err(LearningError::Conflict(
                "the steps changed meanwhile; read them again and retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The account's onboarding, with the steps its events completed found and recorded (see the module doc).
    pub async fn onboarding(&self, who: &Newcomer<'_>) -> LearningResult<OnboardingView> {
        let owner = who.account()?;
        let (steps, mut progress, family) = self.onboarding_state(owner).await?;
        let shown: Vec<Step> = steps.steps.into_iter().filter(|s| who.sees(s)).collect();
        let open: Vec<Trigger> = shown
            .iter()
            .filter(|s| !progress.done.contains_key(&s.id))
            .filter_map(|s| s.completed_by)
            .collect();
        if !open.is_empty() {
            let happened = self
                .events(owner, who.email_verified, family, &open)
                .await?;
            let now = self.now();
            let newly: Vec<&Step> = shown
                .iter()
                .filter(|s| !progress.done.contains_key(&s.id))
                .filter(|s| s.completed_by.is_some_and(|t| happened.contains(&t)))
                .collect();
            if !newly.is_empty() {
                let before = progress.clone();
                for step in newly {
                    progress.done.insert(
                        step.id.clone(),
                        Done {
                            at: now,
                            by: DoneBy::Event,
                        },
                    );
                }
                // A racing read found the same; either write stands, and the next read sees it.
                match self.save_progress(&before, &mut progress).await {
                    Ok(()) | Err(LearningError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(view(&shown, &progress))
    }

    /// Marks a step done by the account (also how a step is skipped). Unknown steps, and steps not shown to the
    /// account, are not found; a step done before stays as it was.
    pub async fn complete_onboarding_step(
        &self,
        who: &Newcomer<'_>,
        step_id: &str,
    ) -> LearningResult<OnboardingView> {
        let owner = who.account()?;
        let (steps, mut progress, _) = self.onboarding_state(owner).await?;
        let shown: Vec<Step> = steps.steps.into_iter().filter(|s| who.sees(s)).collect();
        if !shown.iter().any(|s| s.id == step_id) {
            return Err(LearningError::NotFound);
        }
        if !progress.done.contains_key(step_id) {
            let before = progress.clone();
            progress.done.insert(
                step_id.to_string(),
                Done {
                    at: self.now(),
                    by: DoneBy::Account,
                },
            );
            self.save_progress(&before, &mut progress).await?;
        }
        Ok(view(&shown, &progress))
    }

    /// The steps, the account's progress and whether it has profiles: one batched read.
    async fn onboarding_state(
        &self,
        owner: &str,
    ) -> LearningResult<(OnboardingSteps, OnboardingProgress, bool)> {
        let keys = [
            OnboardingSteps::key_of(),
            OnboardingProgress::key_of(owner),
            FAMILY_COUNTER.key(&[owner], &[]),
        ];
        let mut steps = None;
        let mut progress = OnboardingProgress {
            owner_id: owner.to_string(),
            ..OnboardingProgress::default()
        };
        let mut profiles = false;
        for item in self.platform.table.batch_get(&keys).await? {
            match Key::of(&item) {
                Some(k) if k == keys[0] => steps = Some(OnboardingSteps::from_item(item)?),
                Some(k) if k == keys[1] => progress = OnboardingProgress::from_item(item)?,
                _ => {
                    let count = |f: &str| item.get(f).and_then(Value::as_i64).unwrap_or(0);
                    profiles = count("children") + count("own") > 0;
                }
            }
        }
        let steps = steps.unwrap_or_default();
        Ok((steps, progress, profiles))
    }

    /// Which of the `open` triggers have happened for the account. Reads the family's profiles (and their
    /// statistics) only when a trigger needs them.
    async fn events(
        &self,
        owner: &str,
        email_verified: bool,
        has_profiles: bool,
        open: &[Trigger],
    ) -> LearningResult<Vec<Trigger>> {
        let mut happened = Vec::new();
        if email_verified {
            happened.push(Trigger::EmailVerified);
        }
        if !has_profiles {
            return Ok(happened);
        }
        happened.push(Trigger::ProfileCreated);
        let wants = |t| open.contains(&t);
        if !wants(Trigger::ResultRecorded) && !wants(Trigger::ControlsSet) {
            return Ok(happened);
        }
        let page = self
            .platform
            .table
            .query(BY_FAMILY.query(&[owner]).limit(FAMILY_PAGE))
            .await?;
        let profiles = page
            .items
            .into_iter()
            .map(Profile::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        if profiles
            .iter()
            .any(|p| p.kind == ProfileKind::Child && p.controls.is_some())
        {
            happened.push(Trigger::ControlsSet);
        }
        if wants(Trigger::ResultRecorded) && !profiles.is_empty() {
            let keys: Vec<Key> = profiles
                .iter()
                .map(|p| LearnerStats::key_of(&p.profile_id))
                .collect();
            let played = self
                .platform
                .table
                .batch_get(&keys)
                .await?
                .into_iter()
                .map(LearnerStats::from_item)
                .collect::<Result<Vec<_>, _>>()?
                .iter()
                .any(|s| s.results > 0);
            if played {
                happened.push(Trigger::ResultRecorded);
            }
        }
        Ok(happened)
    }

    async fn save_progress(
        &self,
        before: &OnboardingProgress,
        after: &mut OnboardingProgress,
    ) -> LearningResult<()> {
        after.version = before.version + 1;
        let condition = Condition::at_version(before.version);
        match self.platform.table.put(after.to_item()?, condition).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed) => Err(LearningError::Conflict(
                "the onboarding changed meanwhile; retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

fn view(shown: &[Step], progress: &OnboardingProgress) -> OnboardingView {
    let steps: Vec<StepView> = shown
        .iter()
        .map(|s| {
            let done = progress.done.get(&s.id);
            StepView {
                id: s.id.clone(),
                title: s.title.clone(),
                description: s.description.clone(),
                completed_by: s.completed_by,
                done: done.is_some(),
                done_at: done.map(|d| d.at),
                done_by: done.map(|d| d.by),
            }
        })
        .collect();
    let remaining = steps.iter().filter(|s| !s.done).count();
    OnboardingView {
        complete: remaining == 0,
        remaining,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(list: Vec<Step>) -> StepsInput {
        StepsInput { steps: list }
    }

    #[test]
    fn the_defaults_are_a_valid_list() {
        assert_eq!(
            validate_steps(steps(default_steps())).unwrap(),
            default_steps()
        );
    }

    #[test]
    fn a_list_names_every_bad_step() {
        let mut list = default_steps();
        list[1].id = "verify-email".into();
        list[2].title = "  ".into();
        list[3].roles = vec!["Parent!".into()];
        let Err(LearningError::Invalid(errors)) = validate_steps(steps(list)) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["steps[1].id", "steps[2].title", "steps[3].roles"]);
        assert!(validate_steps(steps(vec![])).is_err());
    }
}
