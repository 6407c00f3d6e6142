//! Golden files of the items the operations domain stores: one per entity, the whole item, in
//! `golden/<entity>.json`. Rewrite them with `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::path::PathBuf;

use lectern_operations::flags::{Flag, FlagInput, FlagSet, FlagSubject, Targeting};
use lectern_operations::settings::{MinClientVersions, Settings, StoredSettings};
use lectern_shared::testing::golden::assert_stored;

const ADMIN: &str = "01JAD4LOVELACE0000000000AA";

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn the_settings_are_one_versioned_item() {
    assert_stored(
        &golden(),
        &StoredSettings {
            version: 3,
            settings: Settings {
                support_email: Some("help@example.com".into()),
                min_client_version: MinClientVersions {
                    ios: Some("3.2".into()),
                    android: Some("3.1.4".into()),
                    web: None,
                },
                maintenance_message: Some("Back at 10:00 UTC".into()),
                default_locale: "en".into(),
                registration_open: true,
                internal_note: Some("ask Ana first".into()),
            },
            updated_at: Some("2030-03-17T17:46:40Z".into()),
            updated_by: Some(ADMIN.into()),
        },
    );
}

#[test]
fn every_flag_is_in_one_versioned_item() {
    assert_stored(
        &golden(),
        &FlagSet {
            version: 7,
            flags: vec![Flag {
                key: "catalog.grid".into(),
                rule: FlagInput {
                    description: "The grid catalog layout".into(),
                    enabled: true,
                    rollout_percent: 50,
                    subject: FlagSubject::Profile,
                    targeting: Targeting {
                        roles: vec!["learner".into()],
                        tiers: vec![],
                        age_bands: vec!["6-7".into()],
                        locales: vec!["pt".into()],
                    },
                    variants: vec!["control".into(), "grid".into()],
                },
                updated_at: "2030-03-17T17:46:40Z".into(),
                updated_by: ADMIN.into(),
            }],
        },
    );
}
