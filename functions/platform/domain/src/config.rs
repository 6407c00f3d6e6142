//! The notification centre's settings, from the environment.

use lectern_shared::config::ConfigError;

/// Days a notification is kept when `LECTERN_NOTIFICATION_RETENTION_DAYS` is unset.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// Settings of the notification centre.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// How many days a notification (and the record of its delivery) is kept after the end of the UTC day it was
    /// made on (`LECTERN_NOTIFICATION_RETENTION_DAYS`, 7..=365, default 90). At least a week: the record of a
    /// delivery must outlive every redelivery of its job (the worker remembers finished jobs for 7 days).
    pub retention_days: i64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl NotificationsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let retention_days =
            match get("LECTERN_NOTIFICATION_RETENTION_DAYS").filter(|v| !v.trim().is_empty()) {
                None => DEFAULT_RETENTION_DAYS,
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if (7..=365).contains(&n) => n,
                    _ => {
                        return Err(ConfigError {
                            var: "LECTERN_NOTIFICATION_RETENTION_DAYS",
                            problem: format!("{v:?} is not a number of days in 7..=365"),
                        });
                    }
                },
            };
        Ok(Self { retention_days })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            NotificationsConfig::from_lookup(|_| None)
                .unwrap()
                .retention_days,
            90
        );
        let thirty = NotificationsConfig::from_lookup(|_| Some("30".into())).unwrap();
        assert_eq!(thirty.retention_days, 30);
        for bad in ["6", "366", "soon"] {
            assert!(NotificationsConfig::from_lookup(|_| Some(bad.into())).is_err());
        }
    }
}
