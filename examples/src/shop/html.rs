//! The shop's pages: plain HTML with forms, no JavaScript.

use std::fmt::Write as _;

use super::catalog::{self, PRODUCTS};
use super::state::{CartLine, Notice};

/// What every page shows around its content: who is signed in, the cart's size, the
/// notices queued for this page and the CSRF token for its forms.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The signed-in user.
    pub user: Option<String>,
    /// How many items the cart holds.
    pub cart_items: u64,
    /// Notices to show once.
    pub notices: Vec<Notice>,
    /// The session's CSRF token, for hidden form fields.
    pub csrf_token: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn csrf_field(chrome: &Chrome) -> String {
    format!(
        r#"<input type="hidden" name="csrf_token" value="{}">"#,
        escape(&chrome.csrf_token)
    )
}

fn page(title: &str, chrome: &Chrome, content: &str) -> String {
    let account = match &chrome.user {
        Some(user) => format!(
            r#"<span id="user">Signed in as <b>{}</b></span>
      <form method="post" action="/logout" class="inline">{}<button type="submit" id="logout">Sign out</button></form>"#,
            escape(user),
            csrf_field(chrome)
        ),
        None => r#"<a href="/login" id="login-link">Sign in</a>"#.to_owned(),
    };
    let mut notices = String::new();
    for notice in &chrome.notices {
        let (class, text) = match notice {
            Notice::Success(text) => ("success", text),
            Notice::Error(text) => ("error", text),
        };
        let _ = writeln!(
            notices,
            r#"    <p class="flash {class}" role="status">{}</p>"#,
            escape(text)
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · Tea Shop</title>
  <style>{STYLE}</style>
</head>
<body>
  <header>
    <a class="brand" href="/">Tea Shop</a>
    <nav>
      <a href="/">Products</a>
      <a href="/cart" id="cart-link">Cart (<span id="cart-count">{items}</span>)</a>
      <a href="/session">Session</a>
      {account}
    </nav>
  </header>
  <main>
{notices}    <h1>{title}</h1>
{content}
  </main>
  <footer>Sessions by the <code>session</code> crate: a signed cookie that Pyramid can read too.</footer>
</body>
</html>
"#,
        title = escape(title),
        items = chrome.cart_items,
    )
}

/// The product list, each with an "Add to cart" form.
pub fn products(chrome: &Chrome) -> String {
    let mut content = String::from(r#"    <ul class="products">"#);
    for product in PRODUCTS {
        let _ = write!(
            content,
            r#"
      <li class="product" id="product-{id}">
        <h2>{name}</h2>
        <p>{blurb}</p>
        <p class="price">{price}</p>
        <form method="post" action="/cart/add">
          {csrf}<input type="hidden" name="product" value="{id}">
          <button type="submit" id="add-{id}">Add to cart</button>
        </form>
      </li>"#,
            id = escape(product.id),
            name = escape(product.name),
            blurb = escape(product.blurb),
            price = catalog::price(product.price_cents.into()),
            csrf = csrf_field(chrome),
        );
    }
    content.push_str("\n    </ul>");
    page("Products", chrome, &content)
}

/// The cart: a line per product with a "Remove" form, and the total.
pub fn cart(chrome: &Chrome, lines: &[CartLine]) -> String {
    if lines.is_empty() {
        let content =
            r#"    <p id="empty-cart">Your cart is empty. <a href="/">Browse the teas.</a></p>"#;
        return page("Your cart", chrome, content);
    }
    let mut total: u64 = 0;
    let mut rows = String::new();
    for line in lines {
        // A product the shop stopped selling still shows, at no price, so it can be removed.
        let (name, each) = match catalog::find(&line.product) {
            Some(product) => (product.name, u64::from(product.price_cents)),
            None => ("(no longer sold)", 0),
        };
        let subtotal = each * u64::from(line.qty);
        total += subtotal;
        let _ = write!(
            rows,
            r#"
        <tr class="line" id="line-{id}">
          <td>{name}</td><td class="qty">{qty}</td><td class="num">{each}</td><td class="num">{subtotal}</td>
          <td><form method="post" action="/cart/remove">{csrf}<input type="hidden" name="product" value="{id}"><button type="submit" id="remove-{id}" class="secondary">Remove</button></form></td>
        </tr>"#,
            id = escape(&line.product),
            name = escape(name),
            qty = line.qty,
            each = catalog::price(each),
            subtotal = catalog::price(subtotal),
            csrf = csrf_field(chrome),
        );
    }
    let content = format!(
        r#"    <table class="cart">
      <thead><tr><th>Product</th><th>Qty</th><th class="num">Each</th><th class="num">Subtotal</th><th></th></tr></thead>
      <tbody>{rows}
      </tbody>
      <tfoot><tr><th colspan="3">Total</th><th class="num" id="total">{total}</th><th></th></tr></tfoot>
    </table>"#,
        total = catalog::price(total),
    );
    page("Your cart", chrome, &content)
}

/// The sign-in form.
pub fn login(chrome: &Chrome) -> String {
    let content = format!(
        r#"    <form method="post" action="/login" class="login">
      {csrf}
      <label>Name <input name="username" id="username" autocomplete="username" required></label>
      <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
      <button type="submit" id="login">Sign in</button>
    </form>
    <p class="hint">Demo: any name, password <code>{password}</code>.</p>"#,
        csrf = csrf_field(chrome),
        password = super::DEMO_PASSWORD,
    );
    page("Sign in", chrome, &content)
}

/// What the session holds, for learning how it works.
pub fn session(
    chrome: &Chrome,
    facts: &[(&str, String)],
    state_json: &str,
    cookie: &str,
) -> String {
    let mut rows = String::new();
    for (name, value) in facts {
        let _ = write!(
            rows,
            "\n        <tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    let content = format!(
        r#"    <p>This is the session as the server decoded it from your cookie, before this page
    took its flash messages and made its CSRF token.</p>
    <table class="facts">{rows}
    </table>
    <h2>State</h2>
    <pre id="state">{state}</pre>
    <h2>The cookie your browser sent</h2>
    <p>URL-safe base64 of an HMAC-SHA512 signature followed by the JSON
    <code>[accessed, created, state]</code>. Change one character and the signature fails:
    the server starts a new, empty session.</p>
    <pre id="cookie" class="wrap">{cookie}</pre>"#,
        state = escape(state_json),
        cookie = escape(cookie),
    );
    page("Your session", chrome, &content)
}

/// The page for a form whose CSRF token does not match the session's.
pub fn forbidden() -> String {
    r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Forbidden · Tea Shop</title><style>"#
        .to_owned()
        + STYLE
        + r#"</style></head>
<body>
  <main>
    <h1>Forbidden</h1>
    <p id="csrf-error">The form's CSRF token does not match your session, so nothing was changed.
    Go <a href="/">back to the shop</a> and try again.</p>
  </main>
</body>
</html>
"#
}

const STYLE: &str = r#"
  :root { --ink: #1f2933; --muted: #616e7c; --accent: #2f6f4e; --line: #e4e7eb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f7f7f2; }
  header { display: flex; align-items: center; justify-content: space-between; gap: 1rem; flex-wrap: wrap;
           padding: .8rem 2rem; background: var(--accent); color: white; }
  header a { color: white; text-decoration: none; margin-right: 1rem; }
  header a:hover { text-decoration: underline; }
  .brand { font-weight: 700; font-size: 1.3rem; }
  nav { display: flex; align-items: center; flex-wrap: wrap; }
  nav form.inline { display: inline; margin-left: .5rem; }
  main { max-width: 56rem; margin: 1.5rem auto; padding: 0 2rem; }
  h1 { margin-top: .5rem; }
  .flash { padding: .7rem 1rem; border-radius: .4rem; margin: .5rem 0; }
  .flash.success { background: #e3f9e5; border: 1px solid #91d8a0; }
  .flash.error { background: #ffe3e3; border: 1px solid #f29b9b; }
  .products { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 1rem; }
  .product { background: white; border: 1px solid var(--line); border-radius: .5rem; padding: 1rem; }
  .product h2 { font-size: 1.1rem; margin: 0 0 .3rem; }
  .product p { margin: .2rem 0; color: var(--muted); }
  .product .price { color: var(--ink); font-weight: 600; }
  button { font: inherit; padding: .35rem .9rem; border-radius: .35rem; border: 1px solid var(--accent);
           background: var(--accent); color: white; cursor: pointer; }
  button.secondary { background: white; color: var(--accent); }
  header button { background: white; color: var(--accent); border-color: white; }
  table { border-collapse: collapse; width: 100%; background: white; }
  th, td { text-align: left; padding: .5rem .7rem; border-bottom: 1px solid var(--line); }
  .num { text-align: right; }
  tfoot th { border-bottom: none; }
  form.login { display: grid; gap: .8rem; max-width: 20rem; }
  form.login input { display: block; width: 100%; padding: .4rem; font: inherit; }
  .hint { color: var(--muted); }
  pre { background: white; border: 1px solid var(--line); padding: 1rem; overflow-x: auto; }
  pre.wrap { white-space: pre-wrap; word-break: break-all; }
  footer { max-width: 56rem; margin: 2rem auto; padding: 0 2rem; color: var(--muted); font-size: .9rem; }
"#;
