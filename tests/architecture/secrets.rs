//! Secrets in the SAM template: no function gets key material in its environment, each function reads exactly
//! the Secrets Manager secrets it is configured with, and only the functions that issue tokens (`auth`, and `profiles`
//! for a child's device sessions) may read the private access-token keys, only `auth` the TOTP keys.

use std::collections::{BTreeMap, BTreeSet};

/// The template's resources: name → its lines (the block under `  <Name>:`).
fn resources() -> BTreeMap<String, Vec<String>> {
    let template = std::fs::read_to_string(lectern_e2e::repo_root().join("infra/template.yaml"))
        .expect("template");
    let mut blocks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_resources = false;
    for line in template.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_resources = line == "Resources:";
            current = None;
            continue;
        }
        if !in_resources {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
            && !name.starts_with('#')
        {
            current = Some(name.to_string());
            continue;
        }
        if let Some(name) = &current {
            blocks
                .entry(name.clone())
                .or_default()
                .push(line.trim().to_string());
        }
    }
    blocks
}

pub(crate) fn functions() -> BTreeMap<String, Vec<String>> {
    resources()
        .into_iter()
        .filter(|(_, lines)| lines.iter().any(|l| l == "Type: AWS::Serverless::Function"))
        .collect()
}

/// `LECTERN_SECRET_<X>: !Ref <Resource>` lines: the secrets a function is configured to read.
fn configured(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("LECTERN_SECRET_"))
        .filter_map(|l| l.split("!Ref ").nth(1).map(str::to_string))
        .collect()
}

/// The resources of the statement allowing `secretsmanager:GetSecretValue`.
fn readable(lines: &[String]) -> BTreeSet<String> {
    let Some(at) = lines
        .iter()
        .position(|l| l == "Action: secretsmanager:GetSecretValue")
    else {
        return BTreeSet::new();
    };
    lines[at + 1..]
        .iter()
        .skip_while(|l| *l == "Resource:")
        .take_while(|l| l.starts_with("- !Ref "))
        .map(|l| l.trim_start_matches("- !Ref ").to_string())
        .collect()
}

/// Whether the role may call `BatchGetSecretValue` (a statement of its own, `Resource: "*"`: the action has no
/// resource type; each secret it returns is authorized by `GetSecretValue`).
fn may_batch(lines: &[String]) -> bool {
    lines
        .iter()
        .position(|l| l == "Action: secretsmanager:BatchGetSecretValue")
        .is_some_and(|at| lines.get(at + 1).map(String::as_str) == Some("Resource: \"*\""))
}

#[test]
fn no_function_gets_key_material_in_its_environment() {
    let template = std::fs::read_to_string(lectern_e2e::repo_root().join("infra/template.yaml"))
        .expect("template");
    for raw in [
        "LECTERN_SIGNING_SECRET",
        "LECTERN_KEYS_",
        "LECTERN_JWT_KEYS",
    ] {
        assert!(
            !template.contains(raw),
            "{raw} puts key material in a function's environment: name a Secrets Manager secret instead"
        );
    }
}

#[test]
fn each_function_reads_exactly_the_secrets_it_uses_and_only_auth_the_private_ones() {
    let functions = functions();
    assert!(functions.len() >= 7, "found {:?}", functions.keys());
    for (name, lines) in &functions {
        assert_eq!(
            configured(lines),
            readable(lines),
            "{name}: the secrets in its environment and those its role may read differ"
        );
        // Two or more rings are read in one BatchGetSecretValue at cold start (one ring: GetSecretValue).
        assert_eq!(
            may_batch(lines),
            configured(lines).len() >= 2,
            "{name}: a function given several secrets may batch-read them, and only such a function"
        );
        // Token issuers: auth (sign-in, refresh) and profiles (a child's device session and the PIN switch back
        // to the parent are sessions of the account, minted where the family's profiles are checked).
        let issuer = name == "AuthFunction" || name == "ProfilesFunction";
        assert_eq!(
            lines.iter().any(|l| l.contains("JwtSigningSecretArn")),
            issuer,
            "{name}: only the token issuers may see JwtSigningSecretArn"
        );
        assert_eq!(
            lines.iter().any(|l| l.contains("TotpKeys")),
            name == "AuthFunction",
            "{name}: only the auth function may see TotpKeys"
        );
    }
    let verifiers: Vec<&String> = functions
        .iter()
        .filter(|(_, lines)| {
            lines
                .iter()
                .any(|l| l.starts_with("LECTERN_JWT_PUBLIC_KEYS:"))
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        verifiers,
        [
            "AchievementsFunction",
            "AdminFunction",
            "CatalogFunction",
            "ConsoleFunction",
            "ExamsFunction",
            "HierarchyFunction",
            "InboxFunction",
            "LeaderboardsFunction",
            "ProgressFunction",
            "QuestionsFunction",
            "SettingsFunction",
            "UsersFunction",
            "WebhooksFunction"
        ]
    );
}

/// The source of the function crate building `binary`: its `src/main.rs` and `src/lib.rs`, joined.
fn function_source(binary: &str) -> String {
    let root = lectern_e2e::repo_root();
    for domain in std::fs::read_dir(root.join("functions")).expect("functions") {
        for krate in std::fs::read_dir(domain.expect("entry").path()).expect("crates") {
            let dir = krate.expect("entry").path();
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
            if manifest.contains(&format!("[[bin]]\nname = \"{binary}\"")) {
                return ["src/main.rs", "src/lib.rs"]
                    .iter()
                    .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
                    .collect();
            }
        }
    }
    panic!("no crate builds the binary {binary}");
}

/// A function given fewer secrets than its start-up requires dies at its first cold start on AWS, while the dev
/// server and the emulated events (which see every ring) work: this holds each function's template secrets to
/// what its entry point requires — the rings it `require`s, and what the accounts constructors require
/// (`Accounts::from_env`: the rate-limit ring; `Accounts::for_account_routes`: also the cursor and outbox rings).
#[test]
fn each_function_is_given_the_secrets_its_start_up_requires() {
    let ring = |purpose: &str| match purpose {
        "Cursor" => "CursorKeys",
        "Outbox" => "OutboxKeys",
        "RateLimit" => "RateLimitKeys",
        "Certificates" => "CertificateKeys",
        "Webhooks" => "WebhookKeys",
        "Totp" => "TotpKeys",
        "Jwt" => "JwtSigningSecretArn",
        other => panic!("no template secret known for Purpose::{other}"),
    };
    let mut checked = 0;
    for (name, lines) in functions() {
        let Some(binary) = lines.iter().find_map(|l| l.strip_prefix("Binary: ")) else {
            continue;
        };
        let source = function_source(binary);
        let mut needed: BTreeSet<&str> = source
            .split("require(Purpose::")
            .skip(1)
            .map(|rest| ring(rest.split(')').next().unwrap_or_default()))
            .collect();
        if source.contains("Accounts::from_env(")
            || source.contains("Accounts::for_account_routes(")
        {
            needed.insert("RateLimitKeys");
        }
        if source.contains("Accounts::for_account_routes(") {
            needed.extend(["CursorKeys", "OutboxKeys"]);
        }
        let given = configured(&lines);
        for ring in needed {
            assert!(
                given.contains(ring),
                "{name} ({binary}) requires {ring} at start-up but the template does not give it"
            );
        }
        checked += 1;
    }
    assert!(checked >= 18, "checked {checked} functions");
}
