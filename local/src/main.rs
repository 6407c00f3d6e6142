//! `lectern`: the dev server binary.

use clap::{Parser, Subcommand};
use lectern_shared::{Config, Platform, telemetry};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "lectern",
    version,
    about = "Lectern dev server: the whole API in one process"
)]
struct Cli {
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
    /// Print a new Ed25519 access-token signing key as `kid:base64(PKCS#8)`, for LECTERN_JWT_KEYS.
    JwtKey,
    /// Make the registered account with this email an admin (only while there is no active admin).
    MakeAdmin {
        /// The account's email address.
        email: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Openapi) => {
            print!("{}", lectern_local::openapi::document_json());
            return Ok(());
        }
        Some(Command::JwtKey) => {
            use base64::Engine;
            let kid = format!("k{}", &lectern_shared::ids::new_id()[..10].to_lowercase());
            let (_, der) = lectern_accounts::signing_keys::SigningKey::generate(&kid)?;
            println!(
                "{kid}:{}",
                base64::engine::general_purpose::STANDARD.encode(der)
            );
            return Ok(());
        }
        _ => {}
    }
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::from_config(config.clone()).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Seed => {
            let accounts = lectern_accounts::service::Accounts::from_env(platform.clone())?;
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
            let listener = TcpListener::bind(config.addr).await?;
            let server = lectern_local::Server::start(listener, platform).await?;
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
        Command::MakeAdmin { email } => {
            let accounts = lectern_accounts::service::Accounts::from_env(platform)?;
            match accounts.bootstrap_admin(&email).await {
                Ok(true) => println!("{email} is now an admin"),
                Ok(false) => anyhow::bail!(
                    "an active admin already exists; use PATCH /v1/admin/users/{{id}}/role"
                ),
                Err(e) => anyhow::bail!("could not promote {email}: {e}"),
            }
        }
        Command::Openapi | Command::JwtKey => unreachable!("handled above"),
    }
    Ok(())
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
