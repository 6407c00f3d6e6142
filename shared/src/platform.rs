//! The adapters behind every port, built once per process from [`Config`] and shared by all handlers.
//!
//! Each adapter is behind a cargo feature of this crate (`embedded`, `aws-dynamodb`, `aws-s3`, `aws-sqs`,
//! `aws-ses`) and each function crate turns on only those it uses, so a function links only its own AWS SDKs.
//! [`Platform::from_config`] builds the adapters that are compiled in; a port whose adapter is not leaves an
//! [`absent`] one that answers "unavailable", which only a function calling a port it never declared can meet.
//! On AWS only the table's client is built up front; the others are built on first use ([`lazy`]).

pub mod absent;
pub mod lazy;

use std::sync::Arc;

#[cfg(any(feature = "embedded", feature = "aws"))]
use anyhow::Context;

use crate::blobs::Blobs;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Backend, Config};
use crate::http::pagination::CursorCodec;
use crate::mail::Mailer;
use crate::queue::Queue;
use crate::ratelimit::RateLimiter;
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
    /// Rate limits on the table, keyed with the signing secret so stored keys reveal no IPs or emails.
    pub limiter: Arc<RateLimiter>,
}

/// The adapters of one backend, before they are assembled into a [`Platform`].
struct Ports {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    queue: Arc<dyn Queue>,
    mailer: Arc<dyn Mailer>,
    #[cfg(feature = "embedded")]
    embedded_blobs: Option<Arc<crate::blobs::embedded::EmbeddedBlobs>>,
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

    fn assemble(config: Config, clock: SharedClock, (ports, secret): (Ports, String)) -> Self {
        let limiter = Arc::new(
            RateLimiter::new(
                ports.table.clone(),
                clock.clone(),
                config.rate_limits.clone(),
            )
            .with_secret(secret.as_bytes()),
        );
        Self {
            cursors: CursorCodec::new(secret.as_bytes()),
            limiter,
            table: ports.table,
            blobs: ports.blobs,
            queue: ports.queue,
            mailer: ports.mailer,
            clock,
            #[cfg(feature = "embedded")]
            embedded_blobs: ports.embedded_blobs,
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

/// The adapters of the backend the configuration selects, and the signing secret.
async fn ports(config: &Config, clock: &SharedClock) -> anyhow::Result<(Ports, String)> {
    match config.backend {
        Backend::Embedded => embedded(config, clock),
        Backend::Aws => aws(config, clock).await,
    }
}

/// The redb file, blob folder and mail outbox in the data dir, and the signing secret.
#[cfg(feature = "embedded")]
fn embedded(config: &Config, clock: &SharedClock) -> anyhow::Result<(Ports, String)> {
    use crate::blobs::embedded::EmbeddedBlobs;
    use crate::mail::embedded::EmbeddedMailer;
    use crate::queue::embedded::EmbeddedQueue;
    use crate::table::embedded::EmbeddedTable;

    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
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
    let ports = Ports {
        table: Arc::new(table),
        blobs: blobs.clone(),
        queue: Arc::new(queue),
        mailer: Arc::new(mailer),
        embedded_blobs: Some(blobs),
    };
    Ok((ports, secret))
}

#[cfg(not(feature = "embedded"))]
fn embedded(_: &Config, _: &SharedClock) -> anyhow::Result<(Ports, String)> {
    anyhow::bail!(
        "this binary was built without the embedded store (feature `embedded` of lectern-shared); set \
         LECTERN_BACKEND=aws"
    )
}

/// The AWS adapters compiled into this binary, on one SDK configuration. Ports without one stay absent.
#[cfg(feature = "aws")]
async fn aws(config: &Config, clock: &SharedClock) -> anyhow::Result<(Ports, String)> {
    let secret = config
        .signing_secret
        .clone()
        .context("LECTERN_SIGNING_SECRET is required on aws")?;
    let sdk = crate::aws::load_sdk_config(config.aws.endpoint.as_deref()).await;
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
    };
    Ok((ports, secret))
}

#[cfg(not(feature = "aws"))]
async fn aws(_: &Config, _: &SharedClock) -> anyhow::Result<(Ports, String)> {
    anyhow::bail!(
        "this binary was built without AWS adapters (features aws-* of lectern-shared); set \
         LECTERN_BACKEND=embedded"
    )
}

/// The embedded backend's signing secret: generated on first run and kept (owner-only) in the data dir, so signed
/// URLs and cursors survive restarts without anyone configuring a secret.
#[cfg(feature = "embedded")]
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
