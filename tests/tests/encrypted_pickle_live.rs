//! Live round trips with real `pyramid_nacl_session` 1.0.0 in its default mode, Pyramid's
//! `PickleSerializer`: Python's pickled sessions load in Rust (tuples, bytes, sets, int
//! keys and big ints read as typed values), Rust's saves load in Python with every Python
//! type kept, tampered cookies are refused by both sides, and a cookie sealed with the key
//! that holds a REDUCE is refused by Rust, with the reason logged, as a fresh session.
//!
//! The peer is `tests/pyramid/nacl_peer.py` (factory option `"serializer": "pickle"`);
//! these tests never skip: without the venv's Python they fail, naming `scripts/pyenv.sh`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use typed_sessions::{
    EncryptedCookieSessionFactory, EncryptionKey, LoadOutcome, ManualClock, Rejection, Serializer,
};
use typed_sessions_tests::{PyramidPeer, capture_logs};

const KEY_HEX: &str = "5f0c8e2a9b7d4163a8e1f2c3d4b5a69788796a5b4c3d2e1f00112233445566ff";
const NOW: f64 = 1_700_000_000.5;

fn factory() -> EncryptedCookieSessionFactory {
    EncryptedCookieSessionFactory::builder(EncryptionKey::from_hex(KEY_HEX).unwrap())
        .serializer(Serializer::Pickle)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap()
}

fn python_factory(via: &str) -> Value {
    json!({"secret": KEY_HEX, "via": via, "serializer": "pickle"})
}

/// What the Python app puts in its session: the Python types JSON has no word for.
fn python_ops() -> Value {
    json!([
        {"op": "set_expr", "key": "pair", "expr": "(1, 'a')"},
        {"op": "set_expr", "key": "raw", "expr": "b'\\x00\\xffhi'"},
        {"op": "set_expr", "key": "tags", "expr": "{3, 1, 2}"},
        {"op": "set_expr", "key": "frozen", "expr": "frozenset({'x'})"},
        {"op": "set_expr", "key": "by_id", "expr": "{1: 'one', 2: 'two'}"},
        {"op": "set_expr", "key": "by_pair", "expr": "{(2, 3): 'pair'}"},
        {"op": "set_expr", "key": "big", "expr": "2 ** 70"},
        {"op": "set_expr", "key": "nested", "expr": "[(1, b'b'), {'k': (None, True)}]"},
        {"op": "set", "key": "name", "value": "Zoë"},
        {"op": "flash", "msg": "from Python"},
    ])
}

#[test]
fn pickled_python_sessions_load_in_rust_and_rust_saves_keep_every_python_type() {
    let mut peer = PyramidPeer::start_script("nacl_peer.py");
    let ours = factory();
    for via in ["factory", "settings"] {
        let theirs = python_factory(via);
        let minted = peer.run(&theirs, None, NOW, python_ops());
        let repr = minted["payload_repr"].as_str().unwrap();
        assert!(
            repr.starts_with("(1700000000, 1700000000.5, {"),
            "{via}: {repr}"
        );
        let value = minted["cookie_value"]
            .as_str()
            .expect("Python wrote a cookie");

        // Python -> Rust: typed reads of Python's types.
        let mut session = ours.load_value(Some(value));
        assert_eq!(session.load_outcome(), LoadOutcome::Loaded, "{via}");
        assert_eq!(
            session.get_as::<(u8, String)>("pair").unwrap(),
            Some((1, "a".into()))
        );
        assert_eq!(
            session.get_as::<Vec<u8>>("raw").unwrap(),
            Some(b"\x00\xffhi".to_vec())
        );
        assert_eq!(
            session.get_as::<BTreeSet<u8>>("tags").unwrap(),
            Some(BTreeSet::from([1, 2, 3]))
        );
        let by_id: BTreeMap<u32, String> = session.get_as("by_id").unwrap().unwrap();
        assert_eq!(by_id[&2], "two");
        assert_eq!(session.get_as::<u128>("big").unwrap(), Some(1 << 70));
        assert_eq!(
            session.get_as::<String>("name").unwrap().as_deref(),
            Some("Zoë")
        );
        // The untyped view is JSON's picture of them.
        assert_eq!(session.get("pair"), Some(&json!([1, "a"])));
        assert_eq!(session.get("by_pair"), Some(&json!({"[2,3]": "pair"})));
        assert_eq!(session.created(), NOW);

        // Rust changes one key, adds two and pops the flash; everything else is untouched.
        session.insert("name", "Zoé");
        session
            .insert_as("from_rust", &json!({"ids": [1, 2], "ok": true}))
            .unwrap();
        session.insert_as("tuple_from_rust", &(7, "x")).unwrap();
        let flashes = session.pop_flash("").unwrap();
        assert_eq!(flashes, [json!("from Python")]);
        let rust_value = ours.encode(&session).unwrap();

        // Rust -> Python: the same session, every Python type as it was.
        let read = peer.run(
            &theirs,
            Some(&rust_value),
            NOW + 1.0,
            json!([
                {"op": "types"},
                {"op": "repr", "key": "pair"},
                {"op": "repr", "key": "raw"},
                {"op": "repr", "key": "tags"},
                {"op": "repr", "key": "frozen"},
                {"op": "repr", "key": "by_id"},
                {"op": "repr", "key": "by_pair"},
                {"op": "repr", "key": "big"},
                {"op": "repr", "key": "nested"},
                {"op": "repr", "key": "from_rust"},
                {"op": "repr", "key": "tuple_from_rust"},
                {"op": "get", "key": "name"},
                {"op": "pop_flash"},
            ]),
        );
        assert_eq!(read["new"], false, "{via}: {read}");
        let results = &read["results"];
        assert_eq!(
            results[0],
            json!({"pair": "tuple", "raw": "bytes", "tags": "set", "frozen": "frozenset",
                   "by_id": "dict", "by_pair": "dict", "big": "int", "nested": "list",
                   "name": "str", "from_rust": "dict", "tuple_from_rust": "list"}),
            "{via}"
        );
        assert_eq!(results[1], "(1, 'a')");
        assert_eq!(results[2], "b'\\x00\\xffhi'");
        assert_eq!(results[3], "{1, 2, 3}");
        assert_eq!(results[4], "frozenset({'x'})");
        assert_eq!(results[5], "{1: 'one', 2: 'two'}");
        assert_eq!(results[6], "{(2, 3): 'pair'}");
        assert_eq!(results[7], "1180591620717411303424");
        assert_eq!(results[8], "[(1, b'b'), {'k': (None, True)}]");
        assert_eq!(results[9], "{'ids': [1, 2], 'ok': True}");
        // A tuple written from Rust is written as JSON says it: a list.
        assert_eq!(results[10], "[7, 'x']");
        assert_eq!(results[11], "Zoé");
        assert_eq!(results[12], json!([]), "the flash was popped in Rust");
        assert_eq!(read["created"].as_f64().unwrap(), NOW);
    }
}

