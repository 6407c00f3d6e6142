//! The adapters behind every port, built once per process from [`Config`] and shared by all handlers.

use std::sync::Arc;

use anyhow::Context;

use crate::blobs::Blobs;
use crate::blobs::embedded::EmbeddedBlobs;
use crate::blobs::s3::S3Blobs;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Backend, Config};
use crate::http::pagination::CursorCodec;
use crate::mail::Mailer;
use crate::mail::embedded::EmbeddedMailer;
use crate::mail::ses::SesMailer;
use crate::queue::Queue;
use crate::queue::embedded::EmbeddedQueue;
use crate::queue::outbox::OutboxKey;
use crate::queue::sqs::SqsQueue;
use crate::ratelimit::RateLimiter;
use crate::secrets::{self, Keys, Purpose};
use crate::table::Table;
use crate::table::dynamo::DynamoTable;
use crate::table::embedded::EmbeddedTable;

/// Everything a handler may need from outside its own crate. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    pub config: Arc<Config>,
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn Blobs>,
    pub queue: Arc<dyn Queue>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: SharedClock,
    pub cursors: CursorCodec,
    /// The local blob folder, when embedded: the dev server mounts its signed-URL routes.
    pub embedded_blobs: Option<Arc<EmbeddedBlobs>>,
    /// Rate limits on the table, keyed with the rate-limit key so stored keys reveal no IPs or emails.
    pub limiter: Arc<RateLimiter>,
    /// Seals the jobs waiting in the table's outbox (the outbox ring; none in a function that writes no outbox).
    pub outbox_key: OutboxKey,
    /// The key rings this function was given (embedded: all but the access-token keys, generated as needed).
    pub keys: Keys,
}

impl Platform {
    /// Builds the adapters the configuration selects, with the real clock.
    pub async fn from_config(config: Config) -> anyhow::Result<Self> {
        Self::with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the adapters with a given clock (tests pass a [`crate::clock::ManualClock`]).
    pub async fn with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        // One line at start-up says which store answers and why, so nobody has to guess (see `Config`).
        match config.backend {
            Backend::Embedded => tracing::info!(
                backend = "embedded",
                reason = config.backend_reason,
                data_dir = %config.data_dir.display(),
                "storage backend chosen"
            ),
            Backend::Aws => tracing::info!(
                backend = "aws",
                reason = config.backend_reason,
                table = %config.aws.table,
                bucket = %config.aws.bucket,
                endpoint = config.aws.endpoint.as_deref().unwrap_or("aws"),
                "storage backend chosen"
            ),
        }
        match config.backend {
            Backend::Embedded => Self::embedded(config, clock),
            Backend::Aws => Self::aws(config, clock).await,
        }
    }

    fn embedded(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data dir {}", dir.display()))?;
        let keys = secrets::load_embedded(dir, &config.secrets)?;
        let table = EmbeddedTable::open(&dir.join("lectern.redb"), clock.clone())
            .context("opening embedded database")?;
        let queue = EmbeddedQueue::new(table.database(), clock.clone(), config.queue_max_receives)
            .context("opening embedded queue")?;
        let blobs = Arc::new(
            EmbeddedBlobs::new(
                dir.join("blobs"),
                &config.public_url,
                keys.require(Purpose::BlobUrls)?,
                clock.clone(),
            )
            .context("opening blob folder")?,
        );
        let mailer = EmbeddedMailer::new(dir.join("outbox"), &config.mail_from)
            .context("opening mail outbox")?;
        let table: Arc<dyn Table> = Arc::new(table);
        Ok(Self {
            cursors: cursors(&keys),
            outbox_key: outbox_key(&keys),
            limiter: limiter(&table, &clock, &config, &keys),
            table,
            blobs: blobs.clone(),
            queue: Arc::new(queue),
            mailer: Arc::new(mailer),
            clock,
            embedded_blobs: Some(blobs),
            keys,
            config: Arc::new(config),
        })
    }

    async fn aws(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let sdk = crate::aws::load_sdk_config(config.aws.endpoint.as_deref()).await;
        // Read once, here, at cold start; only the secrets this function was given (see `SecretsConfig`).
        let keys = if config.secrets.secrets.is_empty() {
            Keys::default()
        } else {
            secrets::load_aws(&aws_sdk_secretsmanager::Client::new(&sdk), &config.secrets).await?
        };
        let table = DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &config.aws.table,
            clock.clone(),
        );
        let blobs = S3Blobs::new(&sdk, &config.aws, clock.clone());
        let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &config.aws.queue_prefix);
        let mailer = SesMailer::new(
            aws_sdk_sesv2::Client::new(&sdk),
            &config.mail_from,
            config.aws.ses_configuration_set.clone(),
        );
        let table: Arc<dyn Table> = Arc::new(table);
        Ok(Self {
            cursors: cursors(&keys),
            outbox_key: outbox_key(&keys),
            limiter: limiter(&table, &clock, &config, &keys),
            table,
            blobs: Arc::new(blobs),
            queue: Arc::new(queue),
            mailer: Arc::new(mailer),
            clock,
            embedded_blobs: None,
            keys,
            config: Arc::new(config),
        })
    }
}

/// Cursors signed with the cursor ring; a function given none lists nothing, and gets a key of its own.
fn cursors(keys: &Keys) -> CursorCodec {
    keys.get(Purpose::Cursor)
        .map(CursorCodec::from_ring)
        .unwrap_or_else(CursorCodec::ephemeral)
}

/// The outbox seals with the outbox ring; a function given none writes no outbox entries (each attempt fails).
fn outbox_key(keys: &Keys) -> OutboxKey {
    keys.get(Purpose::Outbox)
        .map(OutboxKey::from_ring)
        .unwrap_or_else(OutboxKey::none)
}

/// Rate limits keyed with the rate-limit ring's active key (a rotation starts the counters afresh, which at worst
/// lets a client through one extra window).
fn limiter(
    table: &Arc<dyn Table>,
    clock: &SharedClock,
    config: &Config,
    keys: &Keys,
) -> Arc<RateLimiter> {
    let limiter = RateLimiter::new(table.clone(), clock.clone(), config.rate_limits.clone());
    Arc::new(match keys.get(Purpose::RateLimit) {
        Some(ring) => {
            limiter.with_secret(&secrets::derive(ring.active().1, "lectern/ratelimit/v1"))
        }
        None => limiter,
    })
}
