//! IP block and allow lists, enforced on every request of every function before anything else runs.
//!
//! The whole list is **one item** (`IPRULES` / `IPRULES`, at most [`MAX_RULES`] rules): a function reads it once per
//! cache period ([`CACHE_TTL`]) and then answers every request from the copy in memory, so checking an address
//! costs one read-lock and a few prefix comparisons, never a storage round trip. A change made elsewhere is seen
//! by every function within [`CACHE_TTL`]; the function that made it sees it at once ([`IpGuard::invalidate`]).
//! The rules are kept here, in `lectern-shared`, because every function's stack installs the check
//! (`http::layers`); the operations domain administers them (`/v1/admin/ip-rules`) through these types.
//!
//! Semantics (decided):
//! - a **block** rule refuses every request from an address inside its CIDR with 403 `ip-blocked`;
//! - an **allow** rule exempts the addresses inside its CIDR from every block rule. Allow rules never refuse
//!   anyone: an allow-only mode would lock out every admin travelling away from the office network, and the
//!   common need is the other one — block a hostile range except for a known good address inside it (a school's
//!   NAT in a blocked provider's range), or keep the operators' own network reachable while blocking widely;
//! - a rule past its `expires_at` is ignored (and may be deleted at leisure);
//! - an address the platform does not know (in-process tests only: on Lambda API Gateway always gives one) is
//!   not checked.
//!
//! When the list cannot be read, the last copy read keeps being used (none at all on a new instance) and the
//! failure is logged: a store outage already fails every route that touches the store, and refusing everyone
//! because the block list is unreadable would turn a blip into an outage. The read is retried after
//! [`crate::cache::RETRY_AFTER_FAILURE`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cache::Refreshing;
use crate::clock::SharedClock;
use crate::table::{Entity, EntityInfo, Key, KeyLayout, Shape, Table, TableResult};

/// How long a function answers from its copy of the rules before reading them again.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// Most rules the list holds: one item stays far below the item size limit (~200 bytes a rule), and a linear
/// scan of this many prefixes costs well under a microsecond.
pub const MAX_RULES: usize = 500;
/// Longest reason (characters).
pub const MAX_REASON: usize = 200;

/// What a rule does to the addresses inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IpRuleAction {
    /// Refuse every request (403 `ip-blocked`).
    Block,
    /// Exempt from every block rule.
    Allow,
}

/// One rule of the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IpRule {
    pub rule_id: String,
    /// The network, normalised (`203.0.113.0/24`, `2001:db8::/32`; a bare address is a /32 or /128).
    pub cidr: String,
    pub action: IpRuleAction,
    /// Why the rule exists (shown to admins and kept in the audit log).
    pub reason: String,
    /// RFC 3339; the rule is ignored from then on. `None`: until deleted.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The admin who made it.
    pub created_by: String,
}

impl IpRule {
    /// The rule's network (the stored `cidr` was normalised when the rule was made; an unreadable one never matches).
    fn net(&self) -> Option<IpNet> {
        parse_cidr(&self.cidr)
    }

    /// Epoch seconds of `expires_at`.
    fn expiry(&self) -> Option<i64> {
        self.expires_at.as_deref().and_then(|at| {
            OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        })
    }
}

/// Reads a CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a bare address (a single-address block) and normalises
/// it (host bits cleared, IPv4-mapped IPv6 written as IPv4), so one network has one spelling.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(text.parse::<IpAddr>().ok()?),
    };
    let net = match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            // `::ffff:10.0.0.0/104` is `10.0.0.0/8`: client addresses are compared in canonical form.
            Some(v4) if v6.prefix_len() >= 96 => {
                IpNet::V4(ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok()?)
            }
            _ => IpNet::V6(v6),
        },
        v4 => v4,
    };
    Some(net.trunc())
}

/// The stored list: every rule and the version a conditional write checks (the operations domain writes it at
/// the version it read, `Condition::at_version`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpRules {
    /// 0 while nothing was ever stored; each write adds one.
    pub version: i64,
    #[serde(default)]
    pub rules: Vec<IpRule>,
    /// RFC 3339 time of the last change.
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Entity for IpRules {
    const INFO: EntityInfo = EntityInfo::new(
        "ip_rules",
        KeyLayout::new(Shape::fixed("IPRULES"), Shape::fixed("IPRULES")),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[], &[])
    }
}

impl IpRules {
    /// Reads the list (empty, version 0, when none was ever stored).
    pub async fn load(table: &dyn Table) -> TableResult<Self> {
        match table.get(&Self::INFO.key(&[], &[])).await? {
            Some(item) => Self::from_item(item),
            None => Ok(Self::default()),
        }
    }

    /// What the guard checks: the live rules, their networks parsed once.
    fn compile(&self, now: i64) -> Compiled {
        let mut compiled = Compiled::default();
        for rule in &self.rules {
            let Some(net) = rule.net() else { continue };
            let expiry = rule.expiry();
            if expiry.is_some_and(|at| at <= now) {
                continue;
            }
            let entry = (net, expiry);
            match rule.action {
                IpRuleAction::Block => compiled.block.push(entry),
                IpRuleAction::Allow => compiled.allow.push(entry),
            }
        }
        compiled
    }
}

