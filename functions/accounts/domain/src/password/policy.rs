//! What a new password must satisfy (OWASP ASVS 5.0 section 6.2): a length range, not a common password, not
//! built from the account's email. Deliberately no composition rules (6.2.5), and the password is never
//! trimmed or truncated (6.2.8): what the user typed is what gets hashed.

use super::common::is_common;

/// One reason a password was refused. [`PolicyViolation::code`] is stable for clients; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Fewer than `min` characters.
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More than `max` characters.
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// On the list of commonly used passwords, or an obvious variant of one.
    Common,
    /// Contains the account's email address or the part before the `@`.
    ContainsEmail,
}

impl PolicyViolation {
    /// A stable machine-readable code: `too_short`, `too_long`, `common` or `contains_email`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::Common => "common",
            Self::ContainsEmail => "contains_email",
        }
    }

    /// A sentence a user can act on.
    pub fn message(&self) -> String {
        match self {
            Self::TooShort { min } => format!("Use at least {min} characters."),
            Self::TooLong { max } => format!("Use at most {max} characters."),
            Self::Common => {
                "This password is too common; choose something harder to guess.".to_string()
            }
            Self::ContainsEmail => "The password must not contain your email address.".to_string(),
        }
    }
}

impl std::fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// The password rules. Lengths count Unicode scalar values (`char`s), not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length (ASVS 6.2.1 asks for at least 8; we use 10).
    pub min_chars: usize,
    /// Maximum length (ASVS 6.2.9 asks to allow at least 64).
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 10,
            max_chars: 128,
        }
    }
}

impl PasswordPolicy {
    /// Checks `password` for the account `email`, returning every rule it breaks.
    pub fn check(&self, password: &str, email: &str) -> Result<(), Vec<PolicyViolation>> {
        let chars = password.chars().count();
        if chars > self.max_chars {
            // Nothing else is worth checking (or allocating for) on an over-long input.
            return Err(vec![PolicyViolation::TooLong {
                max: self.max_chars,
            }]);
        }
        let mut violations = Vec::new();
        if chars < self.min_chars {
            violations.push(PolicyViolation::TooShort {
                min: self.min_chars,
            });
        }
        if is_common(password) {
            violations.push(PolicyViolation::Common);
        }
        if contains_email(password, email) {
            violations.push(PolicyViolation::ContainsEmail);
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// [`PasswordPolicy::default`]`.check(password, email)`.
pub fn check_policy(password: &str, email: &str) -> Result<(), Vec<PolicyViolation>> {
    PasswordPolicy::default().check(password, email)
}

/// Shortest local part worth refusing: `jo@…` would otherwise forbid every password containing "jo".
const MIN_LOCAL_PART_CHARS: usize = 3;

fn contains_email(password: &str, email: &str) -> bool {
    let password = password.to_lowercase();
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return false;
    }
    if password.contains(&email) {
        return true;
    }
    let local = email.rsplit_once('@').map_or(email.as_str(), |(l, _)| l);
    // `ann+lectern@…`: the part before the tag is as guessable as the whole local part.
    let untagged = local.split_once('+').map_or(local, |(l, _)| l);
    [local, untagged]
        .iter()
        .any(|part| part.chars().count() >= MIN_LOCAL_PART_CHARS && password.contains(part))
}
