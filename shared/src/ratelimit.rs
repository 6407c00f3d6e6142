//! Rate limits per client IP and per account, by route class, counted on the [`Table`] port so they hold across
//! every Lambda instance (DynamoDB) and in the dev server (embedded store) alike.
//!
//! Algorithm: fixed windows counted in a shared counter per subject and window
//! (`pk = RL#<class>#<scope>#<digest>`, `sk = <window start>#<window seconds>`, expiring after its window), spent
//! through **leases** so a request does not cost a write. An instance that needs tokens atomically adds a *share*
//! to the counter (one `update` that returns the new total) and spends that share locally; only when its share is
//! spent does it go back to the table. Shares start at 1 in each window and double on every lease up to a tenth of
//! the limit, so a busy subject costs about one write per `limit / 10` requests (≤ 0.1 writes per request) while a
//! quiet one never holds more than it used. Leasing is serialized per subject inside an instance.
//!
//! Accuracy: tokens are only ever spent after the shared counter has granted them, so **no burst across any number
//! of instances gets past the limit** — the counter's total bounds what all instances together can spend. The
//! error goes the other way: tokens an instance leased but did not spend before the window ended are lost to the
//! others, so with N busy instances a subject can be refused early, by at most the unspent part of each instance's
//! lease (never more than `limit / 10` per instance, and never more than that instance spent in the window). One
//! instance (the dev server, a warm Lambda) counts exactly. Once the counter says the limit is reached, an instance
//! refuses locally until the window ends, so a client hammering past its limit costs no writes at all.
//!
//! Leasing without waiting: a read (`GET`, `HEAD`) of the [`RouteClass::General`] class whose instance holds no
//! token runs its handler while the lease is on the way ([`alongside`]); the per-account check of the accounts'
//! authenticator runs beside its authenticating read the same way. If the counter refuses, the read's result is
//! thrown away and the client gets the 429, so no answer is ever given past the limit; the cost of a refusal is
//! at most one read per lease that comes back empty (after that the instance knows, and refuses locally). Writes,
//! and the auth and expensive classes, wait for their decision as before.
//!
//! Answering on credit: the first general-class read of a subject in a window on an instance
//! ([`RateLimiter::check_on_credit`]) does not wait for the lease at all. It spends one token *owed* to the
//! counter, and the lease (which covers the owed token first) completes in the background, holding the lease's
//! lock so the subject's next request on this instance waits for it and is counted exactly. So a Lambda cold start
//! with limits on answers after its own read, like one with limits off. The cost is in accuracy, and bounded: a
//! credited request is the only kind that can be answered past the limit, at most one per instance per subject
//! per window (when other instances had already spent the whole limit), and only for general reads — a class that
//! already fails open when the store fails. One instance (the dev server) still counts exactly: its credited
//! token is the first of the window. Auth, failure-counted and expensive limits never answer on credit.
//!
//! The known trade-off of fixed windows is that a client can spend a full allowance at the end of one window and
//! again at the start of the next (at most twice the limit within a window's length).
//!
//! Privacy: subjects (IPs, emails, user ids) never appear in keys in clear; the key holds a truncated SHA-256 of
//! the subject, or an HMAC under a server secret when [`RateLimiter::with_secret`] is used. Use the secret in
//! production: the IPv4 space is small enough to reverse a plain hash.
//!
//! IPv6 clients are counted per /64 (one customer's allocation), IPv4-mapped IPv6 as the IPv4 address.
//!
//! When the store fails: [`RouteClass::Auth`] and [`RouteClass::Expensive`] fail CLOSED (503 with
//! `Retry-After`), because an attacker who can make the store throttle must not gain unlimited password guesses
//! or unbounded costly work, and those routes need the same store to do anything useful anyway.
//! [`RouteClass::General`] fails OPEN (the request proceeds without rate-limit headers), so a hiccup of the
//! limiter's writes does not turn into an outage of ordinary reads. Both cases are logged.
//!
//! Headers: [`layer`] adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) to every
//! response of the routes it wraps, and answers 429 problem+json with `Retry-After` when over the limit.
//! Handlers make per-account checks themselves with [`RateLimiter::enforce`]; inside [`layer`] those decisions
//! are picked up too and the headers describe the most restrictive limit that applied.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::config::ConfigError;
use crate::http::Problem;
use crate::http::client::client_ip;
use crate::table::{Condition, EntityInfo, Key, KeyLayout, Shape, TTL, Table, TableError};