/// The live rules in memory. Expiries are kept so a rule that expires within the cache period stops applying at
/// its time, not up to [`CACHE_TTL`] later.
#[derive(Debug, Default)]
struct Compiled {
    block: Vec<(IpNet, Option<i64>)>,
    allow: Vec<(IpNet, Option<i64>)>,
}

impl Compiled {
    fn blocks(&self, ip: IpAddr, now: i64) -> bool {
        let hit = |rules: &[(IpNet, Option<i64>)]| {
            rules
                .iter()
                .any(|(net, expiry)| net.contains(&ip) && expiry.is_none_or(|at| at > now))
        };
        // Nearly every deployment has no block rule: answer without looking at the allow list.
        !self.block.is_empty() && hit(&self.block) && !hit(&self.allow)
    }
}

/// The per-process guard: the cached rules and their check. One per [`crate::Platform`] (cloned platforms share
/// it), so the function that changes the rules can drop its copy.
pub struct IpGuard {
    table: Arc<dyn Table>,
    clock: SharedClock,
    rules: Refreshing<Compiled>,
}

impl IpGuard {
    pub fn new(table: Arc<dyn Table>, clock: SharedClock) -> Self {
        Self {
            table,
            rules: Refreshing::new(clock.clone(), CACHE_TTL),
            clock,
        }
    }

    /// Whether requests from `ip` are refused. Reads the list only when this process's copy is older than
    /// [`CACHE_TTL`] (or was dropped by [`IpGuard::invalidate`]).
    pub async fn is_blocked(&self, ip: IpAddr) -> bool {
        let table = self.table.clone();
        let rules = self
            .rules
            .get("ip rules", |now| async move {
                IpRules::load(table.as_ref())
                    .await
                    .map(|list| list.compile(now))
            })
            .await;
        rules.blocks(ip, self.clock.now().unix_timestamp())
    }

    /// Drops this process's copy: the next request reads the list again (after a change made here).
    pub fn invalidate(&self) {
        self.rules.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidr: &str, action: IpRuleAction, expires_at: Option<&str>) -> IpRule {
        IpRule {
            rule_id: crate::ids::new_id(),
            cidr: parse_cidr(cidr).unwrap().to_string(),
            action,
            reason: "test".into(),
            expires_at: expires_at.map(str::to_string),
            created_at: "2026-01-01T00:00:00Z".into(),
            created_by: "admin".into(),
        }
    }

    fn compiled(rules: Vec<IpRule>, now: i64) -> Compiled {
        IpRules {
            version: 1,
            rules,
            updated_at: None,
        }
        .compile(now)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_are_normalised_and_bare_addresses_are_single_address_blocks() {
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_cidr(" 192.0.2.7 ").unwrap().to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            parse_cidr("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(
            parse_cidr("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "example.com", "::/129"] {
            assert!(parse_cidr(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_block_rule_refuses_its_network_and_nothing_else() {
        let rules = compiled(vec![rule("203.0.113.0/24", IpRuleAction::Block, None)], 0);
        assert!(rules.blocks(ip("203.0.113.9"), 0));
        assert!(!rules.blocks(ip("203.0.114.9"), 0));
        assert!(!rules.blocks(ip("2001:db8::1"), 0));
    }

    #[test]
    fn an_allow_rule_exempts_its_addresses_from_block_rules_and_refuses_nobody() {
        let rules = compiled(
            vec![
                rule("10.0.0.0/8", IpRuleAction::Block, None),
                rule("10.1.2.3", IpRuleAction::Allow, None),
                rule("192.0.2.0/24", IpRuleAction::Allow, None),
            ],
            0,
        );
        assert!(rules.blocks(ip("10.1.2.4"), 0));
        assert!(!rules.blocks(ip("10.1.2.3"), 0));
        assert!(
            !rules.blocks(ip("198.51.100.1"), 0),
            "allow-only is not a mode"
        );
    }

    #[test]
    fn expired_rules_are_ignored_even_within_the_cache_period() {
        let expiry = "2026-01-01T00:01:00Z";
        let at = OffsetDateTime::parse(expiry, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp();
        let rules = compiled(
            vec![rule("198.51.100.0/24", IpRuleAction::Block, Some(expiry))],
            at - 10,
        );
        assert!(rules.blocks(ip("198.51.100.1"), at - 1));
        assert!(!rules.blocks(ip("198.51.100.1"), at));
        assert!(
            compiled(
                vec![rule("198.51.100.0/24", IpRuleAction::Block, Some(expiry))],
                at
            )
            .block
            .is_empty()
        );
    }

    #[test]
    fn ipv6_networks_match_ipv6_clients() {
        let rules = compiled(vec![rule("2001:db8:1::/48", IpRuleAction::Block, None)], 0);
        assert!(rules.blocks(ip("2001:db8:1:2::5"), 0));
        assert!(!rules.blocks(ip("2001:db8:2::5"), 0));
    }
}
