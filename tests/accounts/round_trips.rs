//! Storage round trips per hot route, held at their budget: a route that starts reading or writing more than its
//! budget fails here, whatever the clock says. The README's performance section prints the same table.

use lectern_e2e::api::Api;
use lectern_shared::testing::counting::Summary;

/// Reads (get, batch get, query), writes (put, update, delete, transaction) and queue sends of one request.
fn budget(reads: usize, writes: usize, sends: usize) -> Summary {
    Summary {
        reads,
        writes,
        sends,
        blobs: 0,
    }
}

#[tokio::test]
async fn the_signed_in_profile_stays_within_its_round_trip_budget() {
    let api = Api::start().await;
    let user = api.signed_up("budget@example.com").await;
    api.server.ops.reset();
    api.me(&user.access).await.expect_status(200);
    let ops = api.server.ops.take();
    assert_eq!(
        ops.summary(),
        budget(1, 0, 0),
        "GET /v1/users/me: {:?}",
        ops.names()
    );
}

#[tokio::test]
async fn rate_limits_cost_a_tenth_of_a_write_per_request_at_steady_state() {
    // Default limits: the per-IP and the per-account share of the general class, both leased (see ratelimit.rs).
    let api = Api::start_with_limits(lectern_shared::ratelimit::RateLimitConfig::default()).await;
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
