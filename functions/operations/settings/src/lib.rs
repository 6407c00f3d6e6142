//! The settings function: the public app settings (`GET /v1/settings`, no sign-in), the caller's evaluated feature
//! flags (`GET /v1/flags`), and their administration with the IP rules (`/v1/admin/settings`,
//! `/v1/admin/flags`, `/v1/admin/ip-rules`, all needing `settings:manage` and a session: an API key cannot change
//! what every account sees or who may reach the API).
//!
//! Every change is audited in the accounts' audit log (`settings_changed`, `flag_changed`, `ip_rule_changed`),
//! committed in the change's own transaction: this crate builds the record, the operations domain commits it.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use lectern_accounts::audit::{Action, AuditLog};
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::{Role, perm};
use lectern_accounts::service::Accounts;
use lectern_accounts::users::Tier;
use lectern_operations::Operations;
use lectern_operations::errors::OpsResult;
use lectern_operations::flags::{self, Context, Evaluated, Flag, FlagInput};
use lectern_operations::ip_rules::NewIpRule;
use lectern_operations::settings::{PublicSettings, Settings, StoredSettings};
use lectern_shared::http::auth::{self, Identity, SessionIdentity};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Path, Problem, Query, Routes};
use lectern_shared::ids::Id;
use lectern_shared::iprules::{IpRule, IpRules};
use lectern_shared::locale::{LOCALE_PROBLEM, valid_locale};
use lectern_shared::ratelimit::RouteClass;
use lectern_shared::table::{Entity, Item};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ops = State<Arc<Operations>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "settings", description = "App settings and the caller's feature flags"),
    (name = "operations", description = "Administering settings, feature flags and the IP block and allow lists"),
))]
struct ApiDoc;

/// The routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Arc<Operations>> {
    let routes = OpenApiRouter::new()
        .routes(routes!(public_settings))
        .routes(routes!(my_flags))
        .routes(routes!(admin_settings, replace_settings))
        .routes(routes!(list_flags))
        .routes(routes!(put_flag, delete_flag))
        .routes(routes!(list_ip_rules, add_ip_rule))
        .routes(routes!(delete_ip_rule));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The routes with the accounts authenticator installed (`GET /v1/settings` takes no identity, so it answers
/// without one).
pub fn router(operations: Arc<Operations>, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&operations.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(operations)
}

/// An audit record of an operations change: the accounts' audit event, with the change as its target.
fn audit(
    action: Action,
    who: &Identity,
    target: &str,
    client: &ClientInfo,
    ops: &Operations,
    details: Value,
) -> OpsResult<Item> {
    let details = match details {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Ok(AuditLog::event(
        action,
        Some(&who.user_id),
        target,
        client,
        ops.platform.clock.now(),
        details,
    )
    .to_item()?)
}

// ---- settings ----

/// The public app settings: support address, the oldest client each platform serves, the maintenance message,
/// the default locale, whether sign-up is open. No sign-in needed. Served from a copy at most 30 s old.
#[utoipa::path(get, path = "/v1/settings", tag = "settings", responses(
    (status = 200, body = PublicSettings)))]
pub(crate) async fn public_settings(State(ops): Ops) -> Json<PublicSettings> {
    Json(ops.public_settings().await)
}

/// The settings with their version, as an admin edits them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettingsView {
    /// Also the `ETag` (`"<version>"`); send it back as `If-Match`. 0 while never changed (the defaults).
    pub version: i64,
    pub settings: Settings,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

fn settings_answer(stored: StoredSettings) -> impl IntoResponse {
    let etag = HeaderValue::from_str(&format!("\"{}\"", stored.version))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    (
        [(header::ETAG, etag)],
        Json(SettingsView {
            version: stored.version,
            settings: stored.settings,
            updated_at: stored.updated_at,
            updated_by: stored.updated_by,
        }),
    )
}

