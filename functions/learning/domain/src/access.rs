//! Who may see and touch a learner profile. The function crates build a [`Viewer`] from the caller's identity
//! and the permissions the accounts domain names (this domain does not depend on it); every profile-scoped use
//! case goes through [`Viewer::may_see`] / [`Viewer::may_manage`], so the rule is written once:
//!
//! - an account sees the profiles it owns, and manages its children's with `children:manage` and its own with
//!   `self:manage`;
//! - a profile (device) session sees exactly its one profile, and manages nothing;
//! - holders of `profiles:any` (admins) see and manage every profile.
//!
//! Anything else is "not found", so ids of other families' children cannot be probed.

use lectern_shared::http::auth::Identity;

use crate::errors::{LearningError, LearningResult};
use crate::profiles::{Profile, ProfileKind};

/// The caller, as the profile rules need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: String,
    /// Set for a profile (device) session: the one profile it acts as.
    pub acting_profile: Option<String>,
    /// Sees and manages every profile (`profiles:any`).
    pub every_profile: bool,
    /// May manage its child profiles (`children:manage`).
    pub manages_children: bool,
    /// May manage its own profile (`self:manage`).
    pub manages_own: bool,
}

impl Viewer {
    /// The viewer of an identity, given what its permissions allow (`profiles:any`, `children:manage`,
    /// `self:manage`). A profile session manages nothing, whatever it holds.
    pub fn of(
        who: &Identity,
        every_profile: bool,
        manages_children: bool,
        manages_own: bool,
    ) -> Self {
        let device = who.profile_id.is_some();
        Self {
            user_id: who.user_id.clone(),
            acting_profile: who.profile_id.clone(),
            every_profile: every_profile && !device,
            manages_children: manages_children && !device,
            manages_own: manages_own && !device,
        }
    }

    /// Whether the caller may read this profile (and act as it).
    pub fn may_see(&self, profile: &Profile) -> bool {
        match &self.acting_profile {
            Some(acting) => *acting == profile.profile_id,
            None => self.every_profile || profile.owner_id == self.user_id,
        }
    }

    /// Whether the caller may change this profile, its controls and its device sessions.
    pub fn may_manage(&self, profile: &Profile) -> bool {
        let owner_may = match profile.kind {
            ProfileKind::Child => self.manages_children,
            ProfileKind::Own => self.manages_own,
        };
        self.acting_profile.is_none()
            && (self.every_profile || (profile.owner_id == self.user_id && owner_may))
    }

    /// The profile if the caller may see it, else "not found".
    pub fn seeing(&self, profile: Option<Profile>) -> LearningResult<Profile> {
        profile
            .filter(|p| self.may_see(p))
            .ok_or(LearningError::NotFound)
    }

    /// The profile if the caller may manage it: "not found" when they may not even see it, 403 when they see it
    /// from its own device.
    pub fn managing(&self, profile: Option<Profile>) -> LearningResult<Profile> {
        let profile = self.seeing(profile)?;
        if self.may_manage(&profile) {
            Ok(profile)
        } else {
            Err(LearningError::Forbidden(
                "this profile cannot be changed from here (a profile session changes nothing, and changing a \
                 child's profile needs children:manage)"
                    .into(),
            ))
        }
    }
}
