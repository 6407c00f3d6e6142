//! Factories for the AWS adapters against this process's moto server (see [`super::moto`]). Every call makes
//! fresh, uniquely named resources so tests never see each other's data. Each returns `None` only when moto is
//! unavailable and not required (the test then skips).

use std::sync::Arc;

use crate::blobs::Blobs;
use crate::blobs::s3::S3Blobs;
use crate::clock::SharedClock;
use crate::config::AwsConfig;
use crate::mail::Mailer;
use crate::mail::ses::SesMailer;
use crate::queue::Queue;
use crate::queue::sqs::{SqsQueue, create_queues};
use crate::secrets::{KeyRing, Keys, SecretsConfig};
use crate::table::Table;
use crate::table::dynamo::{DynamoTable, create_table};

use super::moto;

/// Receives after which a test queue's message moves to its dead-letter queue.
pub const TEST_MAX_RECEIVES: u32 = 3;
/// The verified sender of [`mailer`].
pub const TEST_SENDER: &str = "no-reply@lectern.test";

/// A lowercase unique name fragment (ULIDs are unique and sort by creation).
fn unique() -> String {
    crate::ids::new_id().to_ascii_lowercase()
}

async fn sdk() -> Option<(String, aws_config::SdkConfig)> {
    let endpoint = moto::endpoint().await?;
    let sdk = moto::sdk_config(&endpoint).await;
    Some((endpoint, sdk))
}

/// A fresh DynamoDB table (same shape as production) behind the [`Table`] port.
pub async fn table(clock: SharedClock) -> Option<Arc<dyn Table>> {
    let (_, sdk) = sdk().await?;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let name = format!("lectern-test-{}", unique());
    if let Err(e) = create_table(&client, &name).await {
        panic!("creating test table {name}: {e}");
    }
    Some(Arc::new(DynamoTable::new(client, &name, clock)))
}

/// Fresh SQS queues (every logical queue, each with a DLQ after [`TEST_MAX_RECEIVES`] receives).
pub async fn queue() -> Option<Arc<dyn Queue>> {
    let (_, sdk) = sdk().await?;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let prefix = format!("t{}-", unique());
    if let Err(e) = create_queues(&client, &prefix, TEST_MAX_RECEIVES).await {
        panic!("creating test queues {prefix}*: {e}");
    }
    Some(Arc::new(SqsQueue::new(client, &prefix)))
}

/// A fresh S3 bucket (path-style addressing, as for any local endpoint).
pub async fn blobs(clock: SharedClock) -> Option<Arc<dyn Blobs>> {
    let (endpoint, sdk) = sdk().await?;
    let bucket = format!("lectern-{}", unique());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    if let Err(e) = s3.create_bucket().bucket(&bucket).send().await {
        panic!(
            "creating test bucket {bucket}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        );
    }
    Some(Arc::new(S3Blobs::new(
        &sdk,
        &aws_config_for(&endpoint, &bucket),
        clock,
    )))
}

/// The [`AwsConfig`] a test adapter uses: everything at `endpoint`, path-style S3.
pub fn aws_config_for(endpoint: &str, bucket: &str) -> AwsConfig {
    AwsConfig {
        endpoint: Some(endpoint.to_string()),
        table: String::new(),
        bucket: bucket.to_string(),
        queue_prefix: String::new(),
        s3_path_style: true,
        ses_configuration_set: None,
    }
}

/// A mailer sending from [`TEST_SENDER`], whose identity is created (verified) first.
pub async fn mailer() -> Option<Arc<dyn Mailer>> {
    let (_, sdk) = sdk().await?;
    let client = aws_sdk_sesv2::Client::new(&sdk);
    match client
        .create_email_identity()
        .email_identity(TEST_SENDER)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e)
                == Some("AlreadyExistsException") => {}
        Err(e) => panic!(
            "creating SES identity: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ),
    }
    Some(Arc::new(SesMailer::new(
        client,
        &format!("Lectern <{TEST_SENDER}>"),
        None,
    )))
}

/// Stores each ring as a fresh Secrets Manager secret and answers the configuration naming them (what
/// `LECTERN_SECRET_*` would say) and the keys read back through [`crate::secrets::load_aws`], as a function's
/// cold start reads them.
pub async fn secrets(rings: &[KeyRing]) -> Option<(SecretsConfig, Keys)> {
    let (_, sdk) = sdk().await?;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut config = SecretsConfig::default();
    for ring in rings {
        let name = format!("lectern-test-{}/{}", unique(), ring.purpose().name());
        if let Err(e) = client
            .create_secret()
            .name(&name)
            .secret_string(ring.to_json())
            .send()
            .await
        {
            panic!(
                "creating test secret {name}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            );
        }
        config.secrets.insert(ring.purpose(), name);
    }
    let keys = crate::secrets::load_aws(&client, &config)
        .await
        .expect("reading the test secrets back");
    Some((config, keys))
}

/// A Secrets Manager client on this process's moto server.
pub async fn secrets_client() -> Option<aws_sdk_secretsmanager::Client> {
    let (_, sdk) = sdk().await?;
    Some(aws_sdk_secretsmanager::Client::new(&sdk))
}