/// Every setting, with its version as `ETag`. Needs `settings:manage`.
#[utoipa::path(get, path = "/v1/admin/settings", tag = "operations", security(("bearer" = [])), responses(
    (status = 200, body = SettingsView, headers(("ETag" = String, description = "The version, quoted"))),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used")))]
pub(crate) async fn admin_settings(
    State(ops): Ops,
    SessionIdentity(who): SessionIdentity,
) -> Result<impl IntoResponse> {
    who.require(perm::SETTINGS_MANAGE)?;
    Ok(settings_answer(ops.settings().await?))
}

/// The version an `If-Match` names (`"3"`); `None` when absent, a 400 naming the header when it names no version.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix('"')?.strip_suffix('"')?.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::invalid_fields(vec![(
                "header.if-match".into(),
                "the ETag of the version you read, e.g. \"3\"".into(),
            )])
        })
}

/// Replace every setting, against the version read (`If-Match: "<version>"`, from `GET /v1/admin/settings`).
/// Audited (`settings_changed`, with the names of the settings that changed). Needs `settings:manage`.
#[utoipa::path(put, path = "/v1/admin/settings", tag = "operations", security(("bearer" = [])),
    params(("If-Match" = String, Header, pattern = "^\"[0-9]{1,18}\"$", description = "The ETag of the version read, e.g. \"3\"")),
    request_body = Settings, responses(
    (status = 200, body = SettingsView, headers(("ETag" = String, description = "The new version, quoted"))),
    (status = 400, description = "`validation`: a setting out of shape (each named in `errors`), or no or a malformed `If-Match` (`header.if-match`)"),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used"),
    (status = 412, description = "`precondition-failed`: the settings changed since that version was read")))]
pub(crate) async fn replace_settings(
    State(ops): Ops,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    headers: HeaderMap,
    Json(input): Json<Settings>,
) -> Result<impl IntoResponse> {
    who.require(perm::SETTINGS_MANAGE)?;
    let record = |old: &Settings, new: &Settings| {
        let (old, new) = (json!(old), json!(new));
        let changed: Vec<&String> = new
            .as_object()
            .map(|n| {
                n.iter()
                    .filter(|(k, v)| old.get(*k) != Some(*v))
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        audit(
            Action::SettingsChanged,
            &who,
            "settings",
            &client,
            &ops,
            json!({"changed": changed}),
        )
    };
    let stored = ops
        .replace_settings(&who.user_id, input, if_match(&headers)?, record)
        .await?;
    Ok(settings_answer(stored))
}

// ---- flags ----

/// What the client declares about the caller, for flags targeted by age band or locale.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagQuery {
    /// The caller's locale (BCP 47), for flags targeted by locale.
    #[param(max_length = 35, pattern = "^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")]
    pub locale: Option<String>,
    /// The learner's age band (`0-3`, `4-5`, `6-7`, `8-10`, `11-13`, `14-17`, `18+`), for flags targeted by age.
    #[param(pattern = r"^(0-3|4-5|6-7|8-10|11-13|14-17|18\+)$")]
    pub age_band: Option<String>,
}

/// The caller's flags.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlagsView {
    /// Every flag by key, evaluated for the caller.
    pub flags: std::collections::BTreeMap<String, Evaluated>,
}

/// Every feature flag, evaluated for the caller (the account, or the profile of a device session): on or off and
/// the A/B variant. Stable: the same caller gets the same answer until the flag changes. Served from a copy at
/// most 30 s old. Needs `content:read` (every role and device session).
#[utoipa::path(get, path = "/v1/flags", tag = "settings", security(("bearer" = []), ("api_key" = [])),
    params(FlagQuery), responses(
    (status = 200, body = FlagsView),
    (status = 400, description = "`validation`: `query.locale` or `query.age_band` out of shape"),
    (status = 403, description = "`forbidden`: needs `content:read`")))]
