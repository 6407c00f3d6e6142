//! Golden file of the item the dev server itself stores (`golden/<entity>.json`); rewrite it with
//! `LECTERN_UPDATE_GOLDEN=1` when a change of stored data is intended.

use std::path::PathBuf;

use lectern_local::seed::SeedMarker;
use lectern_shared::testing::golden::assert_stored;

#[test]
fn seed_marker() {
    assert_stored(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
        &SeedMarker {
            name: "demo-accounts".into(),
            applied_at: 1_900_000_000,
        },
    );
}
