//! `lectern`: the dev server binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lectern_accounts::service::Accounts;
use lectern_accounts::service::admin::AdminBootstrap;
use lectern_shared::{Config, Platform, telemetry};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "lectern",
    version,
    about = "Lectern dev server: the whole API in one process"
)]
struct Cli {
    /// Read configuration from this file of KEY=VALUE lines first (variables already set in the environment win),
    /// e.g. the one `lectern aws-setup --write-env` writes.
    #[arg(long, global = true, value_name = "FILE")]
    env_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every function, run the workers and the scheduler (the default).
    Serve,
    /// Load demo data (idempotent).
    Seed,
    /// Print the OpenAPI document (what docs/openapi.json holds).
    Openapi,
    /// Print a key ring with a new access-token signing key (Ed25519) as JSON: `secret` is the value of the `jwt`
    /// secret (Secrets Manager), `public` the value of JwtPublicKeys / LECTERN_JWT_PUBLIC_KEYS.
    JwtKey {
        /// A file holding the current ring: the new key goes in front of its keys (a rotation).
        #[arg(long, value_name = "FILE")]
        rotate: Option<std::path::PathBuf>,
    },
    /// Print a key ring with a new random key for a purpose (cursor, ratelimit, totp, outbox, blob-urls,
    /// certificates) as JSON, the value of its secret; with --rotate, the new key goes in front of the keys of the
    /// current ring.
    Key {
        /// cursor, ratelimit, totp, outbox, blob-urls or certificates (jwt-key makes access-token keys).
        purpose: String,
        /// A file holding the current ring.
        #[arg(long, value_name = "FILE")]
        rotate: Option<std::path::PathBuf>,
    },
    /// Make the registered account with this email an admin (only while there is no active admin, and only when
    /// its address was verified through the emailed link).
    MakeAdmin {
        /// The account's email address.
        email: String,
        /// Promote the account even though its address is not verified (you vouch for who holds it).
        #[arg(long)]
        allow_unverified: bool,
    },
    /// Upgrade every account's stored backup codes from unkeyed SHA-256 hashes to keyed ones (idempotent; the
    /// codes themselves keep working). Run once after upgrading from a version that stored them unkeyed.
    MigrateBackupCodes,
    /// Set the admin statistics' account totals and past daily sign-ups from the stored accounts. Run once after
    /// upgrading to a version that keeps them (they start at zero), while admins are not changing accounts.
    RecountAccountStats,
    /// Print an event from `events/` with its `{{token:<role>}}` placeholders replaced by fresh access tokens of
    /// demo accounts, minted in the store the function will read (its own folder under a Lambda emulator, or AWS
    /// when configured). Run it before the function's first invoke: the embedded store admits one process.
    Event {
        /// The function that will receive the event (picks its embedded store under `cargo lambda watch`).
        #[arg(long)]
        function: Option<String>,
        /// The event file, e.g. events/users-me-get-learner.json.
        file: std::path::PathBuf,
    },
    /// Write a consistent backup of the embedded store (database, blobs and key rings) to FILE, a zip. Works while
    /// the server runs (it then writes the backup for you). The file holds secrets: store it like the data dir.
    Backup {
        /// Where to write the backup, e.g. lectern-backup.zip.
        file: std::path::PathBuf,
    },
    /// Restore a backup into the data dir, after checking every file in it. The server must be stopped; the data
    /// it replaces is moved to `<data dir>/replaced-<time>/`, not deleted.
    Restore {
        /// A file `lectern backup` wrote.
        file: std::path::PathBuf,
        /// Only check the backup (every file against its size and SHA-256); change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Export the deployment's table (DynamoDB's point-in-time export) and blob bucket to s3://BUCKET/PREFIX
    /// (LECTERN_TABLE and LECTERN_BUCKET name the deployment; see the README's backup section).
    AwsExport {
        /// Where the backup goes, s3://bucket/prefix; a prefix per backup (e.g. the date).
        #[arg(long, value_name = "S3_URL")]
        to: String,
    },
    /// Restore a backup `aws-export` wrote into the (empty) table and bucket of a freshly deployed stack
    /// (LECTERN_TABLE, LECTERN_BUCKET).
    AwsRestore {
        /// The backup, s3://bucket/prefix.
        #[arg(long, value_name = "S3_URL")]
        from: String,
    },
    /// Create the table, bucket, queues and mail identity on a local AWS emulator (LECTERN_AWS_ENDPOINT, e.g.
    /// moto) and write the env file the functions need.
    AwsSetup {
        /// Where to write the env file (kept secrets are reused when it exists).
        #[arg(long, value_name = "FILE", default_value = ".lectern/moto.env")]
        write_env: std::path::PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut vars = match &cli.env_file {
        Some(path) => lectern_local::aws_resources::read_env_file(path)?,
        None => Default::default(),
    };
    // `event --function X` reads the configuration function X reads under the emulator (its own store).
    if let Some(Command::Event {
        function: Some(f), ..
    }) = &cli.command
    {
        vars.insert("AWS_LAMBDA_FUNCTION_NAME".into(), f.clone());
    }
    for (k, v) in vars {
        // The environment wins over the file (as with dotenv), so one variable can be overridden for one run.
        if std::env::var_os(&k).is_none() {
            // SAFETY: no other thread exists yet (the runtime starts below), so nothing reads the environment
            // while it changes. Everything after this, the AWS SDK's credential chain included, reads it as usual.
            unsafe { std::env::set_var(k, v) };
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Openapi) => {
            print!("{}", lectern_local::openapi::document_json());
            return Ok(());
        }
        Some(Command::JwtKey { rotate }) => {
            let existing = rotate.as_deref().map(read_ring).transpose()?;
            let (secret, public) =
                lectern_accounts::signing_keys::KeyRing::new_ring_text(existing.as_deref())?;
            let secret: serde_json::Value = serde_json::from_str(&secret)?;
            println!(
                "{}",
                serde_json::json!({"secret": secret, "public": public})
            );
            return Ok(());
        }
        Some(Command::Key { purpose, rotate }) => {
            let purpose = lectern_shared::secrets::Purpose::ALL
                .into_iter()
                .find(|p| p.name() == purpose && p.is_symmetric())
                .with_context(|| {
                    format!("{purpose:?} is not cursor, ratelimit, totp, outbox, blob-urls or certificates")
                })?;
            let fresh = lectern_shared::secrets::KeyRing::generate(purpose);
            let ring = match rotate.as_deref().map(read_ring).transpose()? {
                Some(text) => {
                    let current = lectern_shared::secrets::KeyRing::parse(
                        purpose,
                        &text,
                        "the current ring",
                    )?;
                    let (kid, material) = fresh.active();
                    current.rotated(kid, material)?
                }
                None => fresh,
            };
            let secret: serde_json::Value = serde_json::from_str(&ring.to_json())?;
            println!("{}", serde_json::json!({"secret": secret}));
            return Ok(());
        }
        Some(Command::AwsSetup { write_env }) => {
            let setup =
                lectern_local::aws_resources::Setup::from_lookup(|k| std::env::var(k).ok())?;
            let created = lectern_local::aws_resources::create(&setup).await?;
            let text = lectern_local::aws_resources::env_file(&setup, &created);
            lectern_local::aws_resources::write_private(write_env, &text)?;
            println!(
                "created table {}, bucket {}, queues {}*, sender identity at {}; wrote {}",
                setup.table,
                setup.bucket,
                setup.queue_prefix,
                setup.endpoint,
                write_env.display()
            );
            return Ok(());
        }
        Some(Command::Backup { file }) => return backup(file).await,
        Some(Command::AwsExport { to }) => return aws_export(to).await,
        Some(Command::AwsRestore { from }) => return aws_restore(from).await,
        Some(Command::Restore { file, check }) => return restore(file, *check),
        _ => {}
    }
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::from_config(config.clone())
        .await
        .with_context(|| match &cli.command {
            // The one way this commonly fails: the emulator's function process holds its embedded store.
            Some(Command::Event { .. }) => format!(
                "opening the store in {} (a function started by `cargo lambda watch` keeps its store open: \
                 mint before its first invoke, or stop the emulator first)",
                config.data_dir.display()
            ),
            _ => format!("opening the {:?} store", config.backend),
        })?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Seed => {
            let accounts = Accounts::from_env(platform.clone())?;
            let report = lectern_local::seed::run(&platform, &accounts).await?;
            println!(
                "seeded: {:?}; already there: {:?}",
                report.applied, report.skipped
            );
            for note in report.notes {
                println!("  {note}");
            }
        }
        Command::Serve => {
            let accounts = Accounts::from_env(platform.clone())?;
            lectern_learning::config::LearningConfig::from_env()?;
            lectern_platform::config::NotificationsConfig::from_env()?;
            let listener = TcpListener::bind(config.addr).await?;
            let server = lectern_local::Server::start_with(listener, platform, accounts).await?;
            let data = std::fs::canonicalize(&config.data_dir).unwrap_or(config.data_dir.clone());
            println!("Lectern listening on http://{}", server.addr);
            println!("  readiness: http://{}/v1/health/ready", server.addr);
            println!("  OpenAPI:   http://{}/v1/openapi.json", server.addr);
            println!("  data:      {}", data.join("lectern.redb").display());
            println!("  blobs:     {}", data.join("blobs").display());
            println!("  outbox:    {}", data.join("outbox").display());
            let stop = server.stop_token();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down");
                stop.cancel();
            });
            server.stop_token().cancelled().await;
            server.shutdown().await;
        }
        Command::MakeAdmin {
            email,
            allow_unverified,
        } => {
            let accounts = Accounts::from_env(platform)?;
            let policy = match allow_unverified {
                true => AdminBootstrap::AllowUnverified,
                false => AdminBootstrap::RequireVerified,
            };
            match accounts.bootstrap_admin(&email, policy).await {
                Ok(true) => println!("{email} is now an admin"),
                Ok(false) => anyhow::bail!(
                    "an active admin already exists; use PATCH /v1/admin/users/{{id}}/role"
                ),
                Err(lectern_accounts::errors::AccountError::Forbidden(_)) => anyhow::bail!(
                    "{email} has not verified its address through the emailed link; verify it first, or pass \
                     --allow-unverified if you know who holds the account"
                ),
                Err(e) => anyhow::bail!("could not promote {email}: {e}"),
            }
        }
        Command::MigrateBackupCodes => {
            let accounts = Accounts::from_env(platform)?;
            let migrated = accounts.migrate_backup_codes().await?;
            println!("upgraded the backup codes of {migrated} account(s)");
        }
        Command::RecountAccountStats => {
            let accounts = Accounts::from_env(platform)?;
            let counts = accounts.recount_stats().await?;
            println!("{}", serde_json::to_string_pretty(&counts)?);
        }
        Command::Event { file, .. } => {
            let accounts = Accounts::from_env(platform)?;
            let template = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            print!(
                "{}",
                lectern_local::lambda_events::fill(&template, &accounts).await?
            );
        }
        Command::Openapi
        | Command::JwtKey { .. }
        | Command::Key { .. }
        | Command::AwsSetup { .. }
        | Command::Backup { .. }
        | Command::AwsExport { .. }
        | Command::AwsRestore { .. }
        | Command::Restore { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(())
}

/// A ring's text from a file, or from `-` (standard input).
fn read_ring(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).context("reading the ring from stdin");
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The data dir of the embedded store (backups are of the embedded store; on AWS, see the README's backup section).
fn embedded_data_dir() -> anyhow::Result<std::path::PathBuf> {
    let config = Config::from_env()?;
    anyhow::ensure!(
        config.backend == lectern_shared::config::Backend::Embedded,
        "backup and restore are for the embedded store ({}); on AWS the table has point-in-time recovery and \
         scripts/aws-backup exports it (see the README)",
        config.backend_reason
    );
    Ok(config.data_dir)
}

async fn backup(file: &std::path::Path) -> anyhow::Result<()> {
    use lectern_local::backup::{self, OfflineError};
    let data_dir = embedded_data_dir()?;
    let manifest = match backup::write_offline(&data_dir, file) {
        Ok(manifest) => manifest,
        Err(OfflineError::InUse(_)) => {
            lectern_local::control::backup_through_server(&data_dir, file).await?
        }
        Err(OfflineError::Failed(e)) => return Err(e),
    };
    println!(
        "wrote {}: {} files, {} database items (it holds the key rings: keep it private)",
        file.display(),
        manifest.files.len(),
        manifest.tables.values().sum::<u64>()
    );
    for missing in &manifest.missing {
        println!("  deleted while the backup ran, not included: {missing}");
    }
    Ok(())
}

fn restore(file: &std::path::Path, check: bool) -> anyhow::Result<()> {
    use lectern_local::backup::{self, OfflineError};
    if check {
        let manifest = backup::verify(file)?;
        println!(
            "{} is intact: {} files checked, written {} by lectern {}",
            file.display(),
            manifest.files.len(),
            manifest.created_at,
            manifest.lectern_version
        );
        return Ok(());
    }
    let data_dir = embedded_data_dir()?;
    match backup::restore(file, &data_dir) {
        Ok(restored) => {
            println!(
                "restored {} (written {}) into {}",
                file.display(),
                restored.manifest.created_at,
                data_dir.display()
            );
            if let Some(aside) = restored.replaced {
                println!("  the data it replaced is in {}", aside.display());
            }
            Ok(())
        }
        Err(OfflineError::InUse(path)) => anyhow::bail!(
            "a running server holds {}: stop it, then restore",
            path.display()
        ),
        Err(OfflineError::Failed(e)) => Err(e),
    }
}

/// The clients and names of the deployment the AWS backup commands work on.
async fn aws_deployment() -> anyhow::Result<(lectern_local::aws_backup::Clients, Config)> {
    let config = Config::from_env()?;
    anyhow::ensure!(
        config.backend == lectern_shared::config::Backend::Aws,
        "aws-export and aws-restore work on a deployment: set LECTERN_TABLE and LECTERN_BUCKET (and \
         LECTERN_AWS_ENDPOINT for an emulator) or LECTERN_BACKEND=aws ({})",
        config.backend_reason
    );
    let sdk = lectern_shared::aws::load_sdk_config(config.aws.endpoint.as_deref()).await;
    let clients = lectern_local::aws_backup::Clients::new(&sdk, config.aws.s3_path_style);
    Ok((clients, config))
}

async fn aws_export(to: &str) -> anyhow::Result<()> {
    use lectern_local::aws_backup;
    let to = aws_backup::Location::parse(to)?;
    let (clients, config) = aws_deployment().await?;
    let manifest = aws_backup::export(
        &clients,
        &config.aws.table,
        &config.aws.bucket,
        &to,
        std::time::Duration::from_secs(10),
    )
    .await?;
    println!(
        "exported table {} ({} items) and {} objects ({} bytes) to s3://{}/{}",
        manifest.table,
        manifest.items,
        manifest.objects,
        manifest.object_bytes,
        to.bucket,
        to.prefix
    );
    Ok(())
}

async fn aws_restore(from: &str) -> anyhow::Result<()> {
    use lectern_local::aws_backup;
    let from = aws_backup::Location::parse(from)?;
    let (clients, config) = aws_deployment().await?;
    let restored =
        aws_backup::restore(&clients, &from, &config.aws.table, &config.aws.bucket).await?;
    println!(
        "restored {} items into {} and {} objects into {} (backup of {} taken {})",
        restored.items,
        config.aws.table,
        restored.objects,
        config.aws.bucket,
        restored.manifest.table,
        restored.manifest.created_at
    );
    Ok(())
}
