//! The API as the end-to-end tests use it: a [`Client`] with one helper per route, [`Reply`] to read what came
//! back, the problem assertions, and [`Api`], the client of one [`DevServer`] (sign-up through the outbox, admins
//! through the bootstrap path, the server's clock).

use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::DevServer;

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A second password that passes the policy.
pub const NEW_PASSWORD: &str = "a brand new passphrase for tests";

/// The `User-Agent` of every request (sessions record it).
pub const USER_AGENT: &str = "lectern-e2e/1.0";

const PROBLEM_PREFIX: &str = "https://lectern.dev/problems/";

// ---------------------------------------------------------------------------------------------------------------
// Replies and assertions
// ---------------------------------------------------------------------------------------------------------------

/// A response: what was asked, status, headers, JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// `METHOD /path` and the start of a JSON body, to say which request a failed assertion is about.
    pub request: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a whole response.
    pub async fn read(resp: reqwest::Response) -> Self {
        let url = resp.url();
        let request = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        Reply {
            request,
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Asserts the status, showing the request and the body when it differs; answers the reply for chaining.
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{self}");
        self
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
            .and_then(|t| t.strip_prefix(PROBLEM_PREFIX))
    }

    /// `errors[]` as one lowercase text (fields and messages), to look for a named field.
    pub fn errors_text(&self) -> String {
        self.body["errors"].to_string().to_lowercase()
    }

    /// The body without its per-request parts, to compare two answers.
    pub fn comparable(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove("request_id");
        }
        body
    }

    /// A header that must be there, as text.
    #[track_caller]
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .expect("ascii header")
    }

    /// A string field of the body that must be there.
    #[track_caller]
    pub fn text(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {self}"))
            .to_string()
    }

    /// The `items` of a list answer.
    #[track_caller]
    pub fn items(&self) -> Vec<Value> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {self}"))
            .clone()
    }

    /// The body as an array (the lists that do not page).
    #[track_caller]
    pub fn list(&self) -> Vec<Value> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {self}"))
            .clone()
    }

    /// The item of an audit list with this `action` (the newest, lists being newest first).
    #[track_caller]
    pub fn event(&self, action: &str) -> Value {
        self.items()
            .into_iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {:?}", self.actions()))
    }

    /// The `action` of each item of an audit list.
    pub fn actions(&self) -> Vec<String> {
        self.items()
            .iter()
            .map(|e| e["action"].as_str().expect("action").to_string())
            .collect()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {}: {}",
            self.request, self.status, self.body
        )
    }
}

/// Asserts status, problem type slug and the problem content type, showing the request and body when they differ.
#[track_caller]
pub fn assert_problem(reply: &Reply, status: u16, slug: &str) {
    assert_problem_about(reply, status, slug, "");
}

/// [`assert_problem`], saying `what` the request was about when it fails.
#[track_caller]
fn assert_problem_about(reply: &Reply, status: u16, slug: &str, what: &str) {
    assert_eq!(reply.status.as_u16(), status, "{what} status of {reply}");
    assert_eq!(
        reply.problem_type(),
        Some(slug),
        "{what} problem type of {reply}"
    );
    assert_eq!(
        reply.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..]),
        "{what} problem content type of {reply}: {:?}",
        reply.headers
    );
}

/// Asserts a validation problem whose `errors` name `field`.
#[track_caller]
pub fn assert_validation(reply: &Reply, field: &str) {
    assert_problem(reply, 400, "validation");
    assert!(
        reply.fields().iter().any(|f| f == field),
        "expected field {field} in {reply}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

/// How a request authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `X-API-Key: <key>`.
    Key(&'a str),
    /// `Authorization: <value>`, verbatim (other schemes, malformed headers).
    Authorization(&'a str),
}

impl<'a> From<&'a str> for Auth<'a> {
    fn from(token: &'a str) -> Self {
        Auth::Bearer(token)
    }
}

impl<'a> From<&'a String> for Auth<'a> {
    fn from(token: &'a String) -> Self {
        Auth::Bearer(token)
    }
}

impl<'a> From<Option<&'a str>> for Auth<'a> {
    fn from(token: Option<&'a str>) -> Self {
        token.map_or(Auth::Anonymous, Auth::Bearer)
    }
}

