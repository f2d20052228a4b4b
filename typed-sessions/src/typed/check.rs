//! What [`SessionSchema::check`](super::SessionSchema::check) reports: how each field's
//! stored value reads under the current schema.

use std::fmt;

use crate::error::SessionError;

/// How the fields of one schema read from one session; see
/// [`SessionSchema::check`](super::SessionSchema::check).
///
/// ```
/// use typed_sessions::{Session, SessionSchema};
///
/// #[derive(SessionSchema)]
/// struct Shop {
///     user_id: Option<u64>,
/// }
///
/// let session = Session::from_json(r#"{"user_id": "ann"}"#, 0.0, 0.0).unwrap();
/// let report = Shop::check(&session);
/// assert!(!report.is_ok());
/// assert_eq!(report.problems().next().unwrap().key, "user_id");
/// ```
#[derive(Debug)]
pub struct SchemaReport {
    /// The schema's Rust type.
    pub schema: &'static str,
    /// One report per field, in field order.
    pub fields: Vec<FieldReport>,
}

/// How one field's stored value reads.
#[derive(Debug)]
pub struct FieldReport {
    /// The field's session key.
    pub key: &'static str,
    /// The older key (`#[session(alias)]`) the value was found under, when the field's own
    /// key is absent.
    pub found_under: Option<&'static str>,
    /// The field's Rust type.
    pub expected: &'static str,
    /// How it reads.
    pub status: FieldStatus,
}

/// How a field's stored value reads.
#[derive(Debug)]
#[non_exhaustive]
pub enum FieldStatus {
    /// Not in the session; the field reads as `None` or its default.
    Absent,
    /// Decodes as the field's type.
    Decodes,
    /// Does not decode as the field's type, but its migration reads it.
    Migrates,
    /// Cannot be read: a value that neither decodes nor migrates, or a required field that
    /// is absent. The error names the key and why.
    Fails(SessionError),
}

impl SchemaReport {
    /// Whether every field reads (as itself, absent, or migrated).
    pub fn is_ok(&self) -> bool {
        self.problems().next().is_none()
    }

    /// The fields that cannot be read.
    pub fn problems(&self) -> impl Iterator<Item = &FieldReport> {
        self.fields
            .iter()
            .filter(|field| matches!(field.status, FieldStatus::Fails(_)))
    }
}

impl fmt::Display for SchemaReport {
    /// One line per field that cannot be read; "ok" when all can.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut problems = self.problems().peekable();
        if problems.peek().is_none() {
            return write!(f, "{}: ok", self.schema);
        }
        for (i, field) in problems.enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if let FieldStatus::Fails(err) = &field.status {
                write!(f, "{}: {err}", self.schema)?;
            }
        }
        Ok(())
    }
}