/// `RateLimit-Limit`: requests allowed in the current window.
pub const LIMIT_HEADER: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: requests left in the current window.
pub const REMAINING_HEADER: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the window ends.
pub const RESET_HEADER: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Rate-limit counters, written only by [`RateLimiter::check`]'s update (`n`, `ttl`).
pub const COUNTER: EntityInfo = EntityInfo::new(
    "rate_limit",
    KeyLayout::new(
        Shape::new("RL", &["class", "scope", "digest"]),
        Shape::values(&["window_start", "window_secs"]),
    ),
);
/// Counter attribute.
const COUNT: &str = "n";
/// Counters outlive their window by this much, so a slightly skewed clock elsewhere never reads a vanished one.
const TTL_SLACK_SECS: i64 = 60;
/// Hex characters of the subject digest kept in the key (128 bits: collisions are not a concern).
const DIGEST_HEX_CHARS: usize = 32;
/// What a fail-closed class tells clients to wait when the store is down.
const STORE_DOWN_RETRY_SECS: u64 = 5;
/// Longest accepted window.
const MAX_WINDOW_SECS: u64 = 86_400;
/// A lease is at most this fraction of the limit (so ≤ 1 write per `limit / LEASE_FRACTION` requests).
const LEASE_FRACTION: u32 = 10;
/// Leases kept in memory before those of ended windows are dropped.
const MAX_LEASES: usize = 10_000;

/// How costly or sensitive a group of routes is; each class has its own limits and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Login, registration, password reset, token refresh: strict, the brute-force target.
    Auth,
    /// Ordinary reads and writes.
    General,
    /// Work that costs real money or time: exports, uploads, sending mail, heavy queries.
    Expensive,
    /// Failed credential checks (a wrong password or 2FA code, an unknown refresh token) per client network: only
    /// failures are counted ([`RateLimiter::check`] after a check failed), and once the budget is spent the network's
    /// next checks are refused before they run ([`RateLimiter::spent`]). Successful sign-ins cost nothing, so a
    /// school behind one address is not throttled for signing in, while credential stuffing from it is.
    Failures,
}

impl RouteClass {
    /// Every class.
    pub const ALL: [RouteClass; 4] = [
        RouteClass::Auth,
        RouteClass::General,
        RouteClass::Expensive,
        RouteClass::Failures,
    ];

    /// The class's name in keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Auth => "auth",
            RouteClass::General => "general",
            RouteClass::Expensive => "expensive",
            RouteClass::Failures => "failures",
        }
    }

    /// Whether requests proceed when the counter store fails (see the module docs for why).
    pub fn fails_open(self) -> bool {
        matches!(self, RouteClass::General)
    }
}

/// At most `requests` per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub requests: u32,
    pub window: Duration,
}

impl Limit {
    /// `requests` per minute.
    pub const fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            window: Duration::from_secs(60),
        }
    }

    /// Parses `<requests>/<window seconds>`, e.g. `10/60`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (requests, window) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| "write <requests>/<window seconds>, e.g. 10/60".to_string())?;
        let requests: u32 = requests
            .trim()
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| "requests must be a whole number of at least 1".to_string())?;
        let window: u64 = window
            .trim()
            .parse()
            .ok()
            .filter(|s| (1..=MAX_WINDOW_SECS).contains(s))
            .ok_or_else(|| format!("window must be 1..={MAX_WINDOW_SECS} seconds"))?;
        Ok(Self {
            requests,
            window: Duration::from_secs(window),
        })
    }

    fn window_secs(&self) -> i64 {
        // Parsing bounds the window; clamp anyway so a hand-built Limit cannot divide by zero.
        self.window.as_secs().clamp(1, MAX_WINDOW_SECS) as i64
    }
}

/// One limit per route class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLimits {
    pub auth: Limit,
    pub general: Limit,
    pub expensive: Limit,
    pub failures: Limit,
}

impl ClassLimits {
    /// The limit of a class.
    pub fn get(&self, class: RouteClass) -> Limit {
        match class {
            RouteClass::Auth => self.auth,
            RouteClass::General => self.general,
            RouteClass::Expensive => self.expensive,
            RouteClass::Failures => self.failures,
        }
    }

    fn slot(&mut self, class: RouteClass) -> &mut Limit {
        match class {
            RouteClass::Auth => &mut self.auth,
            RouteClass::General => &mut self.general,
            RouteClass::Expensive => &mut self.expensive,
            RouteClass::Failures => &mut self.failures,
        }
    }
}

/// Rate-limit settings (`LECTERN_RATE_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `false` (`LECTERN_RATE_LIMITS=off`) turns every limit off: for tests and benchmarks only.
    pub enabled: bool,
    /// Limits per client IP (IPv6 per /64).
    pub per_ip: ClassLimits,
    /// Limits per account (user id, or a normalized email on routes before sign-in).
    pub per_account: ClassLimits,
}

