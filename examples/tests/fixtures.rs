//! The shop's session fixtures (`fixtures/sessions/`, one per shape the schema must keep
//! reading: constructed, see its README, the cart without `qty` included) all load under
//! today's schema, and the check names the file and the
//! key when one stops loading.

use std::path::{Path, PathBuf};

use typed_sessions::SessionSchema;
use typed_sessions::testing::Fixtures;
use typed_sessions_examples::shop::state::{CartLine, Notice, ShopSession};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sessions")
}

#[test]
fn every_recorded_session_loads_under_the_current_schema() {
    let checked = Fixtures::new(fixtures())
        .schema::<ShopSession>()
        .flash_queue::<Notice>()
        .assert_all_load();
    assert!(checked >= 3, "{checked} fixtures");
}

/// `ShopSession` as it would be without its migrations.
#[derive(SessionSchema)]
#[allow(dead_code)]
struct WithoutMigrations {
    #[session(default)]
    cart: Vec<CartLine>,
    user: Option<String>,
}

#[test]
fn without_its_migrations_the_check_names_each_file_and_key_that_stops_loading() {
    let err = Fixtures::new(fixtures())
        .schema::<WithoutMigrations>()
        .check()
        .unwrap_err();
    let found: Vec<(String, Option<String>)> = err
        .problems
        .iter()
        .map(|problem| {
            let file = problem
                .file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, problem.key.clone())
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "pyramid-numeric-user-id.json".to_owned(),
                Some("user".to_owned())
            ),
            (
                "v1-cart-without-qty.json".to_owned(),
                Some("cart".to_owned())
            ),
        ]
    );
    let report = err.to_string();
    assert!(
        report.contains("v1-cart-without-qty.json: key `cart`"),
        "{report}"
    );
    assert!(report.contains("missing field `qty`"), "{report}");
}

#[test]
fn a_new_fixture_that_does_not_load_fails_the_check() {
    let dir = std::env::temp_dir().join(format!("shop-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    // A queued notice the enum cannot read, and a cart no migration reads.
    std::fs::write(
        dir.join("v3-broken.json"),
        r#"{"cart": "junk", "_f_error": [17]}"#,
    )
    .unwrap();
    let result = Fixtures::new(&dir)
        .schema::<ShopSession>()
        .flash_queue::<Notice>()
        .check();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = result.unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_deref()).collect();
    assert_eq!(keys, [Some("cart"), Some("_f_error")], "{err}");
    assert!(
        err.problems
            .iter()
            .all(|p| p.file.ends_with("v3-broken.json"))
    );
    assert!(err.to_string().contains("its migration failed"), "{err}");
}

#[test]
fn an_empty_or_missing_folder_is_an_error_not_a_pass() {
    let missing = Fixtures::new("/nonexistent/fixtures")
        .schema::<ShopSession>()
        .check();
    assert!(missing.is_err());
    let empty = std::env::temp_dir().join(format!("shop-no-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let result = Fixtures::new(&empty).schema::<ShopSession>().check();
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("no *.json fixtures")
    );
}
