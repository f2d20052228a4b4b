//! `#[flash_queue]` at run time: each variant's queue and message in Pyramid's format,
//! typed peek and pop in variant order, duplicates, messages another app queued that do
//! not decode, a round trip through a real signed cookie, and one through real Pyramid.

use http::HeaderMap;
use serde_json::{Value, json};
use typed_sessions::{
    Flash, FlashExt, FlashQueue, ManualClock, Session, SessionError, SignedCookieSessionFactory,
    flash_queue,
};

/// Two queues of the Pyramid demo, and the default queue.
#[flash_queue]
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Queue `success`: the message is the string.
    Success(String),
    /// Queue `error`: the message is `{"code": .., "text": ..}`.
    #[flash(queue = "error")]
    Failure { code: u16, text: String },
    /// The default queue `""`, as Pyramid's `session.flash(msg)` uses.
    #[flash(queue = "")]
    Plain(String),
    /// Queue `page_warning`, snake case of the variant; an optional member.
    PageWarning { text: String, link: Option<String> },
    /// Queue `logged_out`: `()` queues `null`, for a message that is only a signal.
    LoggedOut(()),
}

fn success(text: &str) -> Notice {
    Notice::Success(text.to_owned())
}

fn failure(code: u16, text: &str) -> Notice {
    Notice::Failure {
        code,
        text: text.to_owned(),
    }
}

#[test]
fn each_variant_names_its_queue_and_its_message_is_the_payload() {
    assert_eq!(
        Notice::QUEUES,
        ["success", "error", "", "page_warning", "logged_out"]
    );
    assert_eq!(success("Saved").queue(), "success");
    assert_eq!(failure(1, "x").queue(), "error");
    assert_eq!(Notice::Plain("p".into()).queue(), "");

    let mut session = Session::new();
    session.flash(success("Saved")).unwrap();
    session.flash(failure(404, "Not found")).unwrap();
    session.flash(Notice::Plain("Hello".into())).unwrap();
    session
        .flash(Notice::PageWarning {
            text: "Slow".into(),
            link: None,
        })
        .unwrap();
    session.flash(Notice::LoggedOut(())).unwrap();

    // Exactly what Pyramid's session.flash(msg, queue) would have stored.
    assert_eq!(session.get("_f_success"), Some(&json!(["Saved"])));
    assert_eq!(
        session.get("_f_error"),
        Some(&json!([{"code": 404, "text": "Not found"}]))
    );
    assert_eq!(session.get("_f_"), Some(&json!(["Hello"])));
    assert_eq!(
        session.get("_f_page_warning"),
        Some(&json!([{"text": "Slow", "link": null}]))
    );
    assert_eq!(session.get("_f_logged_out"), Some(&json!([null])));
}

#[test]
fn peek_and_pop_read_all_queues_in_variant_order() {
    let mut session = Session::new();
    // Queued in another order than the variants'.
    session.flash(failure(500, "Oops")).unwrap();
    session.flash(success("One")).unwrap();
    session.flash(failure(501, "Again")).unwrap();
    session.flash(success("Two")).unwrap();

    let expected = vec![
        success("One"),
        success("Two"),
        failure(500, "Oops"),
        failure(501, "Again"),
    ];
    assert_eq!(session.peek_flashes::<Notice>().unwrap(), expected);
    assert!(session.contains_key("_f_success"));
    assert_eq!(session.pop_flashes::<Notice>().unwrap(), expected);
    assert!(!session.contains_key("_f_success"));
    assert!(!session.contains_key("_f_error"));
    assert_eq!(session.pop_flashes::<Notice>().unwrap(), vec![]);
}

#[test]
fn one_queue_can_be_read_alone() {
    let mut session = Session::new();
    session.flash(success("Kept")).unwrap();
    session.flash(failure(1, "Taken")).unwrap();
    assert_eq!(
        session.peek_flashes_from::<Notice>("error").unwrap(),
        vec![failure(1, "Taken")]
    );
    assert_eq!(
        session.pop_flashes_from::<Notice>("error").unwrap(),
        vec![failure(1, "Taken")]
    );
    assert_eq!(session.pop_flashes_from::<Notice>("error").unwrap(), vec![]);
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        vec![success("Kept")]
    );
}

#[test]
fn a_misspelt_queue_name_is_an_error_naming_the_queues() {
    let mut session = Session::new();
    session.flash(success("kept")).unwrap();
    for result in [
        session.peek_flashes_from::<Notice>("errors"),
        session.pop_flashes_from::<Notice>("errors"),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, SessionError::UnknownFlashQueue { queue, .. } if queue == "errors"),
            "{err}"
        );
        assert!(err.to_string().contains("\"page_warning\""), "{err}");
    }
    assert_eq!(session.peek_flash("success").unwrap(), [json!("kept")]);
}

