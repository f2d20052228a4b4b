//! Support for the integration tests: a client for the live Pyramid peer, the state the live
//! round trips send, and a codec that counts how often cookies are opened.
//!
//! [`PyramidPeer`] runs `tests/pyramid/peer.py` (or, with
//! [`start_script`](PyramidPeer::start_script), another peer such as `nacl_peer.py`) under
//! the Python of the venv that `scripts/pyenv.sh` builds (real Pyramid 2.1), and sends it
//! one request/response cycle at a time as JSON lines.

pub mod shop_pages;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The Python interpreter that has Pyramid: `$PYRAMID_PYTHON`, or the venv that
/// `scripts/pyenv.sh` makes (building it if missing).
///
/// # Panics
///
/// When no such interpreter can be had: the interop tests are never skipped silently.
pub fn pyramid_python() -> PathBuf {
    if let Some(python) = std::env::var_os("PYRAMID_PYTHON") {
        return PathBuf::from(python);
    }
    let script = workspace_root().join("scripts/pyenv.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed: the Pyramid interop tests need Python 3 with pyramid==2.1 \
         (run it by hand, or set PYRAMID_PYTHON)",
        script.display()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("pyenv.sh prints the python path")
            .trim(),
    )
}

/// A running Pyramid peer. Dropping it closes its stdin, which ends it.
pub struct PyramidPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl PyramidPeer {
    /// Starts the peer.
    pub fn start() -> Self {
        Self::start_script("peer.py")
    }

    /// Starts another peer script of `tests/pyramid/` that speaks the same JSON-lines
    /// protocol, such as `nacl_peer.py` (`pyramid_nacl_session`).
    pub fn start_script(script: &str) -> Self {
        let peer = workspace_root().join("tests/pyramid").join(script);
        let mut child = Command::new(pyramid_python())
            .arg(&peer)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", peer.display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Runs one request through Pyramid and returns its response object.
    pub fn request(&mut self, request: &Value) -> Value {
        let stdin = self.stdin.as_mut().expect("open until drop");
        writeln!(stdin, "{request}").expect("the peer reads its stdin");
        stdin.flush().expect("the peer reads its stdin");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("the peer answers");
        assert!(!line.is_empty(), "the Pyramid peer exited");
        serde_json::from_str(&line).expect("the peer answers with JSON")
    }

    /// Runs `ops` on the session in cookie `cookie` (if any) with the given factory
    /// options (`{"secret": ..}` at least), at time `now`.
    pub fn run(&mut self, factory: &Value, cookie: Option<&str>, now: f64, ops: Value) -> Value {
        let response = self.request(&json!({
            "factory": factory,
            "cookie": cookie,
            "now": now,
            "ops": ops,
        }));
        assert!(
            response["error"].is_null(),
            "Pyramid failed: {}",
            response["error"]
        );
        response
    }
}

impl Drop for PyramidPeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The signed codec, counting how often a cookie is opened (decoded and its signature
/// checked): how the tests prove that an untouched session costs nothing.
pub struct Counting {
    /// The codec that does the work.
    pub inner: typed_sessions::codec::SignedCodec,
    /// The number of `open` calls so far.
    pub opens: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl typed_sessions::codec::CookieCodec for Counting {
    fn seal(&self, payload: &[u8]) -> Result<String, typed_sessions::SessionError> {
        self.inner.seal(payload)
    }

    fn open(
        &self,
        value: &str,
    ) -> Result<typed_sessions::codec::Opened, typed_sessions::Rejection> {
        self.opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.open(value)
    }
}

/// A session's state as a JSON value, read without marking the session accessed.
pub fn state_of(session: &typed_sessions::Session) -> Value {
    serde_json::from_str(&session.state_json().expect("the state serializes"))
        .expect("the state is JSON")
}

/// A state that exercises the wire format: non-ASCII text, nesting, an integer past 2^53,
/// an empty key.
pub fn rich_state() -> Value {
    json!({
        "user": {"id": 7, "name": "Zoë", "roles": ["admin", "ops"]},
        "greeting": "héllo ✓ 日本 🎉",
        "cart": [{"sku": "A-1", "qty": 2, "price": 9.99}, {"sku": "B-2", "qty": 1, "price": 0.5}],
        "big": 9_007_199_254_740_993_u64,
        "negative": -42,
        "flags": [true, false, null],
        "deep": {"a": {"b": {"c": {"d": [1, [2, [3]]]}}}},
        "": "empty key",
    })
}

/// The peer ops that set every key of `state`.
pub fn set_ops(state: &Value) -> Value {
    Value::Array(
        state
            .as_object()
            .expect("a state is an object")
            .iter()
            .map(|(k, v)| json!({"op": "set", "key": k, "value": v}))
            .collect(),
    )
}

/// Runs `f` with every `tracing` event at `DEBUG` and above written to a buffer, and returns
/// its result with what was logged (one line per event, no colours).
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let logged = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    (result, logged)
}
