//! The table's key layout, checked across the whole workspace:
//!
//! - no two entities can share a key, a sort-key query, or an index partition (see
//!   `lectern_shared::table::entity::clashes`);
//! - every entity declared in library code (`EntityInfo::new("<name>", ...)`) is in a crate's `ENTITIES`
//!   registry, so a domain added later cannot forget to register: its first entity fails this test until it is
//!   listed here;
//! - every registered entity has exactly one golden file pinning its stored item (`tests/golden/<name>.json`
//!   in its crate);
//! - library code builds keys, items and queries only through entities: no `"pk"`/`"gsi1pk"`/... literals, no
//!   hand-made `Item`, `Key`, `Update` or `Query` outside the table module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lectern_shared::table::entity::clashes;
use lectern_shared::table::{EntityInfo, Index, IndexLayout, KeyLayout, Shape};

/// Every registry. A new crate that stores items adds its `ENTITIES` here.
fn registered() -> Vec<EntityInfo> {
    [
        lectern_shared::ENTITIES,
        lectern_accounts::ENTITIES,
        lectern_exams::ENTITIES,
        lectern_learning::ENTITIES,
        lectern_platform::ENTITIES,
        lectern_local::ENTITIES,
        lectern_operations::ENTITIES,
        lectern_webhooks::ENTITIES,
    ]
    .concat()
}

#[test]
fn no_two_entities_share_a_key_prefix() {
    let entities = registered();
    let found = clashes(&entities);
    let layouts: Vec<String> = entities.iter().map(ToString::to_string).collect();
    assert!(
        found.is_empty(),
        "entities clash:\n  {}\n\nall layouts:\n  {}",
        found.join("\n  "),
        layouts.join("\n  ")
    );
}

#[test]
fn the_check_refuses_made_up_clashes() {
    const USER: Shape = Shape::new("USER", &["user_id"]);
    const ALL_USERS: IndexLayout = IndexLayout::new(
        Index::Gsi1,
        KeyLayout::new(Shape::fixed("USERS"), Shape::fixed("X")),
    );
    let made_up = [
        // The same item collection and a sort key that the session listing (`SESSION#`) would return.
        EntityInfo::new(
            "device",
            KeyLayout::new(USER, Shape::new("SESSION", &["session_id", "device"])),
        ),
        // A fixed key that is also a possible user key (`USER#root` / `PROFILE`).
        EntityInfo::new(
            "root",
            KeyLayout::new(Shape::fixed("USER#root"), Shape::fixed("PROFILE")),
        ),
        // Its own key space, but the accounts' gsi1 partition.
        EntityInfo::new(
            "course",
            KeyLayout::new(Shape::new("COURSE", &["id"]), Shape::fixed("COURSE")),
        )
        .indexed(&[ALL_USERS]),
        // A name already taken.
        EntityInfo::new(
            "session",
            KeyLayout::new(Shape::new("LEGACY", &["id"]), Shape::fixed("S")),
        ),
    ];
    for entity in made_up {
        let mut entities = registered();
        entities.push(entity);
        let found = clashes(&entities);
        assert!(
            found.iter().any(|c| c.contains(entity.name)),
            "{entity} was not refused: {found:?}"
        );
    }
}

/// `shared/`, `local/` and every `functions/<domain>/<crate>/`.
fn crate_dirs() -> Vec<PathBuf> {
    let root = lectern_e2e::repo_root();
    let mut dirs = vec![root.join("shared"), root.join("local")];
    for domain in read_dir(&root.join("functions")) {
        dirs.extend(
            read_dir(&domain)
                .into_iter()
                .filter(|d| d.join("Cargo.toml").is_file()),
        );
    }
    dirs
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for path in read_dir(dir) {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library code of every crate: `src/**.rs` without comment lines and without the unit tests at the end of a
/// file (they make up entities and raw items on purpose). Paths are relative to the repository.
fn library_lines() -> Vec<(String, usize, String)> {
    let root = lectern_e2e::repo_root();
    let mut files = Vec::new();
    for dir in crate_dirs() {
        rust_files(&dir.join("src"), &mut files);
    }
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            if !line.starts_with("//") {
                lines.push((rel.clone(), n + 1, line.to_string()));
            }
        }
    }
    lines
}

