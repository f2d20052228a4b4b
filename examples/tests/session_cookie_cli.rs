//! The `session-cookie` CLI's contract: output shapes, exit codes and reasons, where
//! secrets come from, and encrypted cookies. Every cookie here has fixed timestamps, so each
//! run checks the same values.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use serde_json::{Value, json};

const SECRET: &str = "cli-test-secret";
/// `accessed` and `created` of the cookies the tests encode.
const ACCESSED: &str = "1700000000";
const CREATED: &str = "1699999990.5";

/// Runs the CLI with `SESSION_SECRET` set to `secret` (or unset), `stdin` as its input.
fn run(args: &[&str], stdin: &str, secret: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_session-cookie"));
    command
        .args(args)
        .env_remove("SESSION_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(secret) = secret {
        command.env("SESSION_SECRET", secret);
    }
    let mut child = command.spawn().expect("the CLI starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs the CLI with the test's secret in `SESSION_SECRET`.
fn cli(args: &[&str], stdin: &str) -> Output {
    run(args, stdin, Some(SECRET))
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Encodes `state` at the fixed timestamps (unless `extra` sets them).
fn encode(state: &str, extra: &[&str]) -> String {
    let mut args = vec!["encode"];
    if !extra.contains(&"--accessed") {
        args.extend(["--accessed", ACCESSED, "--created", CREATED]);
    }
    args.extend_from_slice(extra);
    let out = cli(&args, state);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// Decodes `value` (given as the argument), with no timeout unless `extra` sets one.
fn decode(value: &str, extra: &[&str]) -> Output {
    let mut args = vec!["decode"];
    if !extra.contains(&"--timeout") {
        args.extend(["--timeout", "none"]);
    }
    args.extend_from_slice(extra);
    args.push(value);
    cli(&args, "")
}

/// Asserts exit 1 with one line on stderr that contains `reason`, and nothing on stdout.
fn assert_refused(out: &Output, reason: &str, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(
        err.contains(reason),
        "{what}: expected {reason:?}, got {err:?}"
    );
    assert!(out.stdout.is_empty(), "{what}");
}

/// A cookie signed as Pyramid signs, by hand: `payload` under the test's secret and the
/// default salt and hash.
fn signed(payload: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha512>::new_from_slice(format!("pyramid.session.{SECRET}").as_bytes())
            .unwrap();
    mac.update(payload);
    let mut signed = mac.finalize().into_bytes().to_vec();
    signed.extend_from_slice(payload);
    URL_SAFE_NO_PAD.encode(signed)
}

#[test]
fn encode_then_decode_round_trips_state_and_timestamps() {
    let value = encode(
        r#"{"user": {"id": 7, "name": "Zoë ✓"}, "big": 123456789012345678901234567890}"#,
        &[],
    );
    let out = decode(&value, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1);
    let decoded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(decoded["accessed"], json!(1_700_000_000));
    assert_eq!(decoded["created"], json!(1_699_999_990.5));
    assert_eq!(decoded["state"]["user"], json!({"id": 7, "name": "Zoë ✓"}));
    assert!(
        text.contains("123456789012345678901234567890"),
        "big integers survive: {text}"
    );
}

#[test]
fn options_must_match_to_decode() {
    let value = encode("{}", &["--salt", "s.", "--hashalg", "sha256"]);
    let ok = decode(&value, &["--salt", "s.", "--hashalg", "sha256"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    for wrong in [&["--hashalg", "sha256"][..], &["--salt", "s."][..]] {
        // A SHA-256 cookie this short is shorter than a SHA-512 signature.
        assert_refused(
            &decode(&value, wrong),
            "cannot decode",
            &format!("{wrong:?}"),
        );
    }
}

#[test]
fn fallback_secrets_decode() {
    let value = encode("{\"a\": 1}", &[]);
    let dir = tempdir();
    let old = dir.join("old-secret");
    std::fs::write(&old, format!("{SECRET}\n")).unwrap();
    let args = [
        "decode",
        "--timeout",
        "none",
        "--fallback-secret-file",
        old.to_str().unwrap(),
        &value,
    ];
    let out = run(&args, "", Some("new-secret"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    // On the command line it works too, and warns.
    let args = [
        "decode",
        "--timeout",
        "none",
        "--fallback-secret",
        SECRET,
        &value,
    ];
    let out = run(&args, "", Some("new-secret"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn each_bad_cookie_exits_1_with_its_reason() {
    let value = encode("{\"a\": 1}", &[]);
    assert!(value.len() > 100);
    let mut tampered = value.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // A correctly signed payload that is not a session.
    let signed_junk = signed(b"[1, 2]");
    let old = encode("{}", &["--accessed", "1000", "--created", "1000"]);
    let cases = [
        ("!!not base64!!", "bad base64"),
        ("YWJj", "too short"),
        (&tampered, "bad signature"),
        (&signed_junk, "not a session payload"),
        (&old, "timed out"),
    ];
    for (cookie, reason) in cases {
        assert_refused(&decode(cookie, &["--timeout", "1200"]), reason, cookie);
    }
}

/// A cookie value may start with `-` (base64url's 63rd character): as the argument, after
/// `--`, and on stdin it decodes, instead of being read as an option.
#[test]
fn a_cookie_starting_with_a_hyphen_decodes() {
    let find = |prefix: &str| {
        (0..100_000)
            .map(|t| signed(format!("[{t}, {t}, {{\"a\": 1}}]").as_bytes()))
            .find(|value| value.starts_with(prefix))
            .expect("one in 64 values starts with `-`, one in 4096 with `--`")
    };
    for value in [find("-"), find("--")] {
        for out in [
            decode(&value, &[]),
            cli(&["decode", "--timeout", "none", "--", &value], ""),
            cli(&["decode", "--timeout", "none"], &format!("{value}\n")),
            cli(&["decode", "--timeout", "none", "-"], &value),
        ] {
            assert!(out.status.success(), "{value}: {}", stderr(&out));
            let decoded: Value = serde_json::from_str(&stdout(&out)).unwrap();
            assert_eq!(decoded["state"], json!({"a": 1}), "{value}");
        }
    }
}

/// Every truncation is refused: as bad base64 where the cut leaves a partial byte or
/// stray bits, otherwise by the signature.
#[test]
fn truncated_cookies_exit_1() {
    let value = encode("{\"a\": 1}", &[]);
    for len in 1..value.len() {
        let out = decode(&value[..len], &[]);
        assert_eq!(out.status.code(), Some(1), "cut at {len}");
        let err = stderr(&out);
        assert!(
            ["bad base64", "too short", "bad signature"]
                .iter()
                .any(|r| err.contains(r)),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn encode_rejects_input_that_is_not_an_object() {
    for input in ["[1, 2]", "not json", "\"text\"", ""] {
        assert_refused(&cli(&["encode"], input), "not a JSON object", input);
    }
}

/// A fresh directory under the target directory, for secret files.
fn tempdir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "session-cookie-cli-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The same secret from a file, from stdin, from the environment and on the command line:
/// each decodes, only the command line warns, and no message shows the secret.
#[test]
fn secrets_come_from_a_file_stdin_or_the_environment_and_argv_warns() {
    let value = encode("{\"a\": 1}", &[]);
    let file = tempdir().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let file = file.to_str().unwrap();
    let quiet = [
        run(
            &["decode", "--timeout", "none", "--secret-file", file, &value],
            "",
            None,
        ),
        run(
            &["decode", "--timeout", "none", "--secret-file", "-"],
            &format!("{SECRET}\n{value}\n"),
            None,
        ),
        run(&["decode", "--timeout", "none", &value], "", Some(SECRET)),
        // A file beats the environment.
        run(
            &["decode", "--timeout", "none", "--secret-file", file, &value],
            "",
            Some("another secret"),
        ),
    ];
    for (i, out) in quiet.iter().enumerate() {
        assert!(out.status.success(), "source {i}: {}", stderr(out));
        assert!(out.stderr.is_empty(), "source {i}: {}", stderr(out));
        let decoded: Value = serde_json::from_str(&stdout(out)).unwrap();
        assert_eq!(decoded["state"], json!({"a": 1}));
    }
    let out = run(
        &["decode", "--timeout", "none", "--secret", SECRET, &value],
        "",
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning") && err.contains("--secret-file"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");

    // Encoding reads the secret's line, then the state, from stdin.
    let out = run(
        &[
            "encode",
            "--accessed",
            ACCESSED,
            "--created",
            CREATED,
            "--secret-file",
            "-",
        ],
        &format!("{SECRET}\n{{\"a\": 1}}"),
        None,
    );
    assert_eq!(stdout(&out).trim(), value, "{}", stderr(&out));

    // A wrong secret from a file is refused without showing either secret.
    let out = run(
        &["decode", "--timeout", "none", "--secret-file", "-"],
        &format!("a wrong one\n{value}"),
        None,
    );
    assert_refused(&out, "bad signature", "a wrong secret");
    assert!(!stderr(&out).contains("wrong one"));

    // No secret at all is a usage error.
    let out = run(&["decode", &value], "", None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("SESSION_SECRET"), "{}", stderr(&out));
    let out = run(
        &["decode", "--secret-file", "/nonexistent/secret", &value],
        "",
        None,
    );
    assert_refused(&out, "cannot read the secret file", "missing file");
}

/// The key `bytes(range(32))` in hex, and a cookie that `pyramid_nacl_session` 1.0.0 dumped
/// under it (with Pyramid's JSON serializer): `[1700000000, 1700000000.5, {"a": 1}]`.
const NACL_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NACL_COOKIE: &str = "ZawqUvqLbwt99uyexyU7FQN4oCyblnTtGACOMMkBoXBbp0xuOrc3PAo3\
                           JaKznVEjJ_xLgJcAOnEdUrPB0THj-ON6B8WXZj-cpasnIw";

#[test]
fn encrypted_cookies_decode_and_encode_under_the_same_contract() {
    let out = run(
        &["decode", "--encrypted", "--timeout", "none", NACL_COOKIE],
        "",
        Some(NACL_KEY),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let decoded: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        decoded,
        json!({"accessed": 1_700_000_000, "created": 1_700_000_000.5, "state": {"a": 1}})
    );

    let encrypt = |state: &str| {
        let out = run(
            &[
                "encode",
                "--encrypted",
                "--accessed",
                ACCESSED,
                "--created",
                CREATED,
            ],
            state,
            Some(NACL_KEY),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    let value = encrypt(r#"{"user": "Zoë"}"#);
    assert!(!value.contains("user"), "the state is not readable");
    assert_ne!(
        encrypt(r#"{"user": "Zoë"}"#),
        value,
        "a fresh nonce per cookie"
    );
    let out = run(
        &["decode", "--encrypted", "--timeout", "none", &value],
        "",
        Some(NACL_KEY),
    );
    let decoded: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(decoded["state"], json!({"user": "Zoë"}));
    assert_eq!(decoded["created"], json!(1_699_999_990.5));

    // Rotation: the old key as a fallback.
    let new_key = "ff".repeat(32);
    let old_key = tempdir().join("old-key");
    std::fs::write(&old_key, format!("{NACL_KEY}\n")).unwrap();
    let out = run(
        &[
            "decode",
            "--encrypted",
            "--timeout",
            "none",
            "--fallback-secret-file",
            old_key.to_str().unwrap(),
            &value,
        ],
        "",
        Some(&new_key),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let refused = |key: &str, value: &str| {
        run(
            &["decode", "--encrypted", "--timeout", "none", value],
            "",
            Some(key),
        )
    };
    assert_refused(&refused(&new_key, &value), "bad signature", "another key");
    assert_refused(&refused(NACL_KEY, &value[1..]), "bad", "cut");
    assert_refused(&refused(NACL_KEY, "YWJj"), "too short", "short");
    assert_refused(&refused("not hex", &value), "not hex", "bad hex");
    assert_refused(&refused("abcd", &value), "exactly 32", "short key");
    // Salt and hash belong to signed cookies.
    let out = run(
        &["decode", "--encrypted", "--salt", "x", &value],
        "",
        Some(NACL_KEY),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// The workspace's Python with Pyramid and `pyramid_nacl_session`: `$PYRAMID_PYTHON`, or
/// the venv `scripts/pyenv.sh` makes (building it if missing). Never skipped: without it
/// the test fails naming the script.
fn pyramid_python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("PYRAMID_PYTHON") {
        return python.into();
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pyenv.sh");
    let out = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{script} failed: this test needs pyramid_nacl_session (run it, or set PYRAMID_PYTHON)"
    );
    let path = String::from_utf8(out.stdout).unwrap();
    path.lines()
        .last()
        .expect("pyenv.sh prints the python path")
        .trim()
        .into()
}

/// `encode --encrypted` seals a cookie that `pyramid_nacl_session` itself opens: its
/// `EncryptedSerializer(key).loads`, through `tests/pyramid/nacl_peer.py`, gives back the
/// payload the CLI was asked for, byte for byte. A value sealed under another key is
/// refused by it, so the check can fail.
#[test]
fn an_encrypted_cookie_from_the_cli_opens_in_pyramid_nacl_session() {
    let out = run(
        &[
            "encode",
            "--encrypted",
            "--accessed",
            ACCESSED,
            "--created",
            CREATED,
        ],
        r#"{"user": "Zoë", "cart": [1, 2]}"#,
        Some(NACL_KEY),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let value = stdout(&out).trim().to_owned();
    let requests = [
        json!({"cmd": "decrypt", "secret": NACL_KEY, "value": value}),
        json!({"cmd": "decrypt", "secret": "ff".repeat(32), "value": value}),
    ];
    let mut peer = Command::new(pyramid_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/pyramid/nacl_peer.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the nacl peer starts");
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    peer.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = peer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let answers: Vec<Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{}", stderr(&out));
    assert_eq!(answers[0]["error"], Value::Null, "{}", answers[0]);
    let payload: Value = serde_json::from_str(answers[0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        payload,
        json!([1_700_000_000, 1_699_999_990.5, {"user": "Zoë", "cart": [1, 2]}])
    );
    assert!(
        answers[1]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "another key must not open it: {}",
        answers[1]
    );
}

#[test]
fn help_shows_every_secret_source_and_the_encrypted_mode() {
    for args in [
        &["--help"][..],
        &["decode", "--help"],
        &["encode", "--help"],
    ] {
        let out = run(args, "", None);
        assert!(out.status.success());
        let help = stdout(&out);
        for needle in ["--secret-file", "SESSION_SECRET", "--secret", "Exit status"] {
            assert!(help.contains(needle), "{args:?}: no {needle}: {help}");
        }
        if args.len() > 1 {
            assert!(help.contains("--encrypted"), "{args:?}: {help}");
        }
    }
}
