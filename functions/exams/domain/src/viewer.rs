//! The caller as the exams domain sees it. The function crates build it from the accounts authenticator's
//! `Identity` (permissions) and the account it loaded (tier), so this library never depends on the accounts
//! domain and never sees a role name.

use lectern_shared::http::auth::Identity;

use crate::errors::ExamError;

/// What the caller's subscription buys, as far as exams care (see [`crate::disclosure`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tier {
    #[default]
    Free,
    Premium,
}

/// The signed-in caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: String,
    /// May write the hierarchy and questions (`content:write`).
    pub author: bool,
    /// May review questions of anyone (`content:moderate`).
    pub moderator: bool,
    pub tier: Tier,
}

impl Viewer {
    /// The caller of a request. `author` and `moderator` say whether the identity holds `content:write` and
    /// `content:moderate`: the function crates check them by their names in the accounts permission map.
    pub fn new(identity: &Identity, author: bool, moderator: bool) -> Self {
        Self {
            user_id: identity.user_id.clone(),
            author,
            moderator,
            tier: if identity.tier == "premium" {
                Tier::Premium
            } else {
                Tier::Free
            },
        }
    }

    /// A learner without authoring rights (tests and seeds).
    pub fn learner(user_id: impl Into<String>, tier: Tier) -> Self {
        Self {
            user_id: user_id.into(),
            author: false,
            moderator: false,
            tier,
        }
    }

    /// Whether the caller may see a question's answers and its history: authors and moderators.
    pub fn staff(&self) -> bool {
        self.author || self.moderator
    }

    /// 403 unless the caller may author content.
    pub fn require_author(&self) -> Result<(), ExamError> {
        if self.author {
            Ok(())
        } else {
            Err(ExamError::Forbidden(
                "this needs the content:write permission".into(),
            ))
        }
    }

    /// 403 unless the caller may review content.
    pub fn require_moderator(&self) -> Result<(), ExamError> {
        if self.moderator {
            Ok(())
        } else {
            Err(ExamError::Forbidden(
                "this needs the content:moderate permission".into(),
            ))
        }
    }

    /// 403 unless the caller is staff (authors and moderators).
    pub fn require_staff(&self) -> Result<(), ExamError> {
        if self.staff() {
            Ok(())
        } else {
            Err(ExamError::Forbidden(
                "this needs the content:write or content:moderate permission".into(),
            ))
        }
    }
}
