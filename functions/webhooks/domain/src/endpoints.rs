//! Endpoints: where an account wants events delivered, which events, and the secrets that sign them.
//!
//! An endpoint is one item; beside it, while it is enabled, one [`Subscription`] item per event type it takes, in
//! the event type's partition, so the fan-out finds the endpoints of an event with one query (no scan, no filter
//! over every endpoint). They are written and removed in the endpoint's own transactions, so the two never
//! disagree. The owner's endpoints are listed through the owner index.

use lectern_messages::webhooks::EVENT_TYPES;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, TxOp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::errors::{WebhookError, WebhookResult};
use crate::sender::check_url;
use crate::service::Webhooks;
use crate::signing;

/// How long a rotated-out secret keeps signing (both signatures are sent), so receivers can switch over.
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 3600;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most endpoints an account may have: every event is sent once per endpoint, so endpoints multiply deliveries
/// (a soft limit: two creations racing at the limit may both pass).
pub const MAX_ENDPOINTS_PER_OWNER: usize = 20;
/// Why an endpoint was disabled: its owner did, it answered 410 Gone, it failed for five days.
pub const DISABLED_BY_OWNER: &str = "owner";
pub const DISABLED_GONE: &str = "gone";
pub const DISABLED_FAILING: &str = "failing";

/// The endpoint partition: `WEBHOOK#<endpoint_id>` (the endpoint and its delivery history).
pub const ENDPOINT_PK: Shape = Shape::new("WEBHOOK", &["endpoint_id"]);

/// An owner's endpoints: `WEBHOOK_OWNER#<owner_id>` / `<endpoint_id>`.
pub const BY_OWNER: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("WEBHOOK_OWNER", &["owner_id"]),
        Shape::values(&["endpoint_id"]),
    ),
);

/// A signing secret, sealed (bound to its endpoint). The first of an endpoint's list is the current one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecret {
    pub sealed: String,
    /// Set on a rotated-out secret: it signs until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// In the key only.
    #[serde(skip_serializing)]
    pub endpoint_id: String,
    pub owner_id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub secrets: Vec<StoredSecret>,
    /// When the current run of failed attempts began (cleared by a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Endpoint {
    pub fn key_of(endpoint_id: &str) -> Key {
        Self::INFO.key(&[endpoint_id], &[])
    }

    /// The subscription items this endpoint has while enabled.
    fn subscriptions(&self) -> Vec<Subscription> {
        self.event_types
            .iter()
            .map(|t| Subscription {
                event_type: t.clone(),
                endpoint_id: self.endpoint_id.clone(),
            })
            .collect()
    }

    /// The keys that sign now, current first (rotated-out ones until their overlap ends). Secrets that do not open
    /// are skipped and logged (a misconfigured ring must not stop the others).
    pub fn signing_keys(&self, webhooks: &Webhooks, now: i64) -> Vec<Vec<u8>> {
        self.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|at| at > now))
            .filter_map(|s| {
                match webhooks
                    .sealer
                    .open(&s.sealed, self.endpoint_id.as_bytes())
                {
                    Ok(secret) => signing::secret_key(&String::from_utf8_lossy(&secret)),
                    Err(e) => {
                        tracing::error!(error = %e, endpoint_id = %self.endpoint_id, "a signing secret does not open");
                        None
                    }
                }
            })
            .collect()
    }

    /// Writes that replace this endpoint's subscriptions `before` with its current ones.
    fn subscription_changes(&self, before: &[Subscription]) -> WebhookResult<Vec<TxOp>> {
        let now: Vec<Subscription> = if self.enabled {
            self.subscriptions()
        } else {
            Vec::new()
        };
        let mut ops = Vec::new();
        for old in before {
            if !now.contains(old) {
                ops.push(TxOp::Delete {
                    key: old.key(),
                    condition: Condition::Always,
                });
            }
        }
        for new in &now {
            if !before.contains(new) {
                ops.push(TxOp::Put {
                    item: new.to_item()?,
                    condition: Condition::Always,
                });
            }
        }
        Ok(ops)
    }

    /// The subscriptions it has in the table (none while disabled).
    fn stored_subscriptions(&self) -> Vec<Subscription> {
        if self.enabled {
            self.subscriptions()
        } else {
            Vec::new()
        }
    }
}

impl Entity for Endpoint {
    const INFO: EntityInfo = EntityInfo::new(
        "webhook_endpoint",
        KeyLayout::new(ENDPOINT_PK, Shape::fixed("ENDPOINT")),
    )
    .indexed(&[BY_OWNER]);

