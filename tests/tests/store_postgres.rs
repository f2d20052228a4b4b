//! Server-side sessions in a real PostgreSQL: every scenario of `store_common`, plus what
//! only the SQL stores have (the layout, expiry and cleanup, corrupt rows, table names, an
//! unreachable server, no password in `Debug`).
//!
//! Needs `POSTGRES_URL`: `scripts/test.sh` starts a server and sets it; by hand,
//! `export POSTGRES_URL="$(scripts/postgres.sh | tail -n 1)"`. Without it these tests fail
//! (they never skip), in CI and locally alike.

#[macro_use]
mod store_common;

use std::time::Duration;

use serde_json::json;
use sqlx::{AssertSqlSafe, Row};
use store_common::*;
use typed_sessions::store::{PostgresStore, SessionStore, StoreError};
use typed_sessions::{LoadOutcome, Rejection, Saved};

store_scenarios!(postgres_store().await);

/// Runs `sql` with `{sessions}` and `{entries}` naming the store's tables.
async fn execute(store: &PostgresStore, sql: &str) -> u64 {
    let sql = sql
        .replace("{sessions}", store.table_name())
        .replace("{entries}", &format!("{}_entries", store.table_name()));
    sqlx::query(AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .unwrap()
        .rows_affected()
}

async fn count(store: &PostgresStore, table: &str) -> i64 {
    sqlx::query(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

/// The session's keys as stored, sorted.
async fn entries(store: &PostgresStore, id: &str) -> Vec<(String, String)> {
    let sql = format!(
        "SELECT key, value FROM {}_entries WHERE session_id = $1 ORDER BY key",
        store.table_name()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test]
async fn a_session_row_and_one_row_per_key_with_the_timeout_as_expiry() {
    let store = postgres_store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"cart": ["tea"], "user_id": 7})).await;
    let id = id_of(&cookie);
    let sql = format!(
        "SELECT created, accessed, extract(epoch FROM expires_at - now())::float8 FROM {} WHERE id = $1",
        store.table_name()
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(&id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<f64, _>(0), NOW);
    assert_eq!(row.get::<f64, _>(1), NOW);
    let expires_in = row.get::<f64, _>(2);
    assert!((590.0..=600.0).contains(&expires_in), "{expires_in}");
    assert_eq!(
        entries(&store, &id).await,
        [
            ("cart".to_owned(), r#"["tea"]"#.to_owned()),
            ("user_id".to_owned(), "7".to_owned())
        ]
    );

    let mut session = load(&factory, &cookie).await;
    session.insert("lang", "fr");
    session.remove("cart");
    assert_eq!(save(&factory, &session).await.0, Saved::Written);
    assert_eq!(
        entries(&store, &id).await,
        [
            ("lang".to_owned(), r#""fr""#.to_owned()),
            ("user_id".to_owned(), "7".to_owned())
        ]
    );
}

#[tokio::test]
async fn expired_rows_are_not_loaded_not_written_and_deleted_by_delete_expired() {
    let store = postgres_store().await;
    let factory = factory(store.clone(), &clock());
    let live = seed(&factory, json!({"user_id": 1})).await;
    let cookie = seed(&factory, json!({"user_id": 2})).await;
    let mut loaded = load(&factory, &cookie).await;
    let expired = execute(
        &store,
        &format!(
            "UPDATE {{sessions}} SET expires_at = now() - interval '1 second' WHERE id = '{}'",
            id_of(&cookie)
        ),
    )
    .await;
    assert_eq!(expired, 1);

    assert_eq!(
        load(&factory, &cookie).await.load_outcome(),
        LoadOutcome::Rejected(Rejection::UnknownSessionId)
    );
    loaded.insert("cart", json!(["tea"]));
    assert_eq!(
        save(&factory, &loaded).await,
        (Saved::Discarded, None),
        "a save to an expired row writes nothing"
    );
    assert_eq!(store.delete_expired().await.unwrap(), 1);
    assert_eq!(store.delete_expired().await.unwrap(), 0);
    assert!(
        entries(&store, &id_of(&cookie)).await.is_empty(),
        "its keys went too"
    );
    assert_eq!(load(&factory, &live).await.get("user_id"), Some(&json!(1)));
}

#[tokio::test]
async fn the_cleanup_task_deletes_expired_rows_until_dropped() {
    let store = postgres_store().await;
    let factory = factory(store.clone(), &clock());
    seed(&factory, json!({"user_id": 2})).await;
    execute(
        &store,
        "UPDATE {sessions} SET expires_at = now() - interval '1 second'",
    )
    .await;
    let cleanup = store.spawn_cleanup(Duration::from_millis(20));
    let table = store.table_name().to_owned();
    for _ in 0..250 {
        if count(&store, &table).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        count(&store, &table).await,
        0,
        "the task deleted the expired session"
    );
    assert_eq!(count(&store, &format!("{table}_entries")).await, 0);
    assert!(!cleanup.is_finished());
    cleanup.stop();
}

#[tokio::test]
async fn a_value_that_is_not_json_is_an_error_naming_the_key_and_is_kept() {
    let store = postgres_store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"cart": [1], "user_id": 7})).await;
    let id = id_of(&cookie);
    execute(
        &store,
        "UPDATE {entries} SET value = '{not json' WHERE key = 'cart'",
    )
    .await;
    let mut session = load(&factory, &cookie).await;
    let err = session.get_as::<Vec<u32>>("cart").unwrap_err();
    assert_eq!(err.key(), Some("cart"), "{err}");
    session.insert("user_id", 8);
    assert_eq!(save(&factory, &session).await.0, Saved::Written);
    assert!(
        entries(&store, &id)
            .await
            .contains(&("cart".to_owned(), "{not json".to_owned())),
        "not overwritten"
    );

    // A time that is not a finite number: the record cannot be read, so the session starts
    // afresh and the record goes at its first save.
    execute(&store, "UPDATE {sessions} SET created = 'NaN'").await;
    a_corrupt_record_starts_a_fresh_session_and_goes(&factory, &cookie, "created").await;
}

#[tokio::test]
async fn a_key_postgres_cannot_hold_is_an_error_not_a_panic() {
    let store = postgres_store().await;
    let factory = factory(store, &clock());
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    let mut session = load(&factory, &cookie).await;
    session.insert("nul\0key", 1);
    session.insert("value", "with a \0 inside is fine");
    let mut response = http::HeaderMap::new();
    let err = factory.save(&session, &mut response).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
    // Nothing of that save was written.
    assert_eq!(load(&factory, &cookie).await.get("value"), None);

    let mut session = load(&factory, &cookie).await;
    session.insert("value", "with a \0 inside is fine");
    assert_eq!(save(&factory, &session).await.0, Saved::Written);
    assert_eq!(
        load(&factory, &cookie).await.get("value"),
        Some(&json!("with a \0 inside is fine"))
    );
}

#[tokio::test]
async fn table_names_are_checked_and_used() {
    let store = postgres_store().await;
    let err = store
        .clone()
        .with_table_name("sessions; DROP TABLE sessions")
        .unwrap_err();
    assert!(err.to_string().contains("not a usable table name"), "{err}");
    let name = format!("shop_{}", random_tag());
    let store = store.with_table_name(&name).unwrap();
    assert_eq!(store.table_name(), name);
    assert!(
        store
            .schema()
            .contains(&format!("CREATE TABLE IF NOT EXISTS {name}_entries"))
    );
    // Not migrated yet: the tables are missing, a backend error (not a panic, not a 503).
    let err = store.load(&"0".repeat(64)).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    assert_eq!(count(&store, &format!("{name}_entries")).await, 1);
    assert_eq!(
        load(&factory, &cookie).await.get("user_id"),
        Some(&json!(7))
    );
}

/// Four app servers starting at once, each with its own pool, all migrate the same fresh
/// tables: every `migrate()` succeeds, and the tables work.
#[tokio::test]
async fn migrations_from_several_servers_at_once_do_not_race() {
    let name = format!("race_{}", random_tag());
    let mut servers = Vec::new();
    for _ in 0..4 {
        let store = PostgresStore::connect(&postgres_url())
            .await
            .unwrap()
            .with_table_name(&name)
            .unwrap();
        servers.push(store);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(servers.len()));
    let runs: Vec<_> = servers
        .iter()
        .cloned()
        .map(|store| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.migrate().await
            })
        })
        .collect();
    for run in runs {
        run.await
            .unwrap()
            .expect("every concurrent migrate() succeeds");
    }
    let factory = factory(servers[0].clone(), &clock());
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    assert_eq!(
        load(&factory, &cookie).await.get("user_id"),
        Some(&json!(7))
    );
}

