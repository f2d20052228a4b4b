//! The shop binary closes connections whose client is too slow: half-sent headers, an idle
//! kept-alive connection, a body that never arrives. Over real TCP, against the binary users
//! copy; and `RUST_LOG` sets its log level.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Process;
use typed_sessions_examples::serve::{HEADER_READ_TIMEOUT, REQUEST_TIMEOUT};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// The shop binary on a port the system picks, with `RUST_LOG` as given.
struct Shop(Process);

impl Shop {
    fn start(rust_log: &str) -> Self {
        Self(Process::start(
            Command::new(env!("CARGO_BIN_EXE_shop"))
                .env("SESSION_SECRET", SECRET)
                .env("PORT", "0")
                .env("NO_COLOR", "1")
                .env("RUST_LOG", rust_log)
                .stderr(Stdio::piped()),
        ))
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.0.addr()).unwrap();
        // Far longer than the server's limits: a read that returns is the server's doing.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    fn stop(self) -> String {
        self.0.stop()
    }
}

/// Reads until the server closes the connection; returns what it sent and how long it
/// took.
fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

fn assert_closed_within(took: Duration, limit: Duration, what: &str) {
    assert!(
        took >= limit.saturating_sub(Duration::from_millis(500)),
        "{what}: closed before the limit ({took:?})"
    );
    assert!(
        took < limit + Duration::from_secs(5),
        "{what}: held for {took:?}, the limit is {limit:?}"
    );
}

#[test]
fn half_sent_headers_and_idle_connections_are_closed() {
    let shop = Shop::start("info");
    // Half a request: the headers never end.
    let mut half = shop.connect();
    half.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nUser-Agent: slow")
        .unwrap();
    // A kept-alive connection that answers one request and then says nothing.
    let mut idle = shop.connect();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
        .unwrap();

    let (answer, took) = until_closed(&mut half);
    assert_closed_within(took, HEADER_READ_TIMEOUT, "half-sent headers");
    assert!(!answer.contains("200 OK"), "{answer}");
    let (answer, took) = until_closed(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(
        took < HEADER_READ_TIMEOUT + Duration::from_secs(5),
        "idle held for {took:?}"
    );
    shop.stop();
}

#[test]
fn a_body_that_never_arrives_is_answered_408() {
    let shop = Shop::start("info");
    let mut slow = shop.connect();
    slow.write_all(
        b"POST /cart/add HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nproduct=sen",
    )
    .unwrap();
    let (answer, took) = until_closed(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_closed_within(took, REQUEST_TIMEOUT, "a body that never arrives");
    shop.stop();
}

#[test]
fn rust_log_sets_the_log_level() {
    let shop = Shop::start("info");
    // A tampered cookie: its rejection is logged at `info`.
    let mut stream = shop.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nCookie: session=tampered\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, _) = until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let logged = shop.stop();
    assert!(
        logged.contains("INFO typed_sessions::rejected: session cookie not used"),
        "{logged}"
    );

    let shop = Shop::start("warn");
    let mut stream = shop.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nCookie: session=tampered\r\nConnection: close\r\n\r\n")
        .unwrap();
    until_closed(&mut stream);
    let logged = shop.stop();
    assert!(
        !logged.contains("session cookie not used"),
        "RUST_LOG=warn hides info lines: {logged}"
    );
}