/// The same queues as [`Notice`], strict about messages that do not decode.
#[flash_queue(on_wrong_type = "error")]
#[derive(Debug, Clone, PartialEq)]
pub enum StrictNotice {
    Success(String),
    #[flash(queue = "error")]
    Failure {
        code: u16,
        text: String,
    },
}

#[test]
fn flash_unique_skips_an_equal_queued_message() {
    let mut session = Session::new();
    assert!(session.flash_unique(success("Once")).unwrap());
    assert!(!session.flash_unique(success("Once")).unwrap());
    assert!(session.flash_unique(success("Twice")).unwrap());
    assert!(session.flash_unique(failure(1, "a")).unwrap());
    assert!(!session.flash_unique(failure(1, "a")).unwrap());
    assert!(session.flash_unique(failure(2, "a")).unwrap());
    assert_eq!(session.peek_flashes::<Notice>().unwrap().len(), 4);
}

#[test]
fn by_default_a_message_that_does_not_decode_is_skipped_with_a_warning() {
    let mut session = Session::new();
    session.flash(success("Fine")).unwrap();
    // Another app queued a plain string in `error`, and a number in `success`.
    session.flash_to("error", "plain text").unwrap();
    session.flash_to("success", 17).unwrap();
    // And a queue that is not a list at all.
    session.insert("_f_page_warning", "not a list");

    let (peeked, logged) = typed_sessions_tests::capture_logs(|| session.peek_flashes::<Notice>());
    assert_eq!(peeked.unwrap(), vec![success("Fine")]);
    assert_eq!(logged.matches("WARN").count(), 3, "{logged}");
    for key in ["_f_error", "_f_success", "_f_page_warning"] {
        assert!(logged.contains(key), "{key} is named: {logged}");
    }
    assert!(logged.contains("Notice::Failure"), "{logged}");
    // Peeking left everything queued.
    assert_eq!(session.get("_f_error"), Some(&json!(["plain text"])));

    // Popping returns what decodes and removes the queues, the undecodable messages with
    // them: logged again, never silently.
    let (popped, logged) = typed_sessions_tests::capture_logs(|| session.pop_flashes::<Notice>());
    assert_eq!(popped.unwrap(), vec![success("Fine")]);
    assert_eq!(logged.matches("WARN").count(), 3, "{logged}");
    assert!(!session.contains_key("_f_error"));
    assert!(!session.contains_key("_f_success"));
    assert!(!session.contains_key("_f_page_warning"));
}

#[test]
fn a_strict_queue_fails_on_a_message_that_does_not_decode_and_keeps_it() {
    let mut session = Session::new();
    session.flash(StrictNotice::Success("Fine".into())).unwrap();
    // Another app queued a plain string in `error`.
    session.flash_to("error", "plain text").unwrap();

    let err = session.pop_flashes::<StrictNotice>().unwrap_err();
    assert_eq!(err.key(), Some("_f_error"));
    let message = err.to_string();
    assert!(message.contains("StrictNotice::Failure"), "{message}");
    assert!(matches!(err, SessionError::WrongType { .. }));
    // Nothing was popped, not even the good queue.
    assert_eq!(session.get("_f_success"), Some(&json!(["Fine"])));
    assert_eq!(session.get("_f_error"), Some(&json!(["plain text"])));

    // One queue alone reads fine; the untyped API drains the bad one.
    assert_eq!(
        session.pop_flashes_from::<StrictNotice>("success").unwrap(),
        vec![StrictNotice::Success("Fine".into())]
    );
    assert_eq!(
        session.pop_flash("error").unwrap(),
        vec![json!("plain text")]
    );
    assert_eq!(session.pop_flashes::<StrictNotice>().unwrap(), vec![]);
    // A queue that is not a list is an error too.
    session.insert("_f_success", 5);
    assert!(session.peek_flashes::<StrictNotice>().is_err());
}

#[test]
fn struct_messages_need_their_members_but_not_optional_ones() {
    let decode = |queue: &str, message: Value| Notice::from_message(queue, message);
    assert_eq!(
        decode("page_warning", json!({"text": "t"})).unwrap(),
        Notice::PageWarning {
            text: "t".into(),
            link: None
        }
    );
    // Extra members are ignored, as serde does.
    assert_eq!(
        decode("error", json!({"code": 1, "text": "t", "extra": true})).unwrap(),
        failure(1, "t")
    );
    let err = decode("error", json!({"text": "t"})).unwrap_err();
    assert!(err.to_string().contains("missing field `code`"), "{err}");
    let err = decode("error", json!({"code": "one", "text": "t"})).unwrap_err();
    assert_eq!(err.key(), Some("_f_error"));
    let err = decode("error", json!([1, "t"])).unwrap_err();
    assert!(err.to_string().contains("a JSON object"), "{err}");
    let err = decode("success", json!(5)).unwrap_err();
    assert!(err.to_string().contains("Notice::Success"), "{err}");
    let err = decode("nope", json!("x")).unwrap_err();
    assert!(err.to_string().contains("not a queue of `Notice`"), "{err}");
}

