//! Both shop binaries (`shop`, `actix_shop`) read `SESSION_STORE` the same way: started with
//! a store URL they say which store keeps the sessions and serve every page on it; started
//! with a URL they cannot use they exit 2 naming its scheme, never its password; the devices
//! page and the event stream are there on a server store only. A `TRUSTED_PROXIES` entry that is not an address is
//! exit 2 too.

mod support;

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use support::Process;

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";
const BINARIES: [&str; 2] = [env!("CARGO_BIN_EXE_shop"), env!("CARGO_BIN_EXE_actix_shop")];

fn command(binary: &str, store: Option<&str>) -> Command {
    let mut command = Command::new(binary);
    command
        .env("SESSION_SECRET", SECRET)
        .env("PORT", "0")
        .env("NO_COLOR", "1")
        .env_remove("SESSION_STORE");
    if let Some(store) = store {
        command.env("SESSION_STORE", store);
    }
    command
}

/// Starts `binary` with `SESSION_STORE=store`; the process, its base URL and start-up line.
fn start(binary: &str, store: Option<&str>) -> (Process, String, String) {
    let process = Process::start(command(binary, store).stderr(Stdio::null()));
    let (base, line) = (process.base.clone(), process.line.clone());
    (process, base, line)
}

#[tokio::test]
async fn both_binaries_serve_every_page_on_the_store_they_are_given() {
    let dir = std::env::temp_dir();
    for binary in BINARIES {
        let db = dir.join(format!("shop-binaries-{}.db", std::process::id()));
        let sqlite = format!("sqlite://{}", db.display());
        for (store, kind) in [
            (None, "sessions in a signed cookie"),
            (Some("memory:"), "sessions in memory"),
            (Some(sqlite.as_str()), "sessions in SQLite"),
        ] {
            let (_running, base, line) = start(binary, store);
            assert!(line.contains(kind), "{binary} {store:?}: {line}");
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            for path in ["/", "/cart", "/login", "/session", "/health"] {
                let response = client.get(format!("{base}{path}")).send().await.unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "{binary} {store:?} {path}"
                );
            }
            // Signed out: a server store sends the client to sign in; a cookie has no
            // registry to list.
            for (path, signed_out) in [
                ("/devices", StatusCode::SEE_OTHER),
                ("/events", StatusCode::UNAUTHORIZED),
            ] {
                let response = client.get(format!("{base}{path}")).send().await.unwrap();
                let expected = match store {
                    None => StatusCode::NOT_FOUND,
                    Some(_) => signed_out,
                };
                assert_eq!(response.status(), expected, "{binary} {store:?} {path}");
            }
        }
        let _ = std::fs::remove_file(&db);
    }
}

#[test]
fn a_store_they_cannot_use_is_exit_2_without_the_password() {
    for binary in BINARIES {
        let Output { status, stderr, .. } = command(binary, Some("mysql://root:hunter2@db/shop"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&stderr);
        assert_eq!(status.code(), Some(2), "{binary}: {stderr}");
        assert!(stderr.contains("SESSION_STORE"), "{binary}: {stderr}");
        assert!(stderr.contains("`mysql`"), "{binary}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{binary}: {stderr}");
    }
}

#[test]
fn a_trusted_proxy_that_is_no_address_is_exit_2() {
    for binary in BINARIES {
        let Output { status, stderr, .. } = command(binary, None)
            .env("TRUSTED_PROXIES", "127.0.0.1, proxy.internal")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&stderr);
        assert_eq!(status.code(), Some(2), "{binary}: {stderr}");
        assert!(stderr.contains("TRUSTED_PROXIES"), "{binary}: {stderr}");
        assert!(stderr.contains("`proxy.internal`"), "{binary}: {stderr}");
    }
}
