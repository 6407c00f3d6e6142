//! Feature flags: on/off, a percentage rollout with stable hashing per account or profile, targeting by role,
//! tier, age band and locale, and optional A/B variants (a catalog experiment reads the variant it was given).
//!
//! Entity: `FLAGS` / `FLAGS`, one item holding every flag (at most [`MAX_FLAGS`]), so a function evaluates flags
//! from one read per cache period ([`CACHE_TTL`]): a change is seen by every function within that time, at once by
//! the function that made it.
//!
//! **Stable buckets.** A subject's bucket for a flag is the first 8 bytes of SHA-256(`<flag key>` NUL `<subject
//! id>`) modulo 10 000: the same on every instance, every release and every platform (Rust's `DefaultHasher`
//! promises none of that), independent between flags (the key is hashed in), and raising a rollout only adds
//! subjects (a bucket under 20% is under 50%). The variant uses its own hash (`<flag key>` NUL `variant` NUL
//! `<subject id>`), so who is in the rollout and which variant they see do not correlate.
//!
//! **Targeting** narrows who can get the flag before the rollout applies: every non-empty list must match. Roles
//! and tier come from the signed-in identity; age band and locale are declared by the client
//! (`GET /v1/flags?locale=&age_band=`) — flags shape what an app shows and must never be what protects anything.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;

use lectern_shared::locale::{LOCALE_PROBLEM, valid_locale};
use lectern_shared::table::{Entity, EntityInfo, Item, Key, KeyLayout, Shape};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::errors::{OpsError, OpsResult};
use crate::{Operations, change_versioned, load, stamp};

/// How long a function evaluates from its copy of the flags.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// Most flags a deployment holds (one item; a flag is well under 1 KB).
pub const MAX_FLAGS: usize = 200;
/// Most entries in one targeting list, and most variants.
pub const MAX_LIST: usize = 20;
/// A flag key: lowercase letters, digits, `.`, `_`, `-`, starting with a letter, at most 64 characters.
pub const KEY_PATTERN: &str = "^[a-z][a-z0-9._-]{0,63}$";
/// A variant name: like a key, at most 32 characters.
pub const VARIANT_PATTERN: &str = "^[a-z][a-z0-9._-]{0,31}$";
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// The age bands a profile can be in (the learning domain's bands, as it names them).
pub const AGE_BANDS: [&str; 7] = ["0-3", "4-5", "6-7", "8-10", "11-13", "14-17", "18+"];
/// Buckets a rollout is measured in: a percentage maps to `percent * 100` of them.
const BUCKETS: u64 = 10_000;

/// Whose id a rollout hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagSubject {
    /// The account: a parent and every child device of the family see the same.
    #[default]
    Account,
    /// The learner profile of a device session (the account when the caller is not a profile).
    Profile,
}

/// Who can get the flag; an empty list matches everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// Role names (`learner`, `parent`, `instructor`, `moderator`, `admin`); the caller needs one of them.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub roles: Vec<String>,
    /// Tiers (`free`, `premium`).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tiers: Vec<String>,
    /// Age bands (`0-3` ... `18+`), as the client declares them.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub age_bands: Vec<String>,
    /// BCP 47 tags; `pt` matches `pt` and `pt-BR`.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub locales: Vec<String>,
}

/// A flag as an admin writes it (`PUT /v1/admin/flags/{key}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagInput {
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Off: nobody gets it, whatever the rest says.
    pub enabled: bool,
    /// Share of the targeted subjects that get it, 0–100.
    #[serde(default = "all", deserialize_with = "whole_percent")]
    #[schema(minimum = 0, maximum = 100)]
    pub rollout_percent: u8,
    #[serde(default)]
    pub subject: FlagSubject,
    #[serde(default)]
    pub targeting: Targeting,
    /// A/B variants; a subject that gets the flag gets one of them (evenly, stably). Empty: no variants.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub variants: Vec<String>,
}

fn all() -> u8 {
    100
}

