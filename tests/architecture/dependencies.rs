//! Dependency rules between the workspace's crates, read from `cargo metadata`:
//!
//! - `functions/<domain>/domain` is the domain's library. It depends on `lectern-shared` and `lectern-messages`,
//!   never on a function crate and never on another domain: domains talk through queue jobs and ids.
//! - Every other folder under `functions/<domain>/` is one deployable function (a `lib` with its router or
//!   handler plus one short `main.rs` binary). It may use its own domain, `lectern-shared`, `lectern-messages`
//!   and the accounts domain (the authenticator every HTTP function installs) — never another function crate.
//! - The jobs worker (`functions/platform/jobs`) runs the one `jobs` queue for every domain, so it assembles every
//!   domain's job handlers and erasers: it alone may use every domain library (still never a function crate).
//! - `functions/platform/messages` holds the job payloads and depends on nothing in `functions/`.
//! - `shared/` depends on nothing of ours.
//! - Every binary of a function crate is a `Binary` in `infra/template.yaml`, and the other way round.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The only domain library another domain's functions may use: it holds the authenticator.
const AUTHENTICATOR_DOMAIN: &str = "accounts";
/// The worker of the `jobs` queue: it runs every domain's jobs, so it may use every domain library.
const JOBS_WORKER: &str = "lectern-platform-jobs";
/// A domain function's `main.rs` hands its router or handler to the Lambda runtime; anything longer is logic that
/// belongs in the library (where the dev server and the tests can reach it).
const MAX_MAIN_LINES: usize = 30;

/// Where a workspace crate sits in the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Shared,
    Messages,
    DomainLibrary {
        domain: String,
    },
    Function {
        domain: String,
    },
    /// The dev server and the end-to-end tests: they may use everything.
    Assembly,
}

#[derive(Debug)]
struct Crate {
    name: String,
    dir: PathBuf,
    place: Place,
    /// Workspace crates it depends on (any kind: normal, dev, build).
    uses: BTreeSet<String>,
    bins: Vec<String>,
    has_lib: bool,
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(lectern_e2e::repo_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn place_of(root: &Path, dir: &Path) -> Place {
    let rel = dir
        .strip_prefix(root)
        .expect("workspace crates live in the repository");
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    match parts.as_slice() {
        ["shared"] => Place::Shared,
        ["functions", "platform", "messages"] => Place::Messages,
        ["functions", domain, "domain"] => Place::DomainLibrary {
            domain: domain.to_string(),
        },
        ["functions", domain, _] => Place::Function {
            domain: domain.to_string(),
        },
        ["local"] | ["tests"] => Place::Assembly,
        other => panic!(
            "{} is outside the layout: crates live in shared/, functions/<domain>/<name>/, local/ or tests/ \
             (see docs/architecture.md)",
            other.join("/")
        ),
    }
}

fn crates() -> BTreeMap<String, Crate> {
    let meta = metadata();
    let root = PathBuf::from(meta["workspace_root"].as_str().expect("workspace root"));
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().expect("name").to_string();
            let dir = PathBuf::from(p["manifest_path"].as_str().expect("manifest path"))
                .parent()
                .expect("manifest folder")
                .to_path_buf();
            let uses = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(*d) && *d != name)
                .map(str::to_string)
                .collect();
            let targets = p["targets"].as_array().expect("targets");
            let kinds = |kind: &'static str| {
                targets
                    .iter()
                    .filter(move |t| {
                        t["kind"]
                            .as_array()
                            .is_some_and(|k| k.iter().any(|k| k == kind))
                    })
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
            };
            let krate = Crate {
                place: place_of(&root, &dir),
                bins: kinds("bin").collect(),
                has_lib: kinds("lib").next().is_some(),
                name: name.clone(),
                dir,
                uses,
            };
            (name, krate)
        })
        .collect()
}

/// Why `from` may not depend on `to`, if it may not.
fn forbidden(from: &Crate, to: &Crate) -> Option<String> {
    use Place::*;
    match (&from.place, &to.place) {
        (Assembly, _) => None,
        (_, Assembly) => Some("nothing depends on the dev server or the tests".into()),
        (Shared, _) => Some("shared/ is the bottom layer: it depends on no crate of ours".into()),
        (_, Shared) => None,
        (Messages, _) => Some("the job payloads depend on nothing in functions/".into()),
        (_, Messages) => None,
        (_, Function { .. }) => Some(
            "a function crate is deployed on its own; move what others need into its domain library (or, for \
             another domain, send a queue job)"
                .into(),
        ),
        (DomainLibrary { domain: a }, DomainLibrary { domain: b }) => Some(format!(
            "the {a} domain must not import the {b} domain; send a queue job (functions/platform/messages) or keep an id"
        )),
        (Function { .. }, DomainLibrary { .. }) if from.name == JOBS_WORKER => None,
        (Function { domain: a }, DomainLibrary { domain: b }) if a != b && b != AUTHENTICATOR_DOMAIN => Some(format!(
            "a {a} function may use its own domain and the accounts authenticator, not the {b} domain"
        )),
        (Function { .. }, DomainLibrary { .. }) => None,
    }
}

