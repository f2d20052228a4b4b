//! `session-cookie`: decode and encode Pyramid-compatible session cookies (signed, or
//! encrypted as `pyramid_nacl_session` does), for people debugging or migrating sessions.
//!
//! ```text
//! session-cookie decode [--encrypted] [--secret-file PATH] [--fallback-secret-file PATH]...
//!                       [--salt X] [--hashalg H] [--timeout SECONDS|none] [VALUE|-]
//! session-cookie encode [--encrypted] [--secret-file PATH] [--salt X] [--hashalg H]
//!                       [--created T] [--accessed T] < state.json
//! ```
//!
//! The secret (with `--encrypted`, the key as 64 hex digits) comes from `--secret-file`
//! (`-`: the first line of stdin), or from `--secret` on the command line, which works but
//! warns (other users see a command line in `ps`, and shells keep it in their history),
//! else from the environment variable `SESSION_SECRET`.
//!
//! `decode` reads the cookie value from its argument, or from stdin when there is none (or
//! it is `-`); it prints `{"accessed": N, "created": N, "state": {...}}` and exits 0. A cookie
//! that does not load prints one line naming the reason on stderr and exits 1; so does a
//! bad key or input. `encode` reads the state (a JSON object) on stdin and prints the cookie
//! value. Usage errors exit 2. Defaults are Pyramid's: salt `pyramid.session.`, sha512,
//! timeout 1200 seconds.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use typed_sessions::codec::CookieCodec;
use typed_sessions::{
    CookieSessionFactory, EncryptedCookieSessionFactory, EncryptionKey, HashAlg, LoadOutcome,
    Session, SignedCookieSessionFactory,
};

/// The environment variable a secret is read from when no option gives one.
const SECRET_VAR: &str = "SESSION_SECRET";

/// Where secrets come from, and the exit statuses: shown under every `--help`.
const AFTER_HELP: &str = "The secret (with --encrypted, the key as 64 hex digits) is read \
    from --secret-file, or from --secret, which warns (a command line shows in `ps` and in \
    shell history), else from the environment variable SESSION_SECRET.\n\
    \n\
    Exit status: 0 done; 1 the cookie does not load, or a key or input is bad (one line on \
    stderr says why); 2 a usage error.";

#[derive(Parser)]
#[command(
    name = "session-cookie",
    about = "Decode and encode Pyramid-compatible session cookies: signed \
             (SignedCookieSessionFactory) or encrypted (pyramid_nacl_session)",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a cookie value and print its timestamps and state as JSON.
    #[command(after_help = AFTER_HELP)]
    Decode {
        #[command(flatten)]
        keys: Keys,
        /// A file holding an older secret (or key) that still verifies; repeatable.
        #[arg(long = "fallback-secret-file", value_name = "PATH")]
        fallback_secret_files: Vec<PathBuf>,
        /// An older secret (or key) on the command line; repeatable. Warns, as --secret.
        #[arg(long = "fallback-secret", value_name = "SECRET")]
        fallback_secrets: Vec<String>,
        /// Seconds a session lives without renewal, or `none`.
        #[arg(long, default_value = "1200", value_parser = parse_timeout)]
        timeout: Timeout,
        /// The cookie value (what follows `session=`); `-` or none: read it from stdin.
        /// A value may start with `-`, a base64url character.
        #[arg(allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Read a state (a JSON object) on stdin and print a cookie value.
    #[command(after_help = AFTER_HELP)]
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
    /// Read the secret (or key) from this file (a trailing newline is dropped); `-`: from
    /// the first line of stdin, the rest of stdin being the cookie or the state.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
    /// The secret (or key) on the command line. Works, but warns: prefer --secret-file or
    /// SESSION_SECRET.
    #[arg(long, value_name = "SECRET", conflicts_with = "secret_file")]
    secret: Option<String>,
    /// Encrypted cookies of pyramid_nacl_session (NaCl secretbox, with Pyramid's JSON
    /// serializer): the secret is the 32-byte key as 64 hex digits, as its `print_secret`
    /// prints it.
    #[arg(long)]
    encrypted: bool,
    /// The salt prepended to the secret (signed cookies).
    #[arg(long, default_value = "pyramid.session.", conflicts_with = "encrypted")]
    salt: String,
    /// sha1, sha256, sha384 or sha512 (signed cookies).
    #[arg(long, default_value = "sha512", value_parser = parse_hashalg, conflicts_with = "encrypted")]
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
    s.parse()
        .map_err(|e: typed_sessions::BuildError| e.to_string())
}

/// Why the command failed, and its exit status.
enum Failure {
    /// The cookie, a key or an input is bad: exit 1.
    Refused(String),
    /// The command cannot run as given: exit 2, as clap's own usage errors.
    Usage(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Refused(message)
    }
}

fn main() -> ExitCode {
    let (message, code) = match run(Cli::parse()) {
        Ok(output) => {
            println!("{output}");
            return ExitCode::SUCCESS;
        }
        Err(Failure::Refused(message)) => (message, 1),
        Err(Failure::Usage(message)) => (message, 2),
    };
    eprintln!("session-cookie: {message}");
    ExitCode::from(code)
}

/// Stdin, read once: its first line may be the secret, the rest the cookie or state.
struct Stdin {
    text: Option<String>,
    secret_taken: bool,
}

impl Stdin {
    fn read(&mut self) -> Result<&str, String> {
        if self.text.is_none() {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            self.text = Some(text);
        }
        Ok(self.text.as_deref().unwrap_or_default())
    }

    /// The first line, as a secret.
    fn secret(&mut self) -> Result<String, String> {
        self.secret_taken = true;
        let text = self.read()?;
        Ok(text
            .split_once('\n')
            .map_or(text, |(line, _)| line)
            .trim_end_matches('\r')
            .to_owned())
    }