/// A server starting while another serves from the same tables: an open transaction holds
/// a row lock on the session table (as a save in progress does). On a current schema
/// `migrate` takes no table lock, so it neither waits for that transaction nor deadlocks
/// with it; before this, its `ALTER TABLE` queued behind it (CI met the deadlock when two
/// shops shared a table).
#[tokio::test]
async fn migrate_on_a_current_schema_does_not_wait_for_a_save_in_progress() {
    let serving = postgres_store().await;
    let factory = factory(serving.clone(), &clock());
    let cookie = seed(&factory, json!({"n": 1})).await;
    let mut save_in_progress = serving.pool().begin().await.unwrap();
    let sql = format!(
        "UPDATE {} SET accessed = accessed WHERE id = $1",
        serving.table_name()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id_of(&cookie))
        .execute(&mut *save_in_progress)
        .await
        .unwrap();

    let starting = PostgresStore::connect(&postgres_url())
        .await
        .unwrap()
        .with_table_name(serving.table_name())
        .unwrap();
    let migrated = tokio::time::timeout(Duration::from_secs(30), starting.migrate()).await;
    save_in_progress.commit().await.unwrap();
    migrated
        .expect("migrate() does not wait for the open transaction")
        .unwrap();
    assert_eq!(load(&factory, &cookie).await.get("n"), Some(&json!(1)));
}

