//! Golden files: a value pinned as pretty JSON in a file beside its test, so any change to it fails the test and
//! shows as a diff in review. `LECTERN_UPDATE_GOLDEN=1` rewrites the files instead of comparing; read the diff
//! before committing it, it is a change of stored data.

use std::fmt::Debug;
use std::path::Path;

use serde_json::Value;

use crate::table::{Entity, EntityInfo, Item};

/// Set to `1` to rewrite golden files from the current values.
pub const UPDATE_VAR: &str = "LECTERN_UPDATE_GOLDEN";

fn updating() -> bool {
    std::env::var(UPDATE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn pretty(value: &Value) -> String {
    // serde_json's maps are ordered by key, so the files are stable.
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always print");
    text.push('\n');
    text
}

/// Compares `actual` with the JSON in `path` (or rewrites the file when [`UPDATE_VAR`] is set).
pub fn assert_golden(path: &Path, actual: &Value) {
    if updating() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("creating the golden folder");
        }
        std::fs::write(path, pretty(actual)).expect("writing the golden file");
        return;
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "no golden file {} ({e}); run the test with {UPDATE_VAR}=1 to create it",
            path.display()
        )
    });
    let expected: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("golden file {} is not JSON: {e}", path.display()));
    assert!(
        &expected == actual,
        "{} no longer matches.\n--- expected\n{}--- actual\n{}If the change is intended, rerun with {UPDATE_VAR}=1 \
         and commit the file.",
        path.display(),
        pretty(&expected),
        pretty(actual)
    );
}

/// Pins an item of `info` as `<dir>/<entity name>.json`, after checking it has the declared layout. For records
/// written by updates: pass the item the real write stored.
pub fn assert_stored_item(dir: &Path, info: &EntityInfo, item: &Item) {
    if let Err(problem) = info.check(item) {
        panic!(
            "{} item does not have its declared layout {info}: {problem}",
            info.name
        );
    }
    assert_golden(
        &dir.join(format!("{}.json", info.name)),
        &Value::Object(item.clone()),
    );
}

/// Pins the item `sample` is stored as (see [`assert_stored_item`]) and checks it reads back as `sample`.
pub fn assert_stored<E: Entity + PartialEq + Debug>(dir: &Path, sample: &E) {
    let item = sample.to_item().expect("the sample becomes an item");
    assert_stored_item(dir, &E::INFO, &item);
    let back = E::from_item(item).expect("the item reads back");
    assert_eq!(
        &back,
        sample,
        "{} does not read back as written",
        E::INFO.name
    );
}
