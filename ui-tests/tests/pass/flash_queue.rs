//! Every supported shape of a flash queue enum, the attributes it keeps, and the typed
//! reads.
#![deny(missing_docs, warnings)]

use serde::{Deserialize, Serialize};
use typed_sessions::{Flash, FlashExt, FlashQueue, Session, SessionError, flash_queue};

/// A payload of our own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// Where.
    pub field: String,
}

/// Messages for the user.
#[flash_queue]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notice {
    /// Queue `success`.
    Success(String),
    /// Queue `error`.
    #[flash(queue = "error")]
    Failure {
        /// A code.
        code: u16,
        /// The text.
        text: String,
        /// Details.
        details: Vec<Detail>,
        /// A raw-named member: `type` in the message.
        r#type: Option<String>,
    },
    /// The default queue.
    #[flash(queue = "")]
    Plain(String),
    /// Queue `info_box`.
    InfoBox(Detail),
    /// Queue `logged_out`, message `null`.
    LoggedOut(()),
    /// Queue `json`: any JSON.
    Json(serde_json::Value),
    /// Queue `counts`, a raw-named variant.
    r#Counts(Vec<u32>),
}

/// Derives listed before the attribute see the enum as it is written, too.
#[derive(Debug)]
#[flash_queue]
pub enum Alert {
    /// Queue `warning`.
    Warning(String),
}

fn uses(session: &mut Session) -> Result<(), SessionError> {
    session.flash(Notice::Success("Saved".into()))?;
    let _: bool = session.flash_unique(Notice::Plain("Hi".into()))?;
    session.flash(Alert::Warning("Careful".into()))?;
    let _: Vec<Notice> = session.peek_flashes()?;
    let _: Vec<Notice> = session.pop_flashes_from("error")?;
    let _: Vec<Alert> = session.pop_flashes()?;
    let _: &[&str] = Notice::QUEUES;
    let _: Notice = Notice::from_message("success", serde_json::json!("x"))?;
    let _: &str = Notice::LoggedOut(()).queue();
    Ok(())
}

fn main() {
    let _ = uses(&mut Session::new());
}
