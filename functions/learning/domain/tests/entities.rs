//! Golden files of the items the learning domain stores: one per entity, the whole item, in
//! `golden/<entity>.json`. Rewrite them with `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

mod common;

use common::{NOW, learning};
use std::path::PathBuf;

use lectern_learning::Viewer;
use lectern_learning::profiles::{Consent, FAMILY_COUNTER, NewProfile, Profile, ProfileKind};
use lectern_shared::table::{Condition, Entity};
use lectern_shared::testing::golden::{assert_stored, assert_stored_item};
use serde_json::json;

const OWNER: &str = "01JAD4LOVELACE0000000000AA";
const PROFILE: &str = "01JPROF1LE0000000000000000";

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// A child's profile with every field set, controls included.
fn sample_profile() -> Profile {
    use lectern_learning::controls::{AllowedHours, Controls};
    Profile {
        profile_id: PROFILE.into(),
        owner_id: OWNER.into(),
        kind: ProfileKind::Child,
        display_name: "Byron".into(),
        birth_year: 2021,
        locale: Some("en-GB".into()),
        timezone: "Europe/London".into(),
        avatar_key: Some(format!(
            "profile-avatars/{PROFILE}/01JAVATAR00000000000000000"
        )),
        preferences: json!({"sound": false}).as_object().unwrap().clone(),
        created_at: NOW - 86_400,
        updated_at: NOW,
        version: 2,
        controls: Some(Controls {
            daily_limit_minutes: Some(45),
            allowed_hours: Some(AllowedHours {
                start: "08:00".into(),
                end: "19:30".into(),
            }),
            blocked_games: vec!["01JGAME0000000000000000000".into()],
            blocked_categories: vec!["videos".into()],
            max_age_rating: Some(7),
            leaderboard_visible: false,
        }),
    }
}

#[test]
fn learner_profile() {
    assert_stored(&golden(), &sample_profile());
}

#[test]
fn parental_consent() {
    assert_stored(
        &golden(),
        &Consent {
            owner_id: OWNER.into(),
            profile_id: PROFILE.into(),
            method: "verified_account_attestation".into(),
            policy_version: "2025-01".into(),
            consented_at: NOW,
            ip: Some("192.0.2.7".into()),
            profile_deleted_at: Some(NOW + 60),
        },
    );
}

#[tokio::test]
async fn family_counter() {
    let (learning, _dir) = learning().await;
    let viewer = Viewer {
        user_id: OWNER.into(),
        acting_profile: None,
        every_profile: false,
        manages_children: true,
        manages_own: true,
    };
    let input = NewProfile {
        kind: None,
        display_name: "Byron".into(),
        birth_year: 2021,
        locale: None,
        timezone: None,
        preferences: None,
        parental_consent: Some(true),
    };
    learning
        .create_profile(&viewer, ProfileKind::Child, input, None)
        .await
        .unwrap();
    let key = FAMILY_COUNTER.key(&[OWNER], &[]);
    let item = learning.platform.table.get(&key).await.unwrap();
    assert_stored_item(&golden(), &FAMILY_COUNTER, &item.expect("a counter"));
    let profile = learning.profiles(&viewer).await.unwrap();
    assert_eq!(profile.len(), 1);
    assert!(Profile::INFO.name == "learner_profile");
}

fn sample_game() -> lectern_learning::catalog::Game {
    use lectern_learning::catalog::*;
    Game {
        game_id: "01JGAME0000000000000000000".into(),
        content: GameInput {
            title: "Letters and Sounds".into(),
            description: "Match each letter to its sound.".into(),
            rules: "Tap the letter you hear.".into(),
            min_age: 4,
            max_age: 5,
            category: "alphabets".into(),
            skills: vec!["phonics".into()],
            difficulty: Difficulty::Easy,
            estimated_minutes: 5,
            assets: vec![Asset {
                kind: AssetKind::Image,
                url: "https://cdn.example.com/letters.png".into(),
            }],
            locales: [(
                "fr".to_string(),
                LocaleText {
                    title: "Lettres et sons".into(),
                    description: String::new(),
                    rules: String::new(),
                },
            )]
            .into(),
            variants: vec![Variant {
                key: "big-buttons".into(),
                weight: 50,
                overrides: json!({"button_scale": 1.5}).as_object().unwrap().clone(),
            }],
        },
        status: GameStatus::Published,
        published_at: Some(NOW),
        plays: 12,
        created_by: OWNER.into(),
        created_at: NOW - 60,
        updated_at: NOW,
        version: 3,
    }
}

#[test]
fn game() {
    assert_stored(&golden(), &sample_game());
}

