//! Typed app settings: what an app team changes without a deploy (the support address, the oldest client each
//! platform still serves, a maintenance banner, the default locale, whether sign-ups are open), validated as a
//! whole, stored as one versioned item and changed only by a conditional write.
//!
//! Entity: `SETTINGS` / `SETTINGS` (one item). `version` 0 means "never stored": the defaults answer.
//! Every change is written in one transaction with its audit record (`settings_changed`, built by the function from
//! the accounts' audit log, as every other audited change is), and only against the version the admin read
//! (`If-Match`), so two admins editing at once cannot silently undo each other.

use lectern_shared::locale::{LOCALE_PROBLEM, valid_locale};
use lectern_shared::table::{Condition, Entity, EntityInfo, Item, Key, KeyLayout, Shape, TxOp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::errors::{OpsError, OpsResult};
use crate::{Operations, load, stamp, transact_with_audit};

/// Longest maintenance message (characters).
pub const MAX_MAINTENANCE_MESSAGE: usize = 500;
/// Longest internal note (characters).
pub const MAX_INTERNAL_NOTE: usize = 2000;
/// Longest email address.
pub const MAX_EMAIL: usize = 254;
/// A client version: one to three dot-separated numbers (`3`, `3.2`, `3.2.1`).
pub const VERSION_PATTERN: &str = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,2}$";

/// The oldest client version each platform still serves; older clients should ask the user to update.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinClientVersions {
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,2}$")]
    pub ios: Option<String>,
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,2}$")]
    pub android: Option<String>,
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,2}$")]
    pub web: Option<String>,
}

/// Every setting. `PUT /v1/admin/settings` replaces them all at once (a missing optional field clears it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where users write for help (shown in apps and emails).
    #[schema(format = "email", max_length = 254)]
    pub support_email: Option<String>,
    #[serde(default)]
    pub min_client_version: MinClientVersions,
    /// A banner apps show while set (planned maintenance, an incident).
    #[schema(max_length = 500)]
    pub maintenance_message: Option<String>,
    /// The locale apps start in before the user picks one (BCP 47).
    #[schema(max_length = 35, pattern = "^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")]
    pub default_locale: String,
    /// Whether apps offer sign-up. An app hint: the registration route itself does not read it (see the README).
    pub registration_open: bool,
    /// For the operators only; never in the public subset.
    #[schema(max_length = 2000)]
    pub internal_note: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            support_email: None,
            min_client_version: MinClientVersions::default(),
            maintenance_message: None,
            default_locale: "en".into(),
            registration_open: true,
            internal_note: None,
        }
    }
}

/// What anyone may read, signed in or not (`GET /v1/settings`): everything an app needs before sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicSettings {
    pub support_email: Option<String>,
    pub min_client_version: MinClientVersions,
    pub maintenance_message: Option<String>,
    pub default_locale: String,
    pub registration_open: bool,
}

impl Settings {
    /// The public subset.
    pub fn public(&self) -> PublicSettings {
        PublicSettings {
            support_email: self.support_email.clone(),
            min_client_version: self.min_client_version.clone(),
            maintenance_message: self.maintenance_message.clone(),
            default_locale: self.default_locale.clone(),
            registration_open: self.registration_open,
        }
    }

    /// Checks every field and answers all problems at once; trims text and drops empty optional text.
    pub fn validated(mut self) -> OpsResult<Self> {
        let mut problems = Vec::new();
        let trim = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        self.support_email = trim(self.support_email);
        self.maintenance_message = trim(self.maintenance_message);
        self.internal_note = trim(self.internal_note);
        if let Some(email) = &self.support_email {
            let plausible = email.len() <= MAX_EMAIL
                && email.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                })
                && !email.chars().any(|c| c.is_whitespace() || c.is_control());
            if !plausible {
                problems.push(("support_email".into(), "an email address".into()));
            }
        }
        let versions = &self.min_client_version;
        for (name, version) in [
            ("ios", &versions.ios),
            ("android", &versions.android),
            ("web", &versions.web),
        ] {
            if version.as_deref().is_some_and(|v| !valid_version(v)) {
                problems.push((
                    format!("min_client_version.{name}"),
                    "one to three dot-separated numbers, e.g. 3.2.1".into(),
                ));
            }
        }
        let too_long =
            |v: &Option<String>, max: usize| v.as_ref().is_some_and(|s| s.chars().count() > max);
        if too_long(&self.maintenance_message, MAX_MAINTENANCE_MESSAGE) {
            problems.push((
                "maintenance_message".into(),
                format!("at most {MAX_MAINTENANCE_MESSAGE} characters"),
            ));
        }
        if too_long(&self.internal_note, MAX_INTERNAL_NOTE) {
            problems.push((
                "internal_note".into(),
                format!("at most {MAX_INTERNAL_NOTE} characters"),
            ));
        }
        if !valid_locale(&self.default_locale) {
            problems.push(("default_locale".into(), LOCALE_PROBLEM.into()));
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(OpsError::Invalid(problems))
        }
    }
}

