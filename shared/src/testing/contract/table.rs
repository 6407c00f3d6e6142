//! The [`Table`] contract. Every case takes a fresh, empty table and the manual clock it was built with.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::clock::{Clock, ManualClock};
use crate::table::{Condition, Index, Item, Key, Query, SortKey, Table, TableError, TxOp, Update};

/// Builds an item from a key and extra attributes (an object).
pub fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), pk.into());
    item.insert("sk".into(), sk.into());
    if let Value::Object(extra) = extra {
        item.extend(extra);
    }
    item
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["sk"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every item of a query, following cursors; asserts pages are never empty and never over the limit.
pub async fn query_all(t: &dyn Table, query: Query) -> Vec<Item> {
    let mut all = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = t.query(query.clone().after(cursor)).await.unwrap();
        assert!(page.items.len() <= query.limit, "page over its limit");
        if page.cursor.is_some() {
            assert!(
                !page.items.is_empty(),
                "a page with a cursor must not be empty"
            );
        }
        all.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
    panic!("pagination did not end");
}

pub async fn put_get_delete(t: &dyn Table, _clock: &ManualClock) {
    let key = Key::new("USER#1", "PROFILE");
    assert_eq!(t.get(&key).await.unwrap(), None);
    let it = item(
        "USER#1",
        "PROFILE",
        json!({"name": "Ada", "age": 36, "tags": ["a", "b"], "nested": {"x": 1.5}}),
    );
    t.put(it.clone(), Condition::Always).await.unwrap();
    assert_eq!(t.get(&key).await.unwrap(), Some(it.clone()));

    // A put replaces the whole item.
    let replaced = item("USER#1", "PROFILE", json!({"name": "Grace"}));
    t.put(replaced.clone(), Condition::Always).await.unwrap();
    assert_eq!(t.get(&key).await.unwrap(), Some(replaced));

    t.delete(&key, Condition::Always).await.unwrap();
    assert_eq!(t.get(&key).await.unwrap(), None);
    // Deleting what is absent succeeds.
    t.delete(&key, Condition::Always).await.unwrap();
    t.ping().await.unwrap();
}

pub async fn conditional_writes(t: &dyn Table, _clock: &ManualClock) {
    let key = Key::new("DOC#1", "META");
    let v1 = item("DOC#1", "META", json!({"version": 1, "title": "one"}));
    t.put(v1.clone(), Condition::NotExists).await.unwrap();
    let again = t
        .put(
            item("DOC#1", "META", json!({"version": 9})),
            Condition::NotExists,
        )
        .await;
    assert!(
        matches!(again, Err(TableError::ConditionFailed)),
        "{again:?}"
    );
    assert_eq!(t.get(&key).await.unwrap(), Some(v1.clone()));

    // Optimistic locking on a version attribute.
    let stale = t
        .put(
            item("DOC#1", "META", json!({"version": 3})),
            Condition::equals("version", 2),
        )
        .await;
    assert!(
        matches!(stale, Err(TableError::ConditionFailed)),
        "{stale:?}"
    );
    let v2 = item("DOC#1", "META", json!({"version": 2, "title": "two"}));
    t.put(v2.clone(), Condition::equals("version", 1))
        .await
        .unwrap();
    assert_eq!(t.get(&key).await.unwrap(), Some(v2.clone()));

    // Equals compares numbers by value.
    let updated = t
        .update(
            &key,
            Update::new().set("title", "three"),
            Condition::equals("version", 2.0),
        )
        .await
        .unwrap();
    assert_eq!(updated["title"], json!("three"));

    let has_title = t
        .update(
            &key,
            Update::new().set("locked", true),
            Condition::AttributeNotExists("title".into()),
        )
        .await;
    assert!(
        matches!(has_title, Err(TableError::ConditionFailed)),
        "{has_title:?}"
    );
    t.update(
        &key,
        Update::new().set("locked", true),
        Condition::AttributeNotExists("locked".into()),
    )
    .await
    .unwrap();
    let locked_twice = t
        .update(
            &key,
            Update::new().set("locked", false),
            Condition::AttributeNotExists("locked".into()),
        )
        .await;
    assert!(
        matches!(locked_twice, Err(TableError::ConditionFailed)),
        "{locked_twice:?}"
    );

    // AttributeNotExists and Exists need a live item.
    let absent = Key::new("DOC#2", "META");
    let r = t
        .update(
            &absent,
            Update::new().set("a", 1),
            Condition::AttributeNotExists("a".into()),
        )
        .await;
    assert!(matches!(r, Err(TableError::ConditionFailed)), "{r:?}");
    let r = t
        .update(&absent, Update::new().set("a", 1), Condition::Exists)
        .await;
    assert!(matches!(r, Err(TableError::ConditionFailed)), "{r:?}");
    assert_eq!(
        t.get(&absent).await.unwrap(),
        None,
        "a failed update must not create the item"
    );

    // Conditional delete.
    let r = t.delete(&key, Condition::equals("version", 1)).await;
    assert!(matches!(r, Err(TableError::ConditionFailed)), "{r:?}");
    assert!(t.get(&key).await.unwrap().is_some());
    let both = Condition::All(vec![Condition::Exists, Condition::equals("version", 2)]);
    t.delete(&key, both).await.unwrap();
    assert_eq!(t.get(&key).await.unwrap(), None);
    let r = t.delete(&key, Condition::Exists).await;
    assert!(matches!(r, Err(TableError::ConditionFailed)), "{r:?}");
}

pub async fn update_semantics(t: &dyn Table, _clock: &ManualClock) {
    let key = Key::new("CTR#1", "STATE");
    let created = t
        .update(
            &key,
            Update::new()
                .set("name", "x")
                .set_if_absent("created", 100)
                .add("n", 5),
            Condition::Always,
        )
        .await
        .unwrap();
    assert_eq!(
        created,
        item(
            "CTR#1",
            "STATE",
            json!({"name": "x", "created": 100, "n": 5})
        )
    );
    let next = t
        .update(
            &key,
            Update::new()
                .set_if_absent("created", 200)
                .add("n", -2)
                .remove("name"),
            Condition::Exists,
        )
        .await
        .unwrap();
    assert_eq!(
        next,
        item("CTR#1", "STATE", json!({"created": 100, "n": 3}))
    );
    assert_eq!(t.get(&key).await.unwrap(), Some(next));

    let r = t
        .update(&key, Update::new().set("pk", "other"), Condition::Always)
        .await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    let r = t
        .update(&key, Update::new().set("gsi1pk", 5), Condition::Always)
        .await;
    assert!(
        matches!(r, Err(TableError::Invalid(_))),
        "index keys must be strings: {r:?}"
    );
}

pub async fn concurrent_counter(t: &dyn Table, _clock: &ManualClock) {
    let key = Key::new("CTR#2", "STATE");
    let results =
        join_all((0..20).map(|_| t.update(&key, Update::new().add("n", 1), Condition::Always)))
            .await;
    let mut seen = HashSet::new();
    for r in results {
        let item = r.unwrap();
        // Each increment saw a distinct value: none was lost or applied twice.
        assert!(seen.insert(item["n"].as_i64().unwrap()));
    }
    assert_eq!(t.get(&key).await.unwrap().unwrap()["n"], json!(20));
}

pub async fn concurrent_create_one_wins(t: &dyn Table, _clock: &ManualClock) {
    let results = join_all((0..10).map(|i| {
        t.put(
            item("EMAIL#a@b.test", "CLAIM", json!({"owner": i})),
            Condition::NotExists,
        )
    }))
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        assert!(
            r.is_ok() || matches!(r, Err(TableError::ConditionFailed)),
            "{r:?}"
        );
    }
    let stored = t
        .get(&Key::new("EMAIL#a@b.test", "CLAIM"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["owner"], json!(winners[0]));
}

pub async fn batch_get_many_and_missing(t: &dyn Table, _clock: &ManualClock) {
    let mut keys = Vec::new();
    for i in 0..130 {
        let sk = format!("ITEM#{i:03}");
        t.put(item("BATCH", &sk, json!({"i": i})), Condition::Always)
            .await
            .unwrap();
        keys.push(Key::new("BATCH", sk));
    }
    keys.push(Key::new("BATCH", "MISSING#1"));
    keys.push(Key::new("NOPE", "MISSING#2"));
    let got = t.batch_get(&keys).await.unwrap();
    assert_eq!(got.len(), 130);
    let mut is: Vec<i64> = got.iter().map(|i| i["i"].as_i64().unwrap()).collect();
    is.sort();
    assert_eq!(is, (0..130).collect::<Vec<_>>());
    assert_eq!(t.batch_get(&[]).await.unwrap(), Vec::<Item>::new());
    let only_missing = t
        .batch_get(&[Key::new("BATCH", "MISSING#1")])
        .await
        .unwrap();
    assert!(only_missing.is_empty());
}

pub async fn transaction_all_or_nothing(t: &dyn Table, _clock: &ManualClock) {
    t.put(
        item("ACC#1", "BALANCE", json!({"version": 1, "amount": 10})),
        Condition::Always,
    )
    .await
    .unwrap();
    t.put(
        item("ACC#2", "BALANCE", json!({"version": 1, "amount": 0})),
        Condition::Always,
    )
    .await
    .unwrap();
    let ops = vec![
        TxOp::Put {
            item: item("LEDGER#1", "ENTRY", json!({"amount": 5})),
            condition: Condition::NotExists,
        },
        TxOp::Update {
            key: Key::new("ACC#1", "BALANCE"),
            update: Update::new().add("amount", -5).add("version", 1),
            condition: Condition::equals("version", 1),
        },
        TxOp::Delete {
            key: Key::new("ACC#2", "BALANCE"),
            condition: Condition::Always,
        },
        TxOp::Check {
            key: Key::new("LOCK#1", "HELD"),
            condition: Condition::Exists,
        },
    ];
    match t.transact(ops.clone()).await {
        Err(TableError::TransactionCancelled { index, .. }) => assert_eq!(index, Some(3)),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(t.get(&Key::new("LEDGER#1", "ENTRY")).await.unwrap(), None);
    assert_eq!(
        t.get(&Key::new("ACC#1", "BALANCE")).await.unwrap().unwrap()["amount"],
        json!(10)
    );
    assert!(
        t.get(&Key::new("ACC#2", "BALANCE"))
            .await
            .unwrap()
            .is_some()
    );

    // A failing condition in the middle is reported by its position.
    let mut stale = ops.clone();
    stale[1] = TxOp::Update {
        key: Key::new("ACC#1", "BALANCE"),
        update: Update::new().add("amount", -5),
        condition: Condition::equals("version", 7),
    };
    stale.pop();
    match t.transact(stale).await {
        Err(TableError::TransactionCancelled { index, .. }) => assert_eq!(index, Some(1)),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(t.get(&Key::new("LEDGER#1", "ENTRY")).await.unwrap(), None);

    // Once every condition holds, every write lands.
    t.put(item("LOCK#1", "HELD", json!({})), Condition::Always)
        .await
        .unwrap();
    t.transact(ops).await.unwrap();
    assert!(
        t.get(&Key::new("LEDGER#1", "ENTRY"))
            .await
            .unwrap()
            .is_some()
    );
    let acc1 = t.get(&Key::new("ACC#1", "BALANCE")).await.unwrap().unwrap();
    assert_eq!(
        (acc1["amount"].clone(), acc1["version"].clone()),
        (json!(5), json!(2))
    );
    assert_eq!(t.get(&Key::new("ACC#2", "BALANCE")).await.unwrap(), None);
    assert!(
        t.get(&Key::new("LOCK#1", "HELD")).await.unwrap().is_some(),
        "a check writes nothing"
    );

    // Malformed transactions are refused before anything runs.
    let r = t.transact(vec![]).await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    let twice = vec![
        TxOp::Check {
            key: Key::new("A", "B"),
            condition: Condition::Always,
        },
        TxOp::Delete {
            key: Key::new("A", "B"),
            condition: Condition::Always,
        },
    ];
    let r = t.transact(twice).await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
}

pub async fn gsi_queries(t: &dyn Table, _clock: &ManualClock) {
    // Users indexed by email (gsi1) and by org with a join date (gsi2).
    let users = [
        ("u1", "ORG#a", "2024-01"),
        ("u2", "ORG#a", "2024-03"),
        ("u3", "ORG#b", "2024-02"),
    ];
    for (id, org, joined) in users {
        let it = item(
            &format!("USER#{id}"),
            "PROFILE",
            json!({"gsi1pk": format!("EMAIL#{id}@x.test"), "gsi1sk": "USER", "gsi2pk": org, "gsi2sk": joined}),
        );
        t.put(it, Condition::Always).await.unwrap();
    }
    // Carries only one attribute of each index: in neither.
    t.put(
        item(
            "USER#u4",
            "PROFILE",
            json!({"gsi1pk": "EMAIL#u4@x.test", "gsi2sk": "2024-01"}),
        ),
        Condition::Always,
    )
    .await
    .unwrap();

    let by_email = t
        .query(Query::partition("EMAIL#u2@x.test").on(Index::Gsi1))
        .await
        .unwrap();
    assert_eq!(by_email.items.len(), 1);
    assert_eq!(by_email.items[0]["pk"], json!("USER#u2"));
    assert!(
        t.query(Query::partition("EMAIL#u4@x.test").on(Index::Gsi1))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let org_a = t
        .query(Query::partition("ORG#a").on(Index::Gsi2))
        .await
        .unwrap();
    let pks: Vec<&Value> = org_a.items.iter().map(|i| &i["pk"]).collect();
    assert_eq!(pks, [&json!("USER#u1"), &json!("USER#u2")]);
    let recent = t
        .query(
            Query::partition("ORG#a")
                .on(Index::Gsi2)
                .sk(SortKey::GreaterThan("2024-02".into())),
        )
        .await;
    assert_eq!(recent.unwrap().items.len(), 1);
    let back = t
        .query(Query::partition("ORG#a").on(Index::Gsi2).backwards())
        .await
        .unwrap();
    assert_eq!(back.items[0]["pk"], json!("USER#u2"));
    // The base table's partition is not an index partition.
    assert!(
        t.query(Query::partition("USER#u1").on(Index::Gsi2))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Index entries follow updates: moving u1 to org b, changing u2's email, dropping u3 from gsi2.
    t.update(
        &Key::new("USER#u1", "PROFILE"),
        Update::new().set("gsi2pk", "ORG#b"),
        Condition::Exists,
    )
    .await
    .unwrap();
    t.update(
        &Key::new("USER#u2", "PROFILE"),
        Update::new().set("gsi1pk", "EMAIL#new@x.test"),
        Condition::Exists,
    )
    .await
    .unwrap();
    t.update(
        &Key::new("USER#u3", "PROFILE"),
        Update::new().remove("gsi2sk"),
        Condition::Exists,
    )
    .await
    .unwrap();
    let org_a = t
        .query(Query::partition("ORG#a").on(Index::Gsi2))
        .await
        .unwrap();
    assert_eq!(
        org_a.items.iter().map(|i| &i["pk"]).collect::<Vec<_>>(),
        [&json!("USER#u2")]
    );
    let org_b = t
        .query(Query::partition("ORG#b").on(Index::Gsi2))
        .await
        .unwrap();
    assert_eq!(
        org_b.items.iter().map(|i| &i["pk"]).collect::<Vec<_>>(),
        [&json!("USER#u1")]
    );
    assert!(
        t.query(Query::partition("EMAIL#u2@x.test").on(Index::Gsi1))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let moved = t
        .query(Query::partition("EMAIL#new@x.test").on(Index::Gsi1))
        .await
        .unwrap();
    assert_eq!(
        moved.items[0]["gsi2pk"],
        json!("ORG#a"),
        "index queries return whole items"
    );

    // ...and deletes and whole-item puts.
    t.delete(&Key::new("USER#u1", "PROFILE"), Condition::Always)
        .await
        .unwrap();
    assert!(
        t.query(Query::partition("ORG#b").on(Index::Gsi2))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    t.put(item("USER#u2", "PROFILE", json!({})), Condition::Always)
        .await
        .unwrap();
    assert!(
        t.query(Query::partition("EMAIL#new@x.test").on(Index::Gsi1))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        t.query(Query::partition("ORG#a").on(Index::Gsi2))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn sort_key_conditions(t: &dyn Table, _clock: &ManualClock) {
    for sk in ["a", "b", "ba", "bb", "c", "d"] {
        t.put(item("P", sk, json!({})), Condition::Always)
            .await
            .unwrap();
    }
    t.put(item("P2", "b", json!({})), Condition::Always)
        .await
        .unwrap();
    let cases: Vec<(SortKey, Vec<&str>)> = vec![
        (SortKey::Any, vec!["a", "b", "ba", "bb", "c", "d"]),
        (SortKey::Equals("b".into()), vec!["b"]),
        (SortKey::Equals("zz".into()), vec![]),
        (SortKey::BeginsWith("b".into()), vec!["b", "ba", "bb"]),
        (SortKey::BeginsWith("ba".into()), vec!["ba"]),
        (
            SortKey::Between("b".into(), "c".into()),
            vec!["b", "ba", "bb", "c"],
        ),
        (SortKey::LessThan("b".into()), vec!["a"]),
        (SortKey::LessOrEqual("b".into()), vec!["a", "b"]),
        (SortKey::GreaterThan("bb".into()), vec!["c", "d"]),
        (SortKey::GreaterOrEqual("bb".into()), vec!["bb", "c", "d"]),
    ];
    for (cond, expected) in cases {
        let forward = t
            .query(Query::partition("P").sk(cond.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&forward.items), expected, "{cond:?}");
        assert_eq!(forward.cursor, None);
        let backward = t
            .query(Query::partition("P").sk(cond.clone()).backwards())
            .await
            .unwrap();
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(sks(&backward.items), reversed, "{cond:?} backwards");
    }
    // Byte order of UTF-8, not locale order: uppercase sorts before lowercase.
    t.put(item("Q", "b", json!({})), Condition::Always)
        .await
        .unwrap();
    t.put(item("Q", "B", json!({})), Condition::Always)
        .await
        .unwrap();
    t.put(item("Q", "é", json!({})), Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        sks(&t.query(Query::partition("Q")).await.unwrap().items),
        ["B", "b", "é"]
    );
    assert!(
        t.query(Query::partition("EMPTY"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn pagination(t: &dyn Table, _clock: &ManualClock) {
    let mut expected = Vec::new();
    for i in 0..25 {
        let sk = format!("E#{i:02}");
        t.put(item("FEED", &sk, json!({"i": i})), Condition::Always)
            .await
            .unwrap();
        t.put(
            item(
                &format!("X#{i}"),
                "E",
                json!({"gsi1pk": "FEEDIDX", "gsi1sk": sk.clone()}),
            ),
            Condition::Always,
        )
        .await
        .unwrap();
        expected.push(sk);
    }
    let first = t.query(Query::partition("FEED").limit(10)).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(first.cursor.is_some());

    let forward = query_all(t, Query::partition("FEED").limit(10)).await;
    assert_eq!(sks(&forward), expected);
    let mut reversed = expected.clone();
    reversed.reverse();
    let backward = query_all(t, Query::partition("FEED").backwards().limit(7)).await;
    assert_eq!(sks(&backward), reversed);
    let filtered = query_all(
        t,
        Query::partition("FEED")
            .sk(SortKey::Between("E#05".into(), "E#17".into()))
            .limit(4),
    )
    .await;
    assert_eq!(sks(&filtered), expected[5..=17]);

    let on_index = query_all(t, Query::partition("FEEDIDX").on(Index::Gsi1).limit(6)).await;
    let index_sks: Vec<String> = on_index
        .iter()
        .map(|i| i["gsi1sk"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(index_sks, expected);
    let back_index = query_all(
        t,
        Query::partition("FEEDIDX")
            .on(Index::Gsi1)
            .backwards()
            .limit(6),
    )
    .await;
    assert_eq!(back_index.len(), 25);
    assert_eq!(back_index[0]["gsi1sk"], json!("E#24"));

    // Exactly two full pages: the second has no cursor, so there is no empty third page.
    for i in 0..20 {
        t.put(
            item("EVEN", &format!("{i:02}"), json!({})),
            Condition::Always,
        )
        .await
        .unwrap();
    }
    let p1 = t.query(Query::partition("EVEN").limit(10)).await.unwrap();
    let p2 = t
        .query(Query::partition("EVEN").limit(10).after(p1.cursor.clone()))
        .await
        .unwrap();
    assert_eq!((p1.items.len(), p2.items.len()), (10, 10));
    assert!(p1.cursor.is_some());
    assert_eq!(p2.cursor, None, "no cursor when nothing follows");
    let exact = t.query(Query::partition("EVEN").limit(20)).await.unwrap();
    assert_eq!((exact.items.len(), exact.cursor), (20, None));
}

pub async fn bad_cursor(t: &dyn Table, _clock: &ManualClock) {
    for i in 0..3 {
        t.put(
            item(
                "CUR",
                &format!("{i}"),
                json!({"gsi1pk": "CURIDX", "gsi1sk": format!("{i}")}),
            ),
            Condition::Always,
        )
        .await
        .unwrap();
        t.put(item("OTHER", &format!("{i}"), json!({})), Condition::Always)
            .await
            .unwrap();
    }
    let page = t.query(Query::partition("CUR").limit(1)).await.unwrap();
    let cursor = page.cursor.clone().expect("a cursor");
    for garbage in ["", "not a cursor!", "AAAA", "eyJwayI6IngifQ"] {
        let r = t
            .query(
                Query::partition("CUR")
                    .limit(1)
                    .after(Some(garbage.to_string())),
            )
            .await;
        assert!(
            matches!(r, Err(TableError::Invalid(_))),
            "{garbage:?}: {r:?}"
        );
    }
    let r = t
        .query(
            Query::partition("OTHER")
                .limit(1)
                .after(Some(cursor.clone())),
        )
        .await;
    assert!(
        matches!(r, Err(TableError::Invalid(_))),
        "cursor of another partition: {r:?}"
    );
    let r = t
        .query(
            Query::partition("CUR")
                .on(Index::Gsi1)
                .limit(1)
                .after(Some(cursor.clone())),
        )
        .await;
    assert!(
        matches!(r, Err(TableError::Invalid(_))),
        "cursor of the base table on an index: {r:?}"
    );
    // The genuine cursor still works.
    let next = t
        .query(Query::partition("CUR").limit(1).after(Some(cursor)))
        .await
        .unwrap();
    assert_eq!(sks(&next.items), ["1"]);
}

pub async fn invalid_requests(t: &dyn Table, _clock: &ManualClock) {
    let r = t.get(&Key::new("", "x")).await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    let r = t.get(&Key::new("a\0b", "x")).await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    let r = t
        .put(item("a", "b", json!({"ttl": "soon"})), Condition::Always)
        .await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    let r = t
        .put(
            item("a", "b", json!({"blob": "x".repeat(410 * 1024)})),
            Condition::Always,
        )
        .await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    let r = t.query(Query::partition("a").limit(0)).await;
    assert!(matches!(r, Err(TableError::Invalid(_))), "{r:?}");
    t.put(item("a", "b", json!({"n": "text"})), Condition::Always)
        .await
        .unwrap();
    let r = t
        .update(
            &Key::new("a", "b"),
            Update::new().add("n", 1),
            Condition::Always,
        )
        .await;
    assert!(
        matches!(r, Err(TableError::Invalid(_))),
        "adding to a string: {r:?}"
    );
}

/// DynamoDB refuses an empty string in any key attribute, index keys included; the embedded table must refuse it
/// the same way, as `Invalid` before anything is written.
pub async fn empty_index_keys_are_refused(t: &dyn Table, _clock: &ManualClock) {
    let invalid = |r: Result<(), TableError>, what: &str| {
        assert!(matches!(r, Err(TableError::Invalid(_))), "{what}: {r:?}");
    };
    for attr in ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] {
        let mut extra = json!({"gsi1pk": "P", "gsi1sk": "S", "gsi2pk": "P", "gsi2sk": "S"});
        extra[attr] = json!("");
        let bad = item("EMPTY", attr, extra);
        invalid(t.put(bad.clone(), Condition::Always).await, attr);
        invalid(
            t.transact(vec![TxOp::Put {
                item: bad,
                condition: Condition::Always,
            }])
            .await,
            attr,
        );
        let key = Key::new("EMPTY", attr);
        invalid(
            t.update(&key, Update::new().set(attr, ""), Condition::Always)
                .await
                .map(drop),
            attr,
        );
        invalid(
            t.transact(vec![TxOp::Update {
                key: key.clone(),
                update: Update::new().set(attr, ""),
                condition: Condition::Always,
            }])
            .await,
            attr,
        );
        assert_eq!(t.get(&key).await.unwrap(), None, "{attr}: nothing written");
    }
    // An over-long index sort key is refused too (DynamoDB allows 1024 bytes).
    let long = item(
        "EMPTY",
        "long",
        json!({"gsi1pk": "P", "gsi1sk": "x".repeat(1025)}),
    );
    invalid(t.put(long, Condition::Always).await, "long gsi1sk");
    // Non-empty index keys are fine, and the item is found through its index.
    t.put(
        item("EMPTY", "ok", json!({"gsi1pk": "EMPTYIDX", "gsi1sk": "1"})),
        Condition::NotExists,
    )
    .await
    .unwrap();
    let found = query_all(t, Query::partition("EMPTYIDX").on(Index::Gsi1)).await;
    assert_eq!(found.len(), 1);
}

pub async fn ttl_expiry(t: &dyn Table, clock: &ManualClock) {
    let now = clock.epoch_seconds();
    let key = Key::new("SESSION#1", "S");
    let session = item(
        "SESSION#1",
        "S",
        json!({"ttl": now + 60, "user": "u1", "gsi1pk": "SESSIONS", "gsi1sk": "1"}),
    );
    t.put(session.clone(), Condition::NotExists).await.unwrap();
    t.put(
        item("SESSION#1", "KEEP", json!({"ttl": now + 3600})),
        Condition::Always,
    )
    .await
    .unwrap();
    t.put(item("SESSION#1", "NEVER", json!({})), Condition::Always)
        .await
        .unwrap();
    assert_eq!(t.get(&key).await.unwrap(), Some(session.clone()));

    clock.advance(Duration::from_secs(59));
    assert!(t.get(&key).await.unwrap().is_some(), "alive until its ttl");
    clock.advance(Duration::from_secs(1));
    assert_eq!(t.get(&key).await.unwrap(), None, "expired at its ttl");
    let keys = [key.clone(), Key::new("SESSION#1", "KEEP")];
    assert_eq!(sks(&t.batch_get(&keys).await.unwrap()), ["KEEP"]);
    assert_eq!(
        sks(&t.query(Query::partition("SESSION#1")).await.unwrap().items),
        ["KEEP", "NEVER"]
    );
    assert!(
        t.query(Query::partition("SESSIONS").on(Index::Gsi1))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let r = t
        .update(&key, Update::new().set("x", 1), Condition::Exists)
        .await;
    assert!(
        matches!(r, Err(TableError::ConditionFailed)),
        "expired counts as absent: {r:?}"
    );
    let r = t.delete(&key, Condition::Exists).await;
    assert!(matches!(r, Err(TableError::ConditionFailed)), "{r:?}");
    match t
        .transact(vec![TxOp::Check {
            key: key.clone(),
            condition: Condition::Exists,
        }])
        .await
    {
        Err(TableError::TransactionCancelled { index, .. }) => assert_eq!(index, Some(0)),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }

    // An update over an expired item starts from nothing.
    let restarted = t
        .update(&key, Update::new().add("n", 1), Condition::NotExists)
        .await
        .unwrap();
    assert_eq!(restarted, item("SESSION#1", "S", json!({"n": 1})));
    assert_eq!(t.get(&key).await.unwrap(), Some(restarted));

    // A put with NotExists succeeds over an expired item.
    let other = Key::new("SESSION#2", "S");
    let now = clock.epoch_seconds();
    t.put(
        item("SESSION#2", "S", json!({"ttl": now + 10, "v": 1})),
        Condition::Always,
    )
    .await
    .unwrap();
    let r = t
        .put(
            item("SESSION#2", "S", json!({"v": 2})),
            Condition::NotExists,
        )
        .await;
    assert!(
        matches!(r, Err(TableError::ConditionFailed)),
        "still alive: {r:?}"
    );
    clock.advance(Duration::from_secs(10));
    t.put(
        item("SESSION#2", "S", json!({"v": 3})),
        Condition::NotExists,
    )
    .await
    .unwrap();
    assert_eq!(t.get(&other).await.unwrap().unwrap()["v"], json!(3));

    // Sweeping never changes what is visible (DynamoDB's adapter sweeps nothing; the embedded one deletes).
    t.sweep_expired(100).await.unwrap();
    assert!(
        t.get(&Key::new("SESSION#1", "KEEP"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        t.get(&Key::new("SESSION#1", "NEVER"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(t.get(&other).await.unwrap().unwrap()["v"], json!(3));
}

/// Embedded only: the sweep physically deletes expired items (and only those), up to its limit.
pub async fn embedded_sweep_expired(t: &dyn Table, clock: &ManualClock) {
    let now = clock.epoch_seconds();
    for i in 0..5 {
        let it = item(
            "TMP",
            &format!("{i}"),
            json!({"ttl": now + 10 + i, "gsi1pk": "TMPIDX", "gsi1sk": format!("{i}")}),
        );
        t.put(it, Condition::Always).await.unwrap();
    }
    t.put(
        item("TMP", "LATER", json!({"ttl": now + 1000})),
        Condition::Always,
    )
    .await
    .unwrap();
    // Rewritten with a later ttl: its old ttl must not get it swept.
    let renewed = item(
        "TMP",
        "0",
        json!({"ttl": now + 2000, "gsi1pk": "TMPIDX", "gsi1sk": "0"}),
    );
    t.put(renewed, Condition::Always).await.unwrap();
    assert_eq!(
        t.sweep_expired(100).await.unwrap(),
        0,
        "nothing has expired yet"
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(t.sweep_expired(2).await.unwrap(), 2, "bounded by the limit");
    assert_eq!(t.sweep_expired(100).await.unwrap(), 2);
    assert_eq!(t.sweep_expired(100).await.unwrap(), 0);
    assert_eq!(
        sks(&t.query(Query::partition("TMP")).await.unwrap().items),
        ["0", "LATER"]
    );
    let idx = t
        .query(Query::partition("TMPIDX").on(Index::Gsi1))
        .await
        .unwrap();
    assert_eq!(sks(&idx.items), ["0"]);
}
