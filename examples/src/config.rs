//! What the example binaries read from the environment: `PORT`, `SESSION_SECRET`,
//! `SESSION_STORE` and `TRUSTED_PROXIES`, with the same messages in every binary.

use std::process::ExitCode;

/// `PORT`, or `default` when it is not set; an error (exit 2) with a message when it is not
/// a port number.
pub fn port(default: u16) -> Result<u16, ExitCode> {
    match std::env::var("PORT") {
        Ok(text) => text.trim().parse::<u16>().map_err(|_| {
            eprintln!("error: PORT must be a port number, not `{text}`");
            ExitCode::from(2)
        }),
        Err(_) => Ok(default),
    }
}

/// `SESSION_SECRET`, or a random secret (with a warning) when it is not set.
pub fn secret() -> String {
    match std::env::var("SESSION_SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            eprintln!(
                "warning: SESSION_SECRET is not set; signing sessions with a random secret, \
                 so they end when the shop restarts"
            );
            crate::shop::random_secret()
        }
    }
}

/// The message for a `SESSION_SECRET` the factory refused (exit 2).
pub fn bad_secret(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: SESSION_SECRET: {err}");
    eprintln!("hint: use 32 or more random bytes, such as 64 hex digits");
    ExitCode::from(2)
}

/// `SESSION_STORE`: the URL of the store to keep sessions in (see
/// [`crate::shop::store::sessions`]); `None` (the signed cookie) when unset.
pub fn session_store() -> Option<String> {
    std::env::var("SESSION_STORE").ok()
}

/// The message for a store or secret the shop cannot start on (exit 2). The message names
/// the store's scheme only, never its URL's password.
pub fn bad_store(err: crate::shop::store::OpenError) -> ExitCode {
    match err {
        crate::shop::store::OpenError::Secret(err) => bad_secret(err),
        err => {
            eprintln!("error: SESSION_STORE: {err}");
            ExitCode::from(2)
        }
    }
}

/// The shops' [`Settings`](crate::shop::Settings) with `TRUSTED_PROXIES`: the addresses of
/// the reverse proxies whose `X-Forwarded-For` to believe, comma-separated (see
/// [`crate::shop::client_ip`]). Unset or blank: none, the header is never believed. An error
/// (exit 2) with a message when it lists something that is not an IP address.
pub fn shop_settings() -> Result<crate::shop::Settings, ExitCode> {
    let text = std::env::var("TRUSTED_PROXIES").unwrap_or_default();
    match text.parse() {
        Ok(trusted_proxies) => Ok(crate::shop::Settings {
            trusted_proxies,
            ..crate::shop::Settings::default()
        }),
        Err(err) => {
            eprintln!("error: TRUSTED_PROXIES: {err}");
            Err(ExitCode::from(2))
        }
    }
}
