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
    /// Rate limits on the table, keyed with the signing secret so stored keys reveal no IPs or emails.
    pub limiter: Arc<RateLimiter>,
    /// Seals the jobs waiting in the table's outbox (derived from the signing secret).
    pub outbox_key: OutboxKey,
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
        let secret = match &config.signing_secret {
            Some(s) => s.clone(),
            None => local_secret(dir)?,
        };
        let table = EmbeddedTable::open(&dir.join("lectern.redb"), clock.clone())
            .context("opening embedded database")?;
        let queue = EmbeddedQueue::new(table.database(), clock.clone(), config.queue_max_receives)
            .context("opening embedded queue")?;
        let blobs = Arc::new(
            EmbeddedBlobs::new(
                dir.join("blobs"),
                &config.public_url,
                secret.as_bytes(),
                clock.clone(),
            )
            .context("opening blob folder")?,
        );
        let mailer = EmbeddedMailer::new(dir.join("outbox"), &config.mail_from)
            .context("opening mail outbox")?;
        let table: Arc<dyn Table> = Arc::new(table);
        Ok(Self {
            cursors: CursorCodec::new(secret.as_bytes()),
            outbox_key: OutboxKey::derive(secret.as_bytes()),
            limiter: limiter(&table, &clock, &config, &secret),
            table,
            blobs: blobs.clone(),
            queue: Arc::new(queue),
            mailer: Arc::new(mailer),
            clock,
            embedded_blobs: Some(blobs),
            config: Arc::new(config),
        })
    }

    async fn aws(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let secret = config
            .signing_secret
            .clone()
            .context("LECTERN_SIGNING_SECRET is required on aws")?;
        let sdk = crate::aws::load_sdk_config(config.aws.endpoint.as_deref()).await;
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
            cursors: CursorCodec::new(secret.as_bytes()),
            outbox_key: OutboxKey::derive(secret.as_bytes()),
            limiter: limiter(&table, &clock, &config, &secret),
            table,
            blobs: Arc::new(blobs),
            queue: Arc::new(queue),
            mailer: Arc::new(mailer),
            clock,
            embedded_blobs: None,
            config: Arc::new(config),
        })
    }
}

fn limiter(
    table: &Arc<dyn Table>,
    clock: &SharedClock,
    config: &Config,
    secret: &str,
) -> Arc<RateLimiter> {
    Arc::new(
        RateLimiter::new(table.clone(), clock.clone(), config.rate_limits.clone())
            .with_secret(secret.as_bytes()),
    )
}

/// The embedded backend's signing secret: generated on first run and kept (owner-only) in the data dir, so signed
/// URLs and cursors survive restarts without anyone configuring a secret.
fn local_secret(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join("signing.secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().to_string()),
        Ok(_) | Err(_) => {}
    }
    let secret = crate::ids::random_secret(32);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options
        .open(&path)
        .and_then(|mut f| f.write_all(secret.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}
