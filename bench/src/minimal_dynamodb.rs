//! The yardstick of `bench/run`: a Lambda that answers every event with one DynamoDB GetItem, written the way the
//! AWS SDK's examples write one. `BENCH_TABLE`, `BENCH_PK` and `BENCH_SK` name the item; the endpoint comes from
//! `AWS_ENDPOINT_URL` (moto) like any SDK program's.
//!
//! Built with the features `sqs`, `s3`, `secrets` or `ses`, it also links that service's client and one of its
//! operations, which it never calls (`BENCH_NEVER` is never set): the size yardstick for a function that needs
//! those services too. Its cold start and answer stay those of the plain yardstick.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("BENCH_TABLE")?;
    let pk = std::env::var("BENCH_PK")?;
    let sk = std::env::var("BENCH_SK")?;
    if std::env::var_os("BENCH_NEVER").is_some() {
        link_other_services(&config).await?;
    }
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let get = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()));
        async move {
            let found = get.send().await?.item.is_some();
            Ok::<_, Error>(
                json!({ "statusCode": 200, "body": json!({ "found": found }).to_string() }),
            )
        }
    }))
    .await
}

/// One operation of each other service the build links (the client alone would be mostly optimized away).
#[allow(unused_variables)]
async fn link_other_services(config: &aws_config::SdkConfig) -> Result<(), Error> {
    #[cfg(feature = "sqs")]
    aws_sdk_sqs::Client::new(config)
        .get_queue_url()
        .queue_name("never")
        .send()
        .await?;
    #[cfg(feature = "s3")]
    aws_sdk_s3::Client::new(config)
        .get_object()
        .bucket("never")
        .key("never")
        .send()
        .await?;
    #[cfg(feature = "secrets")]
    aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id("never")
        .send()
        .await?;
    #[cfg(feature = "ses")]
    aws_sdk_sesv2::Client::new(config)
        .send_email()
        .send()
        .await?;
    Ok(())
}
