//! What the shop's routes do to the session, whatever the web framework: each function takes
//! the request's [`Session`] and form, and says what to answer. The axum shop
//! ([`crate::shop`]) and the actix-web shop ([`crate::actix_shop`]) turn a [`Reply`] into
//! their own response type, so the two share one behaviour, not two copies of it.

use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::DerefMut;

use maud::Markup;
use serde::Deserialize;
use typed_sessions::auth::local_path;
use typed_sessions::store::{SessionHandle, SessionMeta, StoreError};
use typed_sessions::{FlashExt, LoadOutcome, Session, SessionError};

use super::devices::{BoxFuture, Devices};
use super::html::{self, Chrome};
use super::state::{CartLine, Notice, ShopSessionExt};
use super::users::{ShopAuth, ShopUser};
use super::{DEMO_PASSWORD, catalog};

/// The longest user name the shop accepts, in characters.
pub const MAX_USER_NAME: usize = 40;

/// What a route answers.
#[derive(Debug)]
pub enum Reply {
    /// `200` with this page.
    Page(Markup),
    /// `303 See Other` to this path.
    SeeOther(Cow<'static, str>),
    /// `403 Forbidden` (a missing or wrong CSRF token): nothing was changed.
    Forbidden,
    /// `404 Not Found` with this text (a route the shop's sessions cannot serve).
    NotFound(&'static str),
    /// `401 Unauthorized`, empty (a stream for a signed-in user only).
    Unauthorized,
}

/// What the shop records about the device that signs in, for the devices page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Device<'a> {
    /// The client's address (see [`super::client_ip`]), if the server knows it.
    pub ip: Option<IpAddr>,
    /// The request's `User-Agent`, if it sent one.
    pub user_agent: Option<&'a str>,
}

/// The form of "Add to cart" and "Remove".
#[derive(Debug, Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    product: String,
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// Where to go once signed in: the page that asked for a user (a local path only).
    #[serde(default)]
    next: String,
}

/// The query of `GET /login`: the page that asked for a user, if one did.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    /// The path to go back to after signing in.
    pub next: Option<String>,
}

/// A form that carries only the CSRF token (sign out).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

/// What every page shows; takes this page's notices out of the session.
pub fn chrome(s: &mut Session) -> Result<Chrome, SessionError> {
    Ok(Chrome {
        user: s.user()?,
        cart_items: s.cart()?.iter().map(|line| u64::from(line.qty)).sum(),
        notices: s.pop_flashes()?,
        csrf_token: s.get_csrf_token()?,
    })
}

/// `GET /`: the products.
pub fn products(s: &mut Session) -> Result<Reply, SessionError> {
    Ok(Reply::Page(html::products(&chrome(s)?)))
}

/// `GET /cart`: the cart.
pub fn cart(s: &mut Session) -> Result<Reply, SessionError> {
    let lines = s.cart()?;
    Ok(Reply::Page(html::cart(&chrome(s)?, &lines)))
}

/// `GET /login`: the sign-in form; `next` (a local path) is where it goes once signed in.
pub fn login_form(s: &mut Session, next: Option<&str>) -> Result<Reply, SessionError> {
    let next = next.and_then(local_path);
    Ok(Reply::Page(html::login(&chrome(s)?, next)))
}

/// `GET /account`: the signed-in user's account, with the form that changes the password.
pub fn account(s: &mut Session, user: &ShopUser) -> Result<Reply, SessionError> {
    Ok(Reply::Page(html::account(&chrome(s)?, user.name())))
}

/// `POST /account/password`: a new password for the signed-in `user` (in the demo, a new
/// password version): every other session of the user is signed out on its next request,
/// this one is signed in again under the new version (and a new id).
pub fn change_password(
    s: &mut Session,
    form: &TokenForm,
    auth: &ShopAuth,
    user: &ShopUser,
) -> Result<Reply, SessionError> {
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(Reply::Forbidden);
    }
    let Some(user) = auth.backend().change_password(user.name()) else {
        return Ok(Reply::SeeOther("/login".into()));
    };
    auth.login(s, &user);
    s.flash(Notice::Success(
        "Password changed: your other sessions are signed out.".to_owned(),
    ))?;
    Ok(Reply::SeeOther("/account".into()))
}

