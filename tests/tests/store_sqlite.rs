//! Server-side sessions in SQLite, on a temporary file: every scenario of `store_common`,
//! plus what only the SQL stores have (the layout, expiry and cleanup, corrupt rows, table
//! names, an unusable database).

#[macro_use]
mod store_common;

use std::time::Duration;

use serde_json::json;
use sqlx::Row;
use store_common::*;
use typed_sessions::store::{SessionStore, SqliteStore, StoreError};
use typed_sessions::{LoadOutcome, Rejection, Saved};

store_scenarios!(sqlite_store().await);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The session's keys as stored, sorted.
async fn entries(store: &SqliteStore, id: &str) -> Vec<(String, String)> {
    sqlx::query("SELECT key, value FROM sessions_entries WHERE session_id = ?1 ORDER BY key")
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
    let store = sqlite_store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"cart": ["tea"], "user_id": 7})).await;
    let id = id_of(&cookie);
    let row = sqlx::query("SELECT created, accessed, expires_at FROM sessions WHERE id = ?1")
        .bind(&id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<f64, _>(0), NOW);
    assert_eq!(row.get::<f64, _>(1), NOW);
    let expires_in = row.get::<i64, _>(2) - now_ms();
    assert!((590_000..=600_000).contains(&expires_in), "{expires_in}");
    assert_eq!(
        entries(&store, &id).await,
        [
            ("cart".to_owned(), r#"["tea"]"#.to_owned()),
            ("user_id".to_owned(), "7".to_owned())
        ]
    );

    // A save writes the changed key and deletes the removed one; the others stay.
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
    let store = sqlite_store().await;
    let factory = factory(store.clone(), &clock());
    let live = seed(&factory, json!({"user_id": 1})).await;
    let cookie = seed(&factory, json!({"user_id": 2})).await;
    let mut loaded = load(&factory, &cookie).await;
    sqlx::query("UPDATE sessions SET expires_at = ?1 WHERE id = ?2")
        .bind(now_ms() - 1)
        .bind(id_of(&cookie))
        .execute(store.pool())
        .await
        .unwrap();

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
    let store = sqlite_store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"user_id": 2})).await;
    sqlx::query("UPDATE sessions SET expires_at = ?1")
        .bind(now_ms() - 1)
        .execute(store.pool())
        .await
        .unwrap();
    let cleanup = store.spawn_cleanup(Duration::from_millis(20));
    let count = || async {
        sqlx::query("SELECT count(*) FROM sessions")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get::<i64, _>(0)
    };
    for _ in 0..250 {
        if count().await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count().await, 0, "the task deleted the expired session");
    assert!(entries(&store, &id_of(&cookie)).await.is_empty());
    assert!(!cleanup.is_finished());
    drop(cleanup);
}

#[tokio::test]
async fn a_value_that_is_not_json_is_an_error_naming_the_key_and_is_kept() {
    let store = sqlite_store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"cart": [1], "user_id": 7})).await;
    let id = id_of(&cookie);
    sqlx::query("UPDATE sessions_entries SET value = '{not json' WHERE key = 'cart'")
        .execute(store.pool())
        .await
        .unwrap();
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

    // A value that is not text, and a time that is not a number: the record cannot be
    // read, so the session starts afresh and the record goes at its first save.
    sqlx::query("UPDATE sessions_entries SET value = x'fffe' WHERE key = 'cart'")
        .execute(store.pool())
        .await
        .unwrap();
    a_corrupt_record_starts_a_fresh_session_and_goes(&factory, &cookie, "cart").await;
    let cookie = seed(&factory, json!({"cart": [1]})).await;
    sqlx::query("UPDATE sessions SET created = 'soon'")
        .execute(store.pool())
        .await
        .unwrap();
    a_corrupt_record_starts_a_fresh_session_and_goes(&factory, &cookie, "created").await;
}

#[tokio::test]
async fn table_names_are_checked_and_used() {
    let store = sqlite_store().await;
    let err = store
        .clone()
        .with_table_name("sessions; DROP TABLE sessions")
        .unwrap_err();
    assert!(err.to_string().contains("not a usable table name"), "{err}");
    let store = store.with_table_name("shop_sessions").unwrap();
    assert_eq!(store.table_name(), "shop_sessions");
    assert!(
        store
            .schema()
            .contains("CREATE TABLE IF NOT EXISTS shop_sessions_entries")
    );
    // Not migrated yet: the tables are missing, a backend error (not a panic, not a 503).
    let err = store.load(&"0".repeat(64)).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    let n: i64 = sqlx::query("SELECT count(*) FROM shop_sessions_entries")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    assert_eq!(
        load(&factory, &cookie).await.get("user_id"),
        Some(&json!(7))
    );
}

