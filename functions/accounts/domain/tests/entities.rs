//! Golden files of the items the accounts domain stores: one per entity, the whole item, in
//! `golden/<entity>.json`. Items written whole are pinned from a sample value (which must also read back as
//! itself); counters, which only updates write, are pinned as the real writes leave them. Rewrite the files with
//! `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::path::PathBuf;
use std::sync::Arc;

use lectern_accounts::apikeys::{ApiKey, ApiKeyListing, ApiKeyLookup, StoredApiKey};
use lectern_accounts::audit::{Action, Event, StoredEvent};
use lectern_accounts::config::AccountsConfig;
use lectern_accounts::lockout::{self, Lockout, LockoutPolicy};
use lectern_accounts::onetime::{OneTimeToken, Purpose};
use lectern_accounts::password::Argon2Params;
use lectern_accounts::permissions::Role;
use lectern_accounts::service::Accounts;
use lectern_accounts::service::admin::{ADMIN_COUNT, admins_key};
use lectern_accounts::sessions::{RefreshRecord, Session};
use lectern_accounts::twofactor::challenges::SpentChallenge;
use lectern_accounts::users::{EmailClaim, Preferences, Status, Tier, TwoFactor, User};
use lectern_shared::clock::ManualClock;
use lectern_shared::table::Table;
use lectern_shared::testing::golden::{assert_stored, assert_stored_item};
use lectern_shared::{Config, Platform};
use time::OffsetDateTime;

/// A source digest as the rate limiter makes them.
const SOURCE: &str = "3f2a9c0d1e4b5a6f";
const NOW: i64 = 1_900_000_000;
const USER_ID: &str = "01JAD4LOVELACE0000000000AA";
const SESSION_ID: &str = "01JSESS1ON00000000000000SS";
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(NOW).unwrap())
}

#[test]
fn user() {
    let mut preferences = Preferences {
        locale: Some("en-GB".into()),
        ..Preferences::default()
    };
    preferences
        .notifications
        .insert("digest".into(), true.into());
    assert_stored(
        &golden(),
        &User {
            user_id: USER_ID.into(),
            email: "Ada.Lovelace@Example.com".into(),
            display_name: "Ada".into(),
            role: Role::Instructor,
            tier: Tier::Premium,
            status: Status::Active,
            email_verified: true,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: NOW - 86_400,
            updated_at: NOW,
            version: 3,
            preferences,
            two_factor: Some(TwoFactor {
                sealed_secret: "sealed".into(),
                enabled: true,
                last_step: Some(63_333_333),
                backup_codes: vec![HASH.into(), String::new()],
            }),
            deleted_at: None,
            purge_after: None,
            password_changed_at: Some(NOW - 3_600),
        },
    );
}

#[test]
fn email_claim() {
    assert_stored(
        &golden(),
        &EmailClaim {
            email_key: "ada.lovelace@example.com".into(),
            user_id: USER_ID.into(),
        },
    );
}

#[test]
fn session() {
    assert_stored(
        &golden(),
        &Session {
            session_id: SESSION_ID.into(),
            user_id: USER_ID.into(),
            created_at: NOW - 600,
            last_used_at: NOW,
            auth_time: NOW - 600,
            idle_expires_at: NOW + 14 * 86_400,
            absolute_expires_at: NOW + 60 * 86_400,
            ip: Some("203.0.113.7".into()),
            user_agent: Some("curl/8.5".into()),
            current_hash: HASH.into(),
            profile_id: None,
        },
    );
}

#[test]
fn refresh_token() {
    assert_stored(
        &golden(),
        &RefreshRecord {
            hash: HASH.into(),
            user_id: USER_ID.into(),
            session_id: SESSION_ID.into(),
            state: "rotated".into(),
            rotated_at: Some(NOW),
            expires_at: NOW + 60 * 86_400,
        },
    );
}

#[test]
fn one_time_token() {
    assert_stored(
        &golden(),
        &OneTimeToken {
            hash: HASH.into(),
            purpose: Purpose::ResetPassword,
            user_id: USER_ID.into(),
            email: "ada.lovelace@example.com".into(),
            expires_at: NOW + 900,
        },
    );
}

#[test]
fn audit_event() {
    let mut details = serde_json::Map::new();
    details.insert("key_id".into(), "01JKEY0000000000000000000K".into());
    assert_stored(
        &golden(),
        &StoredEvent {
            event: Event {
                event_id: "01JEVENT000000000000000000".into(),
                action: Action::ApiKeyCreated,
                actor_id: Some(USER_ID.into()),
                target_id: USER_ID.into(),
                ip: Some("203.0.113.7".into()),
                user_agent: None,
                request_id: Some("01JREQUEST0000000000000000".into()),
                server_request_id: Some("Zk3mPhEJIAMEbcA=".into()),
                at: "2030-03-17T17:46:40Z".into(),
                details,
            },
            expires_at: NOW + 400 * 86_400,
        },
    );
}

fn api_key() -> StoredApiKey {
    StoredApiKey {
        key: ApiKey {
            key_id: "01JKEY0000000000000000000K".into(),
            name: "CI export".into(),
            scopes: vec!["content:read".into(), "self:manage".into()],
            created_at: NOW,
            expires_at: Some(NOW + 30 * 86_400),
            last_used_at: None,
        },
        user_id: USER_ID.into(),
        hash: HASH.into(),
    }
}

#[test]
fn api_key_lookup() {
    assert_stored(&golden(), &ApiKeyLookup(api_key()));
}