#[test]
fn tampered_pickled_cookies_are_refused_on_both_sides() {
    let mut peer = PyramidPeer::start_script("nacl_peer.py");
    let ours = factory();
    let theirs = python_factory("factory");
    let minted = peer.run(&theirs, None, NOW, python_ops());
    let python_value = minted["cookie_value"].as_str().unwrap();
    let mut session = ours.load_value(Some(python_value));
    session.insert("x", 1);
    let rust_value = ours.encode(&session).unwrap();

    let flip = |value: &str, at: usize| {
        let mut bytes = value.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    for at in [0, 30, rust_value.len() / 2, rust_value.len() - 2] {
        // Rust's cookie, changed: Python starts a new session.
        let read = peer.run(
            &theirs,
            Some(&flip(&rust_value, at)),
            NOW,
            json!([{"op": "types"}]),
        );
        assert_eq!(read["new"], true, "byte {at}: {read}");
        assert_eq!(read["results"][0], json!({}));
        // Python's cookie, changed: Rust starts a new session.
        let session = ours.load_value(Some(&flip(python_value, at)));
        assert_eq!(
            session.load_outcome(),
            LoadOutcome::Rejected(Rejection::BadSignature),
            "byte {at}"
        );
        assert!(session.is_empty());
    }
}

/// `(1700000000, 1700000000.5, {"x": os.system("echo pwned")})`, written by hand at
/// protocol 2 as CPython would write a `__reduce__` to `os.system`, then sealed by Python
/// with the app's key. Python would run it; nothing unpickles it here but Rust.
#[test]
fn a_cookie_sealed_with_the_key_holding_reduce_is_refused_with_the_reason_logged() {
    let mut payload = b"\x80\x02J\x00\xf1\x53\x65G\x41\xd9\x54\xfc\x40\x20\x00\x00}q\x00X\x01\x00\x00\x00xq\x01cposix\nsystem\nq\x02X\x0a\x00\x00\x00echo pwnedq\x03\x85q\x04Rq\x05s\x87q\x06.".to_vec();
    let mut peer = PyramidPeer::start_script("nacl_peer.py");
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let sealed = peer.request(&json!({"cmd": "encrypt", "secret": KEY_HEX, "payload_hex": hex}));
    let value = sealed["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{sealed}"));

    let ours = factory();
    let (session, logs) = capture_logs(|| ours.load_value(Some(value)));
    assert_eq!(
        session.load_outcome(),
        LoadOutcome::Rejected(Rejection::PickleRefused)
    );
    assert!(session.is_new() && session.is_empty());
    assert!(logs.contains("global `posix.system`"), "{logs}");

    // The same payload with the REDUCE replaced by data loads: the refusal was the REDUCE.
    let at = payload.windows(6).position(|w| w == b"cposix").unwrap();
    payload.splice(at..payload.len(), *b"K\x01s\x87.");
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let sealed = peer.request(&json!({"cmd": "encrypt", "secret": KEY_HEX, "payload_hex": hex}));
    let session = ours.load_value(sealed["value"].as_str());
    assert_eq!(session.load_outcome(), LoadOutcome::Loaded);
    assert_eq!(session.get_as::<u8>("x").unwrap(), Some(1));
}
