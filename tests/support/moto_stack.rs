//! The whole API over the AWS adapters (DynamoDB, S3, SQS, SESv2) on moto, served on a free port without queue
//! pollers (jobs stay in SQS for the test to read and hand to a worker), with a clock the test moves. `None`
//! when moto is not available (unless `LECTERN_REQUIRE_AWS=1`, when `lectern_shared::testing::moto` fails).

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use lectern_accounts::config::AccountsConfig;
use lectern_accounts::service::Accounts;
use lectern_shared::clock::{ManualClock, SharedClock};
use lectern_shared::config::Backend;
use lectern_shared::http::pagination::CursorCodec;
use lectern_shared::ratelimit::{RateLimitConfig, RateLimiter};
use lectern_shared::secrets::{KeyRing, Purpose};
use lectern_shared::table::{Condition, Item, Key, Page, Query, Table, TableResult, TxOp, Update};
use lectern_shared::testing::{aws, moto};
use lectern_shared::{Config, Platform};
use tokio::net::TcpListener;

use crate::api::Client;

/// The API on moto.
pub struct MotoStack {
    pub api: Client,
    pub platform: Platform,
    pub accounts: Arc<Accounts>,
    pub clock: ManualClock,
    /// The data dir (the signing key); removed when dropped.
    pub dir: tempfile::TempDir,
}

/// The table port answering one call at a time. moto carries out a conditional write or a transaction as a check
/// followed by writes, and undoes a cancelled transaction by restoring a copy of the whole table, all without a
/// lock: under concurrent requests two conditional writes can both pass, and one transaction's rollback can erase
/// another's committed write. DynamoDB makes each request atomic; so does this wrapper, so that the races tested
/// here are the service's, not moto's.
pub struct OneCallAtATime {
    table: Arc<dyn Table>,
    turn: tokio::sync::Mutex<()>,
}