#[test]
fn api_key_listing() {
    assert_stored(&golden(), &ApiKeyListing(api_key()));
}

#[test]
fn spent_challenge() {
    assert_stored(
        &golden(),
        &SpentChallenge {
            jti: "01JCHALLENGE00000000000000".into(),
            expires_at: NOW + 330,
        },
    );
}

/// Two failures from one source: the source's counter locks (threshold 2); the account-wide one counts on.
#[tokio::test]
async fn lockout_counters() {
    let (table, _dir) = lectern_shared::testing::embedded::table(Arc::new(clock()));
    let policy = LockoutPolicy {
        threshold: 2,
        window_secs: 900,
        duration_secs: 600,
        account_threshold: 10,
        account_window_secs: 86_400,
        account_duration_secs: 3600,
    };
    let lockout = Lockout::new(table.clone(), policy);
    for _ in 0..policy.threshold {
        if let lockout::AfterFailure::Reached(scope, until) =
            lockout.record_failure(USER_ID, SOURCE, NOW).await.unwrap()
        {
            table
                .transact(vec![lockout::lock_op(USER_ID, SOURCE, scope, until)])
                .await
                .unwrap();
        }
    }
    let item = table.get(&lockout::key(USER_ID)).await.unwrap();
    assert_stored_item(&golden(), &lockout::COUNTER, &item.expect("a counter"));
    let item = table
        .get(&lockout::source_key(USER_ID, SOURCE))
        .await
        .unwrap();
    assert_stored_item(
        &golden(),
        &lockout::SOURCE_COUNTER,
        &item.expect("a source counter"),
    );
}

#[tokio::test]
async fn admin_count_and_account_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::with_clock(Config::for_tests(dir.path().into()), Arc::new(clock()))
        .await
        .unwrap();
    let config = AccountsConfig::from_lookup(&platform.config, |_| None).unwrap();
    let cheap = Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    let accounts = Accounts::new(platform.clone(), config, cheap).unwrap();
    accounts
        .provision("root@example.com", "Root", Role::Admin, "tqvm-8kzr2-wq")
        .await
        .unwrap();
    let item = platform.table.get(&admins_key()).await.unwrap();
    assert_stored_item(&golden(), &ADMIN_COUNT, &item.expect("a counter"));
    // The statistics of the same account: created as a learner, then promoted (the totals moved with the role).
    use lectern_accounts::stats::{DAY, TOTALS, day_of};
    let totals = platform.table.get(&TOTALS.key(&[], &[])).await.unwrap();
    assert_stored_item(&golden(), &TOTALS, &totals.expect("the totals"));
    let day = day_of(lectern_shared::clock::Clock::epoch_seconds(&clock()));
    let day = platform.table.get(&DAY.key(&[], &[&day])).await.unwrap();
    assert_stored_item(&golden(), &DAY, &day.expect("the day"));
}

#[test]
fn parent_pin() {
    assert_stored(
        &golden(),
        &lectern_accounts::device_sessions::ParentPin {
            user_id: USER_ID.into(),
            pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            set_at: NOW,
        },
    );
}

#[tokio::test]
async fn pin_attempts_counter() {
    use lectern_accounts::device_sessions::{PIN_ATTEMPTS_COUNTER, attempts_key};
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::with_clock(Config::for_tests(dir.path().into()), Arc::new(clock()))
        .await
        .unwrap();
    let config = AccountsConfig::from_lookup(&platform.config, |_| None).unwrap();
    let cheap = Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    let accounts = Accounts::new(platform.clone(), config, cheap).unwrap();
    let device = lectern_shared::http::auth::Identity {
        user_id: USER_ID.into(),
        roles: Default::default(),
        permissions: Default::default(),
        session_id: None,
        api_key_id: None,
        email_verified: true,
        auth_time: None,
        tier: "free".into(),
        profile_id: Some("01JPROF1LE0000000000000000".into()),
    };
    let client = lectern_shared::http::client::ClientInfo::default();
    // No PIN is set: the guess is still counted before anything is checked.
    assert!(
        accounts
            .switch_to_parent(&device, "1234", &client)
            .await
            .is_err()
    );
    let item = platform
        .table
        .get(&attempts_key(USER_ID, NOW))
        .await
        .unwrap();
    assert_stored_item(&golden(), &PIN_ATTEMPTS_COUNTER, &item.expect("a counter"));
}

#[test]
fn data_export() {
    use lectern_accounts::data_exports::{DataExport, ExportStatus};
    assert_stored(
        &golden(),
        &DataExport {
            export_id: "01JEXP0RT00000000000000EEE".into(),
            user_id: USER_ID.into(),
            requested_by: USER_ID.into(),
            status: ExportStatus::Ready,
            requested_at: NOW,
            completed_at: Some(NOW + 30),
            link_expires_at: Some(NOW + 30 + 48 * 3600),
            size_bytes: Some(48_213),
            contents: [
                ("accounts/user".to_string(), 1),
                ("learning/game_result".to_string(), 12),
            ]
            .into_iter()
            .collect(),
        },
    );
}

#[test]
fn export_allowance() {
    use lectern_accounts::data_exports::ExportAllowance;
    assert_stored(
        &golden(),
        &ExportAllowance {
            user_id: USER_ID.into(),
            last_requested_at: NOW,
            version: 3,
        },
    );
}

#[test]
fn active_day() {
    assert_stored(
        &golden(),
        &lectern_accounts::stats::ActiveMark {
            user_id: USER_ID.into(),
            day: "2030-03-17".into(),
            expires_at: NOW + 3 * 24 * 3600,
        },
    );
}
