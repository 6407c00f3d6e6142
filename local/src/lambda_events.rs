//! The sample events in `events/` and what each must answer: `events/manifest.json` lists every event with the
//! function it is for and the documented answer (an HTTP status, or for SQS batches the records that must be
//! reported failed). `scripts/lambda-events` invokes each one under `cargo lambda watch` and the in-process test
//! feeds each through the Lambda adapter, both against this one manifest.
//!
//! Events of a signed-in caller carry a placeholder instead of a token, `{{token:<role>}}` (e.g.
//! `{{token:learner}}`): a committed token would be expired and signed by nobody's key. [`fill`] replaces each
//! placeholder with a fresh access token of a demo account of that role (`<role>@lectern.local`, created verified
//! when missing), in the store the function itself will read.

use std::collections::BTreeMap;

use anyhow::Context;
use lectern_accounts::permissions::Role;
use lectern_accounts::service::Accounts;
use lectern_shared::http::client::ClientInfo;
use serde::Deserialize;

/// Opens a placeholder; `<role>}}` follows.
const OPEN: &str = "{{token:";
const CLOSE: &str = "}}";

/// One entry of `events/manifest.json`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// File name in `events/`.
    pub event: String,
    /// The function (binary) that takes it.
    pub function: String,
    /// What it shows a reader, in a few words.
    pub what: String,
    /// HTTP events: the status the function answers.
    #[serde(default)]
    pub status: Option<u16>,
    /// SQS events: the message ids the answer's `batchItemFailures` names (empty: none failed).
    #[serde(default)]
    pub batch_item_failures: Option<Vec<String>>,
}

/// Reads `events/manifest.json` from the repository root.
pub fn manifest(repo_root: &std::path::Path) -> anyhow::Result<Vec<Expected>> {
    let path = repo_root.join("events/manifest.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The roles an event's placeholders ask for, in order of first appearance.
pub fn roles_wanted(event: &str) -> anyhow::Result<Vec<Role>> {
    let mut roles = Vec::new();
    let mut rest = event;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find(CLOSE)
            .context("a {{token:...}} placeholder is not closed")?;
        let name = &after[..end];
        let role: Role = serde_json::from_value(serde_json::Value::String(name.to_string()))
            .with_context(|| format!("{{{{token:{name}}}}} does not name a role"))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
        rest = &after[end + CLOSE.len()..];
    }
    Ok(roles)
}

/// Replaces every `{{token:<role>}}` in `event` with a fresh access token of that role's demo account.
pub async fn fill(event: &str, accounts: &Accounts) -> anyhow::Result<String> {
    let mut tokens = BTreeMap::new();
    for role in roles_wanted(event)? {
        tokens.insert(role.as_str(), bearer_token(accounts, role).await?);
    }
    let mut filled = event.to_string();
    for (role, token) in tokens {
        filled = filled.replace(&format!("{OPEN}{role}{CLOSE}"), &token);
    }
    Ok(filled)
}

/// An access token of `<role>@lectern.local`, signing the account up (verified) when it does not exist yet.
async fn bearer_token(accounts: &Accounts, role: Role) -> anyhow::Result<String> {
    let email = format!("{}@lectern.local", role.as_str());
    let user = match accounts.users.find_by_email(&email).await? {
        Some(user) => user,
        None => {
            // Nobody signs in with this password: the events carry tokens, never credentials.
            let password = lectern_accounts::crypto::random_token("event-", 16);
            let name = format!("Demo {}", role.as_str());
            accounts
                .provision(&email, &name, role, &password)
                .await
                .with_context(|| format!("creating {email}"))?
        }
    };
    anyhow::ensure!(
        user.role == role,
        "{email} exists with the role {}, not {}",
        user.role.as_str(),
        role.as_str()
    );
    let client = ClientInfo {
        user_agent: Some("lectern event".into()),
        ..ClientInfo::default()
    };
    let (session, _refresh) = accounts
        .sessions
        .start(
            &user.user_id,
            &lectern_accounts::service::origin(&client),
            accounts.epoch(),
        )
        .await?;
    let (token, _) = accounts.access_token(&session)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_name_roles_and_bad_ones_are_refused() {
        let event =
            r#"{"a":"Bearer {{token:admin}}","b":"{{token:learner}}","c":"{{token:admin}}"}"#;
        assert_eq!(
            roles_wanted(event).unwrap(),
            vec![Role::Admin, Role::Learner]
        );
        assert!(roles_wanted("{{token:wizard}}").is_err());
        assert!(roles_wanted("{{token:admin").is_err());
        assert!(roles_wanted("no placeholders").unwrap().is_empty());
    }
}
