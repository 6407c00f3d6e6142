//! What only the AWS adapters can show, against moto: expiry inside DynamoDB conditions and updates, transaction
//! cancellation reasons, query paging over expired items, the S3 POST policy and presigned GET, SQS redrive and
//! SES sending. Skipped (with a note) when moto is unavailable, unless `LECTERN_REQUIRE_AWS=1`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use lectern_shared::blobs::{BlobError, UploadRules};
use lectern_shared::clock::{ManualClock, SharedClock};
use lectern_shared::mail::{Email, MailError};
use lectern_shared::queue::sqs::{SqsQueue, create_queues};
use lectern_shared::queue::{Job, NewJob, Queue, QueueError, queues};
use lectern_shared::table::Table;
use lectern_shared::table::dynamo::{DynamoTable, create_table};
use lectern_shared::table::{
    Condition, Index, Item, Key, Query, SortKey, TableError, TxOp, Update,
};
use lectern_shared::testing::{aws, moto};
use serde_json::{Value, json};
use time::macros::datetime;

fn item(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn clock() -> (ManualClock, SharedClock) {
    let c = ManualClock::new(datetime!(2030-01-01 00:00:00 UTC));
    (c.clone(), Arc::new(c))
}

macro_rules! or_skip {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return,
        }
    };
}

#[tokio::test]
async fn updating_an_expired_item_starts_from_nothing() {
    let (manual, clock) = clock();
    let table = or_skip!(aws::table(clock.clone()).await);
    let key = Key::new("RATE#ip", "window");
    let expires = clock.epoch_seconds() + 60;
    let update = || {
        Update::new()
            .add("count", 1)
            .set_if_absent("ttl", expires)
            .set("last", "x")
    };
    for expected in 1..=3 {
        let stored = table
            .update(&key, update(), Condition::Always)
            .await
            .unwrap();
        assert_eq!(stored["count"], json!(expected));
    }
    table
        .update(&key, Update::new().set("stale", true), Condition::Always)
        .await
        .unwrap();

    manual.advance(Duration::from_secs(61));
    let fresh_ttl = clock.epoch_seconds() + 60;
    let stored = table
        .update(
            &key,
            Update::new()
                .add("count", 1)
                .set_if_absent("ttl", fresh_ttl),
            Condition::Always,
        )
        .await
        .unwrap();
    assert_eq!(stored["count"], json!(1), "the window counter must restart");
    assert_eq!(
        stored["ttl"],
        json!(fresh_ttl),
        "if_not_exists must see the expired ttl as absent"
    );
    assert!(
        !stored.contains_key("stale"),
        "nothing of the expired item may survive: {stored:?}"
    );
    assert_eq!(table.get(&key).await.unwrap().unwrap()["count"], json!(1));
}

#[tokio::test]
async fn expired_items_are_absent_to_conditions() {
    let (manual, clock) = clock();
    let table = or_skip!(aws::table(clock.clone()).await);
    let ttl = clock.epoch_seconds() + 10;
    let key = Key::new("SESSION#1", "S");
    table
        .put(
            item(json!({"pk": "SESSION#1", "sk": "S", "ttl": ttl, "v": 1})),
            Condition::NotExists,
        )
        .await
        .unwrap();
    let again = table
        .put(
            item(json!({"pk": "SESSION#1", "sk": "S", "v": 2})),
            Condition::NotExists,
        )
        .await;
    assert!(
        matches!(again, Err(TableError::ConditionFailed)),
        "live item must block NotExists: {again:?}"
    );
    assert!(
        table
            .update(&key, Update::new().set("v", 3), Condition::equals("v", 1))
            .await
            .is_ok()
    );

    manual.advance(Duration::from_secs(10)); // ttl == now counts as expired
    assert_eq!(table.get(&key).await.unwrap(), None);
    assert!(
        table
            .batch_get(std::slice::from_ref(&key))
            .await
            .unwrap()
            .is_empty()
    );
    for cond in [
        Condition::Exists,
        Condition::equals("v", 3),
        Condition::AttributeNotExists("nope".into()),
    ] {
        let r = table.delete(&key, cond.clone()).await;
        assert!(
            matches!(r, Err(TableError::ConditionFailed)),
            "{cond:?} held on an expired item: {r:?}"
        );
        let r = table
            .update(&key, Update::new().set("v", 9), cond.clone())
            .await;
        assert!(
            matches!(r, Err(TableError::ConditionFailed)),
            "{cond:?} held on an expired item: {r:?}"
        );
    }
    table
        .put(
            item(json!({"pk": "SESSION#1", "sk": "S", "v": 4})),
            Condition::NotExists,
        )
        .await
        .unwrap();
    assert_eq!(table.get(&key).await.unwrap().unwrap()["v"], json!(4));

    let created = table
        .update(&Key::new("EMPTY", "1"), Update::new(), Condition::NotExists)
        .await
        .unwrap();
    assert_eq!(
        created,
        item(json!({"pk": "EMPTY", "sk": "1"})),
        "an empty update creates the bare item"
    );
}

