//! The table contract against the embedded table and (when moto is available) DynamoDB.

use std::sync::Arc;

use lectern_shared::clock::ManualClock;
use lectern_shared::testing::contract::table as cases;
use lectern_shared::testing::{aws, embedded};

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::starting_now();
                    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
                    cases::$case(&*table, &clock).await;
                }
            )*
        }
        mod on_aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::starting_now();
                    let Some(table) = aws::table(Arc::new(clock.clone())).await else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    cases::$case(&*table, &clock).await;
                }
            )*
        }
    };
}

on_both!(
    put_get_delete,
    conditional_writes,
    update_semantics,
    concurrent_counter,
    concurrent_create_one_wins,
    batch_get_many_and_missing,
    transaction_all_or_nothing,
    gsi_queries,
    sort_key_conditions,
    pagination,
    bad_cursor,
    invalid_requests,
    empty_index_keys_are_refused,
    ttl_expiry,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_sweep_expired() {
    let clock = ManualClock::starting_now();
    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
    cases::embedded_sweep_expired(&*table, &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_data_survives_reopen() {
    use lectern_shared::table::embedded::EmbeddedTable;
    use lectern_shared::table::{Condition, Index, Key, Query, Table};
    let clock = ManualClock::starting_now();
    let (table, dir) = embedded::table(Arc::new(clock.clone()));
    let item = cases::item(
        "P",
        "S",
        serde_json::json!({"gsi1pk": "G", "gsi1sk": "1", "v": 1}),
    );
    table.put(item.clone(), Condition::NotExists).await.unwrap();
    drop(table);
    let reopened = EmbeddedTable::open(&embedded::db_path(dir.path()), Arc::new(clock)).unwrap();
    assert_eq!(
        reopened.get(&Key::new("P", "S")).await.unwrap(),
        Some(item.clone())
    );
    assert_eq!(
        reopened
            .query(Query::partition("G").on(Index::Gsi1))
            .await
            .unwrap()
            .items,
        vec![item]
    );
}