#[test]
fn typed_flashes_round_trip_through_a_signed_cookie() {
    let factory = SignedCookieSessionFactory::builder("short secret")
        .allow_short_secret()
        .clock(ManualClock::new(1_700_000_000.0))
        .build()
        .unwrap();

    // Request 1 flashes, and the response sets the cookie.
    let mut session = factory.load(&HeaderMap::new());
    session.flash(success("Saved")).unwrap();
    session.flash(failure(409, "Conflict")).unwrap();
    let mut response = HeaderMap::new();
    factory.save(&session, &mut response).unwrap();
    let set_cookie = response["set-cookie"].to_str().unwrap();
    let pair = set_cookie.split(';').next().unwrap();

    // Request 2 pops them: typed, and exactly as Pyramid stores them.
    let mut request = HeaderMap::new();
    request.insert("cookie", pair.parse().unwrap());
    let mut session = factory.load(&request);
    assert_eq!(session.peek_flash("success").unwrap(), vec![json!("Saved")]);
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        vec![success("Saved"), failure(409, "Conflict")]
    );
    assert!(session.is_dirty());
}

#[test]
fn a_typed_reader_pops_what_an_untyped_writer_queued() {
    // As a Pyramid view would: session.flash('Welcome', 'success').
    let mut session = Session::new();
    session.flash_to("success", "Welcome").unwrap();
    session
        .flash_to("error", json!({"code": 403, "text": "Forbidden"}))
        .unwrap();
    session.flash("Plain").unwrap();
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        vec![
            success("Welcome"),
            failure(403, "Forbidden"),
            Notice::Plain("Plain".into())
        ]
    );
}

/// With real Pyramid 2.1 (`tests/pyramid/peer.py`): a typed flash pops in a Pyramid view,
/// and what a Pyramid view flashes pops typed here.
#[test]
fn typed_flashes_cross_over_with_real_pyramid() {
    const SECRET: &str = "interop secret shared by both apps";
    const NOW: f64 = 1_700_000_000.5;
    let mut peer = typed_sessions_tests::PyramidPeer::start();
    let ours = SignedCookieSessionFactory::builder(SECRET)
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let theirs = json!({"secret": SECRET});

    // Rust flashes typed; Pyramid's pop_flash sees the payloads.
    let mut session = ours.load_value(None);
    session.flash(success("Saved ✓")).unwrap();
    session.flash(failure(409, "Conflict")).unwrap();
    session.flash(Notice::Plain("Hi".into())).unwrap();
    let cookie = ours.encode(&session).unwrap();
    let popped = peer.run(
        &theirs,
        Some(&cookie),
        NOW,
        json!([
            {"op": "pop_flash", "queue": "success"},
            {"op": "pop_flash", "queue": "error"},
            {"op": "pop_flash"},
        ]),
    );
    assert_eq!(
        popped["results"],
        json!([["Saved ✓"], [{"code": 409, "text": "Conflict"}], ["Hi"]])
    );

    // Pyramid flashes; Rust pops typed, in variant order.
    let minted = peer.run(
        &theirs,
        popped["cookie_value"].as_str(),
        NOW,
        json!([
            {"op": "flash", "msg": {"code": 500, "text": "Oops"}, "queue": "error"},
            {"op": "flash", "msg": "Welcome", "queue": "success"},
            {"op": "flash", "msg": "Welcome", "queue": "success", "allow_duplicate": false},
            {"op": "flash", "msg": {"text": "Slow"}, "queue": "page_warning"},
        ]),
    );
    let mut session = ours.load_value(minted["cookie_value"].as_str());
    assert_eq!(
        session.pop_flashes::<Notice>().unwrap(),
        vec![
            success("Welcome"),
            failure(500, "Oops"),
            Notice::PageWarning {
                text: "Slow".into(),
                link: None
            },
        ]
    );

    // What Rust popped is gone for Pyramid too.
    let cookie = ours.encode(&session).unwrap();
    let read = peer.run(
        &theirs,
        Some(&cookie),
        NOW,
        json!([{"op": "peek_flash", "queue": "success"}, {"op": "peek_flash", "queue": "error"}]),
    );
    assert_eq!(read["results"], json!([[], []]));
}