#[test]
fn crates_depend_only_on_what_the_layout_allows() {
    let crates = crates();
    let mut broken = Vec::new();
    for from in crates.values() {
        for used in &from.uses {
            let to = &crates[used];
            if let Some(why) = forbidden(from, to) {
                broken.push(format!("{} → {}: {why}", from.name, to.name));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "dependency rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_rules_refuse_what_they_should() {
    // The rules above are only worth something if they can fail: check them on made-up crates.
    let made_up = |name: &str, place: Place| Crate {
        name: name.into(),
        dir: PathBuf::new(),
        place,
        uses: BTreeSet::new(),
        bins: Vec::new(),
        has_lib: true,
    };
    let learning = made_up(
        "lectern-learning",
        Place::DomainLibrary {
            domain: "learning".into(),
        },
    );
    let exams = made_up(
        "lectern-exams",
        Place::DomainLibrary {
            domain: "exams".into(),
        },
    );
    let accounts = made_up(
        "lectern-accounts",
        Place::DomainLibrary {
            domain: "accounts".into(),
        },
    );
    let progress = made_up(
        "lectern-learning-progress",
        Place::Function {
            domain: "learning".into(),
        },
    );
    let worker = made_up(
        "lectern-platform-notifications",
        Place::Function {
            domain: "platform".into(),
        },
    );
    let messages = made_up("lectern-messages", Place::Messages);
    let jobs = made_up(
        JOBS_WORKER,
        Place::Function {
            domain: "platform".into(),
        },
    );
    assert!(
        forbidden(&jobs, &learning).is_none(),
        "the jobs worker → any domain"
    );
    assert!(
        forbidden(&jobs, &worker).is_some(),
        "the jobs worker → another function"
    );
    assert!(
        forbidden(&worker, &learning).is_some(),
        "another platform function → a domain"
    );
    assert!(
        forbidden(&learning, &exams).is_some(),
        "domain → other domain"
    );
    assert!(
        forbidden(&learning, &accounts).is_some(),
        "a domain library → accounts"
    );
    assert!(forbidden(&accounts, &worker).is_some(), "domain → worker");
    assert!(
        forbidden(&progress, &worker).is_some(),
        "function → function"
    );
    assert!(
        forbidden(&progress, &exams).is_some(),
        "function → other domain"
    );
    assert!(
        forbidden(&messages, &accounts).is_some(),
        "messages → domain"
    );
    assert!(
        forbidden(&progress, &learning).is_none(),
        "function → own domain"
    );
    assert!(
        forbidden(&progress, &accounts).is_none(),
        "function → authenticator"
    );
    assert!(
        forbidden(&learning, &messages).is_none(),
        "domain → messages"
    );
}

#[test]
fn every_function_folder_is_one_lambda_with_a_short_main() {
    let mut broken = Vec::new();
    for krate in crates().values() {
        if !matches!(krate.place, Place::Function { .. }) {
            continue;
        }
        let folder = krate
            .dir
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let domain = krate
            .dir
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let expected = format!("lectern-{domain}-{folder}");
        if krate.name != expected {
            broken.push(format!(
                "{}: a function crate in functions/{domain}/{folder} is named {expected}",
                krate.name
            ));
        }
        if krate.bins.len() != 1 || !krate.has_lib {
            broken.push(format!(
                "{}: one library (router or handler) and exactly one binary, found bins {:?}",
                krate.name, krate.bins
            ));
        }
        let main = krate.dir.join("src/main.rs");
        let lines = std::fs::read_to_string(&main)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines == 0 || lines > MAX_MAIN_LINES {
            broken.push(format!(
                "{}: src/main.rs has {lines} lines; it only hands the library to the Lambda runtime (≤ {MAX_MAIN_LINES})",
                krate.name
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "function crates out of shape:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_function_binary_is_deployed_by_the_template_and_nothing_else_is() {
    let template = std::fs::read_to_string(lectern_e2e::repo_root().join("infra/template.yaml"))
        .expect("template");
    let deployed: BTreeSet<String> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary:"))
        .map(|b| b.trim().to_string())
        .collect();
    let built: BTreeSet<String> = crates()
        .values()
        .filter(|c| matches!(c.place, Place::Function { .. }))
        .flat_map(|c| c.bins.clone())
        .collect();
    assert_eq!(
        built, deployed,
        "function binaries (left) and the template's BuildProperties.Binary entries (right) must match"
    );
}