/// Servers migrating over and over while another serves (saves, and `delete_expired` as the
/// cleanup task runs it) from the same tables: every `migrate()` succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_while_serving_from_the_same_tables_succeed() {
    let serving = postgres_store().await;
    let factory = factory(serving.clone(), &clock());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let traffic = |worker: u32| {
        let (factory, serving, stop) = (&factory, &serving, &stop);
        async move {
            let mut served = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let cookie = seed(factory, json!({"worker": worker})).await;
                let mut session = load(factory, &cookie).await;
                session.insert("n", json!(served));
                save(factory, &session).await;
                serving.delete_expired().await.unwrap();
                served += 1;
            }
            served
        }
    };
    let starts = async {
        for _ in 0..20 {
            let starting = PostgresStore::connect(&postgres_url())
                .await
                .unwrap()
                .with_table_name(serving.table_name())
                .unwrap();
            starting.migrate().await.expect("migrate() while serving");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let ((), a, b, c) = tokio::join!(starts, traffic(0), traffic(1), traffic(2));
    assert!(a > 0 && b > 0 && c > 0, "the traffic ran: {a}, {b}, {c}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_no_password_shows() {
    let store = PostgresStore::connect("postgres://app:hunter2-secret@127.0.0.1:1/app")
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let started = std::time::Instant::now();
    let err = store.load(&"0".repeat(64)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let err = store.delete("x").await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");

    let err = PostgresStore::connect("postgres://app:hunter2-secret@[bad")
        .await
        .unwrap_err();
    assert!(!err.is_unavailable());
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

mod registry {
    use super::*;
    use store_common::registry::{self as scenarios, Count};

    /// How many rows of `user` the session table holds, expired or not (`SELECT COUNT`).
    fn indexed(store: &PostgresStore) -> impl Fn(String) -> Count + '_ {
        move |user| {
            let (pool, table) = (store.pool().clone(), store.table_name().to_owned());
            Box::pin(async move {
                let sql = format!("SELECT count(*) FROM {table} WHERE user_id = $1");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(user)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                n as usize
            })
        }
    }

    fn clock() -> typed_sessions::ManualClock {
        typed_sessions::ManualClock::new(NOW)
    }

    #[tokio::test]
    async fn registry_lists_and_revokes() {
        let store = postgres_store().await;
        scenarios::list_and_revoke(store.clone(), &clock(), indexed(&store)).await;
    }

    #[tokio::test]
    async fn rotation_and_sign_out_update_the_index() {
        let store = postgres_store().await;
        scenarios::rotation_and_sign_out_update_the_index(store.clone(), &clock(), indexed(&store))
            .await;
    }

    #[tokio::test]
    async fn an_expired_session_leaves_no_index_entry() {
        let store = postgres_store().await;
        scenarios::an_expired_session_leaves_no_index_entry(store.clone(), indexed(&store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_survive_a_renewal() {
        scenarios::concurrent_requests_survive_a_renewal(postgres_store().await, &clock(), 16)
            .await;
    }

    #[tokio::test]
    async fn a_privilege_change_leaves_no_alias() {
        scenarios::a_privilege_change_leaves_no_alias(postgres_store().await, &clock()).await;
    }

    /// A table made before the registry (no `user_id`) is migrated in place: its sessions
    /// stay, and the registry works.
    #[tokio::test]
    async fn migrate_adds_the_user_column_to_an_older_table() {
        let name = format!("old_{}", random_tag());
        let store = postgres_store().await.with_table_name(&name).unwrap();
        for statement in [
            format!(
                "CREATE TABLE {name} (id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, \
                 accessed DOUBLE PRECISION NOT NULL, expires_at TIMESTAMPTZ)"
            ),
            format!(
                "CREATE TABLE {name}_entries (session_id TEXT NOT NULL REFERENCES {name} (id) \
                 ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, \
                 PRIMARY KEY (session_id, key))"
            ),
            format!("INSERT INTO {name} VALUES ('kept', 1.0, 1.0, NULL)"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(store.pool())
                .await
                .unwrap();
        }
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        assert!(store.load("kept").await.unwrap().is_some());
        let factory = factory(store.clone(), &clock());
        scenarios::sign_in(&factory, "olga", "203.0.113.1").await;
        assert_eq!(factory.sessions_of("olga").await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn live_revocation_reaches_other_factories() {
    let here = postgres_store().await;
    // Another pool on the same tables, as another process has.
    let there = PostgresStore::connect(&postgres_url())
        .await
        .unwrap()
        .with_table_name(here.table_name())
        .unwrap();
    store_common::registry::live_revocation_reaches_other_factories(here, there).await;
}
