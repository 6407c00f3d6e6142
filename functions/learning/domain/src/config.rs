//! The learning domain's settings, from the environment.

use lectern_shared::config::ConfigError;

/// Default most child profiles one parent account may own.
pub const DEFAULT_MAX_CHILDREN: i64 = 6;

/// Settings of the learning domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearningConfig {
    /// Most child profiles per parent account (`LECTERN_MAX_CHILD_PROFILES`, 1..=50, default 6).
    pub max_children: i64,
    /// The version of the privacy policy a parent consents to when creating a child profile
    /// (`LECTERN_CONSENT_POLICY_VERSION`, default `2025-01`), recorded with the consent.
    pub consent_policy_version: String,
}

impl LearningConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let max_children = match var("LECTERN_MAX_CHILD_PROFILES") {
            None => DEFAULT_MAX_CHILDREN,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (1..=50).contains(&n) => n,
                _ => {
                    return Err(ConfigError {
                        var: "LECTERN_MAX_CHILD_PROFILES",
                        problem: format!("{v:?} is not a number in 1..=50"),
                    });
                }
            },
        };
        let consent_policy_version = var("LECTERN_CONSENT_POLICY_VERSION")
            .map(|v| v.trim().chars().take(32).collect())
            .unwrap_or_else(|| "2025-01".into());
        Ok(Self {
            max_children,
            consent_policy_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let config = LearningConfig::from_lookup(|_| None).unwrap();
        assert_eq!(config.max_children, 6);
        let three = LearningConfig::from_lookup(|_| Some("3".into())).unwrap();
        assert_eq!(three.max_children, 3);
        assert!(LearningConfig::from_lookup(|_| Some("0".into())).is_err());
        assert!(LearningConfig::from_lookup(|_| Some("many".into())).is_err());
    }
}