#[tokio::test]
async fn a_database_that_cannot_be_opened_is_unavailable() {
    let store = SqliteStore::connect("sqlite:///nonexistent-dir/for/sure/sessions.db")
        .await
        .unwrap();
    let err = store.load(&"0".repeat(64)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = SqliteStore::connect("sqlite://sessions.db?mode=bogus")
        .await
        .unwrap_err();
    assert!(!err.is_unavailable(), "{err}");
}

#[tokio::test]
async fn debug_shows_the_table_only() {
    let store = sqlite_store().await;
    let shown = format!("{store:?}");
    assert!(
        shown.starts_with("SqliteStore { table: \"sessions\""),
        "{shown}"
    );
    assert!(!shown.contains("session-test-"), "{shown}");
}

#[tokio::test]
async fn an_in_memory_database_is_shared_by_loads_and_saves() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let factory = factory(store, &clock());
    let cookie = seed(&factory, json!({"user_id": 7})).await;
    assert_eq!(
        load(&factory, &cookie).await.get("user_id"),
        Some(&json!(7))
    );
}

#[tokio::test]
async fn any_key_and_value_survive_a_partial_save_byte_for_byte() {
    let store = sqlite_store().await;
    let factory = factory(store.clone(), &clock());
    let cookie = seed(&factory, json!({"plain": 1})).await;
    let keys = [
        "we\"ird",
        "back\\slash",
        "a.b",
        "x[0]",
        "$",
        "é ü 🍵",
        "nul\0key",
        "",
    ];
    let mut session = load(&factory, &cookie).await;
    for (i, key) in keys.iter().enumerate() {
        session.insert(
            *key,
            json!({"i": i, "text": "\"quoted\" \\ \u{0} é", "n": 1.50}),
        );
    }
    session.remove("plain");
    assert_eq!(save(&factory, &session).await.0, Saved::Written);
    let stored = entries(&store, &id_of(&cookie)).await;
    assert_eq!(stored.len(), keys.len(), "{stored:?}");
    let again = load(&factory, &cookie).await;
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            again.get(key),
            Some(&json!({"i": i, "text": "\"quoted\" \\ \u{0} é", "n": 1.50})),
            "{key:?}"
        );
    }
    assert_eq!(again.get("plain"), None);
    // The JSON text is kept as the session wrote it.
    assert!(
        stored.iter().any(|(_, text)| text.contains("1.5")),
        "{stored:?}"
    );
}

mod registry {
    use super::*;
    use store_common::registry::{self as scenarios, Count};

    /// How many rows of `user` the session table holds, expired or not (`SELECT COUNT`).
    fn indexed(store: &SqliteStore) -> impl Fn(String) -> Count + '_ {
        move |user| {
            let (pool, table) = (store.pool().clone(), store.table_name().to_owned());
            Box::pin(async move {
                let sql = format!("SELECT count(*) FROM {table} WHERE user_id = ?1");
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
        let store = sqlite_store().await;
        scenarios::list_and_revoke(store.clone(), &clock(), indexed(&store)).await;
    }

    #[tokio::test]
    async fn rotation_and_sign_out_update_the_index() {
        let store = sqlite_store().await;
        scenarios::rotation_and_sign_out_update_the_index(store.clone(), &clock(), indexed(&store))
            .await;
    }

    #[tokio::test]
    async fn an_expired_session_leaves_no_index_entry() {
        let store = sqlite_store().await;
        scenarios::an_expired_session_leaves_no_index_entry(store.clone(), indexed(&store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_survive_a_renewal() {
        scenarios::concurrent_requests_survive_a_renewal(sqlite_store().await, &clock(), 16).await;
    }

    #[tokio::test]
    async fn a_privilege_change_leaves_no_alias() {
        scenarios::a_privilege_change_leaves_no_alias(sqlite_store().await, &clock()).await;
    }

    /// A table made before the registry (no `user_id`, the old save view) is migrated in
    /// place: its sessions stay, and the registry works.
    #[tokio::test]
    async fn migrate_adds_the_user_column_to_an_older_table() {
        let store = sqlite_store()
            .await
            .with_table_name("old_sessions")
            .unwrap();
        for statement in [
            "CREATE TABLE old_sessions (id TEXT PRIMARY KEY NOT NULL, created REAL NOT NULL, \
             accessed REAL NOT NULL, expires_at INTEGER)",
            "CREATE TABLE old_sessions_entries (session_id TEXT NOT NULL REFERENCES \
             old_sessions (id) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, \
             PRIMARY KEY (session_id, key)) WITHOUT ROWID",
            "CREATE VIEW old_sessions_update AS SELECT '' AS id WHERE 0",
            "INSERT INTO old_sessions VALUES ('kept', 1.0, 1.0, NULL)",
        ] {
            sqlx::query(statement).execute(store.pool()).await.unwrap();
        }
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        assert!(store.load("kept").await.unwrap().is_some());
        let factory = factory(store.clone(), &clock());
        scenarios::sign_in(&factory, "olga", "203.0.113.1").await;
        assert_eq!(factory.sessions_of("olga").await.unwrap().len(), 1);
    }
}