#[test]
fn catalog_entry() {
    let entry = sample_game()
        .entries()
        .into_iter()
        .find(|e| e.facets == "a=4-5,c=alphabets,d=easy,s=phonics")
        .expect("listed under its every facet");
    let item = entry.to_item().unwrap();
    assert_stored_item(
        &golden(),
        &lectern_learning::catalog::CatalogEntry::INFO,
        &item,
    );
    let back = lectern_learning::catalog::CatalogEntry::from_item(item).unwrap();
    assert_eq!(back.game_id, entry.game_id);
    assert_eq!(back.facets, entry.facets);
}

fn sample_result() -> lectern_learning::progress::GameResult {
    lectern_learning::progress::GameResult {
        result_id: "01JRESULT00000000000000000".into(),
        profile_id: PROFILE.into(),
        game_id: "01JGAME0000000000000000000".into(),
        variant: Some("big-buttons".into()),
        score: 870,
        stars: 3,
        duration_secs: 240,
        completed: true,
        played_at: NOW - 300,
        recorded_at: NOW,
        day: "2030-03-17".into(),
    }
}

#[test]
fn game_result() {
    assert_stored(&golden(), &sample_result());
}

#[test]
fn progress_key() {
    assert_stored(
        &golden(),
        &lectern_learning::progress::ProgressKey {
            profile_id: PROFILE.into(),
            key: "device-7-result-0042".into(),
            body_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            result: sample_result(),
            expires_at: NOW + 90 * 86_400,
        },
    );
}

#[test]
fn learner_stats() {
    use lectern_learning::progress::{GameStats, LearnerStats, SkillStats};
    assert_stored(
        &golden(),
        &LearnerStats {
            profile_id: PROFILE.into(),
            results: 4,
            completed: 3,
            seconds: 900,
            games: [(
                "01JGAME0000000000000000000".to_string(),
                GameStats {
                    plays: 4,
                    completions: 3,
                    best_score: 870,
                    total_score: 2900,
                    best_stars: 3,
                    seconds: 900,
                    completed_stars: 3,
                },
            )]
            .into(),
            skills: [(
                "phonics".to_string(),
                SkillStats {
                    results: 4,
                    stars: 9,
                },
            )]
            .into(),
            days: vec![20_529, 20_530, 20_532],
            longest_dropped: 0,
            day_seconds: [(20_530, 300), (20_532, 600)].into(),
            version: 4,
        },
    );
}

#[test]
fn curriculum() {
    use lectern_learning::curriculum::{Curriculum, Module, ModuleInput};
    assert_stored(
        &golden(),
        &Curriculum {
            modules: vec![Module {
                module_id: "01JMODULE00000000000000001".into(),
                content: ModuleInput {
                    path: "reading".into(),
                    title: "First letters".into(),
                    description: "A, B and C.".into(),
                    order: 1,
                    games: vec!["01JGAME0000000000000000000".into()],
                    prerequisites: vec![],
                    min_stars: 2,
                },
                created_at: NOW,
                updated_at: NOW,
            }],
            version: 3,
        },
    );
}

#[test]
fn achievement() {
    use lectern_learning::achievements::{Achievement, AchievementInput, Rule};
    assert_stored(
        &golden(),
        &Achievement {
            achievement_id: "01JACHIEVE0000000000000001".into(),
            content: AchievementInput {
                name: "High score".into(),
                description: "90 points in Add It Up.".into(),
                icon: "icons/star.png".into(),
                rule: Rule::ScoreAtLeast {
                    game_id: "01JGAME0000000000000000000".into(),
                    score: 90,
                },
            },
            created_at: NOW,
            updated_at: NOW,
            version: 2,
        },
    );
}

#[test]
fn earned_achievement() {
    use lectern_learning::achievements::{Earned, EarnedBy};
    assert_stored(
        &golden(),
        &Earned {
            profile_id: PROFILE.into(),
            achievement_id: "01JACHIEVE0000000000000001".into(),
            name: "High score".into(),
            icon: "icons/star.png".into(),
            earned_at: NOW,
            earned_by: EarnedBy::Rule,
            awarded_by: None,
        },
    );
}

#[test]
fn board_entry() {
    use lectern_learning::leaderboards::BoardEntry;
    assert_stored(
        &golden(),
        &BoardEntry {
            game_id: "01JGAME0000000000000000000".into(),
            period: "W2030-11".into(),
            shard: "0".into(),
            profile_id: PROFILE.into(),
            score: 870,
            achieved_at: NOW - 300,
        },
    );
}