/// What a request carries.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Json(Value),
    /// Bytes sent verbatim, with this content type (none when `None`). These go over a fresh connection: after a
    /// 413 the server closes a connection whose body it never read, and a pooled connection reused at that moment
    /// fails the next request (a client-side race, not under test).
    Raw {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

impl Body {
    /// Bytes sent verbatim as `application/json`.
    pub fn raw_json(bytes: impl Into<Vec<u8>>) -> Self {
        Body::Raw {
            content_type: Some("application/json".into()),
            bytes: bytes.into(),
        }
    }
}

/// A client of the API at `base`, with one helper per route.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    /// A client that keeps no idle connection (see [`Body::Raw`]).
    unpooled: reqwest::Client,
}

impl Client {
    pub fn new(base: impl Into<String>) -> Self {
        Self::connecting_from(base, None)
    }

    /// A client whose connections leave from `local` (any of 127.0.0.0/8 reaches the dev server on Linux): the
    /// server sees another client IP, as from another network.
    pub fn from_address(base: impl Into<String>, local: std::net::IpAddr) -> Self {
        Self::connecting_from(base, Some(local))
    }

    fn connecting_from(base: impl Into<String>, local: Option<std::net::IpAddr>) -> Self {
        let build = |idle_per_host| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .pool_max_idle_per_host(idle_per_host)
                .local_address(local)
                .build()
                .expect("client")
        };
        Self {
            base: base.into(),
            http: build(usize::MAX),
            unpooled: build(0),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request.
    pub async fn send(&self, method: Method, path: &str, auth: Auth<'_>, body: Body) -> Reply {
        self.send_with(method, path, auth, body, &[]).await
    }

    /// Sends a request with extra headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = format!("{method} {path}");
        let http = match body {
            Body::Raw { .. } => &self.unpooled,
            _ => &self.http,
        };
        let mut req = http.request(method, self.url(path));
        req = match auth {
            Auth::Anonymous => req,
            Auth::Bearer(token) => req.bearer_auth(token),
            Auth::Key(key) => req.header("X-API-Key", key),
            Auth::Authorization(value) => req.header("authorization", value),
        };
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req = match body {
            Body::Empty => req,
            Body::Json(value) => {
                let text = value.to_string();
                request = format!("{request} {}", text.chars().take(160).collect::<String>());
                req.json(&value)
            }
            Body::Raw {
                content_type,
                bytes,
            } => {
                request = format!("{request} ({} raw bytes)", bytes.len());
                match content_type {
                    Some(ct) => req.header(CONTENT_TYPE, ct),
                    None => req,
                }
                .body(bytes)
            }
        };
        let mut reply = Reply::read(req.send().await.expect("request")).await;
        reply.request = request;
        reply
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, bearer.into(), Body::Json(body))
            .await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.send(Method::GET, path, bearer.into(), Body::Empty)
            .await
    }

    /// POSTs every body to `path` at (nearly) the same moment; answers each reply, in order.
    pub async fn post_at_once(&self, path: &str, bodies: Vec<Value>) -> Vec<Reply> {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
        let mut tasks = Vec::new();
        for body in bodies {
            let request = self.http.post(self.url(path)).json(&body);
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                Reply::read(request.send().await.expect("request")).await
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("task"));
        }
        out
    }

    /// Sends a request authenticated by `auth` (a token, or an [`Auth`]).
    async fn as_caller<'t>(
        &self,
        method: Method,
        path: &str,
        auth: impl Into<Auth<'t>>,
        body: Body,
    ) -> Reply {
        self.send(method, path, auth.into(), body).await
    }

    // One helper per route, deliberately alike: each names its route and takes what the route takes. Routes that
    // need credentials take `auth`: an access token (`&str`, `&String`) or any [`Auth`].

    // --- /v1/auth ------------------------------------------------------------------------------------------------

    /// Registers `email` (display name "Test User") without verifying it.
    pub async fn register(&self, email: &str, password: &str) -> Reply {
        self.register_json(
            json!({"email": email, "password": password, "display_name": "Test User"}),
        )
        .await
    }

    pub async fn register_json(&self, body: Value) -> Reply {
        self.post("/v1/auth/register", None, body).await
    }

    pub async fn login_with(&self, email: &str, password: &str) -> Reply {
        let body = json!({"email": email, "password": password});
        self.post("/v1/auth/login", None, body).await
    }

    /// Signs in with [`PASSWORD`] (the account must not have 2FA on), reading the user id from the profile.
    pub async fn login(&self, email: &str) -> Signed {
        let reply = self.login_with(email, PASSWORD).await.expect_status(200);
        assert_eq!(reply.body["status"], "authenticated", "{reply}");
        let me = self.me(&reply.text("access_token")).await;
        Signed::from_tokens(email, &me.text("user_id"), &reply.body)
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let body = json!({"refresh_token": refresh_token});
        self.post("/v1/auth/refresh", None, body).await
    }

    pub async fn logout<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::POST, "/v1/auth/logout", auth, Body::Empty)
            .await
    }

    pub async fn logout_all<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::POST, "/v1/auth/logout-all", auth, Body::Empty)
            .await
    }

    pub async fn verify_email(&self, token: &str) -> Reply {
        let body = json!({"token": token});
        self.post("/v1/auth/verify-email", None, body).await
    }

    pub async fn resend_verification(&self, email: &str) -> Reply {
        let body = json!({"email": email});
        self.post("/v1/auth/resend-verification", None, body).await
    }

    pub async fn forgot_password(&self, email: &str) -> Reply {
        let body = json!({"email": email});
        self.post("/v1/auth/forgot-password", None, body).await
    }

    pub async fn reset_password(&self, token: &str, password: &str) -> Reply {
        let body = json!({"token": token, "password": password});
        self.post("/v1/auth/reset-password", None, body).await
    }

    pub async fn setup_2fa<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::POST, "/v1/auth/2fa/setup", auth, Body::Empty)
            .await
    }

    pub async fn enable_2fa<'t>(&self, auth: impl Into<Auth<'t>>, code: &str) -> Reply {
        let body = Body::Json(json!({"code": code}));
        self.as_caller(Method::POST, "/v1/auth/2fa/enable", auth, body)
            .await
    }

    pub async fn disable_2fa<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        password: &str,
        code: &str,
    ) -> Reply {
        let body = Body::Json(json!({"password": password, "code": code}));
        self.as_caller(Method::POST, "/v1/auth/2fa/disable", auth, body)
            .await
    }

    /// Completes a sign-in that answered `two_factor_required`.
    pub async fn verify_2fa(&self, challenge: &str, code: &str) -> Reply {
        let body = json!({"challenge": challenge, "code": code});
        self.post("/v1/auth/2fa/verify", None, body).await
    }

    pub async fn jwks(&self) -> Reply {
        self.get("/v1/auth/jwks.json", None).await
    }

    // --- /v1/users/me --------------------------------------------------------------------------------------------

    pub async fn me<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::GET, "/v1/users/me", auth, Body::Empty)
            .await
    }

    pub async fn patch_me<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.as_caller(Method::PATCH, "/v1/users/me", auth, Body::Json(body))
            .await
    }

    pub async fn delete_me<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::DELETE, "/v1/users/me", auth, Body::Empty)
            .await
    }

    pub async fn change_password<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        let body = Body::Json(body);
        self.as_caller(Method::POST, "/v1/users/me/password", auth, body)
            .await
    }

    pub async fn change_email<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        new_email: &str,
        password: &str,
    ) -> Reply {
        let body = Body::Json(json!({"new_email": new_email, "password": password}));
        self.as_caller(Method::POST, "/v1/users/me/email", auth, body)
            .await
    }

    pub async fn request_avatar_upload<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        content_type: &str,
    ) -> Reply {
        let body = Body::Json(json!({"content_type": content_type}));
        self.as_caller(Method::POST, "/v1/users/me/avatar", auth, body)
            .await
    }

    pub async fn confirm_avatar<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        key: &str,
        content_type: &str,
    ) -> Reply {
        let body = Body::Json(json!({"key": key, "content_type": content_type}));
        self.as_caller(Method::POST, "/v1/users/me/avatar/confirm", auth, body)
            .await
    }

    pub async fn sessions<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::GET, "/v1/users/me/sessions", auth, Body::Empty)
            .await
    }

    pub async fn revoke_session<'t>(&self, auth: impl Into<Auth<'t>>, session_id: &str) -> Reply {
        let path = format!("/v1/users/me/sessions/{session_id}");
        self.as_caller(Method::DELETE, &path, auth, Body::Empty)
            .await
    }

    pub async fn api_keys<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::GET, "/v1/users/me/api-keys", auth, Body::Empty)
            .await
    }

    pub async fn create_key<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        let body = Body::Json(body);
        self.as_caller(Method::POST, "/v1/users/me/api-keys", auth, body)
            .await
    }

    /// Creates a key that must be created; answers the key and its id.
    pub async fn new_key<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> (String, String) {
        let reply = self.create_key(auth, body).await.expect_status(201);
        (reply.text("key"), reply.text("key_id"))
    }

    pub async fn revoke_key<'t>(&self, auth: impl Into<Auth<'t>>, key_id: &str) -> Reply {
        let path = format!("/v1/users/me/api-keys/{key_id}");
        self.as_caller(Method::DELETE, &path, auth, Body::Empty)
            .await
    }

    /// `GET /v1/users/me/security-events?{query}`.
    pub async fn security_events<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = with_query("/v1/users/me/security-events", query);
        self.as_caller(Method::GET, &path, auth, Body::Empty).await
    }

    /// `POST /v1/users/me/export`.
    pub async fn request_export<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::POST, "/v1/users/me/export", auth, Body::Empty)
            .await
    }

    /// `GET /v1/users/me/exports`.
    pub async fn exports<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.as_caller(Method::GET, "/v1/users/me/exports", auth, Body::Empty)
            .await
    }

    // --- /v1/admin -----------------------------------------------------------------------------------------------

    /// `POST /v1/admin/users/{user_id}/export`.
    pub async fn admin_export_user<'t>(&self, auth: impl Into<Auth<'t>>, user_id: &str) -> Reply {
        let path = format!("/v1/admin/users/{user_id}/export");
        self.as_caller(Method::POST, &path, auth, Body::Empty).await
    }

    /// `GET /v1/admin/users/{user_id}/exports`.
    pub async fn admin_user_exports<'t>(&self, auth: impl Into<Auth<'t>>, user_id: &str) -> Reply {
        let path = format!("/v1/admin/users/{user_id}/exports");
        self.as_caller(Method::GET, &path, auth, Body::Empty).await
    }

    /// `GET /v1/admin/users?{query}`.
    pub async fn admin_users<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = with_query("/v1/admin/users", query);
        self.as_caller(Method::GET, &path, auth, Body::Empty).await
    }

    pub async fn admin_user<'t>(&self, auth: impl Into<Auth<'t>>, user_id: &str) -> Reply {
        let path = format!("/v1/admin/users/{user_id}");
        self.as_caller(Method::GET, &path, auth, Body::Empty).await
    }

    pub async fn set_role<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        user_id: &str,
        role: &str,
    ) -> Reply {
        let path = format!("/v1/admin/users/{user_id}/role");
        let body = Body::Json(json!({"role": role}));
        self.as_caller(Method::PATCH, &path, auth, body).await
    }

    pub async fn set_tier<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        user_id: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/v1/admin/users/{user_id}/tier");
        self.as_caller(Method::PATCH, &path, auth, Body::Json(body))
            .await
    }

    /// `POST /v1/admin/users/{user_id}/{action}`: `suspend`, `activate` or `force-logout`.
    pub async fn admin_action<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        user_id: &str,
        action: &str,
    ) -> Reply {
        let path = format!("/v1/admin/users/{user_id}/{action}");
        self.as_caller(Method::POST, &path, auth, Body::Empty).await
    }

    /// `POST /v1/admin/users/bulk`.
    pub async fn admin_bulk<'t>(&self, auth: impl Into<Auth<'t>>, body: Value) -> Reply {
        self.as_caller(Method::POST, "/v1/admin/users/bulk", auth, Body::Json(body))
            .await
    }

    /// `GET /v1/admin/stats?days=<days>`.
    pub async fn admin_stats<'t>(&self, auth: impl Into<Auth<'t>>, days: u32) -> Reply {
        let path = format!("/v1/admin/stats?days={days}");
        self.as_caller(Method::GET, &path, auth, Body::Empty).await
    }

    /// `GET /v1/admin/audit-logs?{query}`.
    pub async fn audit_logs<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = with_query("/v1/admin/audit-logs", query);
        self.as_caller(Method::GET, &path, auth, Body::Empty).await
    }

    // --- lists --------------------------------------------------------------------------------------------------

    /// Follows `next_cursor` from `first` (a path with `limit=`), answering every page's items and the number of
    /// pages.
    pub async fn all_pages<'t>(
        &self,
        first: &str,
        auth: impl Into<Auth<'t>>,
    ) -> (Vec<Value>, usize) {
        let auth = auth.into();
        let mut items = Vec::new();
        let mut pages = 0;
        let mut path = first.to_string();
        loop {
            let reply = self
                .send(Method::GET, &path, auth, Body::Empty)
                .await
                .expect_status(200);
            pages += 1;
            items.extend(reply.items());
            match reply.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("{first}&cursor={cursor}"),
                None => return (items, pages),
            }
            assert!(pages < 100, "pagination does not end");
        }
    }

    // --- assertions over several routes ------------------------------------------------------------------------

    /// Asserts an access token is refused: 401 `unauthenticated`.
    pub async fn assert_access_dead(&self, access: &str, what: &str) {
        let reply = self.me(access).await;
        assert_problem_about(&reply, 401, "unauthenticated", what);
    }

    /// Asserts a refresh token no longer rotates (its session is gone): 400 `invalid-token`.
    pub async fn assert_refresh_dead(&self, refresh_token: &str, what: &str) {
        let reply = self.refresh(refresh_token).await;
        assert_problem_about(&reply, 400, "invalid-token", what);
    }

    /// Asserts a session is over: neither its access token nor its refresh token works.
    pub async fn assert_signed_out(&self, session: &Signed, what: &str) {
        self.assert_access_dead(&session.access, what).await;
        self.assert_refresh_dead(&session.refresh, what).await;
    }

    /// A fresh access token for a session (the signed-in one may have expired after clock moves).
    pub async fn fresh_access(&self, user: &Signed) -> String {
        self.refresh(&user.refresh)
            .await
            .expect_status(200)
            .text("access_token")
    }
}

