//! The session keys and method names the runtime keeps for itself. `typed-sessions-derive` compiles
//! this same file into the macros (its `src/reserved.rs` is a symlink to this one), so a schema
//! is checked against these facts, not a copy of them.

/// Session keys that hold flash queue `q` are `"_f_" + q`, as in Pyramid.
pub const FLASH_PREFIX: &str = "_f_";

/// The session key that holds the CSRF token, as in Pyramid.
pub const CSRF_KEY: &str = "_csrft_";

/// The session key that holds the signed-in user's id (a JSON string). Sign-in writes it;
/// server stores index their sessions by it, so a user's sessions can be listed and revoked.
pub const AUTH_USER_KEY: &str = "_auth_user_id";

/// The session key that holds the auth hash sign-in derives from the user's credential:
/// when the credential changes, the hash no longer matches and the session is signed out.
pub const AUTH_HASH_KEY: &str = "_auth_hash";

/// The methods `Session` has itself. A derived accessor of the same name would be shadowed by
/// it, silently (`session.len()` calls `Session::len`, never the field's accessor), so the
/// derive refuses such a field. Add every new method of `Session` here.
#[allow(dead_code)] // read by the derive, which compiles this file too
pub const SESSION_METHODS: &[&str] = &[
    "accessed",
    "changed",
    "check_csrf_token",
    "clear",
    "contains_key",
    "created",
    "entry",
    "flash",
    "flash_to",
    "flash_unique",
    "flash_unique_to",
    "get",
    "get_as",
    "get_csrf_token",
    "get_mut",
    "insert",
    "insert_as",
    "invalidate",
    "is_dirty",
    "is_empty",
    "is_new",
    "iter",
    "keys",
    "len",
    "load_outcome",
    "new_csrf_token",
    "peek_flash",
    "pop_flash",
    "regenerate_id",
    "remove",
    "remove_as",
    "renew_id",
    "renewed",
    "state_json",
    "values",
];
