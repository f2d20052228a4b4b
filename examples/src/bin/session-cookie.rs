//! `session-cookie`: decode and encode Pyramid-compatible signed session cookies, for
//! people debugging or migrating sessions.
//!
//! ```text
//! session-cookie decode --secret S [--fallback-secret S2]... [--salt X] [--hashalg H] [--timeout SECONDS|none] VALUE
//! session-cookie encode --secret S [--salt X] [--hashalg H] [--created T] [--accessed T] < state.json
//! ```
//!
//! `decode` prints `{"accessed": N, "created": N, "state": {...}}` and exits 0; a cookie
//! that does not load prints the reason on stderr and exits 1. `encode` reads the state (a
//! JSON object) on stdin and prints the cookie value. Defaults are Pyramid's: salt
//! `pyramid.session.`, sha512, timeout 1200 seconds.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use session::{HashAlg, LoadOutcome, Session, SignedCookieSessionFactory};

#[derive(Parser)]
#[command(
    name = "session-cookie",
    about = "Decode and encode Pyramid-compatible signed session cookies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a cookie value and print its timestamps and state as JSON.
    Decode {
        #[command(flatten)]
        keys: Keys,
        /// An older secret that still verifies (repeatable).
        #[arg(long = "fallback-secret", value_name = "SECRET")]
        fallback_secrets: Vec<String>,
        /// Seconds a session lives without renewal, or `none`.
        #[arg(long, default_value = "1200", value_parser = parse_timeout)]
        timeout: Timeout,
        /// The cookie value (what follows `session=`).
        value: String,
    },
    /// Read a state (a JSON object) on stdin and print a signed cookie value.
    Encode {
        #[command(flatten)]
        keys: Keys,
        /// `created` timestamp in Unix seconds (default: now).
        #[arg(long)]
        created: Option<f64>,
        /// `accessed` timestamp in Unix seconds (default: now).
        #[arg(long)]
        accessed: Option<f64>,
    },
}

#[derive(Args)]
struct Keys {
    /// The signing secret.
    #[arg(long)]
    secret: String,
    /// The salt prepended to the secret.
    #[arg(long, default_value = "pyramid.session.")]
    salt: String,
    /// sha1, sha256, sha384 or sha512.
    #[arg(long, default_value = "sha512", value_parser = parse_hashalg)]
    hashalg: HashAlg,
}

#[derive(Clone, Copy)]
struct Timeout(Option<Duration>);

fn parse_timeout(s: &str) -> Result<Timeout, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Timeout(None));
    }
    s.parse::<u64>()
        .map(|secs| Timeout(Some(Duration::from_secs(secs))))
        .map_err(|_| format!("`{s}` is neither a number of seconds nor `none`"))
}

fn parse_hashalg(s: &str) -> Result<HashAlg, String> {
    s.parse().map_err(|e: session::BuildError| e.to_string())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("session-cookie: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Decode {
            keys,
            fallback_secrets,
            timeout,
            value,
        } => {
            let factory = fallback_secrets
                .into_iter()
                .fold(builder(&keys), |b, old| b.fallback_secret(old))
                .timeout(timeout.0)
                .build()
                .map_err(|e| e.to_string())?;
            let session = factory.load_value(Some(value.trim()));
            if let LoadOutcome::Rejected(reason) = session.load_outcome() {
                return Err(format!(
                    "cannot decode the cookie: {} ({})",
                    reason.as_str(),
                    reason.detail()
                ));
            }
            let state = session.state_json().map_err(|e| e.to_string())?;
            Ok(format!(
                "{{\"accessed\": {}, \"created\": {}, \"state\": {state}}}",
                number(session.accessed()),
                number(session.created()),
            ))
        }
        Command::Encode {
            keys,
            created,
            accessed,
        } => {
            let factory = builder(&keys).build().map_err(|e| e.to_string())?;
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| format!("cannot read the state from stdin: {e}"))?;
            let now = factory.now();
            // As Pyramid: `created` is the float time, `accessed` whole seconds.
            let session = Session::from_json(
                input.trim(),
                accessed.unwrap_or(now.floor()),
                created.unwrap_or(now),
            )
            .map_err(|reason| format!("the input is not a JSON object: {}", reason.detail()))?;
            factory.encode(&session).map_err(|e| e.to_string())
        }
    }
}

fn builder(keys: &Keys) -> session::Builder<session::SignedKeys> {
    // A debugging tool must read the cookies of apps with any secret, short ones included.
    SignedCookieSessionFactory::builder(keys.secret.as_str())
        .salt(keys.salt.clone())
        .hashalg(keys.hashalg)
        .allow_short_secret()
}

/// A timestamp as Python prints it: whole seconds as an integer.
fn number(t: f64) -> String {
    if t.fract() == 0.0 && t.abs() < 9_007_199_254_740_992.0 {
        format!("{}", t as i64)
    } else {
        serde_json::Number::from_f64(t).map_or_else(|| "null".to_owned(), |n| n.to_string())
    }
}
