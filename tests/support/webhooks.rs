//! The webhook routes as the tests use them (one helper per route, on [`Client`]), and a receiver: a local HTTP
//! server that records what it is sent, answers a scripted status, and verifies signatures as the Standard
//! Webhooks specification tells receivers to (written here from the specification, not with the sender's code).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::Value;
use sha2::Sha256;

use crate::api::{Auth, Body, Client, Reply};

impl Client {
    // --- /v1/webhooks --------------------------------------------------------------------------------------------

    /// `POST /v1/webhooks`.
    pub async fn create_webhook<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.send(Method::POST, "/v1/webhooks", auth.into(), Body::Json(body))
            .await
    }

    /// `GET /v1/webhooks?{query}`.
    pub async fn webhooks<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = if query.is_empty() {
            "/v1/webhooks".to_string()
        } else {
            format!("/v1/webhooks?{query}")
        };
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    /// `GET /v1/webhooks/{id}`.
    pub async fn webhook<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/webhooks/{id}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    /// `PATCH /v1/webhooks/{id}`.
    pub async fn patch_webhook<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/webhooks/{id}");
        self.send(Method::PATCH, &path, auth.into(), Body::Json(body))
            .await
    }

    /// `DELETE /v1/webhooks/{id}`.
    pub async fn delete_webhook<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/webhooks/{id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    /// `POST /v1/webhooks/{id}/rotate-secret`.
    pub async fn rotate_webhook_secret<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/webhooks/{id}/rotate-secret");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }

    /// `POST /v1/webhooks/{id}/test`.
    pub async fn test_webhook<'t>(&self, auth: impl Into<Auth<'t>>, id: &str) -> Reply {
        let path = format!("/v1/webhooks/{id}/test");
        self.send(Method::POST, &path, auth.into(), Body::Empty)
            .await
    }

    /// `GET /v1/webhooks/{id}/deliveries?{query}`.
    pub async fn webhook_deliveries<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        id: &str,
        query: &str,
    ) -> Reply {
        let path = format!("/v1/webhooks/{id}/deliveries?{query}");
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// Verifies the signature with `secret` as the specification says: the key is the base64 after `whsec_`, the
    /// signed content `id.timestamp.body`, and the header a space-separated list of `v1,<base64>` of which one
    /// must match.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = STANDARD.encode(mac.finalize().into_bytes());
        self.signature
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .any(|(version, sig)| version == "v1" && sig == expected)
    }

    /// How many signatures the header carries.
    pub fn signatures(&self) -> usize {
        self.signature.split(' ').count()
    }
}

#[derive(Default)]
struct Script {
    /// Statuses to answer, in order; once empty, `then`.
    statuses: VecDeque<u16>,
    then: u16,
    received: Vec<Received>,
}

/// A receiver on 127.0.0.1 (reachable only with the development switch on).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    /// Starts a receiver that answers `statuses` in order, then `then` for ever.
    pub async fn start(statuses: &[u16], then: u16) -> Self {
        let script = Arc::new(Mutex::new(Script {
            statuses: statuses.iter().copied().collect(),
            then,
            received: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            script,
        }
    }

    /// From now on answers `status`.
    pub fn answer(&self, status: u16) {
        let mut script = self.script.lock().expect("lock");
        script.statuses.clear();
        script.then = status;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().expect("lock").received.clone()
    }

    /// Waits until at least `n` requests arrived and answers them.
    pub async fn await_requests(&self, n: usize) -> Vec<Received> {
        let found = crate::poll(async || {
            let received = self.received();
            (received.len() >= n).then_some(received)
        })
        .await;
        found.unwrap_or_else(|| panic!("{n} requests did not arrive: {:?}", self.received()))
    }
}

async fn receive(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut script = script.lock().expect("lock");
    let status = script.statuses.pop_front().unwrap_or(script.then);
    script.received.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
        status,
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
