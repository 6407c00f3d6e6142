//! Demo data for a fresh dev server. Seeding is idempotent: each seed records a marker with a conditional write
//! and is skipped when the marker exists. Later features add their own seeds here.

mod learning;

use bytes::Bytes;
use lectern_accounts::permissions::Role;
use lectern_accounts::service::Accounts;
use lectern_shared::Platform;
use lectern_shared::table::{Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TableError};
use serde::{Deserialize, Serialize};

/// The record that a seed has run: `SEED` / `<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedMarker {
    /// In the key only.
    #[serde(skip_serializing)]
    pub name: String,
    pub applied_at: i64,
}

impl Entity for SeedMarker {
    const INFO: EntityInfo = EntityInfo::new(
        "seed_marker",
        KeyLayout::new(Shape::fixed("SEED"), Shape::values(&["name"])),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[], &[&self.name])
    }
}

/// What a seed run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub applied: Vec<&'static str>,
    pub skipped: Vec<&'static str>,
    /// Things the person running the seed must see once (generated demo passwords).
    pub notes: Vec<String>,
}

/// Demo accounts: one admin and one learner, verified, with a password generated at seed time.
const DEMO_ACCOUNTS: [(&str, &str, Role); 2] = [
    ("admin@lectern.local", "Demo Admin", Role::Admin),
    ("learner@lectern.local", "Demo Learner", Role::Learner),
];

/// Applies every seed that has not run yet.
pub async fn run(platform: &Platform, accounts: &Accounts) -> anyhow::Result<SeedReport> {
    let mut report = SeedReport::default();
    let name = "demo-accounts";
    let mut admin_id = None;
    if claim(platform, name).await? {
        // Random per install: a seeded password must never be a known default.
        let password = lectern_accounts::crypto::random_token("demo-", 12);
        for (email, display_name, role) in DEMO_ACCOUNTS {
            let user = accounts
                .provision(email, display_name, role, &password)
                .await?;
            if role == Role::Admin {
                admin_id = Some(user.user_id);
            }
            report.notes.push(format!("{} {email}", role.as_str()));
        }
        report.notes.push(format!("password for both: {password}"));
        report.applied.push(name);
    } else {
        report.skipped.push(name);
    }
    let name = "learning-content";
    if claim(platform, name).await? {
        let games = learning::seed(&crate::learning_on(platform)).await?;
        report.notes.push(format!(
            "{games} games, a curriculum of two paths and achievements"
        ));
        report.applied.push(name);
    } else {
        report.skipped.push(name);
    }
    let name = "welcome-file";
    if claim(platform, name).await? {
        platform
            .blobs
            .put(
                "demo/welcome.txt",
                Bytes::from_static(
                    b"Welcome to Lectern. This file was seeded by `lectern seed`.\n",
                ),
                "text/plain",
            )
            .await?;
        report.applied.push(name);
    } else {
        report.skipped.push(name);
    }
    let name = "exams-demo";
    if claim(platform, name).await? {
        // Authored by the demo admin when this run made it, else by a named seed author.
        let author = admin_id.unwrap_or_else(|| "01SEEDAVTH0R00000000000000".to_string());
        let seeded = lectern_exams::Exams::new(platform.clone())
            .seed_demo(&author)
            .await?;
        report.notes.push(format!(
            "Demo University: {} courses, {} topics, {} approved questions ({} pending review, {} drafts)",
            seeded.courses.len(),
            seeded.topics,
            seeded.approved,
            seeded.pending,
            seeded.drafts
        ));
        report.applied.push(name);
    } else {
        report.skipped.push(name);
    }
    Ok(report)
}

async fn claim(platform: &Platform, name: &str) -> anyhow::Result<bool> {
    let marker = SeedMarker {
        name: name.into(),
        applied_at: platform.clock.epoch_seconds(),
    };
    match platform
        .table
        .put(marker.to_item()?, Condition::NotExists)
        .await
    {
        Ok(()) => Ok(true),
        Err(TableError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