/// Whether `v` is one to three dot-separated numbers of at most six digits ([`VERSION_PATTERN`]).
pub fn valid_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The settings as stored, with their version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSettings {
    /// 0 while never stored; every change adds one. Clients see it as the ETag `"<version>"`.
    pub version: i64,
    #[serde(default)]
    pub settings: Settings,
    /// RFC 3339 time of the last change.
    pub updated_at: Option<String>,
    /// The admin who made it.
    pub updated_by: Option<String>,
}

impl Entity for StoredSettings {
    const INFO: EntityInfo = EntityInfo::new(
        "app_settings",
        KeyLayout::new(Shape::fixed("SETTINGS"), Shape::fixed("SETTINGS")),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[], &[])
    }
}

impl Operations {
    /// The settings as stored now (one read), for the admin view and its ETag.
    pub async fn settings(&self) -> OpsResult<StoredSettings> {
        load(self.platform.table.as_ref()).await
    }

    /// The public subset, from this process's copy (read at most once per cache period).
    pub async fn public_settings(&self) -> PublicSettings {
        let table = self.platform.table.clone();
        self.settings_cache
            .get("settings", |_| async move {
                load::<StoredSettings>(table.as_ref()).await
            })
            .await
            .settings
            .public()
    }

    /// Replaces the settings, if they are still at `if_match` (the version the admin read), together with the audit
    /// record `audit` builds from the old and the new settings. Answers the stored settings.
    pub async fn replace_settings(
        &self,
        actor_id: &str,
        input: Settings,
        if_match: Option<i64>,
        audit: impl Fn(&Settings, &Settings) -> OpsResult<Item>,
    ) -> OpsResult<StoredSettings> {
        let settings = input.validated()?;
        // Without the version read, a write could silently undo a change the admin never saw.
        let read_version = if_match.ok_or_else(|| {
            OpsError::field(
                "header.if-match",
                "the ETag of the version you read, e.g. \"3\"",
            )
        })?;
        let current = self.settings().await?;
        if current.version != read_version {
            return Err(OpsError::PreconditionFailed);
        }
        let stored = StoredSettings {
            version: read_version + 1,
            settings,
            updated_at: Some(stamp(self.platform.clock.now())),
            updated_by: Some(actor_id.to_string()),
        };
        let record = audit(&current.settings, &stored.settings)?;
        let write = TxOp::Put {
            item: stored.to_item()?,
            condition: Condition::at_version(read_version),
        };
        match transact_with_audit(self, write, record).await {
            Ok(()) => {}
            Err(OpsError::Conflict(_)) => return Err(OpsError::PreconditionFailed),
            Err(e) => return Err(e),
        }
        self.settings_cache.invalidate();
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_public_leaves_out_the_internal_note() {
        let settings = Settings {
            internal_note: Some("call Ana before changing".into()),
            ..Settings::default()
        }
        .validated()
        .unwrap();
        let public = serde_json::to_value(settings.public()).unwrap();
        assert!(public.get("internal_note").is_none());
        assert_eq!(public["default_locale"], "en");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = Settings {
            support_email: Some("not an email".into()),
            min_client_version: MinClientVersions {
                ios: Some("3.x".into()),
                android: Some("1.2.3.4".into()),
                web: Some("10.0".into()),
            },
            maintenance_message: Some("m".repeat(MAX_MAINTENANCE_MESSAGE + 1)),
            default_locale: "english".into(),
            registration_open: false,
            internal_note: None,
        };
        let Err(OpsError::Invalid(fields)) = bad.validated() else {
            panic!("accepted")
        };
        let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "support_email",
                "min_client_version.ios",
                "min_client_version.android",
                "maintenance_message",
                "default_locale"
            ]
        );
    }

    #[test]
    fn versions_are_one_to_three_numbers() {
        for ok in ["3", "3.2", "3.2.1", "10.0.123456"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "3.", ".3", "3.2.1.0", "v3", "1234567", "3..1"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }
}
