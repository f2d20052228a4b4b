//! [`FieldMut`]: the guard of a `_mut()` accessor, which writes the value back on drop.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::private::Field;
use crate::error::SessionError;
use crate::session::Session;

/// A mutable borrow of a typed session value that writes it back when dropped.
///
/// Returned by the `<field>_mut()` accessors of `#[derive(SessionSchema)]`. It derefs to the
/// value. If the value was borrowed mutably (through [`DerefMut`]), dropping the guard
/// serializes it back into the session and marks the session changed, so Pyramid's "call
/// `changed()` after mutating a mutable value" cannot be forgotten. If it was only read,
/// the session is left as it was, and no cookie is issued because of the guard.
///
/// Drop cannot return an error: if serializing fails there, the failure is recorded on
/// the session and the factory's next `save` returns it (writing no cookie). Call
/// [`commit`](Self::commit) to get the error where it happens instead.
///
/// The guard borrows the session mutably, and is deliberately not `Send`: keep it for a
/// statement or a block, never across an `.await` (in an async handler the session sits
/// behind a lock that the guard would keep held).
///
/// ```compile_fail
/// # use typed_sessions::{Session, FieldMut};
/// fn assert_send<T: Send>(_: T) {}
/// fn guard(g: FieldMut<'_, Vec<u32>>) { assert_send(g) }
/// ```
pub struct FieldMut<'a, T> {
    session: &'a mut Session,
    /// Where and how the value is written back.
    field: Field<T>,
    value: T,
    mutated: bool,
    /// Not `Send`: see the type's documentation.
    _not_send: PhantomData<*const ()>,
}

impl<'a, T> FieldMut<'a, T> {
    pub(crate) fn new(session: &'a mut Session, field: Field<T>, value: T) -> Self {
        Self {
            session,
            field,
            value,
            mutated: false,
            _not_send: PhantomData,
        }
    }

    /// The session key the guard writes back to.
    pub fn key(&self) -> &str {
        self.field.key()
    }

    /// Whether the value was borrowed mutably, so that dropping the guard writes it back.
    pub fn is_mutated(&self) -> bool {
        self.mutated
    }

    /// Writes the value back now, if it was borrowed mutably, and returns the error that
    /// dropping the guard would have recorded on the session.
    pub fn commit(mut self) -> Result<(), SessionError> {
        self.write_back()
    }

    fn write_back(&mut self) -> Result<(), SessionError> {
        if !std::mem::take(&mut self.mutated) {
            return Ok(());
        }
        self.field.write(self.session, &self.value)
    }
}

impl<T> Deref for FieldMut<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for FieldMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.mutated = true;
        &mut self.value
    }
}

impl<T> Drop for FieldMut<'_, T> {
    fn drop(&mut self) {
        if let Err(err) = self.write_back() {
            let reason = match err {
                SessionError::Unserializable { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            tracing::warn!(key = %self.field.key(), %reason, "a session guard failed to write back");
            self.session.record_failed_write(self.field.key(), reason);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for FieldMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldMut")
            .field("key", &self.field.key())
            .field("value", &self.value)
            .field("mutated", &self.mutated)
            .finish()
    }
}
