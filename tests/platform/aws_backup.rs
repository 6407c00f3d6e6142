//! Backups of a deployment on AWS (moto): `aws-export` of a table and its bucket, `aws-restore` into the empty
//! table and bucket of a new stack, item for item and byte for byte.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use lectern_local::aws_backup::{self, Clients, Location};
use lectern_shared::table::dynamo::create_table;
use lectern_shared::testing::moto;

type Row = HashMap<String, AttributeValue>;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

/// Every item of a table, sorted by key.
async fn all_items(clients: &Clients, table: &str) -> Vec<Row> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    let key = |row: &Row| format!("{:?}/{:?}", row.get("pk"), row.get("sk"));
    items.sort_by_key(key);
    items
}

/// Every object of a bucket: key, content type and bytes, sorted by key.
async fn all_objects(clients: &Clients, bucket: &str) -> Vec<(String, Option<String>, Vec<u8>)> {
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    let mut objects = Vec::new();
    for object in listed.contents() {
        let key = object.key().expect("key").to_string();
        let got = clients
            .s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("get");
        let content_type = got.content_type().map(str::to_string);
        let bytes = got
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        objects.push((key, content_type, bytes));
    }
    objects.sort();
    objects
}

async fn bucket(clients: &Clients, name: &str) {
    clients
        .s3
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_restores_into_a_new_stack_item_for_item_and_byte_for_byte() {
    let Some(endpoint) = moto::endpoint().await else {
        eprintln!("moto is not available: AWS backup test skipped");
        return;
    };
    let clients = Clients::new(&moto::sdk_config(&endpoint).await, true);
    let run = lectern_shared::ids::new_id().to_ascii_lowercase();
    let (old_table, new_table) = (format!("old-{run}"), format!("new-{run}"));
    let (old_bucket, new_bucket, backups) = (
        format!("old-{run}"),
        format!("new-{run}"),
        format!("backups-{run}"),
    );
    for table in [&old_table, &new_table] {
        create_table(&clients.dynamodb, table).await.expect("table");
    }
    // As the template has it: an export reads the point-in-time backups.
    aws_backup::enable_point_in_time_recovery(&clients.dynamodb, &old_table)
        .await
        .expect("point-in-time recovery");
    for name in [&old_bucket, &new_bucket, &backups] {
        bucket(&clients, name).await;
    }

    // More items than one write batch, with every kind of value the adapters store.
    for n in 0..60 {
        let mut item = Row::from([
            ("pk".into(), s(&format!("USER#{n:03}"))),
            ("sk".into(), s("USER")),
            ("entity".into(), s("user")),
            ("n".into(), AttributeValue::N(format!("{n}"))),
            ("ok".into(), AttributeValue::Bool(n % 2 == 0)),
            (
                "tags".into(),
                AttributeValue::L(vec![s("a"), AttributeValue::N("1.5".into())]),
            ),
            (
                "profile".into(),
                AttributeValue::M(HashMap::from([("name".into(), s("Ada"))])),
            ),
        ]);
        if n % 3 == 0 {
            item.insert("gsi1pk".into(), s("EMAIL"));
            item.insert("gsi1sk".into(), s(&format!("user{n}@example.com")));
            item.insert("ttl".into(), AttributeValue::N("4102444800".into()));
        }
        clients
            .dynamodb
            .put_item()
            .table_name(&old_table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }
    for (key, body) in [
        ("profile-avatars/01A/01B", &b"\x89PNG first"[..]),
        ("profile-avatars/01C/01D", &b"\x89PNG second"[..]),
        ("imports/with space+plus.csv", &b"a,b\n1,2\n"[..]),
    ] {
        clients
            .s3
            .put_object()
            .bucket(&old_bucket)
            .key(key)
            .content_type("application/octet-stream")
            .body(body.to_vec().into())
            .send()
            .await
            .expect("object");
    }

    let at = Location::parse(&format!("s3://{backups}/lectern/{run}")).expect("location");
    let manifest = aws_backup::export(
        &clients,
        &old_table,
        &old_bucket,
        &at,
        std::time::Duration::from_millis(100),
    )
    .await
    .expect("export");
    assert_eq!((manifest.items, manifest.objects), (60, 3), "{manifest:?}");

    let restored = aws_backup::restore(&clients, &at, &new_table, &new_bucket)
        .await
        .expect("restore");
    assert_eq!((restored.items, restored.objects), (60, 3));
    assert_eq!(
        all_items(&clients, &new_table).await,
        all_items(&clients, &old_table).await
    );
    let objects = all_objects(&clients, &new_bucket).await;
    assert_eq!(objects.len(), 3);
    assert_eq!(
        objects.iter().map(|(k, _, b)| (k, b)).collect::<Vec<_>>(),
        all_objects(&clients, &old_bucket)
            .await
            .iter()
            .map(|(k, _, b)| (k, b))
            .collect::<Vec<_>>()
    );

    // A table with data is not a restore target: the restore would mix two deployments.
    let refused = aws_backup::restore(&clients, &at, &new_table, &new_bucket)
        .await
        .expect_err("the table is not empty");
    assert!(format!("{refused:#}").contains("not empty"), "{refused:#}");
}