pub(crate) async fn my_flags(
    State(ops): Ops,
    who: Identity,
    Query(q): Query<FlagQuery>,
) -> Result<Json<FlagsView>> {
    who.require(perm::CONTENT_READ)?;
    let mut problems = Vec::new();
    if q.locale.as_deref().is_some_and(|l| !valid_locale(l)) {
        problems.push(("query.locale".to_string(), LOCALE_PROBLEM.to_string()));
    }
    if q.age_band
        .as_deref()
        .is_some_and(|b| !flags::AGE_BANDS.contains(&b))
    {
        problems.push((
            "query.age_band".to_string(),
            "one of 0-3, 4-5, 6-7, 8-10, 11-13, 14-17, 18+".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(Problem::invalid_fields(problems));
    }
    let ctx = Context {
        account_id: who.user_id,
        profile_id: who.profile_id,
        roles: who.roles,
        tier: who.tier,
        age_band: q.age_band,
        locale: q.locale,
    };
    Ok(Json(FlagsView {
        flags: ops.evaluate_flags(&ctx).await,
    }))
}

/// Every flag, as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlagList {
    pub items: Vec<Flag>,
}

/// Every feature flag as stored. Needs `settings:manage`.
#[utoipa::path(get, path = "/v1/admin/flags", tag = "operations", security(("bearer" = [])), responses(
    (status = 200, body = FlagList),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used")))]
pub(crate) async fn list_flags(
    State(ops): Ops,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<FlagList>> {
    who.require(perm::SETTINGS_MANAGE)?;
    Ok(Json(FlagList {
        items: ops.flags().await?,
    }))
}

/// The names targeting may use, from the accounts' roles and tiers.
fn known_names() -> (Vec<&'static str>, Vec<&'static str>) {
    (
        Role::ALL.iter().map(|r| r.as_str()).collect(),
        Tier::ALL.iter().map(|t| t.as_str()).collect(),
    )
}

fn flag_record(
    who: &Identity,
    client: &ClientInfo,
    ops: &Operations,
    before: Option<&Flag>,
    after: Option<&Flag>,
) -> OpsResult<Item> {
    let key = after.or(before).map(|f| f.key.clone()).unwrap_or_default();
    let rule = |f: Option<&Flag>| f.map(|f| json!(f.rule));
    audit(
        Action::FlagChanged,
        who,
        "flags",
        client,
        ops,
        json!({"key": key, "before": rule(before), "after": rule(after)}),
    )
}

/// Create or replace a feature flag. Audited (`flag_changed`, the flag before and after). Needs
/// `settings:manage`. Seen by every function within 30 s.
#[utoipa::path(put, path = "/v1/admin/flags/{key}", tag = "operations", security(("bearer" = [])),
    params(("key" = String, Path, pattern = "^[a-z][a-z0-9._-]{0,63}$", description = "Lowercase letters, digits, `.`, `_`, `-`, starting with a letter, at most 64 characters")),
    request_body = FlagInput, responses(
    (status = 200, body = Flag),
    (status = 400, description = "`validation`: the key, a percentage over 100, an unknown role, tier, age band or locale, a bad or repeated variant, lists over 20"),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used"),
    (status = 409, description = "`conflict`: 200 flags exist already, or the flags kept changing meanwhile")))]
pub(crate) async fn put_flag(
    State(ops): Ops,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(key): Path<String>,
    Json(input): Json<FlagInput>,
) -> Result<Json<Flag>> {
    who.require(perm::SETTINGS_MANAGE)?;
    let (roles, tiers) = known_names();
    let flag = ops
        .put_flag(
            &who.user_id,
            &key,
            input,
            (&roles, &tiers),
            |before, after| flag_record(&who, &client, &ops, before, after),
        )
        .await?;
    Ok(Json(flag))
}

/// Delete a feature flag (callers get it no more). Audited. Needs `settings:manage`.
#[utoipa::path(delete, path = "/v1/admin/flags/{key}", tag = "operations", security(("bearer" = [])),
    params(("key" = String, Path, pattern = "^[a-z][a-z0-9._-]{0,63}$")), responses(
    (status = 204, description = "Deleted"),
    (status = 400, description = "`validation`: `path.key` is not a flag key"),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used"),
    (status = 404, description = "No such flag"),
    (status = 409, description = "`conflict`: the flags kept changing meanwhile")))]
