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
    Exports,
    RequestExport,
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
    // Reads: the address's claim, then the account with both lockout counters (account-wide and this source's) in
    // one batch, its sessions (to spot a new device). Writes: the session with its refresh token and the audit
    // event, in one transaction.
    (Route::Login, "POST /v1/auth/login", budget(3, 1, 0)),
    (Route::Refresh, "POST /v1/auth/refresh", budget(3, 1, 0)),
    // The authenticator's one batch get (session and account); the handler reuses the account it read.
    (Route::Me, "GET /v1/users/me", budget(1, 0, 0)),
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
    // The authenticator's batch get and one query (no export is ready yet: a ready one adds a signed link, which
    // is computed, not fetched, but counted as a blob operation).
    (Route::Exports, "GET /v1/users/me/exports", budget(2, 0, 0)),
    // The authenticator's batch get (it proves the account exists), the weekly allowance; the export's record, the
    // allowance, the audit event and the job in one transaction; the job sent at once and its outbox entry removed.
    (
        Route::RequestExport,
        "POST /v1/users/me/export",
        budget(2, 2, 1),
    ),
    // The authenticator's batch get; ending the session and its audit event in one transaction.
    (Route::Logout, "POST /v1/auth/logout", budget(1, 1, 0)),
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
        Route::Exports => api.exports(&user.access).await,
        Route::RequestExport => api.request_export(&user.access).await,
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

#[tokio::test]
async fn rate_limits_cost_a_tenth_of_a_write_per_request_at_steady_state() {
    // Default limits: the per-IP and the per-account share of the general class, both leased (see ratelimit.rs).
    let api = Api::start_with_limits(RateLimitConfig::default()).await;
    let user = api.signed_up("limited@example.com").await;
    api.server.ops.reset();
    for _ in 0..250 {
        api.me(&user.access).await.expect_status(200);
    }
    let ops = api.server.ops.take().summary();
    assert_eq!(ops.reads, 250, "one read per request");
    assert!(
        ops.writes <= 25,
        "{} writes for 250 authenticated requests",
        ops.writes
    );
}

#[tokio::test]
async fn a_change_its_audit_record_and_its_email_commit_in_one_write_then_go_out_in_one_send() {
    let api = Api::start().await;
    let user = api.signed_up("outbox-budget@example.com").await;
    api.server.ops.reset();
    api.forgot_password(&user.email).await.expect_status(202);
    let ops = api.server.ops.take();
    // Reads: the email claim and the account. Writes: the token, the audit record and the outbox entry in one
    // transaction, then the entry's removal once sent. One send.
    assert_eq!(
        ops.summary(),
        budget(2, 2, 1),
        "POST /v1/auth/forgot-password: {:?}",
        ops.0
    );
    assert!(
        ops.0
            .iter()
            .any(|op| op.name == "table.transact" && op.size == 3),
        "{:?}",
        ops.0
    );
}

/// What a request costs must not tell whether an address is registered: the same storage and queue operations,
/// in the same order, for a registered address and an unknown one (timing follows from the operations; the
/// hashing work is equal by construction).
#[tokio::test]
async fn an_unknown_address_costs_the_same_round_trips_as_a_registered_one() {
    let api = Api::start().await;
    let user = api.signed_up("registered@example.com").await;
    let ghost = "nobody-here@example.com";

    api.server.ops.reset();
    let known_reply = api.login_with(&user.email, "not the password").await;
    let known = api.server.ops.take();
    let ghost_reply = api.login_with(ghost, "not the password").await;
    let unknown = api.server.ops.take();
    assert_eq!(
        (known_reply.status.as_u16(), ghost_reply.status.as_u16()),
        (401, 401)
    );
    assert_eq!(
        known.names(),
        unknown.names(),
        "POST /v1/auth/login, a wrong password: registered vs unknown"
    );

    api.forgot_password(&user.email).await.expect_status(202);
    let known = api.server.ops.take();
    api.forgot_password(ghost).await.expect_status(202);
    let unknown = api.server.ops.take();
    assert_eq!(
        known.names(),
        unknown.names(),
        "POST /v1/auth/forgot-password: registered vs unknown"
    );
    assert_eq!(known.summary(), budget(2, 2, 1));
}
