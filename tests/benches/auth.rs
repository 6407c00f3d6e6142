//! What authentication costs with production password hashing: a dev server (rate limits off) whose accounts use
//! `Argon2Params::default()` (OWASP's m=19456 KiB, t=2, p=1), measured over real HTTP on localhost.
//!
//! Run with `cargo bench -p lectern-e2e --bench auth`. Without `--bench` (as under `cargo test --all-targets`)
//! it only says so and exits, so the test suite does not spend a minute here.

use lectern_accounts::password::{Argon2Params, PasswordHasher};
use lectern_e2e::DevServer;
use lectern_e2e::api::{Api, PASSWORD};
use lectern_e2e::bench::{Stats, header, timed};
use serde_json::json;

const LOGINS: usize = 30;
const REFRESHES: usize = 200;
const PROFILE_READS: usize = 1000;
const HASHES: usize = 10;

/// A dev server like the tests' one, but hashing passwords with the production parameters.
async fn production_argon_server(params: Argon2Params) -> DevServer {
    let dir = tempfile::tempdir().expect("temp dir");
    DevServer::start_hashing(dir, |_| {}, params).await
}

async fn run() {
    let params = Argon2Params::default();
    let mut rows = Vec::new();

    // Argon2 alone, off the HTTP path.
    let hasher = PasswordHasher::new(params).expect("hasher");
    let mut hash = Stats::new("argon2id hash");
    let mut verify = Stats::new("argon2id verify");
    let mut phc = String::new();
    for _ in 0..HASHES {
        phc = timed(&mut hash, hasher.hash(PASSWORD)).await.expect("hash");
    }
    for _ in 0..HASHES {
        let ok = timed(&mut verify, hasher.verify(PASSWORD, &phc))
            .await
            .expect("verify");
        assert!(ok.valid);
    }
    rows.push(hash.row());
    rows.push(verify.row());

    let server = production_argon_server(params).await;
    let api = Api::on(server);
    let email = "bench@example.com";
    let signed = api.signed_up(email).await;

    let mut login = Stats::new("POST /v1/auth/login");
    for _ in 0..LOGINS {
        let reply = timed(
            &mut login,
            api.post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            ),
        )
        .await;
        assert_eq!(reply.status, 200, "login: {:?}", reply.body);
    }
    rows.push(login.row());

    let mut refresh = Stats::new("POST /v1/auth/refresh");
    let mut token = signed.refresh.clone();
    for _ in 0..REFRESHES {
        let reply = timed(
            &mut refresh,
            api.post("/v1/auth/refresh", None, json!({"refresh_token": token})),
        )
        .await;
        assert_eq!(reply.status, 200, "refresh: {:?}", reply.body);
        token = reply.body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_string();
    }
    rows.push(refresh.row());

    let mut me = Stats::new("GET /v1/users/me (bearer)");
    for _ in 0..PROFILE_READS {
        let reply = timed(&mut me, api.get("/v1/users/me", Some(&signed.access))).await;
        assert_eq!(reply.status, 200, "me: {:?}", reply.body);
    }
    rows.push(me.row());
    api.stop().await;

    println!(
        "argon2id parameters: m={} KiB, t={}, p={} (Argon2Params::default)",
        params.memory_kib, params.iterations, params.parallelism
    );
    println!("{}", header());
    for row in rows {
        println!("{row}");
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run with `cargo bench -p lectern-e2e --bench auth`");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
