//! Roles and what they may do — the one place that maps roles to permissions. Handlers check permissions
//! (`identity.require(perm::USERS_MANAGE)`), never role names, so a role can change shape without a code hunt.

use serde::{Deserialize, Serialize};

/// Named permissions.
pub mod perm {
    /// Manage one's own account, profile, sessions, 2FA and API keys.
    pub const SELF_MANAGE: &str = "self:manage";
    /// Read content (the academic hierarchy, approved questions without their answers) and take exams.
    pub const CONTENT_READ: &str = "content:read";
    /// See linked children's progress.
    pub const CHILDREN_READ: &str = "children:read";
    /// Author courses, the academic hierarchy, questions and exams.
    pub const CONTENT_WRITE: &str = "content:write";
    /// Review questions (approve, reject, comment); hide or restore user-generated content.
    pub const CONTENT_MODERATE: &str = "content:moderate";
    /// Grade learners' essays in submitted exams.
    pub const EXAMS_GRADE: &str = "exams:grade";
    /// Look up any account.
    pub const USERS_READ: &str = "users:read";
    /// Suspend, activate and force-logout accounts.
    pub const USERS_MANAGE: &str = "users:manage";
    /// Change an account's role.
    pub const ROLES_ASSIGN: &str = "roles:assign";
    /// Read the audit log of every account.
    pub const AUDIT_READ: &str = "audit:read";
    /// Act as a learner profile one owns: play, record progress, read its achievements and boards. The one
    /// permission a profile (device) session keeps, with `content:read`.
    pub const LEARNING_PLAY: &str = "learning:play";
    /// Create, change and delete one's children's profiles, their controls and their device sessions.
    pub const CHILDREN_MANAGE: &str = "children:manage";
    /// See and manage every learner profile, whoever owns it.
    pub const PROFILES_ANY: &str = "profiles:any";
    /// Award an achievement to a learner by hand.
    pub const ACHIEVEMENTS_AWARD: &str = "achievements:award";
    /// Create, change and delete achievement definitions.
    pub const ACHIEVEMENTS_MANAGE: &str = "achievements:manage";
    /// Define what applies to every account: the onboarding steps.
    pub const SETTINGS_MANAGE: &str = "settings:manage";
    /// Revoke an exam certificate (admins).
    pub const CERTIFICATES_REVOKE: &str = "certificates:revoke";
    /// Create and manage one's own webhook endpoints (integrators; admins).
    pub const WEBHOOKS_MANAGE: &str = "webhooks:manage";
    /// See the scheduled jobs' runs and the dead-letter queues (operators).
    pub const OPERATIONS_READ: &str = "operations:read";
    /// Send dead letters back to their queue (operators).
    pub const OPERATIONS_MANAGE: &str = "operations:manage";

    /// What a profile (device) session may do, at most: act as its one profile and read content.
    pub const PROFILE_SESSION: [&str; 2] = [CONTENT_READ, LEARNING_PLAY];

    /// Every permission (API key scopes are drawn from these).
    pub const ALL: [&str; 20] = [
        SELF_MANAGE,
        CONTENT_READ,
        CHILDREN_READ,
        CONTENT_WRITE,
        CONTENT_MODERATE,
        EXAMS_GRADE,
        USERS_READ,
        USERS_MANAGE,
        ROLES_ASSIGN,
        AUDIT_READ,
        LEARNING_PLAY,
        CHILDREN_MANAGE,
        PROFILES_ANY,
        ACHIEVEMENTS_AWARD,
        ACHIEVEMENTS_MANAGE,
        SETTINGS_MANAGE,
        CERTIFICATES_REVOKE,
        WEBHOOKS_MANAGE,
        OPERATIONS_READ,
        OPERATIONS_MANAGE,
    ];
}

/// An account's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Learner,
    Parent,
    Instructor,
    Moderator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Learner,
        Role::Parent,
        Role::Instructor,
        Role::Moderator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Parent => "parent",
            Role::Instructor => "instructor",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Roles a person may choose at registration (admins are never self-registered).
    pub fn self_registrable(self) -> bool {
        matches!(self, Role::Learner | Role::Parent)
    }

    /// The permissions this role grants.
    pub fn permissions(self) -> &'static [&'static str] {
        use perm::*;
        match self {
            Role::Learner => &[SELF_MANAGE, CONTENT_READ, LEARNING_PLAY],
            Role::Parent => &[
                SELF_MANAGE,
                CONTENT_READ,
                LEARNING_PLAY,
                CHILDREN_READ,
                CHILDREN_MANAGE,
            ],
            Role::Instructor => &[
                SELF_MANAGE,
                CONTENT_READ,
                LEARNING_PLAY,
                CONTENT_WRITE,
                EXAMS_GRADE,
                ACHIEVEMENTS_AWARD,
            ],
            Role::Moderator => &[
                SELF_MANAGE,
                CONTENT_READ,
                LEARNING_PLAY,
                CONTENT_MODERATE,
                USERS_READ,
            ],
            Role::Admin => &ALL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_users_and_everyone_manages_themselves() {
        for role in Role::ALL {
            assert!(role.permissions().contains(&perm::SELF_MANAGE));
            assert_eq!(
                role.permissions().contains(&perm::USERS_MANAGE),
                role == Role::Admin
            );
            assert_eq!(
                role.permissions().contains(&perm::ROLES_ASSIGN),
                role == Role::Admin
            );
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(!Role::Admin.self_registrable() && !Role::Instructor.self_registrable());
    }

    #[test]
    fn children_are_managed_by_parents_and_content_written_by_instructors() {
        let holders = |p: &str| -> Vec<Role> {
            Role::ALL
                .into_iter()
                .filter(|r| r.permissions().contains(&p))
                .collect()
        };
        assert_eq!(holders(perm::CHILDREN_MANAGE), [Role::Parent, Role::Admin]);
        assert_eq!(holders(perm::PROFILES_ANY), [Role::Admin]);
        assert_eq!(holders(perm::ACHIEVEMENTS_MANAGE), [Role::Admin]);
        assert_eq!(
            holders(perm::CONTENT_WRITE),
            [Role::Instructor, Role::Admin]
        );
        assert_eq!(
            holders(perm::ACHIEVEMENTS_AWARD),
            [Role::Instructor, Role::Admin]
        );
        assert_eq!(holders(perm::LEARNING_PLAY).len(), Role::ALL.len());
        for p in perm::PROFILE_SESSION {
            assert!(perm::ALL.contains(&p));
            assert_ne!(p, perm::SELF_MANAGE);
        }
    }
}
