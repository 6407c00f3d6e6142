//! The product identity every email carries: name, app URL and support address, read once from the environment.

use lectern_shared::config::ConfigError;
use lectern_shared::mail::validate_address;
use url::Url;

/// Product name used when `LECTERN_PRODUCT_NAME` is unset.
pub const DEFAULT_PRODUCT_NAME: &str = "Lectern";
/// App URL used when `LECTERN_APP_URL` is unset.
pub const DEFAULT_APP_URL: &str = "http://localhost:3000";
/// Longest product name accepted (it appears in every subject line).
const MAX_PRODUCT_NAME_CHARS: usize = 60;

/// Name, app URL and support address shown in every email. Built only through [`Branding::new`] (or the env
/// readers), so a value that reaches a template is already known to be safe to show and link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branding {
    product_name: String,
    app_url: String,
    support_email: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: DEFAULT_PRODUCT_NAME.into(),
            app_url: DEFAULT_APP_URL.into(),
            support_email: None,
        }
    }
}

impl Branding {
    /// Checks and builds a branding: the product name is one line of at most 60 characters, the app URL an
    /// absolute http(s) URL without credentials, the support email a plain address.
    pub fn new(
        product_name: &str,
        app_url: &str,
        support_email: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let product_name = product_name.trim();
        if product_name.is_empty()
            || product_name.chars().count() > MAX_PRODUCT_NAME_CHARS
            || product_name.chars().any(char::is_control)
        {
            return Err(ConfigError {
                var: "LECTERN_PRODUCT_NAME",
                problem: format!("use one line of 1 to {MAX_PRODUCT_NAME_CHARS} characters"),
            });
        }
        let app_url = app_url.trim().trim_end_matches('/');
        let parsed = Url::parse(app_url).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none()
        });
        if parsed.is_none() {
            return Err(ConfigError {
                var: "LECTERN_APP_URL",
                problem: "use an absolute http(s) URL like https://app.example.com".into(),
            });
        }
        let support_email = support_email.map(str::trim).filter(|s| !s.is_empty());
        if let Some(addr) = support_email
            && validate_address(addr).is_err()
        {
            return Err(ConfigError {
                var: "LECTERN_SUPPORT_EMAIL",
                problem: "use a plain address like help@example.com".into(),
            });
        }
        Ok(Self {
            product_name: product_name.to_string(),
            app_url: app_url.to_string(),
            support_email: support_email.map(str::to_string),
        })
    }

    /// Reads `LECTERN_PRODUCT_NAME`, `LECTERN_APP_URL` and `LECTERN_SUPPORT_EMAIL` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the same variables through a lookup function (tests pass a map). Blank values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Self::new(
            var("LECTERN_PRODUCT_NAME")
                .as_deref()
                .unwrap_or(DEFAULT_PRODUCT_NAME),
            var("LECTERN_APP_URL").as_deref().unwrap_or(DEFAULT_APP_URL),
            var("LECTERN_SUPPORT_EMAIL").as_deref(),
        )
    }

    /// The product name, e.g. `Lectern`.
    pub fn product_name(&self) -> &str {
        &self.product_name
    }

    /// The app's base URL without a trailing slash, e.g. `https://app.example.com`.
    pub fn app_url(&self) -> &str {
        &self.app_url
    }

    /// Where users can write for help, if configured.
    pub fn support_email(&self) -> Option<&str> {
        self.support_email.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Branding, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Branding::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset_or_blank() {
        assert_eq!(with(&[]).unwrap(), Branding::default());
        assert_eq!(
            with(&[
                ("LECTERN_PRODUCT_NAME", "  "),
                ("LECTERN_SUPPORT_EMAIL", "")
            ])
            .unwrap(),
            Branding::default()
        );
    }

    #[test]
    fn reads_and_normalises_values() {
        let b = with(&[
            ("LECTERN_PRODUCT_NAME", " Acme Learn "),
            ("LECTERN_APP_URL", "https://learn.example.com/"),
            ("LECTERN_SUPPORT_EMAIL", "help@example.com"),
        ])
        .unwrap();
        assert_eq!(b.product_name(), "Acme Learn");
        assert_eq!(b.app_url(), "https://learn.example.com");
        assert_eq!(b.support_email(), Some("help@example.com"));
    }

    #[test]
    fn rejects_bad_values_by_name() {
        let cases = [
            ("LECTERN_PRODUCT_NAME", "Acme\r\nBcc: x@evil.test"),
            ("LECTERN_PRODUCT_NAME", &"x".repeat(61)),
            ("LECTERN_APP_URL", "javascript:alert(1)"),
            ("LECTERN_APP_URL", "not a url"),
            ("LECTERN_APP_URL", "https://user:pw@app.example.com"),
            ("LECTERN_SUPPORT_EMAIL", "help at example"),
        ];
        for (var, value) in cases {
            let err = with(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value:?}");
        }
    }
}
