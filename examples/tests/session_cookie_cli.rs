//! The `session-cookie` CLI's contract: output shapes, exit codes and reasons.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const SECRET: &str = "cli-test-secret";

fn cli(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-cookie"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn encode(state: &str, extra: &[&str]) -> String {
    let mut args = vec!["encode", "--secret", SECRET];
    args.extend_from_slice(extra);
    let out = cli(&args, state);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn decode(value: &str, extra: &[&str]) -> Output {
    let mut args = vec!["decode", "--secret", SECRET];
    args.extend_from_slice(extra);
    args.push(value);
    cli(&args, "")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn encode_then_decode_round_trips_state_and_timestamps() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (accessed, created) = (now.to_string(), format!("{}.5", now - 10));
    let value = encode(
        r#"{"user": {"id": 7, "name": "Zoë ✓"}, "big": 123456789012345678901234567890}"#,
        &["--accessed", &accessed, "--created", &created],
    );
    let out = decode(&value, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    let decoded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(decoded["accessed"], json!(now));
    assert_eq!(decoded["created"], json!(now as f64 - 9.5));
    assert_eq!(decoded["state"]["user"], json!({"id": 7, "name": "Zoë ✓"}));
    assert!(
        text.contains("123456789012345678901234567890"),
        "big integers survive: {text}"
    );
}

#[test]
fn options_must_match_to_decode() {
    let value = encode(
        "{}",
        &[
            "--salt",
            "s.",
            "--hashalg",
            "sha256",
            "--accessed",
            "0",
            "--created",
            "0",
        ],
    );
    let ok = decode(
        &value,
        &["--salt", "s.", "--hashalg", "sha256", "--timeout", "none"],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    for wrong in [
        &["--hashalg", "sha256", "--timeout", "none"][..],
        &["--salt", "s.", "--timeout", "none"][..],
    ] {
        let out = decode(&value, wrong);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn fallback_secret_decodes() {
    let value = encode("{\"a\": 1}", &[]);
    let out = cli(
        &[
            "decode",
            "--secret",
            "new-secret",
            "--fallback-secret",
            SECRET,
            &value,
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn each_bad_cookie_exits_1_with_its_reason() {
    let value = encode("{\"a\": 1}", &[]);
    let mut tampered = value.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let signed_junk = {
        // A correctly signed payload that is not a session.
        let out = encode("{}", &[]);
        let mut raw = URL_SAFE_NO_PAD.decode(out).unwrap();
        raw.truncate(64);
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(
            format!("pyramid.session.{SECRET}").as_bytes(),
        )
        .unwrap();
        mac.update(b"[1, 2]");
        let mut signed = mac.finalize().into_bytes().to_vec();
        signed.extend_from_slice(b"[1, 2]");
        URL_SAFE_NO_PAD.encode(signed)
    };
    let old = encode("{}", &["--accessed", "1000", "--created", "1000"]);
    let cases = [
        ("!!not base64!!", "bad base64"),
        ("YWJj", "too short"),
        (&tampered, "bad signature"),
        (&signed_junk, "not a session payload"),
        (&old, "timed out"),
    ];
    for (cookie, reason) in cases {
        let out = decode(cookie, &[]);
        assert_eq!(out.status.code(), Some(1), "{cookie}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(reason),
            "{cookie}: expected {reason:?}, got {err:?}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// Every truncation is refused: as bad base64 where the cut leaves a partial byte or
/// stray bits, otherwise by the signature.
#[test]
fn truncated_cookies_exit_1() {
    let value = encode("{\"a\": 1}", &[]);
    for len in (1..value.len()).step_by(7) {
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
        let out = cli(&["encode", "--secret", SECRET], input);
        assert_eq!(out.status.code(), Some(1), "{input:?}");
        assert!(
            stderr(&out).contains("not a JSON object"),
            "{}",
            stderr(&out)
        );
    }
}
