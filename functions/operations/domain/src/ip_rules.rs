//! Administering the IP block and allow lists (`/v1/admin/ip-rules`). The list, its semantics and its check live
//! in `lectern_shared::iprules`, because every function enforces it; this module validates and writes it, each
//! change in one transaction with its audit record, and drops this process's copy so the change applies here at
//! once (elsewhere within `lectern_shared::iprules::CACHE_TTL`).

use lectern_shared::iprules::{IpRule, IpRuleAction, IpRules, MAX_REASON, MAX_RULES, parse_cidr};
use lectern_shared::table::Item;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::errors::{OpsError, OpsResult};
use crate::{Operations, change_versioned, load, stamp};

/// A new rule (`POST /v1/admin/ip-rules`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIpRule {
    /// A CIDR block (`203.0.113.0/24`, `2001:db8::/32`) or one address.
    #[schema(max_length = 64)]
    pub cidr: String,
    pub action: IpRuleAction,
    /// Why (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
    /// RFC 3339, in the future; the rule is ignored from then on. Absent: until deleted.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

impl Operations {
    /// Every rule, expired ones included (one read).
    pub async fn ip_rules(&self) -> OpsResult<IpRules> {
        load(self.platform.table.as_ref()).await
    }

    /// Adds a rule, with the audit record `audit` builds for it.
    pub async fn add_ip_rule(
        &self,
        actor_id: &str,
        input: NewIpRule,
        audit: impl Fn(&IpRule) -> OpsResult<Item>,
    ) -> OpsResult<IpRule> {
        let now = self.platform.clock.now();
        let mut problems = Vec::new();
        let net = input
            .cidr
            .len()
            .le(&64)
            .then(|| parse_cidr(&input.cidr))
            .flatten();
        if net.is_none() {
            problems.push((
                "cidr".to_string(),
                "a CIDR block such as 203.0.113.0/24 or 2001:db8::/32, or one address".to_string(),
            ));
        }
        let reason = input.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            problems.push(("reason".into(), format!("1 to {MAX_REASON} characters")));
        }
        let expires_at = match input.expires_at.as_deref() {
            None => None,
            Some(at) => match time::OffsetDateTime::parse(at, &Rfc3339) {
                Ok(at) if at > now => Some(stamp(at)),
                Ok(_) => {
                    problems.push(("expires_at".into(), "in the future".into()));
                    None
                }
                Err(_) => {
                    problems.push(("expires_at".into(), "an RFC 3339 time".into()));
                    None
                }
            },
        };
        let Some(net) = net.filter(|_| problems.is_empty()) else {
            return Err(OpsError::Invalid(problems));
        };
        let rule = IpRule {
            rule_id: lectern_shared::ids::new_id(),
            cidr: net.to_string(),
            action: input.action,
            reason,
            expires_at,
            created_at: stamp(now),
            created_by: actor_id.to_string(),
        };
        self.change_ip_rules(|rules| {
            if rules.len() >= MAX_RULES {
                return Err(OpsError::Conflict(format!(
                    "at most {MAX_RULES} rules: delete expired ones first"
                )));
            }
            rules.push(rule.clone());
            audit(&rule)
        })
        .await?;
        Ok(rule)
    }

    /// Deletes a rule (404 when there is none), with its audit record.
    pub async fn delete_ip_rule(
        &self,
        rule_id: &str,
        audit: impl Fn(&IpRule) -> OpsResult<Item>,
    ) -> OpsResult<()> {
        self.change_ip_rules(|rules| {
            let i = rules
                .iter()
                .position(|r| r.rule_id == rule_id)
                .ok_or(OpsError::NotFound("IP rule"))?;
            let old = rules.remove(i);
            audit(&old)
        })
        .await
    }

    /// Applies `change` to the list with its audit record (see [`change_versioned`]), then drops this process's
    /// copy so the change applies here at once.
    async fn change_ip_rules(
        &self,
        change: impl Fn(&mut Vec<IpRule>) -> OpsResult<Item>,
    ) -> OpsResult<()> {
        let now = stamp(self.platform.clock.now());
        change_versioned(self, "IP rules", |list: &mut IpRules| {
            list.updated_at = Some(now.clone());
            change(&mut list.rules)
        })
        .await?;
        self.platform.ip_rules.invalidate();
        Ok(())
    }
}