#[test]
fn every_declared_entity_is_registered() {
    const DECLARE: &str = "EntityInfo::new(";
    let mut declared: BTreeMap<String, String> = BTreeMap::new();
    let lines = library_lines();
    for (i, (file, n, line)) in lines.iter().enumerate() {
        let Some(at) = line.find(DECLARE) else {
            continue;
        };
        // rustfmt may put the name on the next line.
        let rest = match &line[at + DECLARE.len()..] {
            "" => lines.get(i + 1).map_or("", |next| next.2.as_str()),
            rest => rest,
        };
        let name = rest
            .strip_prefix('"')
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("{file}:{n}: name the entity with a string literal"));
        declared.insert(name.to_string(), format!("{file}:{n}"));
    }
    let registered: Vec<&str> = registered().iter().map(|e| e.name).collect();
    let missing: Vec<String> = declared
        .iter()
        .filter(|(name, _)| !registered.contains(&name.as_str()))
        .map(|(name, at)| format!("{name} (declared at {at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "entities missing from every registry — list them in their crate's `ENTITIES` (and a new crate's \
         `ENTITIES` in tests/architecture/keys.rs): {missing:?}"
    );
    // The other way round guards the scan itself: were it to find nothing, nothing would be missing.
    let unseen: Vec<&&str> = registered
        .iter()
        .filter(|name| !declared.contains_key(**name))
        .collect();
    assert!(
        unseen.is_empty(),
        "registered entities the scan did not find declared: {unseen:?}"
    );
}

#[test]
fn every_registered_entity_has_one_golden_file() {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for dir in crate_dirs() {
        for path in read_dir(&dir.join("tests/golden")) {
            if path.extension().is_some_and(|e| e == "json")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                files.entry(stem.to_string()).or_default().push(path);
            }
        }
    }
    let entities = registered();
    for entity in &entities {
        match files.get(entity.name).map(Vec::len) {
            Some(1) => {}
            Some(_) => panic!(
                "{} has several golden files: {:?}",
                entity.name, files[entity.name]
            ),
            None => panic!(
                "{} has no golden file: add a test calling lectern_shared::testing::golden::assert_stored \
                 (or assert_stored_item) next to its crate's other tests",
                entity.name
            ),
        }
    }
    let orphans: Vec<&String> = files
        .keys()
        .filter(|name| !entities.iter().any(|e| e.name == name.as_str()))
        .collect();
    assert!(
        orphans.is_empty(),
        "golden files of no registered entity: {orphans:?}"
    );
}

#[test]
fn library_code_builds_items_only_through_entities() {
    // The table module is the port and its adapters; the contract suites test the raw port on purpose.
    let exempt = ["shared/src/table/", "shared/src/testing/contract/"];
    let forbidden = [
        "\"pk\"",
        "\"sk\"",
        "\"gsi1pk\"",
        "\"gsi1sk\"",
        "\"gsi2pk\"",
        "\"gsi2sk\"",
        "\"entity\"",
        "\"ttl\"",
        "Item::new(",
        "Key::new(",
        "Update::new(",
        "Query::partition(",
    ];
    let mut found = Vec::new();
    for (file, n, line) in library_lines() {
        if exempt.iter().any(|e| file.starts_with(e)) {
            continue;
        }
        // An expiry that is only the item's `ttl` is read back through this serde attribute (see `Entity`).
        if line.starts_with("#[serde(rename = \"ttl\", skip_serializing)]") {
            continue;
        }
        if let Some(pattern) = forbidden.iter().find(|p| line.contains(**p)) {
            found.push(format!("{file}:{n}: {pattern} in `{line}`"));
        }
    }
    assert!(
        found.is_empty(),
        "build keys, items, updates and queries through the entity's declaration \
         (lectern_shared::table::entity), not by hand:\n  {}",
        found.join("\n  ")
    );
}
