//! Session factories: where a request's session comes from and how it goes back.
//!
//! A factory is a cookie codec or a server-side store, plus the cookie's attributes and the
//! load/save policy (timeout, reissue, `set_on_exception`, the clock). Every factory is built
//! by one [`Builder`], whose options are checked once, at build time:
//!
//! - [`CookieSessionFactory`] keeps the whole session in the cookie, through a
//!   [`CookieCodec`](crate::codec::CookieCodec): [`SignedCookieSessionFactory`] (Pyramid's
//!   signed cookie) or `EncryptedCookieSessionFactory` (`pyramid_nacl_session`'s, feature
//!   `encrypted`);
//! - [`ServerSessionFactory`] keeps it in a [`SessionStore`](crate::store::SessionStore), the
//!   cookie carrying only a signed id;
//! - [`SpillingSessionFactory`] keeps it in a cookie while it fits and in a store while it
//!   does not.
//!
//! What both kinds share, the cookie's attributes and the policy, lives in one place
//! (`settings.rs`), so a new compatibility mode is a codec or a store plus a preset, never a
//! special case inside the lifecycle.

mod budget;
mod builder;
mod chunks;
#[cfg(feature = "compression")]
mod compress;
mod cookie;
mod server;
mod settings;
mod spill;

pub use budget::{
    Budget, DEFAULT_COOKIE_HEADER_BUDGET, DEFAULT_SET_COOKIE_BUDGET, Overflow,
    SAFARI_SET_COOKIE_BUDGET,
};
#[cfg(feature = "encrypted")]
pub use builder::EncryptedKeys;
pub use builder::{Builder, KeysAndStore, MIN_SECRET_LEN, ReadyCodec, SignedKeys};
pub use chunks::MAX_CHUNKS;
#[cfg(feature = "compression")]
pub use compress::MAX_INFLATED_LEN;
#[cfg(feature = "encrypted")]
pub use cookie::EncryptedCookieSessionFactory;
pub use cookie::{CookieSessionFactory, MAX_COOKIE_VALUE_LEN, SignedCookieSessionFactory};
pub(crate) use cookie::{SetCookies, Written};
pub(crate) use server::Plan;
pub use server::{DEFAULT_ROTATION_GRACE, ServerSessionFactory};
#[cfg(feature = "testing")]
pub(crate) use settings::find_cookie;
pub use settings::{DEFAULT_FLASH_QUEUE_CAP, MAX_CLOCK_SKEW, Saved};
pub use spill::SpillingSessionFactory;
pub(crate) use spill::Step as SpillStep;