/// A percentage written as any whole JSON number (`50` or `50.0`, which JSON Schema counts as the same integer).
fn whole_percent<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    lectern_shared::http::extract::whole_number(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("a whole number from 0 to 100"))
}

/// A stored flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Flag {
    #[schema(pattern = "^[a-z][a-z0-9._-]{0,63}$")]
    pub key: String,
    /// What the admin wrote.
    pub rule: FlagInput,
    /// RFC 3339.
    pub updated_at: String,
    pub updated_by: String,
}

/// A flag as the caller gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evaluated {
    pub enabled: bool,
    /// The caller's variant, when the flag has variants and the caller gets it.
    pub variant: Option<String>,
}

/// What a flag is evaluated against.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub account_id: String,
    /// Set for a profile (device) session.
    pub profile_id: Option<String>,
    pub roles: BTreeSet<String>,
    pub tier: String,
    pub age_band: Option<String>,
    pub locale: Option<String>,
}

/// Every flag, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagSet {
    /// 0 while never stored.
    pub version: i64,
    #[serde(default)]
    pub flags: Vec<Flag>,
}

impl Entity for FlagSet {
    const INFO: EntityInfo = EntityInfo::new(
        "feature_flags",
        KeyLayout::new(Shape::fixed("FLAGS"), Shape::fixed("FLAGS")),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[], &[])
    }
}

/// The subject's bucket for a flag, 0..10 000 (see the module's "Stable buckets").
pub fn bucket(flag_key: &str, subject_id: &str) -> u64 {
    hash(&[flag_key.as_bytes(), subject_id.as_bytes()]) % BUCKETS
}

fn hash(parts: &[&[u8]]) -> u64 {
    let mut digest = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            digest.update([0u8]);
        }
        digest.update(part);
    }
    let out = digest.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_be_bytes(first)
}

impl Flag {
    /// The flag for `ctx`.
    pub fn evaluate(&self, ctx: &Context) -> Evaluated {
        let off = Evaluated {
            enabled: false,
            variant: None,
        };
        let rule = &self.rule;
        if !rule.enabled || !rule.targeting.matches(ctx) {
            return off;
        }
        let subject = match (rule.subject, &ctx.profile_id) {
            (FlagSubject::Profile, Some(profile)) => profile.as_str(),
            _ => ctx.account_id.as_str(),
        };
        if bucket(&self.key, subject) >= u64::from(rule.rollout_percent) * BUCKETS / 100 {
            return off;
        }
        let variant = (!rule.variants.is_empty()).then(|| {
            let pick = hash(&[self.key.as_bytes(), b"variant", subject.as_bytes()])
                % rule.variants.len() as u64;
            rule.variants[pick as usize].clone()
        });
        Evaluated {
            enabled: true,
            variant,
        }
    }
}

impl Targeting {
    fn matches(&self, ctx: &Context) -> bool {
        let roles = self.roles.is_empty() || self.roles.iter().any(|r| ctx.roles.contains(r));
        let tiers = self.tiers.is_empty() || self.tiers.contains(&ctx.tier);
        let bands = self.age_bands.is_empty()
            || ctx
                .age_band
                .as_ref()
                .is_some_and(|band| self.age_bands.contains(band));
        let locales = self.locales.is_empty()
            || ctx.locale.as_deref().is_some_and(|locale| {
                self.locales
                    .iter()
                    .any(|target| locale_matches(target, locale))
            });
        roles && tiers && bands && locales
    }
}

/// `pt` matches `pt`, `pt-BR` and `PT-br`; `pt-BR` matches only `pt-BR` (and its own subtags).
fn locale_matches(target: &str, locale: &str) -> bool {
    let (target, locale) = (target.to_ascii_lowercase(), locale.to_ascii_lowercase());
    locale == target || locale.starts_with(&format!("{target}-"))
}

/// One targeting list to check: its name, its values, which values are valid, and what a valid one looks like.
type TargetList<'a> = (&'a str, &'a Vec<String>, &'a dyn Fn(&str) -> bool, &'a str);

