//! Storage round trips per hot route, held at their budget: a route that starts reading or writing more than its
//! budget fails here, whatever the clock says. The README's performance section prints the same table; keep the
//! two in step. Speed itself is measured by `bench/run`, never here.

use lectern_e2e::api::{Api, Reply, Signed};
use lectern_shared::ratelimit::RateLimitConfig;
use lectern_shared::testing::counting::Summary;
use serde_json::json;

/// The hot routes whose round trips are budgeted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Health,
    Jwks,
    Login,
    Refresh,
    Me,
    UpdateMe,
    Sessions,
    ApiKeys,
    SecurityEvents,
    Logout,
}

/// Reads (get, batch get, query), writes (put, update, delete, transaction) and queue sends of one request.
const fn budget(reads: usize, writes: usize, sends: usize) -> Summary {
    Summary {
        reads,
        writes,
        sends,
        blobs: 0,
    }
}

/// One row per route: its name as the README prints it and its budget, rate limits off. Where a number is known to
/// come down, the comment says what brings it down.
const BUDGETS: &[(Route, &str, Summary)] = &[
    // Liveness touches no store.
    (Route::Health, "GET /v1/health", budget(0, 0, 0)),
    (Route::Jwks, "GET /v1/auth/jwks.json", budget(0, 0, 0)),
    // Reads: the account by email (claim, then account), its lockout, its sessions (to spot a new device).
    // Writes: clearing the lockout, the session with its refresh token (one transaction), the audit event.
    (Route::Login, "POST /v1/auth/login", budget(4, 3, 0)),
    (Route::Refresh, "POST /v1/auth/refresh", budget(3, 1, 0)),
    // Authenticator (session + account in one batch get) and the handler's own account read. Drops to 1 read
    // once the handler reuses what the authenticator read.
    (Route::Me, "GET /v1/users/me", budget(2, 0, 0)),
    (Route::UpdateMe, "PATCH /v1/users/me", budget(3, 1, 0)),
    (
        Route::Sessions,
        "GET /v1/users/me/sessions",
        budget(2, 0, 0),
    ),
    (Route::ApiKeys, "GET /v1/users/me/api-keys", budget(2, 0, 0)),
    (
        Route::SecurityEvents,
        "GET /v1/users/me/security-events",
        budget(2, 0, 0),
    ),
    (Route::Logout, "POST /v1/auth/logout", budget(1, 2, 0)),
];

/// With rate limits on, each request also counts itself: today one counter update per limit that applies (per IP
/// and per account). Drops to about zero writes per request once counters are kept in memory between flushes.
const LIMITED_BUDGETS: &[(Route, &str, Summary)] = &[
    (Route::Login, "POST /v1/auth/login", budget(4, 5, 0)),
    (Route::Me, "GET /v1/users/me", budget(2, 2, 0)),
];

/// Sends one request of `route` as `user` (a fresh session of its own, so routes that end it hurt nobody).
async fn call(api: &Api, route: Route, user: &Signed) -> Reply {
    match route {
        Route::Health => api.get("/v1/health", None).await,
        Route::Jwks => api.jwks().await,
        Route::Login => {
            api.login_with(&user.email, lectern_e2e::api::PASSWORD)
                .await
        }
        Route::Refresh => api.refresh(&user.refresh).await,
        Route::Me => api.me(&user.access).await,
        Route::UpdateMe => {
            api.patch_me(&user.access, json!({"display_name": "Budget"}))
                .await
        }
        Route::Sessions => api.sessions(&user.access).await,
        Route::ApiKeys => api.api_keys(&user.access).await,
        Route::SecurityEvents => api.security_events(&user.access, "").await,
        Route::Logout => api.logout(&user.access).await,
    }
}

/// Runs every row and reports all that are off budget at once, so one run shows the whole table to fix.
async fn check(api: &Api, email: &str, rows: &[(Route, &str, Summary)]) {
    let mut off = Vec::new();
    for &(route, name, expected) in rows {
        let user = api.login(email).await;
        api.server.ops.reset();
        let reply = call(api, route, &user).await;
        assert!(reply.status.is_success(), "{name}: {reply}");
        let ops = api.server.ops.take();
        if ops.summary() != expected {
            off.push(format!(
                "{name}: {:?}, budget {expected:?}; operations {:?}",
                ops.summary(),
                ops.names()
            ));
        }
    }
    assert!(
        off.is_empty(),
        "routes off their round-trip budget:\n{}",
        off.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_routes_stay_within_their_round_trip_budgets() {
    let api = Api::start().await;
    api.signed_up("budget@example.com").await;
    check(&api, "budget@example.com", BUDGETS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_rate_limits_on_requests_also_count_themselves() {
    let api = Api::start_with_limits(RateLimitConfig::default()).await;
    api.signed_up("limited@example.com").await;
    check(&api, "limited@example.com", LIMITED_BUDGETS).await;
}