    /// Everything after the secret's line, or all of it.
    fn rest(&mut self) -> Result<&str, String> {
        let secret_taken = self.secret_taken;
        let text = self.read()?;
        Ok(if secret_taken {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        } else {
            text
        })
    }
}

/// A file's text without its trailing newline.
fn read_secret_file(path: &PathBuf, stdin: &mut Stdin) -> Result<String, String> {
    if path.as_os_str() == "-" {
        return stdin.secret();
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

/// Warns once that a secret was given on the command line.
fn warn_argv_secret() {
    eprintln!(
        "session-cookie: warning: a secret on the command line shows in `ps` and in shell \
         history; use --secret-file or {SECRET_VAR}"
    );
}

/// The secret, from the first source that has one.
fn secret(keys: &Keys, stdin: &mut Stdin) -> Result<String, Failure> {
    if let Some(path) = &keys.secret_file {
        return Ok(read_secret_file(path, stdin)?);
    }
    if let Some(secret) = &keys.secret {
        warn_argv_secret();
        return Ok(secret.clone());
    }
    if let Some(secret) = std::env::var_os(SECRET_VAR) {
        return secret
            .into_string()
            .map_err(|_| Failure::Refused(format!("{SECRET_VAR} is not UTF-8")));
    }
    Err(Failure::Usage(format!(
        "no secret: give --secret-file PATH (`-`: the first line of stdin), set {SECRET_VAR}, \
         or give --secret"
    )))
}

/// A factory of either kind; both share the save and load policy.
enum Factory {
    Signed(Box<SignedCookieSessionFactory>),
    Encrypted(Box<EncryptedCookieSessionFactory>),
}

/// A key written in hex, as `pyramid_nacl_session` prints and reads it.
fn hex_key(text: &str) -> Result<EncryptionKey, String> {
    EncryptionKey::from_hex(text.trim()).map_err(|e| e.to_string())
}

fn factory(
    keys: &Keys,
    secret: String,
    fallbacks: Vec<String>,
    timeout: Option<Duration>,
) -> Result<Factory, String> {
    if keys.encrypted {
        let builder = fallbacks.iter().try_fold(
            EncryptedCookieSessionFactory::builder(hex_key(&secret)?),
            |builder, old| hex_key(old).map(|key| builder.fallback_key(key)),
        )?;
        let factory = builder.timeout(timeout).build();
        return factory
            .map(|factory| Factory::Encrypted(Box::new(factory)))
            .map_err(|e| e.to_string());
    }
    // A debugging tool must read the cookies of apps with any secret, short ones included.
    let builder = fallbacks.into_iter().fold(
        SignedCookieSessionFactory::builder(secret)
            .salt(keys.salt.clone())
            .hashalg(keys.hashalg)
            .allow_short_secret(),
        |builder, old| builder.fallback_secret(old),
    );
    let factory = builder.timeout(timeout).build();
    factory
        .map(|factory| Factory::Signed(Box::new(factory)))
        .map_err(|e| e.to_string())
}

fn run(cli: Cli) -> Result<String, Failure> {
    let mut stdin = Stdin {
        text: None,
        secret_taken: false,
    };
    match cli.command {
        Command::Decode {
            keys,
            fallback_secret_files,
            fallback_secrets,
            timeout,
            value,
        } => {
            let secret = secret(&keys, &mut stdin)?;
            let mut fallbacks = Vec::new();
            for path in &fallback_secret_files {
                if path.as_os_str() == "-" {
                    return Err(Failure::Usage(
                        "a fallback secret cannot come from stdin".to_owned(),
                    ));
                }
                fallbacks.push(read_secret_file(path, &mut stdin)?);
            }
            if !fallback_secrets.is_empty() {
                warn_argv_secret();
                fallbacks.extend(fallback_secrets);
            }
            let factory = factory(&keys, secret, fallbacks, timeout.0)?;
            let value = match value.as_deref() {
                None | Some("-") => stdin.rest()?.trim().to_owned(),
                Some(value) => value.trim().to_owned(),
            };
            Ok(match &factory {
                Factory::Signed(factory) => decode(factory, &value)?,
                Factory::Encrypted(factory) => decode(factory, &value)?,
            })
        }
        Command::Encode {
            keys,
            created,
            accessed,
        } => {
            let secret = secret(&keys, &mut stdin)?;
            let factory = factory(&keys, secret, Vec::new(), Some(Duration::from_secs(1200)))?;
            let state = stdin.rest()?.trim().to_owned();
            Ok(match &factory {
                Factory::Signed(factory) => encode(factory, &state, created, accessed)?,
                Factory::Encrypted(factory) => encode(factory, &state, created, accessed)?,
            })
        }
    }
}

fn decode<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    value: &str,
) -> Result<String, String> {
    let session = factory.load_value(Some(value));
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

fn encode<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    state: &str,
    created: Option<f64>,
    accessed: Option<f64>,
) -> Result<String, String> {
    let now = factory.now();
    // As Pyramid: `created` is the float time, `accessed` whole seconds.
    let session = Session::from_json(
        state,
        accessed.unwrap_or(now.floor()),
        created.unwrap_or(now),
    )
    .map_err(|reason| format!("the input is not a JSON object: {}", reason.detail()))?;
    factory.encode(&session).map_err(|e| e.to_string())
}

/// A timestamp as Python prints it: whole seconds as an integer.
fn number(t: f64) -> String {
    if t.fract() == 0.0 && t.abs() < 9_007_199_254_740_992.0 {
        format!("{}", t as i64)
    } else {
        serde_json::Number::from_f64(t).map_or_else(|| "null".to_owned(), |n| n.to_string())
    }
}