#[tokio::test]
async fn cancelled_transactions_name_the_failing_operation_and_write_nothing() {
    let (_, clock) = clock();
    let table = or_skip!(aws::table(clock).await);
    table
        .put(
            item(json!({"pk": "U#1", "sk": "P", "version": 1})),
            Condition::Always,
        )
        .await
        .unwrap();
    let ops = vec![
        TxOp::Put {
            item: item(json!({"pk": "U#2", "sk": "P"})),
            condition: Condition::NotExists,
        },
        TxOp::Update {
            key: Key::new("U#3", "P"),
            update: Update::new().add("n", 1),
            condition: Condition::Always,
        },
        TxOp::Check {
            key: Key::new("U#1", "P"),
            condition: Condition::equals("version", 2),
        },
    ];
    match table.transact(ops).await {
        Err(TableError::TransactionCancelled { index, .. }) => assert_eq!(index, Some(2)),
        other => panic!("expected cancellation, got {other:?}"),
    }
    let written = table
        .batch_get(&[Key::new("U#2", "P"), Key::new("U#3", "P")])
        .await
        .unwrap();
    assert!(
        written.is_empty(),
        "a cancelled transaction wrote {written:?}"
    );

    let ok = vec![
        TxOp::Put {
            item: item(json!({"pk": "U#2", "sk": "P"})),
            condition: Condition::NotExists,
        },
        TxOp::Check {
            key: Key::new("U#1", "P"),
            condition: Condition::equals("version", 1),
        },
        TxOp::Delete {
            key: Key::new("U#4", "P"),
            condition: Condition::Always,
        },
    ];
    table.transact(ok).await.unwrap();
    assert!(table.get(&Key::new("U#2", "P")).await.unwrap().is_some());
}

#[tokio::test]
async fn transactional_updates_replace_expired_items() {
    let (manual, clock) = clock();
    let table = or_skip!(aws::table(clock.clone()).await);
    let ttl = clock.epoch_seconds() + 5;
    let old = item(json!({"pk": "C", "sk": "1", "n": 41, "ttl": ttl}));
    table.put(old, Condition::Always).await.unwrap();
    manual.advance(Duration::from_secs(5));
    let ops = vec![
        TxOp::Update {
            key: Key::new("C", "1"),
            update: Update::new().add("n", 1),
            condition: Condition::Always,
        },
        TxOp::Put {
            item: item(json!({"pk": "C", "sk": "2"})),
            condition: Condition::NotExists,
        },
    ];
    table.transact(ops).await.unwrap();
    let stored = table.get(&Key::new("C", "1")).await.unwrap().unwrap();
    assert_eq!(stored["n"], json!(1));
    assert!(!stored.contains_key("ttl"), "{stored:?}");
}

