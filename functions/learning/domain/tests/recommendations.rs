//! The recommendations job on the embedded store: each result's transition (from the result recorded before it)
//! counts once however often or in whatever order the jobs run, the list is recomputed once per statistics
//! version, what other learners played next is recommended for the right age, and a deleted profile gets nothing.

mod common;

use common::{NOW, learning};

use lectern_learning::profiles::{Profile, ProfileKind};
use lectern_learning::progress::{GameResult, GameStats, LearnerStats};
use lectern_learning::recommendations::{Played, Recommendations, Successor};
use lectern_learning::service::Learning;
use lectern_shared::table::{Condition, Entity};

const PROFILE: &str = "01JPROF1LE0000000000000000";
const A: &str = "01JGAME0000000000000000000";
const B: &str = "01JGAME0000000000000000001";
const C: &str = "01JGAME0000000000000000002";

fn profile() -> Profile {
    Profile {
        profile_id: PROFILE.into(),
        owner_id: "01JAD4LOVELACE0000000000AA".into(),
        kind: ProfileKind::Child,
        display_name: "Kid".into(),
        birth_year: 2053,
        locale: None,
        timezone: "UTC".into(),
        avatar_key: None,
        preferences: Default::default(),
        created_at: NOW,
        updated_at: NOW,
        version: 1,
        controls: None,
    }
}

/// Statistics in which every game in `finished` was completed.
fn stats(version: i64, finished: &[&str]) -> LearnerStats {
    LearnerStats {
        profile_id: PROFILE.into(),
        games: finished
            .iter()
            .map(|g| {
                (
                    g.to_string(),
                    GameStats {
                        plays: 1,
                        completions: 1,
                        ..GameStats::default()
                    },
                )
            })
            .collect(),
        version,
        ..LearnerStats::default()
    }
}

/// Stores a finished result of `game` by `profile` at `at` (as the progress route does before the job), and
/// answers it as its job names it.
async fn played(learning: &Learning, profile: &str, n: u32, game: &str, at: i64) -> Played {
    let result = GameResult {
        result_id: format!("01JRESVLT{n:017}"),
        profile_id: profile.into(),
        game_id: game.into(),
        variant: None,
        score: 10,
        stars: 3,
        duration_secs: 60,
        completed: true,
        played_at: at,
        recorded_at: at,
        day: "2030-03-17".into(),
    };
    learning
        .platform
        .table
        .put(result.to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    Played {
        result_id: result.result_id,
        game_id: game.into(),
        played_at: at,
    }
}

async fn count(learning: &Learning, from: &str, to: &str) -> i64 {
    learning
        .platform
        .table
        .get(&Successor::key_of(from, to))
        .await
        .unwrap()
        .map(|item| Successor::from_item(item).unwrap().count)
        .unwrap_or(0)
}

async fn stored(learning: &Learning) -> Option<Recommendations> {
    learning
        .platform
        .table
        .get(&Recommendations::key_of(PROFILE))
        .await
        .unwrap()
        .map(|item| Recommendations::from_item(item).unwrap())
}

#[tokio::test]
async fn each_results_transition_counts_once_whatever_the_order_of_the_jobs() {
    let (learning, _dir) = learning().await;
    let table = &learning.platform.table;
    table
        .put(profile().to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    table
        .put(stats(3, &[A, B, C]).to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    let a = played(&learning, PROFILE, 1, A, NOW - 90).await;
    let b = played(&learning, PROFILE, 2, B, NOW - 60).await;
    let c = played(&learning, PROFILE, 3, C, NOW - 30).await;
    // One job per result, run last first, each delivered twice.
    for (version, result) in [(3, &c), (2, &b), (1, &a), (3, &c), (2, &b)] {
        learning
            .refresh_recommendations(PROFILE, version, std::slice::from_ref(result))
            .await
            .unwrap();
    }
    assert_eq!(count(&learning, A, B).await, 1);
    assert_eq!(count(&learning, B, C).await, 1);
    assert_eq!(
        count(&learning, A, C).await,
        0,
        "only the result just before counts"
    );
    // The list was computed once, for the newest version; the older jobs left it alone.
    let list = stored(&learning).await.expect("a list");
    assert_eq!((list.stats_version, list.version), (3, 1));
}

#[tokio::test]
async fn a_deleted_profile_gets_no_list_and_counts_nothing() {
    let (learning, _dir) = learning().await;
    learning
        .platform
        .table
        .put(stats(1, &[A]).to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    played(&learning, PROFILE, 1, A, NOW - 60).await;
    let b = played(&learning, PROFILE, 2, B, NOW - 30).await;
    learning
        .refresh_recommendations(PROFILE, 1, &[b])
        .await
        .unwrap();
    assert!(stored(&learning).await.is_none());
    assert_eq!(count(&learning, A, B).await, 0);
}

fn published(game_id: &str, ages: (i32, i32)) -> lectern_learning::catalog::Game {
    use lectern_learning::catalog::*;
    Game {
        game_id: game_id.into(),
        content: GameInput {
            title: format!("Game {game_id}"),
            description: String::new(),
            rules: String::new(),
            min_age: ages.0,
            max_age: ages.1,
            category: "numbers".into(),
            skills: vec!["counting".into()],
            difficulty: Difficulty::Easy,
            estimated_minutes: 5,
            assets: Vec::new(),
            locales: Default::default(),
            variants: Vec::new(),
        },
        status: GameStatus::Published,
        published_at: Some(NOW),
        plays: 0,
        created_by: "01JAD4LOVELACE0000000000AA".into(),
        created_at: NOW,
        updated_at: NOW,
        version: 1,
    }
}

#[tokio::test]
async fn what_other_learners_played_next_is_recommended_for_the_right_age() {
    let (learning, _dir) = learning().await;
    let table = &learning.platform.table;
    const OTHER: &str = "01JPROF1LE0000000000000001";
    let year = learning.year();
    for (id, profile_id) in [(0, PROFILE), (1, OTHER)] {
        let mut p = profile();
        p.profile_id = profile_id.into();
        p.birth_year = year - 5;
        p.display_name = format!("Kid {id}");
        table
            .put(p.to_item().unwrap(), Condition::Always)
            .await
            .unwrap();
    }
    // B is for five-year-olds, C for older children.
    for (game, ages) in [(A, (4, 6)), (B, (4, 6)), (C, (9, 11))] {
        table
            .put(published(game, ages).to_item().unwrap(), Condition::Always)
            .await
            .unwrap();
    }
    let mut other_stats = stats(1, &[A, B, C]);
    other_stats.profile_id = OTHER.into();
    table
        .put(other_stats.to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    played(&learning, OTHER, 1, A, NOW - 300).await;
    let b = played(&learning, OTHER, 2, B, NOW - 200).await;
    let c = played(&learning, OTHER, 3, C, NOW - 100).await;
    learning
        .refresh_recommendations(OTHER, 1, &[b, c])
        .await
        .unwrap();
    assert_eq!(count(&learning, A, B).await, 1);
    table
        .put(stats(1, &[A]).to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    let mine = played(&learning, PROFILE, 4, A, NOW - 60).await;
    learning
        .refresh_recommendations(PROFILE, 1, &[mine])
        .await
        .unwrap();
    let list = stored(&learning).await.expect("a list");
    let games: Vec<&str> = list.items.iter().map(|s| s.game_id.as_str()).collect();
    assert_eq!(games, [B], "{list:?}");
    assert_eq!(list.items[0].because, A);
}