impl Default for RateLimitConfig {
    /// A whole school or campus often shares one NAT address, so requests per IP are limited only as a flood
    /// guard (`auth`: 600 a minute); what stops guessing is the budget of *failed* checks per network (`failures`:
    /// 20 in 5 minutes) and the accounts' own lockout (per account and source). `failures` per account is unused
    /// (the lockout counts an account's failures).
    fn default() -> Self {
        Self {
            enabled: true,
            per_ip: ClassLimits {
                auth: Limit::per_minute(600),
                general: Limit::per_minute(300),
                expensive: Limit::per_minute(20),
                failures: FAILURES_PER_NETWORK,
            },
            per_account: ClassLimits {
                auth: Limit::per_minute(5),
                general: Limit::per_minute(600),
                expensive: Limit::per_minute(20),
                failures: FAILURES_PER_NETWORK,
            },
        }
    }
}

/// Failed credential checks one network may make in five minutes.
const FAILURES_PER_NETWORK: Limit = Limit {
    requests: 20,
    window: Duration::from_secs(300),
};

/// The variables that override each limit, by class and scope.
const VARS: [(RouteClass, Scope, &str); 7] = [
    (RouteClass::Failures, Scope::Ip, "LECTERN_RATE_FAILURES_IP"),
    (RouteClass::Auth, Scope::Ip, "LECTERN_RATE_AUTH_IP"),
    (
        RouteClass::Auth,
        Scope::Account,
        "LECTERN_RATE_AUTH_ACCOUNT",
    ),
    (RouteClass::General, Scope::Ip, "LECTERN_RATE_GENERAL_IP"),
    (
        RouteClass::General,
        Scope::Account,
        "LECTERN_RATE_GENERAL_ACCOUNT",
    ),
    (
        RouteClass::Expensive,
        Scope::Ip,
        "LECTERN_RATE_EXPENSIVE_IP",
    ),
    (
        RouteClass::Expensive,
        Scope::Account,
        "LECTERN_RATE_EXPENSIVE_ACCOUNT",
    ),
];

impl RateLimitConfig {
    /// Reads `LECTERN_RATE_LIMITS` (`on`/`off`) and the `LECTERN_RATE_<CLASS>_<IP|ACCOUNT>` limits
    /// (`<requests>/<window seconds>`) through a lookup function; unset variables keep the defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(v) = var("LECTERN_RATE_LIMITS") {
            config.enabled = match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError {
                        var: "LECTERN_RATE_LIMITS",
                        problem: format!("{v:?} is not on or off"),
                    });
                }
            };
        }
        for (class, scope, name) in VARS {
            if let Some(v) = var(name) {
                let limit =
                    Limit::parse(&v).map_err(|problem| ConfigError { var: name, problem })?;
                *config.limits_mut(scope).slot(class) = limit;
            }
        }
        Ok(config)
    }

    /// A configuration with every limit off.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    fn limits_mut(&mut self, scope: Scope) -> &mut ClassLimits {
        match scope {
            Scope::Ip => &mut self.per_ip,
            Scope::Account => &mut self.per_account,
        }
    }

    /// The limit that applies to a class and subject.
    pub fn limit(&self, class: RouteClass, subject: &Subject) -> Limit {
        match subject.scope() {
            Scope::Ip => self.per_ip.get(class),
            Scope::Account => self.per_account.get(class),
        }
    }
}

/// Whose requests are counted together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A client IP (IPv6 grouped per /64).
    Ip(IpAddr),
    /// Requests whose client IP is unknown (only in-process tests; on Lambda and in the dev server it is always
    /// known). They share one per-IP bucket, which errs on the side of limiting.
    UnknownIp,
    /// An account: a user id, or a normalized (trimmed, lowercased) email on routes before sign-in.
    Account(String),
}

impl Subject {
    /// The per-IP subject of a possibly unknown IP.
    pub fn ip(ip: Option<IpAddr>) -> Self {
        ip.map_or(Subject::UnknownIp, Subject::Ip)
    }

    fn scope(&self) -> Scope {
        match self {
            Subject::Ip(_) | Subject::UnknownIp => Scope::Ip,
            Subject::Account(_) => Scope::Account,
        }
    }

    /// The text that is hashed into the key: the IP (or its /64), or the account.
    fn material(&self) -> String {
        match self {
            Subject::Ip(ip) => match ip.to_canonical() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    format!("{prefix}/64")
                }
            },
            Subject::UnknownIp => "unknown".to_string(),
            Subject::Account(account) => account.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Ip,
    Account,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Account => "acct",
        }
    }
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether this request is within the limit.
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left in this window after this one.
    pub remaining: u32,
    /// Time until the window ends and the count starts over (at least one second).
    pub reset_after: Duration,
}

