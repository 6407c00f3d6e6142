//! Webhooks for integrators, per the Standard Webhooks specification.
//!
//! Other domains publish events as [`lectern_messages::WebhookEvent`] jobs (through their outbox, in the
//! transaction of the change they report). The jobs worker runs this library's two handlers:
//! [`deliveries::FanOut`] finds the endpoints subscribed to the event's type (one query of the type's partition)
//! and makes one delivery per endpoint, and [`deliveries::Deliver`] makes each attempt, signed, through the
//! SSRF-safe [`sender`], with the specification's retry schedule carried by chains of delayed jobs. The HTTP
//! function `webhooks` (`functions/webhooks/endpoints`) serves `/v1/webhooks`.
//!
//! # Key design
//!
//! | entity | pk / sk | index | access pattern |
//! |---|---|---|---|
//! | `webhook_endpoint` | `WEBHOOK#<endpoint_id>` / `ENDPOINT` | gsi1 `WEBHOOK_OWNER#<owner_id>` / `<endpoint_id>` | get by id (owner checked), an owner's list |
//! | `webhook_subscription` | `WEBHOOK_EVENT#<event_type>` / `<endpoint_id>` | — | the fan-out: the enabled endpoints of one event type, one query; written with the endpoint |
//! | `webhook_delivery` | `WEBHOOK#<endpoint_id>` / `DELIVERY#<message_id>` (TTL: [`deliveries::HISTORY_RETENTION_SECS`]) | — | the body sent and each attempt's outcome; the history, newest first (message ids are ULIDs) |
//!
//! Why the jobs queue: a delivery is a few seconds of I/O at most (connect 5 s, whole request 15 s), well within
//! the jobs worker's timeout, and its schedule is carried by the jobs themselves (re-checking `due_at`), so it
//! needs no queue of its own; the endpoint's state decides, not the queue.

pub mod deliveries;
pub mod endpoints;
pub mod erasure;
pub mod errors;
pub mod export;
pub mod sender;
pub mod service;
pub mod signing;

pub use errors::{WebhookError, WebhookResult};
pub use service::Webhooks;

use lectern_shared::table::{Entity, EntityInfo};

/// Every entity this library stores (checked with every other crate's by `tests/architecture/keys.rs`).
pub const ENTITIES: &[EntityInfo] = &[
    endpoints::Endpoint::INFO,
    endpoints::Subscription::INFO,
    deliveries::Delivery::INFO,
];