#[tokio::test]
async fn queries_page_past_expired_items_without_an_empty_last_page() {
    let (manual, clock) = clock();
    let table = or_skip!(aws::table(clock.clone()).await);
    let soon = clock.epoch_seconds() + 1;
    for i in 0..12 {
        let mut it = json!({"pk": "FEED", "sk": format!("{i:02}"), "gsi1pk": "BY#X", "gsi1sk": format!("{:02}", 11 - i)});
        if i % 3 == 0 {
            it["ttl"] = json!(soon); // 00, 03, 06, 09 expire
        }
        table.put(item(it), Condition::Always).await.unwrap();
    }
    manual.advance(Duration::from_secs(1));

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = table
            .query(Query::partition("FEED").limit(3).after(cursor))
            .await
            .unwrap();
        pages += 1;
        assert!(!page.items.is_empty(), "empty page");
        seen.extend(
            page.items
                .iter()
                .map(|i| i["sk"].as_str().unwrap().to_string()),
        );
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["01", "02", "04", "05", "07", "08", "10", "11"]);
    assert_eq!(pages, 3, "8 live items in pages of 3 need exactly 3 pages");

    let first = table
        .query(Query::partition("BY#X").on(Index::Gsi1).limit(4))
        .await
        .unwrap();
    let gsks: Vec<_> = first
        .items
        .iter()
        .map(|i| i["gsi1sk"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(gsks, ["00", "01", "03", "04"]);
    let rest = table
        .query(
            Query::partition("BY#X")
                .on(Index::Gsi1)
                .limit(4)
                .after(first.cursor),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 4);
    assert_eq!(rest.cursor, None);

    let between = table
        .query(
            Query::partition("FEED")
                .sk(SortKey::Between("04".into(), "08".into()))
                .backwards(),
        )
        .await
        .unwrap();
    let sks: Vec<_> = between
        .items
        .iter()
        .map(|i| i["sk"].as_str().unwrap())
        .collect();
    assert_eq!(sks, ["08", "07", "05", "04"]);

    let bad = table
        .query(Query::partition("FEED").after(Some("not-a-cursor".into())))
        .await;
    assert!(matches!(bad, Err(TableError::Invalid(_))), "{bad:?}");
    let foreign = table
        .query(Query::partition("OTHER").after(Some(page_cursor(&table).await)))
        .await;
    assert!(
        matches!(foreign, Err(TableError::Invalid(_))),
        "a cursor from another partition must be refused"
    );
}

async fn page_cursor(table: &Arc<dyn Table>) -> String {
    table
        .query(Query::partition("FEED").limit(1))
        .await
        .unwrap()
        .cursor
        .unwrap()
}

#[tokio::test]
async fn batch_get_handles_many_and_repeated_keys() {
    let (_, clock) = clock();
    let table = or_skip!(aws::table(clock).await);
    let mut keys = Vec::new();
    for i in 0..130 {
        table
            .put(
                item(json!({"pk": "B", "sk": format!("{i:03}")})),
                Condition::Always,
            )
            .await
            .unwrap();
        keys.push(Key::new("B", format!("{i:03}")));
    }
    keys.push(Key::new("B", "000"));
    keys.push(Key::new("B", "missing"));
    assert_eq!(table.batch_get(&keys).await.unwrap().len(), 130);
}

fn upload_rules() -> UploadRules {
    UploadRules {
        content_type: "image/png".into(),
        min_bytes: 8,
        max_bytes: 1000,
        expires_in: Duration::from_secs(900),
    }
}

#[tokio::test]
async fn upload_policy_pins_key_type_size_and_clock_based_expiry() {
    let (_, clock) = clock();
    let blobs = or_skip!(aws::blobs(clock).await);
    let up = blobs
        .presign_upload("avatars/u1.png", &upload_rules())
        .await
        .unwrap();
    assert_eq!(up.method, "POST");
    assert_eq!(up.expires_at, datetime!(2030-01-01 00:15:00 UTC));
    let endpoint = moto::endpoint().await.unwrap();
    assert!(
        up.url.starts_with(&format!("{endpoint}/lectern-")),
        "path-style URL expected: {}",
        up.url
    );
    let policy: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&up.fields["policy"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(policy["expiration"], "2030-01-01T00:15:00.000Z");
    let conditions = policy["conditions"].as_array().unwrap();
    let bucket = up.url.rsplit('/').next().unwrap();
    for expected in [
        json!({"bucket": bucket}),
        json!(["eq", "$key", "avatars/u1.png"]),
        json!(["eq", "$Content-Type", "image/png"]),
        json!(["content-length-range", 8, 1000]),
        json!({"x-amz-date": "20300101T000000Z"}),
        json!({"x-amz-credential": up.fields["x-amz-credential"]}),
    ] {
        assert!(
            conditions.contains(&expected),
            "policy lacks {expected}: {conditions:?}"
        );
    }
    assert!(up.fields["x-amz-credential"].ends_with("/20300101/us-east-1/s3/aws4_request"));
    assert_eq!(up.fields["x-amz-signature"].len(), 64);
    assert!(matches!(
        blobs.presign_upload("../etc/passwd", &upload_rules()).await,
        Err(BlobError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_browser_post_with_the_returned_fields_stores_the_object() {
    let blobs = or_skip!(aws::blobs(Arc::new(ManualClock::starting_now())).await);
    let up = blobs
        .presign_upload("uploads/pic.png", &upload_rules())
        .await
        .unwrap();
    let png: &[u8] = b"\x89PNG\r\n\x1a\n0000000000IHDR";
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in &up.fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(png.to_vec())
            .file_name("pic.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let resp = reqwest::Client::new()
        .post(&up.url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "POST upload failed: {} {}",
        resp.status(),
        resp.text().await.unwrap_or_default()
    );
    let info = blobs.head("uploads/pic.png").await.unwrap();
    assert_eq!(info.size, png.len() as u64);
    assert_eq!(
        blobs.get_prefix("uploads/pic.png", 8).await.unwrap(),
        Bytes::from_static(b"\x89PNG\r\n\x1a\n")
    );
}

#[tokio::test]
async fn presigned_downloads_are_signed_at_the_clock_time() {
    let (_, clock) = clock();
    let blobs = or_skip!(aws::blobs(clock).await);
    let url = blobs
        .presign_download("docs/a.pdf", Duration::from_secs(300))
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["X-Amz-Date"], "20300101T000000Z");
    assert_eq!(q["X-Amz-Expires"], "300");

    let live = or_skip!(aws::blobs(Arc::new(ManualClock::starting_now())).await);
    live.put("docs/b.txt", Bytes::from_static(b"hello"), "text/plain")
        .await
        .unwrap();
    let url = live
        .presign_download("docs/b.txt", Duration::from_secs(60))
        .await
        .unwrap();
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], b"hello");
}

#[tokio::test]
async fn object_operations_map_missing_objects_and_page_listings() {
    let blobs = or_skip!(aws::blobs(Arc::new(ManualClock::starting_now())).await);
    assert!(matches!(
        blobs.head("none/x").await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        blobs.get("none/x").await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        blobs.get_prefix("none/x", 4).await,
        Err(BlobError::NotFound)
    ));
    blobs.delete("none/x").await.unwrap();
    blobs
        .put("e/empty", Bytes::new(), "application/octet-stream")
        .await
        .unwrap();
    assert!(blobs.get_prefix("e/empty", 16).await.unwrap().is_empty());
    for i in 0..5 {
        blobs
            .put(
                &format!("l/{i}"),
                Bytes::from(vec![b'x'; i + 1]),
                "text/plain",
            )
            .await
            .unwrap();
    }
    let info = blobs.head("l/2").await.unwrap();
    assert_eq!(
        (info.size, info.content_type.as_deref()),
        (3, Some("text/plain"))
    );
    let (first, cursor) = blobs.list("l/", None, 3).await.unwrap();
    assert_eq!(
        first.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["l/0", "l/1", "l/2"]
    );
    let (rest, end) = blobs.list("l/", cursor, 3).await.unwrap();
    assert_eq!(
        rest.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["l/3", "l/4"]
    );
    assert_eq!(end, None);
    blobs.ping().await.unwrap();
}

fn job(n: u32) -> NewJob {
    NewJob {
        job: Job {
            id: format!("job-{n}"),
            kind: "test.kind".into(),
            payload: json!({"n": n}),
            idempotency_key: Some(format!("k{n}")),
        },
        delay: Duration::ZERO,
    }
}

#[tokio::test]
async fn sqs_delivers_counts_receives_and_dead_letters_after_three() {
    let queue = or_skip!(aws::queue().await);
    let ids = queue
        .send(queues::JOBS, (0..13).map(job).collect())
        .await
        .unwrap();
    assert_eq!(ids.len(), 13);
    assert!(ids.iter().all(|id| !id.is_empty()));
    let mut got = Vec::new();
    for _ in 0..10 {
        let batch = queue
            .receive(queues::JOBS, 20, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(batch.len() <= 10, "one receive hands out one batch at most");
        got.extend(batch);
        if got.len() >= 13 {
            break;
        }
    }
    assert_eq!(got.len(), 13, "more than 10 need several receive calls");
    let mut ns: Vec<u64> = got
        .iter()
        .map(|d| d.job.payload["n"].as_u64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, (0..13).collect::<Vec<_>>());
    assert!(
        got.iter()
            .all(|d| d.receive_count == 1 && d.job.idempotency_key.is_some())
    );
    for d in &got {
        queue.ack(queues::JOBS, &d.receipt).await.unwrap();
    }
    assert!(
        queue
            .receive(queues::JOBS, 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );

    queue
        .send(queues::NOTIFICATIONS, vec![job(99)])
        .await
        .unwrap();
    for attempt in 1..=3 {
        let got = queue
            .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        queue
            .retry_later(queues::NOTIFICATIONS, &got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        queue
            .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = queue.dead_letters(queues::NOTIFICATIONS, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, "job-99");
    assert!(
        queue
            .dead_letters(queues::JOBS, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(matches!(
        queue.send("nope", vec![job(1)]).await,
        Err(QueueError::UnknownQueue(_))
    ));
    let late = job(5).delay(Duration::from_secs(16 * 60));
    assert!(matches!(
        queue.send(queues::JOBS, vec![late]).await,
        Err(QueueError::Invalid(_))
    ));
    queue.ping().await.unwrap();
}

#[tokio::test]
async fn sqs_leaves_undecodable_messages_for_the_dead_letter_queue() {
    let endpoint = or_skip!(moto::endpoint().await);
    let sdk = moto::sdk_config(&endpoint).await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let prefix = format!("raw{}-", lectern_shared::ids::new_id().to_ascii_lowercase());
    create_queues(&client, &prefix, 3).await.unwrap();
    let url = client
        .get_queue_url()
        .queue_name(format!("{prefix}jobs"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    client
        .send_message()
        .queue_url(&url)
        .message_body("not json")
        .send()
        .await
        .unwrap();
    let queue = SqsQueue::new(client.clone(), &prefix);
    queue.send(queues::JOBS, vec![job(1)]).await.unwrap();
    let got = queue
        .receive(queues::JOBS, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "only the decodable job is delivered");
    let left = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .unwrap();
    let in_flight = left.attributes().unwrap()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible]
        .clone();
    assert_eq!(
        in_flight, "2",
        "the bad message stays in the queue (in flight), not deleted"
    );
}

#[tokio::test]
async fn ses_sends_and_rejects_bad_addresses() {
    let mailer = or_skip!(aws::mailer().await);
    let email = Email {
        to: "learner@example.com".into(),
        subject: "Grüße".into(),
        html: "<p>hi</p>".into(),
        text: "hi".into(),
    };
    let id = mailer.send(&email).await.unwrap();
    assert!(!id.is_empty());
    let bad = Email {
        to: "a@b.c>\r\nBcc: x@y.z".into(),
        ..email.clone()
    };
    assert!(matches!(
        mailer.send(&bad).await,
        Err(MailError::Rejected(_))
    ));
    let injected = Email {
        subject: "hi\r\nBcc: x@y.z".into(),
        ..email
    };
    assert!(matches!(
        mailer.send(&injected).await,
        Err(MailError::Rejected(_))
    ));
}

#[tokio::test]
async fn setup_is_idempotent_and_ping_sees_missing_resources() {
    let endpoint = or_skip!(moto::endpoint().await);
    let sdk = moto::sdk_config(&endpoint).await;
    let suffix = lectern_shared::ids::new_id().to_ascii_lowercase();
    let clock: SharedClock = Arc::new(ManualClock::starting_now());

    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let name = format!("idem-{suffix}");
    let missing = DynamoTable::new(dynamo.clone(), &name, clock.clone());
    assert!(
        missing.ping().await.is_err(),
        "ping must fail before the table exists"
    );
    create_table(&dynamo, &name).await.unwrap();
    create_table(&dynamo, &name).await.unwrap();
    missing.ping().await.unwrap();
    assert_eq!(missing.sweep_expired(100).await.unwrap(), 0);

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let prefix = format!("idem{suffix}-");
    let queue = SqsQueue::new(sqs.clone(), &prefix);
    assert!(matches!(
        queue.ping().await,
        Err(QueueError::Unavailable(_))
    ));
    create_queues(&sqs, &prefix, 3).await.unwrap();
    create_queues(&sqs, &prefix, 3).await.unwrap();
    queue.ping().await.unwrap();
}

/// Key rings come from Secrets Manager, one secret per purpose, read once at cold start. A rotation (a new key in
/// front, written as a new version of the secret) takes effect at the next cold start, and what the old key
/// signed still verifies.
#[tokio::test]
async fn key_rings_are_read_from_secrets_manager_and_rotate_without_breaking_what_they_signed() {
    use lectern_shared::http::pagination::CursorCodec;
    use lectern_shared::secrets::{KeyRing, Purpose, load_aws};

    let k1 = KeyRing::parse(Purpose::Cursor, &format!("k1:{}", "1".repeat(40)), "test").unwrap();
    let (config, keys) = or_skip!(aws::secrets(std::slice::from_ref(&k1)).await);
    let client = or_skip!(aws::secrets_client().await);
    let before = CursorCodec::from_ring(keys.require(Purpose::Cursor).unwrap());
    let cursor = before.encode("admin-users", "USERS#ada");

    // The operator rotates: a new version of the same secret, the new key active.
    let rotated = k1.rotated("k2", "2".repeat(40).as_bytes()).unwrap();
    client
        .put_secret_value()
        .secret_id(&config.secrets[&Purpose::Cursor])
        .secret_string(rotated.to_json())
        .send()
        .await
        .unwrap();
    let keys = load_aws(&client, &config).await.unwrap();
    let after = CursorCodec::from_ring(keys.require(Purpose::Cursor).unwrap());
    assert_eq!(after.decode("admin-users", &cursor).unwrap(), "USERS#ada");
    assert!(after.encode("admin-users", "x").ends_with(".k2"));
    assert!(
        keys.get(Purpose::Totp).is_none(),
        "only the configured rings"
    );

    // A missing secret and a bad value fail the cold start, naming the variable, never a value.
    let mut missing = config.clone();
    missing
        .secrets
        .insert(Purpose::Totp, "lectern-test/no-such-secret".into());
    let err = load_aws(&client, &missing).await.unwrap_err().to_string();
    assert!(err.contains("LECTERN_SECRET_TOTP"), "{err}");
    let short = format!(r#"{{"active": "k1", "k1": "{}"}}"#, "s".repeat(20));
    client
        .put_secret_value()
        .secret_id(&config.secrets[&Purpose::Cursor])
        .secret_string(&short)
        .send()
        .await
        .unwrap();
    let err = load_aws(&client, &config).await.unwrap_err().to_string();
    assert!(err.contains("LECTERN_SECRET_CURSOR"), "{err}");
    assert!(
        !err.contains(&"s".repeat(20)),
        "no material in errors: {err}"
    );
}

/// A function's rings come back from one `BatchGetSecretValue` whether its variables name the secrets by name or by
/// ARN (the template passes ARNs), and every ring lands under its own purpose.
#[tokio::test]
async fn several_key_rings_are_read_in_one_batch_by_name_or_arn() {
    use lectern_shared::secrets::{KeyRing, Purpose, load_aws};

    let rings: Vec<KeyRing> = [
        (Purpose::Cursor, '1'),
        (Purpose::RateLimit, '2'),
        (Purpose::Outbox, '3'),
    ]
    .into_iter()
    .map(|(purpose, c)| {
        KeyRing::parse(
            purpose,
            &format!("k{c}:{}", c.to_string().repeat(40)),
            "test",
        )
        .unwrap()
    })
    .collect();
    let (config, keys) = or_skip!(aws::secrets(&rings).await);
    let client = or_skip!(aws::secrets_client().await);
    for ring in &rings {
        assert_eq!(
            keys.require(ring.purpose()).unwrap().active(),
            ring.active(),
            "{:?}",
            ring.purpose()
        );
    }
    // The same secrets by ARN.
    let mut by_arn = config.clone();
    for id in by_arn.secrets.values_mut() {
        let described = client
            .describe_secret()
            .secret_id(id.as_str())
            .send()
            .await
            .unwrap();
        *id = described.arn().unwrap().to_string();
    }
    let again = load_aws(&client, &by_arn).await.unwrap();
    for ring in &rings {
        assert_eq!(
            again.require(ring.purpose()).unwrap().active(),
            ring.active()
        );
    }
}
