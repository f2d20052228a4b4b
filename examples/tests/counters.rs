//! The README's quick starts, over real HTTP: each counter binary, started as the README says
//! (`SESSION_SECRET` set, `PORT=0` for a free port), counts 1, 2, 3 for a client that sends
//! back its cookie, and starts again at 1 for one that does not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A counter binary, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(binary: &str) -> Self {
        let mut child = Command::new(binary)
            .env(
                "SESSION_SECRET",
                "a secret of at least thirty-two bytes, for tests",
            )
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the counter binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "listening on http://127.0.0.1:PORT/"
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    /// `GET /` with `cookie`; returns the body and the `Set-Cookie` pair (`name=value`), if any.
    fn get(&self, cookie: Option<&str>) -> (String, Option<String>) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {}\r\n{cookie}Connection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let set_cookie = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap().to_owned())
        });
        (body.to_owned(), set_cookie)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn counts_across_requests(binary: &str) {
    let server = Server::start(binary);
    let mut cookie = None;
    for expected in 1..=3 {
        let (body, set_cookie) = server.get(cookie.as_deref());
        assert_eq!(body, format!("visits: {expected}\n"));
        assert!(set_cookie.is_some(), "a changed session sets its cookie");
        cookie = set_cookie;
    }
    // Without the cookie, a new session.
    assert_eq!(server.get(None).0, "visits: 1\n");
    // The third visit's cookie counts on from there.
    assert_eq!(server.get(cookie.as_deref()).0, "visits: 4\n");
}

#[test]
fn counter_axum() {
    counts_across_requests(env!("CARGO_BIN_EXE_counter_axum"));
}

#[test]
fn counter_actix() {
    counts_across_requests(env!("CARGO_BIN_EXE_counter_actix"));
}

#[test]
fn counter_typed() {
    counts_across_requests(env!("CARGO_BIN_EXE_counter_typed"));
}

/// The README shows the quick starts as they are in `src/bin/`: the axum and actix-web
/// counters whole from their first `use`, the typed one's schema and handler as they are in
/// its file.
#[test]
fn readme_shows_the_quick_starts_as_they_are() {
    let readme = include_str!("../../README.md");
    let blocks: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    let body = |file: &'static str| file.split_once("\nuse ").map(|(_, b)| b).unwrap();
    for file in [
        include_str!("../src/bin/counter_axum.rs"),
        include_str!("../src/bin/counter_actix.rs"),
    ] {
        let code = format!("use {}", body(file));
        assert!(blocks.contains(&code.as_str()), "README lacks:\n{code}");
    }
    let typed = include_str!("../src/bin/counter_typed.rs");
    let block = blocks
        .iter()
        .find(|b| b.starts_with("use typed_sessions::SessionSchema;\n"))
        .expect("the typed quick start");
    let shown = block.split_once('\n').unwrap().1;
    assert!(
        typed.contains(shown),
        "README's typed counter differs:\n{shown}"
    );
}
