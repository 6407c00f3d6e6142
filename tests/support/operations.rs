//! The settings function's routes as the tests use them (one helper per route, on [`Client`]).

use reqwest::Method;
use serde_json::Value;

use crate::api::{Auth, Body, Client, Reply};

impl Client {
    // --- /v1/settings, /v1/flags -----------------------------------------------------------------------------

    pub async fn public_settings(&self) -> Reply {
        self.send(Method::GET, "/v1/settings", Auth::Anonymous, Body::Empty)
            .await
    }

    pub async fn my_flags<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = if query.is_empty() {
            "/v1/flags".to_string()
        } else {
            format!("/v1/flags?{query}")
        };
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    // --- /v1/admin/settings ----------------------------------------------------------------------------------

    pub async fn admin_settings<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/admin/settings", auth.into(), Body::Empty)
            .await
    }

    /// `PUT /v1/admin/settings`, with `If-Match: <if_match>` when given (pass the quoted ETag).
    pub async fn put_settings<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        if_match: Option<&str>,
        settings: Value,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        self.send_with(
            Method::PUT,
            "/v1/admin/settings",
            auth.into(),
            Body::Json(settings),
            &headers,
        )
        .await
    }

    // --- /v1/admin/flags -------------------------------------------------------------------------------------

    pub async fn admin_flags<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/admin/flags", auth.into(), Body::Empty)
            .await
    }

    pub async fn put_flag<'t>(&self, auth: impl Into<Auth<'t>>, key: &str, flag: Value) -> Reply {
        let path = format!("/v1/admin/flags/{key}");
        self.send(Method::PUT, &path, auth.into(), Body::Json(flag))
            .await
    }

    pub async fn delete_flag<'t>(&self, auth: impl Into<Auth<'t>>, key: &str) -> Reply {
        let path = format!("/v1/admin/flags/{key}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }

    // --- /v1/admin/ip-rules ----------------------------------------------------------------------------------

    pub async fn ip_rules<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/admin/ip-rules", auth.into(), Body::Empty)
            .await
    }

    pub async fn add_ip_rule<'t>(&self, auth: impl Into<Auth<'t>>, rule: Value) -> Reply {
        self.send(
            Method::POST,
            "/v1/admin/ip-rules",
            auth.into(),
            Body::Json(rule),
        )
        .await
    }

    pub async fn delete_ip_rule<'t>(&self, auth: impl Into<Auth<'t>>, rule_id: &str) -> Reply {
        let path = format!("/v1/admin/ip-rules/{rule_id}");
        self.send(Method::DELETE, &path, auth.into(), Body::Empty)
            .await
    }
}
