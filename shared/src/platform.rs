//! The adapters behind every port, built once per process from [`Config`] and shared by all handlers.
//!
//! Each adapter is behind a cargo feature of this crate (`embedded`, `aws-dynamodb`, `aws-s3`, `aws-sqs`,
//! `aws-ses`, and `aws-secrets` for the key rings) and each function crate turns on only those it uses, so a
//! function links only its own AWS SDKs.
//! [`Platform::from_config`] builds the adapters that are compiled in; a port whose adapter is not leaves an
//! [`absent`] one that answers "unavailable", which only a function calling a port it never declared can meet.
//! On AWS only the table's client is built up front; the others are built on first use ([`lazy`]). Key rings come
//! from Secrets Manager (feature `aws-secrets`) on AWS, from the data dir or the environment when embedded.

pub mod absent;
pub mod lazy;

use std::sync::Arc;

#[cfg(feature = "embedded")]
use anyhow::Context;

use crate::blobs::Blobs;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Backend, Config};
use crate::http::pagination::CursorCodec;
use crate::iprules::IpGuard;
use crate::mail::Mailer;
use crate::queue::Queue;
use crate::queue::outbox::OutboxKey;
use crate::ratelimit::RateLimiter;
use crate::secrets::{self, Keys, Purpose};
use crate::table::Table;

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
    #[cfg(feature = "embedded")]
    pub embedded_blobs: Option<Arc<crate::blobs::embedded::EmbeddedBlobs>>,
    /// The embedded database (the table and the queue live in it), when embedded: the dev server takes
    /// consistent backups of it while it serves (`lectern backup`).
    #[cfg(feature = "embedded")]
    pub embedded_database: Option<Arc<redb::Database>>,
    /// Rate limits on the table, keyed with the rate-limit key so stored keys reveal no IPs or emails.
    pub limiter: Arc<RateLimiter>,
    /// Seals the jobs waiting in the table's outbox (the outbox ring; none in a function that writes no outbox).
    pub outbox_key: OutboxKey,
    /// The key rings this function was given (embedded: all but the access-token keys, generated as needed).
    pub keys: Keys,
    /// The IP block and allow lists, cached in this process; every function's stack checks them first
    /// (`http::layers`). Clones of the platform share it, so a change made here drops the copy everywhere here.
    pub ip_rules: Arc<IpGuard>,
}

/// The adapters of one backend, before they are assembled into a [`Platform`].
struct Ports {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    queue: Arc<dyn Queue>,
    mailer: Arc<dyn Mailer>,
    #[cfg(feature = "embedded")]
    embedded_blobs: Option<Arc<crate::blobs::embedded::EmbeddedBlobs>>,
    #[cfg(feature = "embedded")]
    embedded_database: Option<Arc<redb::Database>>,
}

impl Platform {
    /// Builds the adapters the configuration selects (of those compiled in), with the real clock.
    pub async fn from_config(config: Config) -> anyhow::Result<Self> {
        Self::with_clock(config, Arc::new(SystemClock)).await
    }

    /// What a Lambda function's `main` builds: [`Platform::from_config`] in a debug build (what `cargo lambda
    /// watch` runs, on the embedded store or AWS), the AWS adapters alone in a release build. A release build is
    /// what Lambda runs, always on AWS (the template sets `LECTERN_BACKEND=aws`); leaving the embedded store out of
    /// its code lets the linker drop redb and the local adapters, over a megabyte of every function binary (see
    /// `bench/run`). The dev server keeps using `from_config`, which has both.
    pub async fn for_function(config: Config) -> anyhow::Result<Self> {
        let clock: SharedClock = Arc::new(SystemClock);
        log_backend(&config);
        let ports = if cfg!(debug_assertions) {
            ports(&config, &clock).await?
        } else if config.backend == Backend::Aws {
            aws(&config, &clock).await?
        } else {
            anyhow::bail!(
                "a release build of a function runs on AWS only ({}); set LECTERN_BACKEND=aws, or build it \
                 without --release to run it on the embedded store",
                config.backend_reason
            )
        };
        Ok(Self::assemble(config, clock, ports))
    }

    /// Builds the adapters with a given clock (tests pass a [`crate::clock::ManualClock`]).
    pub async fn with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        log_backend(&config);
        let ports = ports(&config, &clock).await?;
        Ok(Self::assemble(config, clock, ports))
    }

    fn assemble(config: Config, clock: SharedClock, (ports, keys): (Ports, Keys)) -> Self {
        Self {
            cursors: cursors(&keys),
            outbox_key: outbox_key(&keys),
            limiter: limiter(&ports.table, &clock, &config, &keys),
            ip_rules: Arc::new(IpGuard::new(ports.table.clone(), clock.clone())),
            table: ports.table,
            blobs: ports.blobs,
            queue: ports.queue,
            mailer: ports.mailer,
            clock,
            #[cfg(feature = "embedded")]
            embedded_blobs: ports.embedded_blobs,
            #[cfg(feature = "embedded")]
            embedded_database: ports.embedded_database,
            keys,
            config: Arc::new(config),
        }
    }
}

/// One line at start-up says which store answers and why, so nobody has to guess (see `Config`).
fn log_backend(config: &Config) {
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
}

/// The adapters of the backend the configuration selects, and the key rings.
async fn ports(config: &Config, clock: &SharedClock) -> anyhow::Result<(Ports, Keys)> {
    match config.backend {
        Backend::Embedded => embedded(config, clock),
        Backend::Aws => aws(config, clock).await,
    }
}