impl FlagInput {
    /// Checks every field; `known_roles` and `known_tiers` are the accounts' names (the function passes them, as
    /// this domain does not know accounts).
    pub fn validated(mut self, known_roles: &[&str], known_tiers: &[&str]) -> OpsResult<Self> {
        let mut problems: Vec<(String, String)> = Vec::new();
        self.description = self.description.trim().to_string();
        if self.description.chars().count() > MAX_DESCRIPTION {
            problems.push((
                "description".into(),
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        if self.rollout_percent > 100 {
            problems.push(("rollout_percent".into(), "0 to 100".into()));
        }
        let targeting = &self.targeting;
        let lists: [TargetList; 4] = [
            (
                "roles",
                &targeting.roles,
                &|r| known_roles.contains(&r),
                "a role name",
            ),
            (
                "tiers",
                &targeting.tiers,
                &|t| known_tiers.contains(&t),
                "a tier name",
            ),
            (
                "age_bands",
                &targeting.age_bands,
                &|b| AGE_BANDS.contains(&b),
                "an age band such as 6-7 or 18+",
            ),
            ("locales", &targeting.locales, &valid_locale, LOCALE_PROBLEM),
        ];
        for (name, list, valid, expected) in lists {
            if list.len() > MAX_LIST {
                problems.push((format!("targeting.{name}"), format!("at most {MAX_LIST}")));
            }
            for (i, value) in list.iter().enumerate() {
                if !valid(value) {
                    problems.push((format!("targeting.{name}[{i}]"), expected.into()));
                }
            }
        }
        if self.variants.len() > MAX_LIST {
            problems.push(("variants".into(), format!("at most {MAX_LIST}")));
        }
        let mut seen = BTreeSet::new();
        for (i, variant) in self.variants.iter().enumerate() {
            if !valid_name(variant, 32) {
                problems.push((
                    format!("variants[{i}]"),
                    format!("matching {VARIANT_PATTERN}"),
                ));
            } else if !seen.insert(variant) {
                problems.push((format!("variants[{i}]"), "named twice".into()));
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(OpsError::Invalid(problems))
        }
    }
}

/// Whether `key` is a valid flag key ([`KEY_PATTERN`]).
pub fn valid_key(key: &str) -> bool {
    valid_name(key, 64)
}

fn valid_name(v: &str, max: usize) -> bool {
    (1..=max).contains(&v.len())
        && v.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl Operations {
    /// Every flag evaluated for `ctx`, from this process's copy (read at most once per cache period).
    pub async fn evaluate_flags(&self, ctx: &Context) -> BTreeMap<String, Evaluated> {
        let table = self.platform.table.clone();
        let set = self
            .flag_cache
            .get("feature flags", |_| async move {
                load::<FlagSet>(table.as_ref()).await
            })
            .await;
        set.flags
            .iter()
            .map(|flag| (flag.key.clone(), flag.evaluate(ctx)))
            .collect()
    }

    /// Every flag as stored (one read), by key.
    pub async fn flags(&self) -> OpsResult<Vec<Flag>> {
        Ok(load::<FlagSet>(self.platform.table.as_ref()).await?.flags)
    }

    /// Creates or replaces the flag `key`, with the audit record `audit` builds (from the flag before, if any, and
    /// after). Another flag changed meanwhile is not a conflict: the write is retried on the new set.
    pub async fn put_flag(
        &self,
        actor_id: &str,
        key: &str,
        input: FlagInput,
        known: (&[&str], &[&str]),
        audit: impl Fn(Option<&Flag>, Option<&Flag>) -> OpsResult<Item>,
    ) -> OpsResult<Flag> {
        if !valid_key(key) {
            return Err(OpsError::field(
                "path.key",
                format!("matching {KEY_PATTERN}"),
            ));
        }
        let rule = input.validated(known.0, known.1)?;
        let flag = Flag {
            key: key.to_string(),
            rule,
            updated_at: stamp(self.platform.clock.now()),
            updated_by: actor_id.to_string(),
        };
        change_versioned(self, "flags", |set: &mut FlagSet| {
            let flags = &mut set.flags;
            let before = flags.iter().position(|f| f.key == key);
            let old = match before {
                Some(i) => Some(std::mem::replace(&mut flags[i], flag.clone())),
                None if flags.len() >= MAX_FLAGS => {
                    return Err(OpsError::Conflict(format!("at most {MAX_FLAGS} flags")));
                }
                None => {
                    flags.push(flag.clone());
                    None
                }
            };
            audit(old.as_ref(), Some(&flag))
        })
        .await?;
        self.flag_cache.invalidate();
        Ok(flag)
    }

    /// Deletes the flag `key` (404 when there is none), with its audit record.
    pub async fn delete_flag(
        &self,
        key: &str,
        audit: impl Fn(Option<&Flag>, Option<&Flag>) -> OpsResult<Item>,
    ) -> OpsResult<()> {
        if !valid_key(key) {
            return Err(OpsError::field(
                "path.key",
                format!("matching {KEY_PATTERN}"),
            ));
        }
        change_versioned(self, "flags", |set: &mut FlagSet| {
            let i = set
                .flags
                .iter()
                .position(|f| f.key == key)
                .ok_or(OpsError::NotFound("flag"))?;
            let old = set.flags.remove(i);
            audit(Some(&old), None)
        })
        .await?;
        self.flag_cache.invalidate();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(rule: FlagInput) -> Flag {
        Flag {
            key: "new-home".into(),
            rule,
            updated_at: "2026-01-01T00:00:00Z".into(),
            updated_by: "admin".into(),
        }
    }

    fn on() -> FlagInput {
        FlagInput {
            enabled: true,
            rollout_percent: 100,
            ..FlagInput::default()
        }
    }

    fn learner(id: &str) -> Context {
        Context {
            account_id: id.into(),
            roles: ["learner".to_string()].into(),
            tier: "free".into(),
            ..Context::default()
        }
    }

    #[test]
    fn buckets_are_pinned_so_a_release_cannot_reshuffle_who_has_a_flag() {
        // SHA-256("new-home\0user-1")[..8] as a big-endian u64, modulo 10 000: fixed forever.
        assert_eq!(bucket("new-home", "user-1"), bucket("new-home", "user-1"));
        let pinned = {
            let d = Sha256::digest(b"new-home\0user-1");
            u64::from_be_bytes(d[..8].try_into().unwrap()) % 10_000
        };
        assert_eq!(bucket("new-home", "user-1"), pinned);
        assert_ne!(
            (0..50)
                .map(|i| bucket("a", &i.to_string()))
                .collect::<Vec<_>>(),
            (0..50)
                .map(|i| bucket("b", &i.to_string()))
                .collect::<Vec<_>>(),
            "flags bucket independently"
        );
    }

    #[test]
    fn a_fifty_percent_rollout_splits_ten_thousand_ids_within_two_percent() {
        let flag = flag(FlagInput {
            rollout_percent: 50,
            ..on()
        });
        let enabled = (0..10_000)
            .filter(|i| flag.evaluate(&learner(&format!("01J{i:023}"))).enabled)
            .count();
        assert!((4_800..=5_200).contains(&enabled), "{enabled} of 10 000");
    }

    #[test]
    fn raising_a_rollout_only_adds_subjects() {
        let at = |percent| {
            flag(FlagInput {
                rollout_percent: percent,
                ..on()
            })
        };
        let (low, high) = (at(20), at(50));
        for i in 0..2_000 {
            let ctx = learner(&i.to_string());
            if low.evaluate(&ctx).enabled {
                assert!(high.evaluate(&ctx).enabled);
            }
        }
        assert!(!at(0).evaluate(&learner("x")).enabled);
        assert!(at(100).evaluate(&learner("x")).enabled);
    }

    #[test]
    fn a_disabled_flag_is_off_for_everyone() {
        let off = flag(FlagInput {
            enabled: false,
            ..on()
        });
        assert!(!off.evaluate(&learner("x")).enabled);
    }

    #[test]
    fn targeting_needs_every_non_empty_list_to_match() {
        let targeted = flag(FlagInput {
            targeting: Targeting {
                roles: vec!["parent".into(), "learner".into()],
                tiers: vec!["premium".into()],
                age_bands: vec!["6-7".into()],
                locales: vec!["pt".into()],
            },
            ..on()
        });
        let fits = Context {
            tier: "premium".into(),
            age_band: Some("6-7".into()),
            locale: Some("pt-BR".into()),
            ..learner("x")
        };
        assert!(targeted.evaluate(&fits).enabled);
        let miss = |adjust: fn(&mut Context)| {
            let mut ctx = fits.clone();
            adjust(&mut ctx);
            !targeted.evaluate(&ctx).enabled
        };
        assert!(miss(|c| c.roles = ["admin".to_string()].into()), "role");
        assert!(miss(|c| c.tier = "free".into()), "tier");
        assert!(miss(|c| c.age_band = Some("8-10".into())), "age band");
        assert!(miss(|c| c.age_band = None), "no age band declared");
        assert!(miss(|c| c.locale = Some("en".into())), "locale");
        assert!(
            miss(|c| c.locale = Some("ptx".into())),
            "a longer language is not a subtag"
        );
        assert!(miss(|c| c.locale = None), "no locale declared");
    }

    #[test]
    fn a_profile_flag_buckets_the_profile_and_an_account_flag_the_account() {
        let by = |subject| {
            flag(FlagInput {
                subject,
                rollout_percent: 50,
                ..on()
            })
        };
        let (profiles, accounts) = (by(FlagSubject::Profile), by(FlagSubject::Account));
        let family = |profile: u32| Context {
            profile_id: Some(format!("profile-{profile}")),
            ..learner("parent-account")
        };
        let per_profile: BTreeSet<bool> = (0..40)
            .map(|p| profiles.evaluate(&family(p)).enabled)
            .collect();
        assert_eq!(per_profile.len(), 2, "profiles of one account differ");
        let per_account: BTreeSet<bool> = (0..40)
            .map(|p| accounts.evaluate(&family(p)).enabled)
            .collect();
        assert_eq!(
            per_account.len(),
            1,
            "an account flag is the same on every profile"
        );
    }

    #[test]
    fn variants_are_stable_and_spread() {
        let ab = flag(FlagInput {
            variants: vec!["control".into(), "grid".into()],
            ..on()
        });
        let picks: Vec<String> = (0..1_000)
            .map(|i| ab.evaluate(&learner(&i.to_string())).variant.unwrap())
            .collect();
        let grid = picks.iter().filter(|v| *v == "grid").count();
        assert!((400..=600).contains(&grid), "{grid}");
        assert_eq!(
            ab.evaluate(&learner("7")).variant.as_deref(),
            Some(picks[7].as_str())
        );
    }

    #[test]
    fn bad_input_names_each_field() {
        let bad = FlagInput {
            description: "d".repeat(MAX_DESCRIPTION + 1),
            enabled: true,
            rollout_percent: 101,
            subject: FlagSubject::Account,
            targeting: Targeting {
                roles: vec!["wizard".into()],
                tiers: vec!["gold".into()],
                age_bands: vec!["5-6".into()],
                locales: vec!["english!".into()],
            },
            variants: vec!["A".into(), "b".into(), "b".into()],
        };
        let Err(OpsError::Invalid(fields)) = bad.validated(&["learner"], &["free"]) else {
            panic!("accepted")
        };
        let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "description",
                "rollout_percent",
                "targeting.roles[0]",
                "targeting.tiers[0]",
                "targeting.age_bands[0]",
                "targeting.locales[0]",
                "variants[0]",
                "variants[2]"
            ]
        );
        for key in ["new-home", "a", "checkout.v2_beta"] {
            assert!(valid_key(key), "{key}");
        }
        for key in ["", "New", "9lives", "a b", &"a".repeat(65)] {
            assert!(!valid_key(key), "{key}");
        }
    }
}