/// `POST /cart/add`: one more of the product; a notice; back to the products.
pub fn add_to_cart(s: &mut Session, form: &ProductForm) -> Result<Reply, SessionError> {
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(Reply::Forbidden);
    }
    let notice = match catalog::find(&form.product) {
        Some(product) => {
            // The guard writes the cart back and marks the session changed when it drops.
            let mut cart = s.cart_mut()?;
            match cart.iter_mut().find(|line| line.product == product.id) {
                Some(line) => line.qty = line.qty.saturating_add(1),
                None => cart.push(CartLine {
                    product: product.id.to_owned(),
                    qty: 1,
                }),
            }
            Notice::Success(format!("Added {} to your cart.", product.name))
        }
        None => Notice::Error("That product is not for sale.".to_owned()),
    };
    s.flash(notice)?;
    Ok(Reply::SeeOther("/".into()))
}

/// `POST /cart/remove`: the product's line out of the cart; a notice; back to the cart.
pub fn remove_from_cart(s: &mut Session, form: &ProductForm) -> Result<Reply, SessionError> {
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(Reply::Forbidden);
    }
    let removed = {
        let mut cart = s.cart_mut()?;
        let before = cart.len();
        cart.retain(|line| line.product != form.product);
        cart.len() < before
    };
    let notice = match (removed, catalog::find(&form.product)) {
        (true, Some(product)) => {
            Notice::Success(format!("Removed {} from your cart.", product.name))
        }
        (true, None) => Notice::Success("Removed it from your cart.".to_owned()),
        (false, _) => Notice::Error("That was not in your cart.".to_owned()),
    };
    s.flash(notice)?;
    Ok(Reply::SeeOther("/cart".into()))
}

/// `POST /login`: signs in any name with [`DEMO_PASSWORD`], through `auth`, recording the
/// `device` for the devices page; then to the form's `next` when it is a local path, else
/// home.
pub fn login(
    s: &mut Session,
    form: &LoginForm,
    auth: &ShopAuth,
    device: Device<'_>,
) -> Result<Reply, SessionError> {
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(Reply::Forbidden);
    }
    let name = form.username.trim();
    let user = auth.backend().user(name);
    let (Some(user), true) = (user, form.password == DEMO_PASSWORD) else {
        s.flash(Notice::Error("Wrong name or password.".to_owned()))?;
        return Ok(Reply::SeeOther("/login".into()));
    };
    // A new id (against session fixation), the user's id (the key the stores index sessions
    // by, for the devices page) and auth hash; then a token no
    // anonymous page has seen, and the name under `user`, where the Pyramid app reads it.
    auth.login(s, &user);
    let mut meta = SessionMeta::new();
    if let Some(ip) = device.ip {
        meta = meta.ip(ip.to_string());
    }
    if let Some(agent) = device.user_agent {
        meta = meta.user_agent(agent);
    }
    meta.store(s);
    s.new_csrf_token()?;
    s.set_user(Some(name.to_owned()))?;
    s.flash(Notice::Success(format!("Welcome, {name}!")))?;
    let next = local_path(&form.next).unwrap_or("/");
    Ok(Reply::SeeOther(next.to_owned().into()))
}

/// `POST /logout`: ends the session.
pub fn logout(s: &mut Session, form: &TokenForm, auth: &ShopAuth) -> Result<Reply, SessionError> {
    if !s.check_csrf_token(&form.csrf_token) {
        return Ok(Reply::Forbidden);
    }
    // Drops the user, the cart and the CSRF token; the cookie is replaced.
    auth.logout(s);
    s.flash(Notice::Success("You are signed out.".to_owned()))?;
    Ok(Reply::SeeOther("/".into()))
}

/// `GET /session`: the decoded session and the raw cookie, for learning. `cookie_headers`
/// are the request's `Cookie` header values; `cookie_name` is the session cookie's.
pub fn show_session<'h>(
    s: &mut Session,
    cookie_headers: impl IntoIterator<Item = &'h str>,
    cookie_name: &str,
) -> Result<Reply, SessionError> {
    let facts = vec![
        ("loaded", describe(s.load_outcome())),
        ("new", s.is_new().to_string()),
        ("created", format!("{} (Unix seconds)", s.created())),
        (
            "renewed",
            format!("{} (the cookie's accessed time)", s.renewed()),
        ),
    ];
    let entries: serde_json::Map<String, serde_json::Value> = s
        .iter()
        .map(|(key, value)| (key.to_owned(), value.clone()))
        .collect();
    let state_json = serde_json::to_string_pretty(&entries).unwrap_or_default();
    let cookie = cookie_headers
        .into_iter()
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(cookie_name)?.strip_prefix('='))
        .unwrap_or("(none)");
    Ok(Reply::Page(html::session(
        &chrome(s)?,
        &facts,
        &state_json,
        cookie,
    )))
}