impl Decision {
    /// Whole seconds until the window ends, rounded up (what `RateLimit-Reset` and `Retry-After` say).
    pub fn reset_secs(&self) -> u64 {
        let secs = self.reset_after.as_secs() + u64::from(self.reset_after.subsec_nanos() > 0);
        secs.max(1)
    }

    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        [
            (LIMIT_HEADER, HeaderValue::from(self.limit)),
            (REMAINING_HEADER, HeaderValue::from(self.remaining)),
            (RESET_HEADER, HeaderValue::from(self.reset_secs())),
        ]
    }

    /// `Ok` when allowed, else a 429 problem with `Retry-After`.
    pub fn require(&self) -> Result<(), Problem> {
        if self.allowed {
            Ok(())
        } else {
            Err(Problem::rate_limited(self.reset_secs()))
        }
    }

    /// Of two decisions, the one a client must heed: a denial, else fewer remaining, else the later reset.
    pub fn most_restrictive(self, other: Decision) -> Decision {
        let rank = |d: &Decision| (d.allowed, d.remaining, std::cmp::Reverse(d.reset_after));
        if rank(&other) < rank(&self) {
            other
        } else {
            self
        }
    }
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` of a decision.
pub fn headers(decision: &Decision) -> [(HeaderName, HeaderValue); 3] {
    decision.headers()
}

tokio::task_local! {
    /// The most restrictive decision made while [`layer`] serves the current request.
    static OBSERVED: RefCell<Option<Decision>>;
}

fn observe(decision: Decision) {
    // Outside `layer` there is nothing to report to; that is fine.
    let _ = OBSERVED.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        *slot = Some(match *slot {
            Some(seen) => seen.most_restrictive(decision),
            None => decision,
        });
    });
}

/// Counts requests on the table and decides whether they are within their limits. Cheap to share in an `Arc`.
pub struct RateLimiter {
    table: Arc<dyn Table>,
    clock: SharedClock,
    config: RateLimitConfig,
    secret: Option<Vec<u8>>,
    /// This instance's leases, by counter (subject and window).
    leases: std::sync::Mutex<HashMap<Key, Arc<tokio::sync::Mutex<Lease>>>>,
}

/// What this instance holds of one subject's window.
#[derive(Debug, Default)]
struct Lease {
    /// Tokens granted by the shared counter and not yet spent here.
    available: u64,
    /// The highest total the shared counter has reported (tokens leased by every instance this window).
    leased_total: u64,
    /// The size of the next lease.
    next_share: u64,
    /// The counter has reached the limit: refuse without asking again until the window ends.
    exhausted: bool,
    /// End of the lease's window (epoch seconds), for dropping old leases.
    window_end: i64,
    /// Tokens spent on credit ([`RateLimiter::check_on_credit`]) that the next granted share must cover first.
    owed: u64,
}

impl Lease {
    /// Spends one token if one is held; the decision's `remaining` counts this instance's unspent tokens plus what
    /// the counter has not granted to anyone yet.
    fn spend(&mut self, limit: u32, reset_after: Duration) -> Option<Decision> {
        let limit64 = u64::from(limit);
        if self.available > 0 {
            self.available -= 1;
            let remaining = limit64.saturating_sub(self.leased_total) + self.available;
            return Some(Decision {
                allowed: true,
                limit,
                remaining: u32::try_from(remaining.min(limit64)).unwrap_or(limit),
                reset_after,
            });
        }
        self.exhausted.then_some(Decision {
            allowed: false,
            limit,
            remaining: 0,
            reset_after,
        })
    }

    /// Nothing leased, spent or refused here in this window yet: the one state in which a token may be lent.
    fn fresh(&self) -> bool {
        self.leased_total == 0 && self.available == 0 && self.owed == 0 && !self.exhausted
    }

    /// Takes what the shared counter granted for a lease of `share` that brought its total to `total`, covering
    /// owed tokens first. Returns how many owed tokens the grant did not cover (answered past the limit).
    fn grant(&mut self, share: u64, total: u64, limit: u32, cap: u64) -> u64 {
        let before = total.saturating_sub(share);
        let usable = u64::from(limit).saturating_sub(before).min(share);
        let covered = usable.min(self.owed);
        let uncovered = self.owed - covered;
        self.owed = 0;
        self.available += usable - covered;
        self.leased_total = self.leased_total.max(total);
        self.next_share = (share * 2).min(cap);
        self.exhausted = total >= u64::from(limit);
        uncovered
    }
}

impl RateLimiter {
    /// A limiter counting on `table`, taking "now" from `clock`. Subjects are hashed with plain SHA-256 in keys;
    /// prefer [`RateLimiter::with_secret`] in production.
    pub fn new(table: Arc<dyn Table>, clock: SharedClock, config: RateLimitConfig) -> Self {
        Self {
            table,
            clock,
            config,
            secret: None,
            leases: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Keys subject digests with HMAC-SHA256 under `secret` (e.g. the signing secret), so stored keys cannot be
    /// reversed into IPs or emails by trying every candidate.
    pub fn with_secret(mut self, secret: &[u8]) -> Self {
        self.secret = Some(secret.to_vec());
        self
    }

    /// The same limiter counting on another table (the counting test adapter wraps the platform's table).
    pub fn on_table(&self, table: Arc<dyn Table>) -> Self {
        Self {
            table,
            clock: self.clock.clone(),
            config: self.config.clone(),
            secret: self.secret.clone(),
            leases: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Counts one request of `subject` against its `class` limit. An `Err` means the store failed and nothing
    /// is known; [`RateLimiter::enforce`] applies the class's failure policy to it.
    pub async fn check(
        &self,
        class: RouteClass,
        subject: &Subject,
    ) -> Result<Decision, TableError> {
        self.check_with(class, subject, false).await
    }

    /// [`RateLimiter::check`] for a general-class read that may be answered on credit: when this instance has not
    /// counted `subject` in this window yet, one token is lent at once and the lease completes in the background
    /// (see "Answering on credit" above for what that costs in accuracy). Any other class is checked as usual.
    pub async fn check_on_credit(
        &self,
        class: RouteClass,
        subject: &Subject,
    ) -> Result<Decision, TableError> {
        self.check_with(class, subject, class == RouteClass::General)
            .await
    }

    /// [`RateLimiter::enforce`] through [`RateLimiter::check_on_credit`].
    pub async fn enforce_on_credit(
        &self,
        class: RouteClass,
        subject: &Subject,
    ) -> Result<Option<Decision>, Problem> {
        match self.check_on_credit(class, subject).await {
            Ok(decision) => decision.require().map(|()| Some(decision)),
            Err(error) => store_failed(class, &error).map(|()| None),
        }
    }

    async fn check_with(
        &self,
        class: RouteClass,
        subject: &Subject,
        credit: bool,
    ) -> Result<Decision, TableError> {
        let (limit, now, start, end, reset_after) = self.window(class, subject);
        let window = end - start;
        if !self.config.enabled {
            return Ok(Decision {
                allowed: true,
                limit: limit.requests,
                remaining: limit.requests,
                reset_after,
            });
        }
        let key = self.counter_key(class, subject, start, window);
        let lease = self.lease(&key, end, now);
        let cap = u64::from(limit.requests.div_ceil(LEASE_FRACTION).max(1));
        if credit
            && let Ok(mut fresh) = lease.clone().try_lock_owned()
            && fresh.fresh()
        {
            // Lend the token and lease in the background; the lease keeps the lock until it has settled.
            fresh.owed = 1;
            let table = self.table.clone();
            let requests = limit.requests;
            tokio::spawn(async move {
                let share = fresh.next_share.clamp(1, cap);
                match lease_share(table.as_ref(), &key, share, end).await {
                    Ok(total) => {
                        if fresh.grant(share, total, requests, cap) > 0 {
                            tracing::info!(
                                class = class.as_str(),
                                limit = requests,
                                "a request answered on credit was past the limit"
                            );
                        }
                    }
                    Err(error) => {
                        // The class fails open: forget the debt, as a failed check would have let it through.
                        fresh.owed = 0;
                        tracing::warn!(class = class.as_str(), error = %error, "rate-limit lease failed; allowing the request");
                    }
                }
            });
            let decision = Decision {
                allowed: true,
                limit: limit.requests,
                remaining: limit.requests.saturating_sub(1),
                reset_after,
            };
            observe(decision);
            return Ok(decision);
        }
        let mut lease = lease.lock().await;
        let decision = match lease.spend(limit.requests, reset_after) {
            Some(decision) => decision,
            None => {
                // Lease a share: one atomic add on the shared counter, which says how many of the share are
                // still within the limit.
                let share = lease.next_share.clamp(1, cap);
                let total = lease_share(self.table.as_ref(), &key, share, end).await?;
                lease.grant(share, total, limit.requests, cap);
                lease
                    .spend(limit.requests, reset_after)
                    .unwrap_or(Decision {
                        allowed: false,
                        limit: limit.requests,
                        remaining: 0,
                        reset_after,
                    })
            }
        };
        drop(lease);
        let allowed = decision.allowed;
        if !allowed {
            tracing::info!(
                class = class.as_str(),
                scope = subject.scope().as_str(),
                limit = limit.requests,
                reset_secs = decision.reset_secs(),
                "rate limit exceeded"
            );
        }
        observe(decision);
        Ok(decision)
    }

    /// Checks and applies the outcome: `Ok` when allowed, a 429 problem (`Retry-After`) when over the limit, and
    /// on a store failure either `Ok` without a decision (classes that fail open) or a 503 problem.
    /// Handlers use this for per-account limits, e.g. login with `Subject::Account(normalized_email)`.
    pub async fn enforce(
        &self,
        class: RouteClass,
        subject: &Subject,
    ) -> Result<Option<Decision>, Problem> {
        match self.check(class, subject).await {
            Ok(decision) => decision.require().map(|()| Some(decision)),
            Err(error) => store_failed(class, &error).map(|()| None),
        }
    }

    /// Counts a request of the [`RouteClass::Expensive`] class — one that costs real money or time: a presigned
    /// upload, a new API key, an email to an address the request names, a write fanned out over many items — per
    /// client IP and per `account` (`user:<id>` once signed in, the normalized email before), so neither many
    /// accounts behind one IP nor one account behind many IPs can run up the bill. 429 over either limit.
    pub async fn enforce_expensive(
        &self,
        ip: Option<IpAddr>,
        account: &str,
    ) -> Result<(), Problem> {
        self.enforce(RouteClass::Expensive, &Subject::ip(ip))
            .await?;
        self.enforce(
            RouteClass::Expensive,
            &Subject::Account(account.to_string()),
        )
        .await?;
        Ok(())
    }

    /// Whether `subject` has spent its `class` budget for the current window, as far as this instance knows — no
    /// store round trip. For budgets counted only on failure ([`RouteClass::Failures`]): check this before the
    /// guarded work, and count with [`RateLimiter::check`] when it failed. Another instance's spending becomes known
    /// here when this instance next leases, so across N instances a network gets at most about one extra failure
    /// per instance past its budget. `Some` is the 429 decision to answer with.
    pub fn spent(&self, class: RouteClass, subject: &Subject) -> Option<Decision> {
        if !self.config.enabled {
            return None;
        }
        let (limit, _, start, end, reset_after) = self.window(class, subject);
        let key = self.counter_key(class, subject, start, end - start);
        let lease = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned()?;
        // A lease being extended right now is not spent yet as far as anyone knows.
        let lease = lease.try_lock().ok()?;
        (lease.exhausted && lease.available == 0).then_some(Decision {
            allowed: false,
            limit: limit.requests,
            remaining: 0,
            reset_after,
        })
    }

    /// The limit of `class` for `subject` and its current fixed window: (limit, now, window start, window end,
    /// time until the end, at least a second).
    fn window(&self, class: RouteClass, subject: &Subject) -> (Limit, i64, i64, i64, Duration) {
        let limit = self.config.limit(class, subject);
        let window = limit.window_secs();
        let now = self.clock.epoch_seconds();
        let start = now.div_euclid(window) * window;
        let end = start + window;
        let reset_after = Duration::from_secs(u64::try_from(end - now).unwrap_or(1).max(1));
        (limit, now, start, end, reset_after)
    }

    /// A short keyed digest naming `subject` (its network, for an IP), unlinkable across `label`s: for other
    /// counters that must not hold IPs or emails in clear (the accounts' lockout per source).
    pub fn digest(&self, label: &str, subject: &Subject) -> String {
        let material = format!("{label}\0{}", subject.material());
        self.keyed_hex(&material)[..DIGEST_HEX_CHARS].to_string()
    }

    fn keyed_hex(&self, material: &str) -> String {
        match &self.secret {
            Some(secret) => match Hmac::<Sha256>::new_from_slice(secret) {
                Ok(mut mac) => {
                    mac.update(material.as_bytes());
                    hex::encode(mac.finalize().into_bytes())
                }
                // HMAC accepts keys of any length; this arm only satisfies the type.
                Err(_) => hex::encode(Sha256::digest(material.as_bytes())),
            },
            None => hex::encode(Sha256::digest(material.as_bytes())),
        }
    }

    /// This instance's lease of a counter, created empty; leases of ended windows are dropped once many are held.
    fn lease(&self, key: &Key, window_end: i64, now: i64) -> Arc<tokio::sync::Mutex<Lease>> {
        let mut leases = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if leases.len() >= MAX_LEASES {
            leases.retain(|_, lease| lease.try_lock().map_or(true, |l| l.window_end > now));
        }
        leases
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Lease {
                    window_end,
                    next_share: 1,
                    ..Lease::default()
                }))
            })
            .clone()
    }

    fn counter_key(&self, class: RouteClass, subject: &Subject, start: i64, window: i64) -> Key {
        let scope = subject.scope().as_str();
        // The class and scope are bound into the digest too, so one subject's keys are unlinkable across them.
        let material = format!("{}\0{scope}\0{}", class.as_str(), subject.material());
        let digest = self.keyed_hex(&material);
        COUNTER.key(
            &[class.as_str(), scope, &digest[..DIGEST_HEX_CHARS]],
            &[&start.to_string(), &window.to_string()],
        )
    }
}

/// Adds `share` to the counter at `key` (window ending at `end`) in one atomic update; the counter's new total.
async fn lease_share(
    table: &dyn Table,
    key: &Key,
    share: u64,
    end: i64,
) -> Result<u64, TableError> {
    let update = COUNTER
        .update()
        .add(COUNT, i64::try_from(share).unwrap_or(1))
        .set_if_absent(TTL, end + TTL_SLACK_SECS);
    let item = table.update(key, update, Condition::Always).await?;
    let total = item
        .get(COUNT)
        .and_then(Value::as_i64)
        .ok_or_else(|| TableError::Invalid("rate-limit counter is not a whole number".into()))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// The failure policy: `Ok` for classes that fail open, else a 503 problem. Logs either way.
fn store_failed(class: RouteClass, error: &TableError) -> Result<(), Problem> {
    if class.fails_open() {
        tracing::warn!(class = class.as_str(), error = %error, "rate-limit store failed; allowing the request");
        Ok(())
    } else {
        tracing::error!(class = class.as_str(), error = %error, "rate-limit store failed; refusing the request");
        Err(
            Problem::unavailable("rate limiting is temporarily unavailable; retry shortly")
                .retry_after(STORE_DOWN_RETRY_SECS),
        )
    }
}

/// Middleware applying the per-IP limit of `class` to the routes it wraps (use `Router::route_layer` so unknown
/// paths are not counted). Every response carries the `RateLimit-*` headers of the most restrictive limit that
/// applied (this one or a handler's [`RateLimiter::enforce`]); over the limit, the route is not run and the answer
/// is 429 problem+json with `Retry-After`. The client IP comes from [`crate::http::client`], never from headers.
pub fn layer(limiter: Arc<RateLimiter>, class: RouteClass) -> RateLimitLayer {
    RateLimitLayer { limiter, class }
}

/// The tower layer made by [`layer`].
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
    class: RouteClass,
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            class: self.class,
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: Arc<RateLimiter>,
    class: RouteClass,
}

impl<S> tower::Service<Request> for RateLimitService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone is not ready; keep the one that is (the usual tower pattern).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        let class = self.class;
        Box::pin(async move { Ok(limit_request(limiter, class, request, inner).await) })
    }
}

async fn limit_request<S>(
    limiter: Arc<RateLimiter>,
    class: RouteClass,
    request: Request,
    mut inner: S,
) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    if !limiter.config.enabled {
        return match inner.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let subject = Subject::ip(client_ip(request.extensions()));
    // A read of the general class may run while its lease is on the way (see `alongside`); anything else waits.
    let overlap = class == RouteClass::General && request.method().is_safe();
    let serve = OBSERVED.scope(RefCell::new(None), async move {
        let response = match inner.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        (response, OBSERVED.with(|slot| *slot.borrow()))
    });
    let (checked, served) = if overlap {
        let check = limiter.check_on_credit(class, &subject);
        alongside(check, serve, |c| proceeds(class, c)).await
    } else {
        let checked = limiter.check(class, &subject).await;
        let served = if proceeds(class, &checked) {
            Some(serve.await)
        } else {
            None
        };
        (checked, served)
    };
    let own = match checked {
        Ok(decision) if !decision.allowed => {
            // Refused: whatever a read did meanwhile is not answered.
            let mut response = Problem::rate_limited(decision.reset_secs()).into_response();
            set_headers(response.headers_mut(), decision);
            return response;
        }
        Ok(decision) => Some(decision),
        Err(error) => match store_failed(class, &error) {
            Ok(()) => None,
            Err(problem) => return problem.into_response(),
        },
    };
    let Some((response, observed)) = served else {
        // Unreachable: an allowed request, or a store failure of a class that fails open, was served.
        return Problem::internal().into_response();
    };
    let mut response = response;
    let strictest = match (own, observed) {
        (Some(a), Some(b)) => Some(a.most_restrictive(b)),
        (a, b) => a.or(b),
    };
    if let Some(decision) = strictest {
        set_headers(response.headers_mut(), decision);
    }
    response
}

/// Writes the decision's headers unless an inner layer already reported a tighter limit.
/// Whether a request goes on after its check: allowed, or the store failed and the class fails open.
fn proceeds(class: RouteClass, checked: &Result<Decision, TableError>) -> bool {
    match checked {
        Ok(decision) => decision.allowed,
        Err(_) => class.fails_open(),
    }
}

/// Runs `work` alongside `check` when the check has to wait (for the table: this instance holds no tokens and
/// must lease a share), else only when `go` says the check's answer lets it: the work's answer is `None` when it
/// did not run. A check this instance answers by itself (a token in hand, or the limit known to be reached) is
/// decided before any work starts, so a client past its limit costs no work at all.
///
/// Callers use it only for work they may throw away — reads — and never answer with the work's result when the
/// check refuses: what the limit bounds is answers, and it holds exactly. What overlapping buys is the lease's
/// round trip, which otherwise comes before the request's own reads: the first request of an instance (a Lambda
/// cold start) and each renewal of a share wait for one round trip instead of two or three.
pub async fn alongside<C, W>(
    check: impl Future<Output = C>,
    work: W,
    go: impl FnOnce(&C) -> bool,
) -> (C, Option<W::Output>)
where
    W: Future,
{
    let mut check = std::pin::pin!(check);
    let early = std::future::poll_fn(|cx| Poll::Ready(check.as_mut().poll(cx))).await;
    match early {
        Poll::Ready(checked) => {
            let done = if go(&checked) { Some(work.await) } else { None };
            (checked, done)
        }
        Poll::Pending => {
            let (checked, done) = futures::future::join(check, work).await;
            (checked, Some(done))
        }
    }
}

fn set_headers(headers: &mut HeaderMap, decision: Decision) {
    let inner_remaining = headers
        .get(&REMAINING_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    if inner_remaining.is_some_and(|r| r < decision.remaining) {
        return;
    }
    for (name, value) in decision.headers() {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<RateLimitConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RateLimitConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = with(&[]).unwrap();
        assert_eq!(defaults, RateLimitConfig::default());
        assert!(defaults.enabled);
        assert!(defaults.per_account.auth.requests < defaults.per_ip.auth.requests);

        let c = with(&[
            ("LECTERN_RATE_AUTH_IP", " 7/30 "),
            ("LECTERN_RATE_EXPENSIVE_ACCOUNT", "2/3600"),
        ])
        .unwrap();
        assert_eq!(
            c.per_ip.auth,
            Limit {
                requests: 7,
                window: Duration::from_secs(30)
            }
        );
        assert_eq!(c.per_account.expensive.requests, 2);
        assert_eq!(c.per_account.expensive.window, Duration::from_secs(3600));
        assert_eq!(c.per_ip.general, defaults.per_ip.general);

        assert!(!with(&[("LECTERN_RATE_LIMITS", "off")]).unwrap().enabled);
        assert!(with(&[("LECTERN_RATE_LIMITS", "ON")]).unwrap().enabled);
    }

    #[test]
    fn bad_values_are_named() {
        for (var, value) in [
            ("LECTERN_RATE_LIMITS", "maybe"),
            ("LECTERN_RATE_AUTH_IP", "10"),
            ("LECTERN_RATE_AUTH_ACCOUNT", "0/60"),
            ("LECTERN_RATE_GENERAL_IP", "10/0"),
            ("LECTERN_RATE_GENERAL_ACCOUNT", "-1/60"),
            ("LECTERN_RATE_EXPENSIVE_IP", "10/86401"),
            ("LECTERN_RATE_EXPENSIVE_ACCOUNT", "ten/60"),
        ] {
            assert_eq!(with(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
    }

    #[test]
    fn ipv6_is_grouped_per_64_and_mapped_v4_is_v4() {
        let a = Subject::Ip("2001:db8:1:2::1".parse().unwrap()).material();
        let b = Subject::Ip("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap()).material();
        let c = Subject::Ip("2001:db8:1:3::1".parse().unwrap()).material();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Subject::Ip("::ffff:192.0.2.1".parse().unwrap()).material(),
            Subject::Ip("192.0.2.1".parse().unwrap()).material()
        );
    }

    #[test]
    fn most_restrictive_prefers_denial_then_fewest_remaining() {
        let d = |allowed, remaining, secs| Decision {
            allowed,
            limit: 10,
            remaining,
            reset_after: Duration::from_secs(secs),
        };
        assert_eq!(
            d(true, 5, 10).most_restrictive(d(true, 2, 10)),
            d(true, 2, 10)
        );
        assert_eq!(
            d(true, 0, 10).most_restrictive(d(false, 0, 5)),
            d(false, 0, 5)
        );
        assert_eq!(
            d(false, 0, 5).most_restrictive(d(false, 0, 30)),
            d(false, 0, 30)
        );
        assert_eq!(
            d(true, 2, 10).most_restrictive(d(true, 3, 1)),
            d(true, 2, 10)
        );
    }

    #[test]
    fn reset_rounds_up_and_is_never_zero() {
        let d = |reset_after| Decision {
            allowed: false,
            limit: 1,
            remaining: 0,
            reset_after,
        };
        assert_eq!(d(Duration::from_millis(1500)).reset_secs(), 2);
        assert_eq!(d(Duration::ZERO).reset_secs(), 1);
        let problem = d(Duration::from_secs(7)).require().unwrap_err();
        assert_eq!(problem.status, 429);
        assert_eq!(problem.retry_after, Some(7));
    }
}
