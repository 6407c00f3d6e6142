//! A small client for the account flows of the end-to-end tests: JSON requests, outbox reading, and the usual
//! "registered, verified and signed in" starting point.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::DevServer;

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A response: status, headers, JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a whole response.
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// The `errors[].field` names of a problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The problem `type` slug (`validation`, `invalid-credentials`, ...), when the body is a problem.
    pub fn problem_type(&self) -> Option<&str> {
        self.body["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("https://lectern.dev/problems/"))
    }
}

/// Signed-in tokens of a user.
#[derive(Clone, Debug)]
pub struct Signed {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

/// The API of one dev server.
pub struct Api<'a> {
    pub server: &'a DevServer,
    pub http: reqwest::Client,
}

impl<'a> Api<'a> {
    pub fn new(server: &'a DevServer) -> Self {
        Self {
            server,
            http: reqwest::Client::builder()
                .user_agent("lectern-e2e/1.0")
                .build()
                .expect("client"),
        }
    }

    /// Sends a request; `bearer` authenticates, `body` is sent as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.server.url(path));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, bearer, Some(body)).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.call(Method::GET, path, bearer, None).await
    }

    /// The outbox folder of this server.
    pub fn outbox(&self) -> PathBuf {
        self.server.dir.path().join("outbox")
    }

    /// Waits for at least `n` emails to `to` and returns their decoded texts, oldest first.
    pub async fn mails_to(&self, to: &str, n: usize) -> Vec<String> {
        let mut found = Vec::new();
        for _ in 0..200 {
            found = lectern_shared::mail::embedded::read_outbox(&self.outbox())
                .into_iter()
                .map(|(_, text)| decode_quoted_printable(&text))
                .filter(|text| {
                    text.lines()
                        .any(|l| l.eq_ignore_ascii_case(&format!("To: {to}")))
                })
                .collect();
            if found.len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found
    }

    /// The token in the newest `<page>?token=...` link mailed to `to` (waits for `n` emails first).
    pub async fn mailed_token(&self, to: &str, page: &str, n: usize) -> String {
        let mails = self.mails_to(to, n).await;
        let needle = format!("/{page}?token=");
        mails
            .iter()
            .rev()
            .find_map(|m| {
                m.split(&needle).nth(1).map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                        .collect::<String>()
                })
            })
            .unwrap_or_else(|| panic!("no {page} link mailed to {to}"))
    }

    /// Registers `email`, verifies it through the mailed link, and signs in.
    pub async fn signed_up(&self, email: &str) -> Signed {
        let reply = self
            .post(
                "/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "display_name": "Test User"}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "register: {:?}",
            reply.body
        );
        let token = self.mailed_token(email, "verify-email", 1).await;
        let reply = self
            .post("/v1/auth/verify-email", None, json!({"token": token}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "verify: {:?}",
            reply.body
        );
        self.login(email).await
    }

    /// Signs in with [`PASSWORD`] (the account must not have 2FA on).
    pub async fn login(&self, email: &str) -> Signed {
        let reply = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login: {:?}", reply.body);
        assert_eq!(reply.body["status"], "authenticated", "{:?}", reply.body);
        let me = self
            .get("/v1/users/me", reply.body["access_token"].as_str())
            .await;
        Signed {
            user_id: me.body["user_id"].as_str().expect("user id").to_string(),
            email: email.to_string(),
            access: reply.body["access_token"]
                .as_str()
                .expect("access")
                .to_string(),
            refresh: reply.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_string(),
            session_id: reply.body["session_id"]
                .as_str()
                .expect("session")
                .to_string(),
        }
    }

    /// Registers, verifies and makes `email` the first admin (through the bootstrap path), then signs in again.
    pub async fn admin(&self, email: &str) -> Signed {
        self.signed_up(email).await;
        let accounts = crate::test_accounts(self.server.platform.clone());
        assert!(
            accounts
                .bootstrap_admin(email)
                .await
                .expect("bootstrap admin"),
            "no admin existed yet"
        );
        self.login(email).await
    }
}

/// Decodes quoted-printable (soft line breaks and `=XX` escapes) so links can be read from `.eml` files.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
