//! What the learning domain's hot routes cost on the dev server, over real HTTP on localhost: recording a result
//! (from a child's device), reading a filtered catalog page of a catalog of 200 games, and reading a leaderboard of
//! 200 learners — each with the storage round trips one request makes (counted by the dev server's counting
//! adapters; the budgets themselves are held by `tests/learning/round_trips.rs`).
//!
//! Run with `cargo bench -p lectern-e2e --bench learning`. Without `--bench` (as under `cargo test --all-targets`)
//! it only says so and exits.

use lectern_e2e::api::Api;
use lectern_e2e::bench::{Stats, header, timed};
use lectern_e2e::learning::{game, result};
use lectern_learning::leaderboards::Score;
use lectern_shared::clock::Clock;

const GAMES: usize = 200;
const LEARNERS: usize = 200;
const RESULTS: usize = 300;
const PAGES: usize = 500;
const BOARDS: usize = 500;

async fn run() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let categories = ["alphabets", "numbers", "shapes", "colours"];
    let mut first = String::new();
    for n in 0..GAMES {
        let body = game(
            &format!("Bench Game {n}"),
            (3 + (n % 6) as i32, 6 + (n % 6) as i32),
            categories[n % categories.len()],
            &["phonics", "counting"][..1 + n % 2],
            ["easy", "medium", "hard"][n % 3],
        );
        let id = api.published_game(&admin, body).await;
        if first.is_empty() {
            first = id;
        }
    }
    let parent = api.parent("bench@example.com").await;
    let kid = api.child_of(&parent, "Bench Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    // Other learners on the board, written the way the worker writes them.
    let learning = lectern_local::learning_on(&api.server.platform);
    let now = api.clock().epoch_seconds();
    for n in 0..LEARNERS {
        let id = format!("01JBENCH{n:018}");
        let score = Score {
            game_id: first.clone(),
            score: (n as i64 * 37) % 1000,
            played_at: now - 60,
        };
        learning.record_scores(&id, &[score]).await.expect("board");
    }

    let mut rows = Vec::new();
    let mut round_trips = Vec::new();
    let mut record = Stats::new("POST .../progress");
    api.server.ops.reset();
    for n in 0..RESULTS {
        let body = result(&first, (n % 1000) as i64, 2, &api.at(-(n as i64) - 1));
        let reply = timed(
            &mut record,
            api.record(&device.access, &kid, &format!("bench-key-{n:06}"), body),
        )
        .await;
        assert_eq!(reply.status, 201, "{reply}");
    }
    round_trips.push((
        "POST .../progress",
        api.server.ops.take().summary(),
        RESULTS,
    ));
    rows.push(record.row());

    let mut list = Stats::new("GET /v1/games (filtered)");
    api.server.ops.reset();
    for _ in 0..PAGES {
        let reply = timed(
            &mut list,
            api.games(&parent.access, "age=4-5&category=alphabets&limit=20"),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply}");
    }
    round_trips.push(("GET /v1/games", api.server.ops.take().summary(), PAGES));
    rows.push(list.row());

    let mut board = Stats::new("GET /v1/leaderboards/..");
    api.server.ops.reset();
    for _ in 0..BOARDS {
        let reply = timed(
            &mut board,
            api.leaderboard(&device.access, &first, "period=weekly&limit=10"),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply}");
    }
    round_trips.push((
        "GET /v1/leaderboards",
        api.server.ops.take().summary(),
        BOARDS,
    ));
    rows.push(board.row());
    api.stop().await;

    println!("{GAMES} games, {LEARNERS} learners on the board; embedded store (redb), one process");
    println!("{}", header());
    for row in rows {
        println!("{row}");
    }
    println!("storage round trips per request (reads / writes / queue sends / blob operations):");
    for (what, ops, n) in round_trips {
        println!(
            "{what:<28} {:>6.2} {:>6.2} {:>6.2} {:>6.2}",
            ops.reads as f64 / n as f64,
            ops.writes as f64 / n as f64,
            ops.sends as f64 / n as f64,
            ops.blobs as f64 / n as f64
        );
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run with `cargo bench -p lectern-e2e --bench learning`");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
