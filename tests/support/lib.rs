//! Support for the end-to-end tests: a dev server on a free port over a throwaway data dir, the event files, and
//! (in the modules) a client with one helper per route, the outbox readers, the token codecs, the 2FA helpers and
//! the operations of the generated OpenAPI document.

pub mod api;
pub mod bench;
pub mod console;
pub mod encoding;
pub mod exams;
pub mod learning;
pub mod mail;
pub mod moto_stack;
pub mod notifications;
pub mod openapi;
pub mod operations;
pub mod two_factor;
pub mod uploads;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use lectern_accounts::config::AccountsConfig;
use lectern_shared::clock::ManualClock;
use lectern_shared::{Config, Platform};
use tokio::net::TcpListener;

/// The repository root (where `events/` and `docs/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Reads an event file from `events/`.
pub fn event(name: &str) -> String {
    let path = repo_root().join("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// An embedded platform in a temporary folder, with a clock the test can move.
pub async fn embedded_platform() -> (Platform, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let platform = Platform::with_clock(
        Config::for_tests(dir.path().to_path_buf()),
        Arc::new(clock.clone()),
    )
    .await
    .expect("embedded platform");
    (platform, clock, dir)
}

/// Opens the platform, waiting (bounded) for a previous server over the same data dir to let go of the embedded
/// database: its last connection tasks may still be dropping their clones of it just after shutdown returns.
async fn open_platform(config: Config, clock: &ManualClock) -> Platform {
    for _ in 0..100 {
        match Platform::with_clock(config.clone(), Arc::new(clock.clone())).await {
            Ok(platform) => return platform,
            Err(e) if format!("{e:#}").contains("already open") => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("platform: {e:#}"),
        }
    }
    panic!("the embedded database stayed locked by the previous server");
}

/// Moves `clock` to 03:00 UTC when it is earlier in a UTC day, so a test that records results up to an hour or two
/// back and expects them on today's streak, limit or board never straddles midnight (run at 00:01, they would
/// land on yesterday). Call it before anything is signed in or recorded.
pub fn clear_of_midnight(clock: &ManualClock) {
    use lectern_shared::clock::Clock;
    let now = clock.now();
    if now.hour() < 3 {
        let three = now.replace_time(time::Time::from_hms(3, 0, 0).expect("03:00"));
        clock.advance((three - now).unsigned_abs());
    }
}

/// Argon2 parameters cheap enough for tests (production uses OWASP's; see the benchmark for their cost).
pub fn test_argon() -> lectern_accounts::password::Argon2Params {
    lectern_accounts::password::Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }
}

/// The accounts service over a platform, with test settings (links point at the app URL of the platform).
pub fn test_accounts(platform: Platform) -> Arc<lectern_accounts::service::Accounts> {
    accounts_hashing(platform, test_argon())
}

fn accounts_hashing(
    platform: Platform,
    argon: lectern_accounts::password::Argon2Params,
) -> Arc<lectern_accounts::service::Accounts> {
    accounts_configured(platform, argon, |_| {})
}

fn accounts_configured(
    platform: Platform,
    argon: lectern_accounts::password::Argon2Params,
    adjust: impl FnOnce(&mut AccountsConfig),
) -> Arc<lectern_accounts::service::Accounts> {
    let mut config =
        AccountsConfig::from_lookup(&platform.config, |_| None).expect("accounts config");
    adjust(&mut config);
    lectern_accounts::service::Accounts::new(platform, config, argon).expect("accounts")
}

/// A dev server running in this process, on the embedded store.
pub struct DevServer {
    pub base: String,
    pub platform: Platform,
    pub clock: ManualClock,
    pub server: lectern_local::Server,
    pub dir: tempfile::TempDir,
    /// Every storage and queue round trip the routes make (not the background workers'), for budget tests.
    pub ops: lectern_shared::testing::counting::OpLog,
    /// Makes the queue's `send` fail, for the routes and the background alike (receiving still works).
    pub queue_faults: lectern_shared::testing::faults::QueueFaults,
}

impl DevServer {
    /// Starts a server over a fresh data dir.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir).await
    }

    /// Starts a server over an existing data dir (to test restarts).
    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_configured(dir, |_| {}).await
    }

    /// Starts a server whose configuration the test adjusts first. Rate limits are off unless the test turns
    /// them on (every request comes from 127.0.0.1), and password hashing is cheap ([`test_argon`]).
    pub async fn start_configured(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_hashing(dir, adjust, test_argon()).await
    }

    /// Starts a server over a fresh data dir with the given rate limits.
    pub async fn start_with_limits(limits: lectern_shared::ratelimit::RateLimitConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_configured(dir, |config| config.rate_limits = limits).await
    }

    /// [`DevServer::start_configured`] with the given password hashing parameters (the benchmark uses
    /// production's).
    pub async fn start_hashing(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
        argon: lectern_accounts::password::Argon2Params,
    ) -> Self {
        Self::start_accounts(dir, adjust, argon, |_| {}).await
    }

    /// A server over a fresh data dir whose requests never send the emails they commit themselves, as if each
    /// died right after its commit: only the outbox relay sends them, once the clock is past the grace period.
    pub async fn start_crashing_after_commit() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_accounts(
            dir,
            |_| {},
            test_argon(),
            |accounts| accounts.outbox_fast_path = false,
        )
        .await
    }

    /// [`DevServer::start_hashing`] with the accounts configuration adjusted too.
    pub async fn start_accounts(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
        argon: lectern_accounts::password::Argon2Params,
        adjust_accounts: impl FnOnce(&mut AccountsConfig),
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = Config::for_tests(dir.path().to_path_buf());
        config.addr = addr;
        config.public_url = format!("http://{addr}");
        config.rate_limits = lectern_shared::ratelimit::RateLimitConfig::disabled();
        adjust(&mut config);
        let clock = ManualClock::starting_now();
        let platform = open_platform(config, &clock).await;
        let (platform, queue_faults) = lectern_shared::testing::faults::wrap(platform);
        // The routes see counting adapters; the queue pollers and the scheduler keep the plain ones, so a budget
        // counts what a request does and nothing the background happens to do meanwhile.
        let (counted, ops) = lectern_shared::testing::counting::wrap(platform.clone());
        let accounts = accounts_configured(counted, argon, adjust_accounts);
        let server = lectern_local::Server::start_with(listener, platform.clone(), accounts)
            .await
            .expect("server");
        Self {
            base: format!("http://{addr}"),
            platform,
            clock,
            server,
            dir,
            ops,
            queue_faults,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The folder the embedded mailer writes `.eml` files to.
    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Stops the server, keeping the data dir for a restart.
    pub async fn stop(self) -> tempfile::TempDir {
        self.server.shutdown().await;
        drop(self.platform);
        self.dir
    }
}

/// Polls `check` until it returns true, for at most ~10 s (work done by background workers).
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    poll(async || check().await.then_some(())).await.is_some()
}

/// Polls `find` until it finds something, for at most ~10 s (work done by background workers).
pub async fn poll<T>(mut find: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    for _ in 0..200 {
        if let Some(found) = find().await {
            return Some(found);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}