#[tokio::test]
async fn board_buckets() {
    use lectern_learning::leaderboards::{BOARD_BUCKETS, BoardEntry, Score};
    let (learning, _dir) = learning().await;
    // Only a profile that exists goes on a board.
    learning
        .platform
        .table
        .put(sample_profile().to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    let game = "01JGAME0000000000000000000";
    let score = |score| Score {
        game_id: game.into(),
        score,
        played_at: NOW - 300,
    };
    learning
        .record_scores(PROFILE, &[score(100)])
        .await
        .unwrap();
    learning
        .record_scores(PROFILE, &[score(870)])
        .await
        .unwrap();
    let entry = learning
        .platform
        .table
        .get(&BoardEntry::key_of(game, "ALL", PROFILE))
        .await
        .unwrap()
        .map(BoardEntry::from_item)
        .unwrap()
        .unwrap();
    assert_eq!(entry.score, 870);
    let key = BOARD_BUCKETS.key(&[game, "ALL", &entry.shard], &[]);
    let item = learning.platform.table.get(&key).await.unwrap();
    // Moved from the bucket of 100 (b27: 0) to the bucket of 870 (b40: 1).
    assert_stored_item(&golden(), &BOARD_BUCKETS, &item.expect("the counters"));
}

#[tokio::test]
async fn achievement_evaluation() {
    use lectern_learning::achievements::EVALUATED;
    let (learning, _dir) = learning().await;
    learning
        .platform
        .table
        .put(
            sample_profile().to_item().unwrap(),
            lectern_shared::table::Condition::NotExists,
        )
        .await
        .unwrap();
    learning.evaluate_achievements(PROFILE, 0).await.unwrap();
    let item = learning
        .platform
        .table
        .get(&EVALUATED.key(&[PROFILE], &[]))
        .await
        .unwrap();
    assert_stored_item(&golden(), &EVALUATED, &item.expect("the mark"));
}

#[test]
fn onboarding_steps() {
    use lectern_learning::onboarding::{OnboardingSteps, default_steps};
    assert_stored(
        &golden(),
        &OnboardingSteps {
            steps: default_steps(),
            version: 2,
        },
    );
}

#[test]
fn onboarding_progress() {
    use lectern_learning::onboarding::{Done, DoneBy, OnboardingProgress};
    assert_stored(
        &golden(),
        &OnboardingProgress {
            owner_id: OWNER.into(),
            done: [
                (
                    "verify-email".to_string(),
                    Done {
                        at: NOW,
                        by: DoneBy::Event,
                    },
                ),
                (
                    "set-controls".to_string(),
                    Done {
                        at: NOW + 60,
                        by: DoneBy::Account,
                    },
                ),
            ]
            .into(),
            version: 3,
        },
    );
}

#[test]
fn recommendations() {
    use lectern_learning::recommendations::{Reason, Recommendations, Suggested};
    assert_stored(
        &golden(),
        &Recommendations {
            profile_id: PROFILE.into(),
            items: vec![
                Suggested {
                    game_id: "01JGAME0000000000000000001".into(),
                    reason: Reason::Curriculum,
                    because: "01JMODULE00000000000000001".into(),
                },
                Suggested {
                    game_id: "01JGAME0000000000000000002".into(),
                    reason: Reason::WeakSkill,
                    because: "counting".into(),
                },
                Suggested {
                    game_id: "01JGAME0000000000000000003".into(),
                    reason: Reason::SimilarLearners,
                    because: "01JGAME0000000000000000000".into(),
                },
            ],
            stats_version: 4,
            computed_at: NOW,
            version: 2,
        },
    );
}

#[tokio::test]
async fn game_successor_and_transition_counted() {
    use lectern_learning::recommendations::{Counted, Played, Successor};
    let (learning, _dir) = learning().await;
    let table = &learning.platform.table;
    table
        .put(sample_profile().to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    // The result before: a finished game.
    let before = sample_result();
    table
        .put(before.to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
    let next = Played {
        result_id: "01JRESULT00000000000000002".into(),
        game_id: "01JGAME0000000000000000001".into(),
        played_at: before.played_at + 60,
    };
    learning
        .refresh_recommendations(PROFILE, 2, std::slice::from_ref(&next))
        .await
        .unwrap();
    let item = table
        .get(&Successor::key_of(&before.game_id, &next.game_id))
        .await
        .unwrap();
    assert_stored_item(&golden(), &Successor::INFO, &item.expect("the count"));
    let mark = table
        .get(&Counted::key_of(PROFILE, &next.result_id))
        .await
        .unwrap();
    assert_stored_item(&golden(), &Counted::INFO, &mark.expect("the mark"));
}
