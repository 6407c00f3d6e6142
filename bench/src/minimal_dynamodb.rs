//! The yardstick of `bench/run`: a Lambda that answers every event with one DynamoDB GetItem, written the way the
//! AWS SDK's examples write one. `BENCH_TABLE`, `BENCH_PK` and `BENCH_SK` name the item; the endpoint comes from
//! `AWS_ENDPOINT_URL` (moto) like any SDK program's.

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