    fn key(&self) -> Key {
        Self::key_of(&self.endpoint_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![BY_OWNER.key(&[&self.owner_id], &[&self.endpoint_id])]
    }
}

/// An enabled endpoint takes an event type: `WEBHOOK_EVENT#<event_type>` / `<endpoint_id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// In the key only.
    #[serde(skip_serializing)]
    pub event_type: String,
    /// In the key only.
    #[serde(skip_serializing)]
    pub endpoint_id: String,
}

impl Entity for Subscription {
    const INFO: EntityInfo = EntityInfo::new(
        "webhook_subscription",
        KeyLayout::new(
            Shape::new("WEBHOOK_EVENT", &["event_type"]),
            Shape::values(&["endpoint_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.event_type], &[&self.endpoint_id])
    }
}

/// An endpoint as its owner sees it (never its secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointView {
    #[schema(example = "01J9Z8Q4V6Y7KX2M3N4P5R6S7T")]
    pub id: String,
    #[schema(example = "https://hooks.example.com/lectern")]
    pub url: String,
    pub description: String,
    /// The event types delivered to it (see the event catalogue).
    #[schema(example = json!(["user.registered"]))]
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it is disabled: `owner`, `gone` (it answered 410) or `failing` (every attempt failed for 5 days).
    pub disabled_reason: Option<String>,
    /// When its current run of failures began (epoch seconds), if it is failing.
    pub failing_since: Option<i64>,
    /// Epoch seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.endpoint_id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret: answered once, when it is created or its secret rotated.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The signing secret (`whsec_…`), shown this once: keep it where the receiver can verify with it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A new endpoint.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://` (a public host: private, loopback, link-local and metadata addresses are refused), at most 2000
    /// characters, no user name or password.
    #[schema(schema_with = url_schema)]
    pub url: String,
    /// At most 200 characters.
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Option<String>,
    /// One or more event types of the catalogue.
    #[schema(schema_with = event_types_schema)]
    pub event_types: Vec<String>,
}

/// The schema of an endpoint URL: https, an ASCII host name or address, an optional port, then anything
/// printable. Whether the host resolves to an address webhooks may reach depends on DNS, not on the URL.
fn url_schema() -> utoipa::openapi::Object {
    lectern_shared::http::constraints::string()
        .max_length(Some(crate::sender::MAX_URL_CHARS))
        .pattern(Some(
            r"^https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[1-9][0-9]{0,3})?(?:[/?#][^\x00-\x20\x7f]*)?$",
        ))
        .description(Some(
            "`https://` and a public host (private, loopback, link-local and metadata addresses are refused), \
             no user name or password.",
        ))
        .build()
}

/// The schema of a description: up to 200 characters, none of them a control character; `null` for none.
fn description_schema() -> utoipa::openapi::Object {
    lectern_shared::http::constraints::or_null(
        lectern_shared::http::constraints::string()
            .max_length(Some(MAX_DESCRIPTION_CHARS))
            .pattern(Some(format!(
                "^[^{}]*$",
                lectern_shared::http::constraints::CONTROL
            )))
            .build(),
    )
}

/// The schema of a list of event types: one or more names of the catalogue.
fn event_types_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .enum_values(Some(EVENT_TYPES)),
        )
        .min_items(Some(1))
        .description(Some(
            "One or more event types of the catalogue (duplicates count once).",
        ))
        .build()
}

/// Changes to an endpoint; what is left out stays.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChanges {
    #[schema(schema_with = url_schema)]
    pub url: Option<String>,
    #[schema(schema_with = description_schema)]
    pub description: Option<String>,
    #[schema(schema_with = event_types_schema)]
    pub event_types: Option<Vec<String>>,
    /// `true` enables it again (and forgets its failures); `false` stops deliveries.
    pub enabled: Option<bool>,
}

/// Validated URL, description and event types.
fn check_url_field(webhooks: &Webhooks, url: &str, errors: &mut Vec<(String, String)>) {
    if let Err(refused) = check_url(url.trim(), webhooks.platform.config.webhooks_allow_insecure) {
        errors.push(("url".into(), refused.to_string()));
    }
}