pub(crate) async fn delete_flag(
    State(ops): Ops,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(key): Path<String>,
) -> Result<StatusCode> {
    who.require(perm::SETTINGS_MANAGE)?;
    ops.delete_flag(&key, |before, after| {
        flag_record(&who, &client, &ops, before, after)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- IP rules ----

/// Every IP rule, expired ones included.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IpRuleList {
    pub items: Vec<IpRule>,
}

impl From<IpRules> for IpRuleList {
    fn from(list: IpRules) -> Self {
        Self { items: list.rules }
    }
}

/// Every IP block and allow rule (expired ones too, until deleted). Needs `settings:manage`.
#[utoipa::path(get, path = "/v1/admin/ip-rules", tag = "operations", security(("bearer" = [])), responses(
    (status = 200, body = IpRuleList),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used")))]
pub(crate) async fn list_ip_rules(
    State(ops): Ops,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<IpRuleList>> {
    who.require(perm::SETTINGS_MANAGE)?;
    Ok(Json(ops.ip_rules().await?.into()))
}

fn rule_record(
    who: &Identity,
    client: &ClientInfo,
    ops: &Operations,
    change: &str,
    rule: &IpRule,
) -> OpsResult<Item> {
    audit(
        Action::IpRuleChanged,
        who,
        "ip-rules",
        client,
        ops,
        json!({"change": change, "rule": rule}),
    )
}

/// Add an IP rule. A `block` rule refuses every request from its network on every function with 403
/// `ip-blocked`; an `allow` rule exempts its network from every block rule (it refuses nobody). Applies here at
/// once and on every other function within 30 s. Audited (`ip_rule_changed`). Needs `settings:manage`.
#[utoipa::path(post, path = "/v1/admin/ip-rules", tag = "operations", security(("bearer" = [])),
    request_body = NewIpRule, responses(
    (status = 201, body = IpRule),
    (status = 400, description = "`validation`: not a CIDR block or address, no reason or one over 200 characters, an expiry not in the future"),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used"),
    (status = 409, description = "`conflict`: 500 rules exist already, or the rules kept changing meanwhile")))]
pub(crate) async fn add_ip_rule(
    State(ops): Ops,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<NewIpRule>,
) -> Result<(StatusCode, Json<IpRule>)> {
    who.require(perm::SETTINGS_MANAGE)?;
    let rule = ops
        .add_ip_rule(&who.user_id, input, |rule| {
            rule_record(&who, &client, &ops, "added", rule)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Delete an IP rule. Audited. Needs `settings:manage`.
#[utoipa::path(delete, path = "/v1/admin/ip-rules/{rule_id}", tag = "operations", security(("bearer" = [])),
    params(("rule_id" = inline(Id), Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "`forbidden`: needs `settings:manage`, or an API key was used"),
    (status = 404, description = "No such rule"),
    (status = 409, description = "`conflict`: the rules kept changing meanwhile")))]
pub(crate) async fn delete_ip_rule(
    State(ops): Ops,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(rule_id): Path<Id>,
) -> Result<StatusCode> {
    who.require(perm::SETTINGS_MANAGE)?;
    ops.delete_ip_rule(rule_id.as_str(), |rule| {
        rule_record(&who, &client, &ops, "deleted", rule)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_reads_a_quoted_version_and_nothing_else() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_MATCH, HeaderValue::from_static(v));
            if_match(&h).ok()
        };
        assert_eq!(if_match(&HeaderMap::new()).ok(), Some(None));
        assert_eq!(with("\"3\""), Some(Some(3)));
        for bad in ["3", "W/\"3\"", "*", "", "\"x\""] {
            assert_eq!(with(bad), None, "{bad}");
        }
    }
}