fn describe(outcome: LoadOutcome) -> String {
    match outcome {
        LoadOutcome::NoCookie => "no cookie yet: a new session".to_owned(),
        LoadOutcome::Loaded => "from your cookie".to_owned(),
        LoadOutcome::LoadedWithOldSecret => {
            "from your cookie, signed with an older secret".to_owned()
        }
        LoadOutcome::Rejected(why) => format!("your cookie was rejected ({why}): a new session"),
        LoadOutcome::CookieOnly => {
            "your cookie carries only the CSRF token: nothing is stored yet".to_owned()
        }
        other => format!("{other:?}"),
    }
}

/// The signed-in user of a devices request (`GET /devices`, `GET /events` without a form;
/// `POST /devices/sign-out-others` with one, whose CSRF token is checked first), or the
/// reply for a request that cannot go on.
pub fn devices_user(
    s: &mut Session,
    form: Option<&TokenForm>,
) -> Result<Result<String, Reply>, SessionError> {
    if let Some(form) = form
        && !s.check_csrf_token(&form.csrf_token)
    {
        return Ok(Err(Reply::Forbidden));
    }
    Ok(match s.get_as::<String>(typed_sessions::AUTH_USER_KEY)? {
        Some(user) => Ok(user),
        None => Err(Reply::SeeOther("/login".into())),
    })
}

/// What a devices route failed with: the session, or the store's registry.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// A session call failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The store's registry failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer of a devices route on a shop whose sessions are in a cookie.
pub const NO_REGISTRY: Reply = Reply::NotFound("sessions are kept in a cookie: no devices to list");

/// The signed-in user of a devices request and the handle of its session (see
/// [`devices_user`]), or the reply for a request that cannot go on.
fn signed_in_device(
    devices: &dyn Devices,
    s: &mut Session,
    form: Option<&TokenForm>,
) -> Result<Result<(String, Option<SessionHandle>), Reply>, SessionError> {
    Ok(devices_user(s, form)?.map(|user| (user, devices.handle_of(s))))
}

/// `GET /devices`: the signed-in user's sessions, this one marked, from `registry` (`None`:
/// a cookie shop, `404`). `lock` locks the request's session; no guard is held while the
/// store is asked.
pub async fn devices_page<G: DerefMut<Target = Session>>(
    registry: Option<&dyn Devices>,
    lock: impl Fn() -> G,
) -> Result<Reply, DevicesError> {
    let Some(devices) = registry else {
        return Ok(NO_REGISTRY);
    };
    let (user, current) = match signed_in_device(devices, &mut lock(), None)? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let sessions = devices.list(&user, current).await?;
    Ok(Reply::Page(html::devices(&chrome(&mut lock())?, &sessions)))
}

/// `POST /devices/sign-out-others`: ends the user's other sessions (the form's CSRF token
/// checked first), then a notice and back to the list. As [`devices_page`].
pub async fn sign_out_others<G: DerefMut<Target = Session>>(
    registry: Option<&dyn Devices>,
    lock: impl Fn() -> G,
    form: &TokenForm,
) -> Result<Reply, DevicesError> {
    let Some(devices) = registry else {
        return Ok(NO_REGISTRY);
    };
    let (user, current) = match signed_in_device(devices, &mut lock(), Some(form))? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let ended = devices.sign_out_others(&user, current).await?;
    lock().flash(Notice::Success(format!(
        "Signed out {ended} other session(s)."
    )))?;
    Ok(Reply::SeeOther("/devices".into()))
}

/// `GET /events`: the future of the session's revocation, for the stream that ends with it;
/// `401` when nobody is signed in, `404` on a cookie shop.
pub fn revocation(
    registry: Option<&dyn Devices>,
    s: &mut Session,
) -> Result<Result<BoxFuture<'static, ()>, Reply>, SessionError> {
    let Some(devices) = registry else {
        return Ok(Err(NO_REGISTRY));
    };
    Ok(match devices_user(s, None)? {
        Ok(_) => devices.revoked(s).ok_or(Reply::Unauthorized),
        Err(_) => Err(Reply::Unauthorized),
    })
}