/// The redb file, blob folder and mail outbox in the data dir, and the key rings.
#[cfg(feature = "embedded")]
fn embedded(config: &Config, clock: &SharedClock) -> anyhow::Result<(Ports, Keys)> {
    use crate::blobs::embedded::EmbeddedBlobs;
    use crate::mail::embedded::EmbeddedMailer;
    use crate::queue::embedded::EmbeddedQueue;
    use crate::table::embedded::EmbeddedTable;

    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
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
    let database = table.database();
    let ports = Ports {
        table: Arc::new(table),
        blobs: blobs.clone(),
        queue: Arc::new(queue),
        mailer: Arc::new(mailer),
        embedded_blobs: Some(blobs),
        embedded_database: Some(database),
    };
    Ok((ports, keys))
}

#[cfg(not(feature = "embedded"))]
fn embedded(_: &Config, _: &SharedClock) -> anyhow::Result<(Ports, Keys)> {
    anyhow::bail!(
        "this binary was built without the embedded store (feature `embedded` of lectern-shared); set \
         LECTERN_BACKEND=aws"
    )
}

/// The AWS adapters compiled into this binary, on one SDK configuration. Ports without one stay absent.
#[cfg(feature = "aws")]
async fn aws(config: &Config, clock: &SharedClock) -> anyhow::Result<(Ports, Keys)> {
    let sdk = crate::aws::load_sdk_config(config.aws.endpoint.as_deref()).await;
    let keys = aws_keys(&sdk, config).await?;
    #[cfg(feature = "aws-dynamodb")]
    let table: Arc<dyn Table> = Arc::new(crate::table::dynamo::DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &config.aws.table,
        clock.clone(),
    ));
    #[cfg(not(feature = "aws-dynamodb"))]
    let table: Arc<dyn Table> =
        Arc::new(absent::Absent("the DynamoDB table (feature aws-dynamodb)"));
    #[cfg(feature = "aws-s3")]
    let blobs: Arc<dyn Blobs> = Arc::new(lazy::Lazy::<dyn Blobs>::new({
        let (sdk, aws, clock) = (sdk.clone(), config.aws.clone(), clock.clone());
        move || Arc::new(crate::blobs::s3::S3Blobs::new(&sdk, &aws, clock.clone()))
    }));
    #[cfg(not(feature = "aws-s3"))]
    let blobs: Arc<dyn Blobs> = Arc::new(absent::Absent("the S3 blob store (feature aws-s3)"));
    #[cfg(feature = "aws-sqs")]
    let queue: Arc<dyn Queue> = Arc::new(lazy::Lazy::<dyn Queue>::new({
        let (sdk, prefix) = (sdk.clone(), config.aws.queue_prefix.clone());
        move || {
            Arc::new(crate::queue::sqs::SqsQueue::new(
                aws_sdk_sqs::Client::new(&sdk),
                &prefix,
            ))
        }
    }));
    #[cfg(not(feature = "aws-sqs"))]
    let queue: Arc<dyn Queue> = Arc::new(absent::Absent("the SQS queues (feature aws-sqs)"));
    #[cfg(feature = "aws-ses")]
    let mailer: Arc<dyn Mailer> = Arc::new(lazy::Lazy::<dyn Mailer>::new({
        let (sdk, from, set) = (
            sdk.clone(),
            config.mail_from.clone(),
            config.aws.ses_configuration_set.clone(),
        );
        move || {
            Arc::new(crate::mail::ses::SesMailer::new(
                aws_sdk_sesv2::Client::new(&sdk),
                &from,
                set.clone(),
            ))
        }
    }));
    #[cfg(not(feature = "aws-ses"))]
    let mailer: Arc<dyn Mailer> = Arc::new(absent::Absent("the SES mailer (feature aws-ses)"));
    // Only the table and blob adapters read the clock; a binary with neither would warn about it.
    let _ = clock;
    let ports = Ports {
        table,
        blobs,
        queue,
        mailer,
        #[cfg(feature = "embedded")]
        embedded_blobs: None,
        #[cfg(feature = "embedded")]
        embedded_database: None,
    };
    Ok((ports, keys))
}

/// Read once, here, at cold start; only the secrets this function was given (see `SecretsConfig`).
#[cfg(feature = "aws")]
async fn aws_keys(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Keys> {
    if config.secrets.secrets.is_empty() {
        return Ok(Keys::default());
    }
    #[cfg(feature = "aws-secrets")]
    return Ok(
        secrets::load_aws(&aws_sdk_secretsmanager::Client::new(sdk), &config.secrets).await?,
    );
    // A function built without Secrets Manager uses no key ring, so rings named anyway (an emulator's shared env
    // file names every ring for every function) have nothing to key: say so, and start without them.
    #[cfg(not(feature = "aws-secrets"))]
    {
        let _ = sdk;
        tracing::warn!(
            "LECTERN_SECRET_* ignored: this function uses no key ring (built without feature aws-secrets)"
        );
        Ok(Keys::default())
    }
}

#[cfg(not(feature = "aws"))]
async fn aws(_: &Config, _: &SharedClock) -> anyhow::Result<(Ports, Keys)> {
    anyhow::bail!(
        "this binary was built without AWS adapters (features aws-* of lectern-shared); set \
         LECTERN_BACKEND=embedded"
    )
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