#[async_trait]
impl Table for OneCallAtATime {
    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        let _turn = self.turn.lock().await;
        self.table.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        let _turn = self.turn.lock().await;
        self.table.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> TableResult<()> {
        let _turn = self.turn.lock().await;
        self.table.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item> {
        let _turn = self.turn.lock().await;
        self.table.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()> {
        let _turn = self.turn.lock().await;
        self.table.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> TableResult<Page> {
        let _turn = self.turn.lock().await;
        self.table.query(query).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()> {
        let _turn = self.turn.lock().await;
        self.table.transact(ops).await
    }
    async fn sweep_expired(&self, limit: usize) -> TableResult<usize> {
        let _turn = self.turn.lock().await;
        self.table.sweep_expired(limit).await
    }
    async fn ping(&self) -> TableResult<()> {
        let _turn = self.turn.lock().await;
        self.table.ping().await
    }
}

/// A ring as the SAM template's `GenerateSecretString` makes its first version (`infra/template.yaml`,
/// `CertificateKeys`): `{"active": "k1", "k1": <64 characters without punctuation>}`, the password from Secrets
/// Manager's own generator.
async fn template_ring(purpose: Purpose) -> Option<KeyRing> {
    let generated = aws::secrets_client()
        .await?
        .get_random_password()
        .password_length(64)
        .exclude_punctuation(true)
        .send()
        .await
        .expect("a generated password");
    let password = generated.random_password().expect("a password");
    let text = serde_json::json!({"active": "k1", "k1": password}).to_string();
    Some(
        KeyRing::parse(purpose, &text, "the template's first version")
            .expect("the template's ring"),
    )
}

impl MotoStack {
    /// An account provisioned verified with `role` and display name `name`, signed in through the API.
    pub async fn signed_in(
        &self,
        email: &str,
        name: &str,
        role: lectern_accounts::permissions::Role,
    ) -> crate::api::Signed {
        let user = self
            .accounts
            .provision(email, name, role, crate::api::PASSWORD)
            .await
            .expect("provision");
        let reply = self
            .api
            .login_with(email, crate::api::PASSWORD)
            .await
            .expect_status(200);
        crate::api::Signed::from_tokens(email, &user.user_id, &reply.body)
    }

    /// Builds the stack on fresh moto resources; `None` when moto is not available.
    pub async fn start() -> Option<Self> {
        let Some(endpoint) = moto::endpoint().await else {
            eprintln!("moto is not available: AWS flow skipped");
            return None;
        };
        let clock = ManualClock::starting_now();
        let shared: SharedClock = Arc::new(clock.clone());
        let table: Arc<dyn Table> = Arc::new(OneCallAtATime {
            table: aws::table(shared.clone()).await?,
            turn: tokio::sync::Mutex::new(()),
        });
        let blobs = aws::blobs(shared.clone()).await?;
        let queue = aws::queue().await?;
        let mailer = aws::mailer().await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_tests(dir.path().to_path_buf());
        config.backend = Backend::Aws;
        config.aws = aws::aws_config_for(&endpoint, "unused-by-hand-built-platform");
        config.mail_from = format!("Lectern <{}>", aws::TEST_SENDER);
        config.rate_limits = RateLimitConfig::disabled();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        config.addr = addr;
        config.public_url = format!("http://{addr}");
        // Every key ring in Secrets Manager, read back the way a function's cold start reads them.
        let jwt = KeyRing::parse(
            Purpose::Jwt,
            &lectern_accounts::signing_keys::KeyRing::new_ring_text(None)
                .expect("a new access-token key")
                .0,
            "test",
        )
        .expect("the access-token ring");
        let rings = [
            KeyRing::generate(Purpose::Cursor),
            KeyRing::generate(Purpose::RateLimit),
            KeyRing::generate(Purpose::Totp),
            KeyRing::generate(Purpose::Outbox),
            KeyRing::generate(Purpose::Webhooks),
            // As a deployment has it: certificates are signed with keys derived from what the template generates.
            template_ring(Purpose::Certificates).await?,
            jwt,
        ];
        let (secrets, keys) = aws::secrets(&rings).await?;
        config.secrets = secrets;
        let platform = Platform {
            cursors: CursorCodec::from_ring(keys.require(Purpose::Cursor).expect("cursor keys")),
            outbox_key: lectern_shared::queue::outbox::OutboxKey::from_ring(
                keys.require(Purpose::Outbox).expect("outbox keys"),
            ),
            limiter: Arc::new(RateLimiter::new(
                table.clone(),
                shared.clone(),
                config.rate_limits.clone(),
            )),
            keys,
            config: Arc::new(config),
            ip_rules: Arc::new(lectern_shared::iprules::IpGuard::new(
                table.clone(),
                shared.clone(),
            )),
            table,
            blobs,
            queue,
            mailer,
            clock: shared,
            embedded_blobs: None,
            embedded_database: None,
        };
        let accounts_config =
            AccountsConfig::from_lookup(&platform.config, |_| None).expect("accounts config");
        let accounts = Accounts::new(platform.clone(), accounts_config, crate::test_argon())
            .expect("accounts");
        let app = lectern_local::app(&platform, accounts.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("serve");
        });
        Some(Self {
            api: Client::new(format!("http://{addr}")),
            platform,
            accounts,
            clock,
            dir,
        })
    }
}

/// Runs `jobs` through `worker` as if each were delivered twice (a redelivery, or the outbox's fast path and its
/// relay both sending), and fails the test unless every one ends done.
pub async fn run_twice(
    worker: &lectern_shared::queue::worker::Worker,
    jobs: &[lectern_shared::queue::Delivery],
) {
    let twice: Vec<_> = jobs.iter().chain(jobs.iter()).cloned().collect();
    let outcome = worker.process_batch(twice).await;
    // At once, a duplicate may find its job running and be handed back (SQS would redeliver it): run it again.
    let outcome = if outcome.failed.is_empty() {
        outcome
    } else {
        worker.process_batch(jobs.to_vec()).await
    };
    assert!(outcome.failed.is_empty(), "{outcome:?}");
}