fn check_description(description: &str, errors: &mut Vec<(String, String)>) {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push((
            "description".into(),
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if description.chars().any(char::is_control) {
        errors.push(("description".into(), "no control characters".into()));
    }
}

/// The event types, deduplicated in catalogue order.
fn check_event_types(types: &[String], errors: &mut Vec<(String, String)>) -> Vec<String> {
    if types.is_empty() {
        errors.push(("event_types".into(), "name at least one event type".into()));
    }
    if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        let shown: String = unknown.chars().take(60).collect();
        errors.push((
            "event_types".into(),
            format!(
                "{shown:?} is not an event type (one of {})",
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    EVENT_TYPES
        .iter()
        .filter(|t| types.iter().any(|x| x == *t))
        .map(|t| t.to_string())
        .collect()
}

impl Webhooks {
    /// A new secret, sealed to `endpoint_id`.
    fn new_secret(&self, endpoint_id: &str) -> WebhookResult<(String, StoredSecret)> {
        let secret = signing::generate_secret();
        let sealed = self
            .sealer
            .seal(secret.as_bytes(), endpoint_id.as_bytes())
            .map_err(|e| WebhookError::Internal(format!("sealing a signing secret: {e}")))?;
        Ok((
            secret,
            StoredSecret {
                sealed,
                expires_at: None,
            },
        ))
    }

    /// Creates an endpoint of `owner_id`, enabled, with a new secret (answered once): one query (the owner's
    /// count) and one transaction (the endpoint and its subscriptions).
    pub async fn create(
        &self,
        owner_id: &str,
        input: NewEndpoint,
    ) -> WebhookResult<EndpointWithSecret> {
        let mut errors = Vec::new();
        check_url_field(self, &input.url, &mut errors);
        let description = input.description.unwrap_or_default().trim().to_string();
        check_description(&description, &mut errors);
        let event_types = check_event_types(&input.event_types, &mut errors);
        if !errors.is_empty() {
            return Err(WebhookError::Invalid(errors));
        }
        let existing = self
            .platform
            .table
            .query(BY_OWNER.query(&[owner_id]).limit(MAX_ENDPOINTS_PER_OWNER))
            .await?;
        if existing.items.len() >= MAX_ENDPOINTS_PER_OWNER {
            return Err(WebhookError::Conflict(format!(
                "an account has at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints; delete one first"
            )));
        }
        let now = self.now();
        let endpoint_id = lectern_shared::ids::new_id();
        let (secret, stored) = self.new_secret(&endpoint_id)?;
        let endpoint = Endpoint {
            endpoint_id,
            owner_id: owner_id.to_string(),
            url: input.url.trim().to_string(),
            description,
            event_types,
            enabled: true,
            disabled_reason: None,
            secrets: vec![stored],
            failing_since: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut ops = vec![TxOp::Put {
            item: endpoint.to_item()?,
            condition: Condition::NotExists,
        }];
        ops.extend(endpoint.subscription_changes(&[])?);
        self.platform.table.transact(ops).await?;
        tracing::info!(endpoint_id = %endpoint.endpoint_id, "webhook endpoint created");
        Ok(EndpointWithSecret {
            endpoint: EndpointView::from(&endpoint),
            secret,
        })
    }

    /// The endpoint if it exists (whoever owns it).
    pub async fn endpoint(&self, endpoint_id: &str) -> WebhookResult<Option<Endpoint>> {
        match self
            .platform
            .table
            .get(&Endpoint::key_of(endpoint_id))
            .await?
        {
            Some(item) => Ok(Some(Endpoint::from_item(item)?)),
            None => Ok(None),
        }
    }

    /// `owner_id`'s endpoint; another account's answers [`WebhookError::NotFound`] like a missing one.
    pub async fn owned(&self, owner_id: &str, endpoint_id: &str) -> WebhookResult<Endpoint> {
        match self.endpoint(endpoint_id).await? {
            Some(e) if e.owner_id == owner_id => Ok(e),
            _ => Err(WebhookError::NotFound),
        }
    }

    /// A page of the owner's endpoints, oldest first (one query of the owner index).
    pub async fn list(
        &self,
        owner_id: &str,
        limit: usize,
        position: Option<String>,
    ) -> WebhookResult<(Vec<EndpointView>, Option<String>)> {
        let page = self
            .platform
            .table
            .query(BY_OWNER.query(&[owner_id]).limit(limit).after(position))
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for item in page.items {
            items.push(EndpointView::from(&Endpoint::from_item(item)?));
        }
        Ok((items, page.cursor))
    }

    /// Writes `after` over `before` (conditional on the version read) with the subscription changes, and any
    /// `extra` writes, in one transaction.
    pub(crate) async fn save(
        &self,
        before: &Endpoint,
        mut after: Endpoint,
        extra: Vec<TxOp>,
    ) -> WebhookResult<Endpoint> {
        after.version = before.version + 1;
        let mut ops = vec![TxOp::Put {
            item: after.to_item()?,
            condition: Condition::at_version(before.version),
        }];
        ops.extend(after.subscription_changes(&before.stored_subscriptions())?);
        ops.extend(extra);
        match self.platform.table.transact(ops).await {
            Ok(()) => Ok(after),
            Err(lectern_shared::table::TableError::ConditionFailed) => Err(WebhookError::Conflict(
                "the endpoint changed meanwhile; read it and try again".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the owner's endpoint. Enabling it again forgets its failures.
    pub async fn update(
        &self,
        owner_id: &str,
        endpoint_id: &str,
        changes: EndpointChanges,
    ) -> WebhookResult<EndpointView> {
        let before = self.owned(owner_id, endpoint_id).await?;
        let mut after = before.clone();
        let mut errors = Vec::new();
        if let Some(url) = &changes.url {
            check_url_field(self, url, &mut errors);
            after.url = url.trim().to_string();
        }
        if let Some(description) = &changes.description {
            after.description = description.trim().to_string();
            check_description(&after.description, &mut errors);
        }
        if let Some(types) = &changes.event_types {
            after.event_types = check_event_types(types, &mut errors);
        }
        if !errors.is_empty() {
            return Err(WebhookError::Invalid(errors));
        }
        match changes.enabled {
            Some(true) => {
                after.enabled = true;
                after.disabled_reason = None;
                after.failing_since = None;
            }
            Some(false) if before.enabled => {
                after.enabled = false;
                after.disabled_reason = Some(DISABLED_BY_OWNER.into());
            }
            _ => {}
        }
        after.updated_at = self.now();
        let saved = self.save(&before, after, Vec::new()).await?;
        Ok(EndpointView::from(&saved))
    }

    /// Deletes the owner's endpoint and its subscriptions (its delivery history expires on its own; deliveries
    /// still queued find no endpoint and stop).
    pub async fn delete(&self, owner_id: &str, endpoint_id: &str) -> WebhookResult<()> {
        let endpoint = self.owned(owner_id, endpoint_id).await?;
        self.remove(&endpoint).await
    }

    /// Deletes an endpoint and its subscriptions in one transaction, conditional on the version read.
    pub(crate) async fn remove(&self, endpoint: &Endpoint) -> WebhookResult<()> {
        let mut ops = vec![TxOp::Delete {
            key: endpoint.key(),
            condition: Condition::at_version(endpoint.version),
        }];
        ops.extend(
            endpoint
                .stored_subscriptions()
                .iter()
                .map(|s| TxOp::Delete {
                    key: s.key(),
                    condition: Condition::Always,
                }),
        );
        match self.platform.table.transact(ops).await {
            Ok(()) => Ok(()),
            Err(lectern_shared::table::TableError::ConditionFailed) => Err(WebhookError::Conflict(
                "the endpoint changed meanwhile; try again".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A new signing secret (answered once). The previous one keeps signing beside it for
    /// [`ROTATION_OVERLAP_SECS`]; secrets whose overlap ended are dropped.
    pub async fn rotate(
        &self,
        owner_id: &str,
        endpoint_id: &str,
    ) -> WebhookResult<EndpointWithSecret> {
        let before = self.owned(owner_id, endpoint_id).await?;
        let now = self.now();
        let (secret, stored) = self.new_secret(endpoint_id)?;
        let mut after = before.clone();
        let overlap_end = now + ROTATION_OVERLAP_SECS;
        after.secrets = std::iter::once(stored)
            .chain(before.secrets.iter().filter_map(|s| match s.expires_at {
                None => Some(StoredSecret {
                    sealed: s.sealed.clone(),
                    expires_at: Some(overlap_end),
                }),
                Some(at) if at > now => Some(s.clone()),
                Some(_) => None,
            }))
            .collect();
        after.updated_at = now;
        let saved = self.save(&before, after, Vec::new()).await?;
        tracing::info!(endpoint_id, "webhook signing secret rotated");
        Ok(EndpointWithSecret {
            endpoint: EndpointView::from(&saved),
            secret,
        })
    }
}