/// A cursor with one character changed (in the middle, where it is neither padding nor prefix).
pub fn tamper(cursor: &str) -> String {
    let mut chars: Vec<char> = cursor.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
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

impl Signed {
    /// The tokens of a login, refresh or 2FA answer.
    pub fn from_tokens(email: &str, user_id: &str, body: &Value) -> Self {
        let field = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {body}"))
                .to_string()
        };
        Signed {
            user_id: user_id.to_string(),
            email: email.to_string(),
            access: field("access_token"),
            refresh: field("refresh_token"),
            session_id: field("session_id"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The API of one dev server
// ---------------------------------------------------------------------------------------------------------------

/// The API of one dev server, which it owns: a [`Client`] that can also read the server's outbox, move its clock
/// and reach its store.
pub struct Api {
    pub server: DevServer,
    client: Client,
    /// Tokens of mailed links already handed out (see [`Api::mailed_token`]).
    pub(crate) seen_tokens: Mutex<Vec<String>>,
    /// Sentinel addresses used so far (see [`Api::flush_mail`]).
    pub(crate) sentinels: AtomicUsize,
}

impl Deref for Api {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Api {
    /// A dev server over a fresh data dir (rate limits off), and its API.
    pub async fn start() -> Self {
        Self::on(DevServer::start().await)
    }

    /// A dev server over a fresh data dir with the given rate limits, and its API.
    pub async fn start_with_limits(limits: lectern_shared::ratelimit::RateLimitConfig) -> Self {
        Self::on(DevServer::start_with_limits(limits).await)
    }

    /// The API of `server`.
    pub fn on(server: DevServer) -> Self {
        Self {
            client: Client::new(server.base.clone()),
            server,
            seen_tokens: Mutex::new(Vec::new()),
            sentinels: AtomicUsize::new(0),
        }
    }

    /// A client of this server connecting from another address (`127.0.0.<n>`): another network as far as the
    /// server can tell.
    pub fn from_network(&self, n: u8) -> Client {
        Client::from_address(
            self.server.base.clone(),
            std::net::Ipv4Addr::new(127, 0, 0, n).into(),
        )
    }

    /// An account as stored (to look at what a dump of the table would show).
    pub async fn stored_user(&self, user_id: &str) -> lectern_accounts::users::User {
        use lectern_shared::table::Entity;
        let item = self
            .server
            .platform
            .table
            .get(&lectern_accounts::users::User::key_of(user_id))
            .await
            .expect("the store answers")
            .expect("the account");
        lectern_accounts::users::User::from_item(item).expect("an account item")
    }

    /// The server's clock, which only the test moves.
    pub fn clock(&self) -> &lectern_shared::clock::ManualClock {
        &self.server.clock
    }

    /// Stops the server, keeping the data dir for a restart.
    pub async fn stop(self) -> tempfile::TempDir {
        self.server.stop().await
    }

    /// Registers `email`, verifies it through the mailed link, and signs in.
    /// Deletes `who`'s account, moves the clock past the deletion grace period (the default 30 days) and waits
    /// until the purge — found by the housekeeping run, run by the jobs worker — has erased it.
    pub async fn erased_after_grace(&self, who: &Signed) {
        self.delete_me(&who.access).await.expect_status(202);
        self.purged_after_grace(&who.user_id).await;
    }

    /// Moves the clock past the deletion grace period of an account deleted now (the default 30 days) and waits
    /// until the purge — found by the housekeeping run, run by the jobs worker — has erased it.
    pub async fn purged_after_grace(&self, user_id: &str) {
        const GRACE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
        self.clock()
            .advance(GRACE + std::time::Duration::from_secs(3600));
        let platform = &self.server.platform;
        let report = lectern_platform_housekeeping::run(platform)
            .await
            .expect("housekeeping runs");
        assert_eq!(report.purges_enqueued, 1, "the purge is due");
        let account = lectern_accounts::users::User::key_of(user_id);
        let purged = crate::eventually(async || {
            platform
                .table
                .get(&account)
                .await
                .expect("the table answers")
                .is_none()
        })
        .await;
        assert!(purged, "the account was purged");
    }

    pub async fn signed_up(&self, email: &str) -> Signed {
        self.sign_up(json!({"email": email, "password": PASSWORD, "display_name": "Test User"}))
            .await
    }

    /// Registers with `registration` (whose password must be [`PASSWORD`]), verifies the address through the
    /// mailed link, and signs in.
    pub async fn sign_up(&self, registration: Value) -> Signed {
        let email = registration["email"].as_str().expect("email").to_string();
        self.register_json(registration).await.expect_status(202);
        let token = self.mailed_token(&email, "verify-email").await;
        self.verify_email(&token).await.expect_status(204);
        self.login(&email).await
    }

    /// Registers, verifies and makes `email` the first admin (through the bootstrap path), then signs in again.
    pub async fn admin(&self, email: &str) -> Signed {
        self.signed_up(email).await;
        let accounts = crate::test_accounts(self.server.platform.clone());
        assert!(
            accounts
                .bootstrap_admin(
                    email,
                    lectern_accounts::service::admin::AdminBootstrap::RequireVerified
                )
                .await
                .expect("bootstrap admin"),
            "no admin existed yet"
        );
        self.login(email).await
    }

    /// Signs up `email`, then has `admin` give it `role` (the role applies to its live tokens at once).
    pub async fn with_role(&self, admin: &Signed, email: &str, role: &str) -> Signed {
        let user = self.signed_up(email).await;
        let reply = self
            .set_role(&admin.access, &user.user_id, role)
            .await
            .expect_status(200);
        assert_eq!(reply.body["role"], role);
        user
    }
}
