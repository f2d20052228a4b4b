//! The shop's pages: plain HTML with forms, no JavaScript.
//!
//! Rendered with [maud]'s `html!` macro, which escapes every value spliced into a page, in
//! element text and attribute values alike: a user name or a flash message can only ever
//! show as text. The one thing written into a page unescaped is the fixed style sheet
//! ([`PreEscaped`], a constant of this file).

use maud::{DOCTYPE, Markup, PreEscaped, html};

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

/// The hidden field that carries the session's CSRF token in every form.
fn csrf_field(chrome: &Chrome) -> Markup {
    html! {
        input type="hidden" name="csrf_token" value=(chrome.csrf_token);
    }
}

/// The document around a page's `content`: head, header with the cart and account links,
/// the notices, the title as `h1`, and the footer.
fn page(title: &str, chrome: &Chrome, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tea Shop" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/" { "Tea Shop" }
                    nav {
                        a href="/" { "Products" }
                        a #cart-link href="/cart" {
                            "Cart (" span #cart-count { (chrome.cart_items) } ")"
                        }
                        a href="/session" { "Session" }
                        @if let Some(user) = &chrome.user {
                            span #user { "Signed in as " b { (user) } }
                            a #account-link href="/account" { "Account" }
                            form.inline method="post" action="/logout" {
                                (csrf_field(chrome))
                                button #logout type="submit" { "Sign out" }
                            }
                        } @else {
                            a #login-link href="/login" { "Sign in" }
                        }
                    }
                }
                main {
                    @for notice in &chrome.notices {
                        @let (class, text) = match notice {
                            Notice::Success(text) => ("success", text),
                            Notice::Error(text) => ("error", text),
                        };
                        p class={ "flash " (class) } role="status" { (text) }
                    }
                    h1 { (title) }
                    (content)
                }
                footer {
                    "Sessions by the " code { "typed-sessions" }
                    " crate, in a form a Pyramid app reads too."
                }
            }
        }
    }
}

/// The product list, each with an "Add to cart" form.
pub fn products(chrome: &Chrome) -> Markup {
    let content = html! {
        ul.products {
            @for product in PRODUCTS {
                li.product id={ "product-" (product.id) } {
                    h2 { (product.name) }
                    p { (product.blurb) }
                    p.price { (catalog::price(product.price_cents.into())) }
                    form method="post" action="/cart/add" {
                        (csrf_field(chrome))
                        input type="hidden" name="product" value=(product.id);
                        button type="submit" id={ "add-" (product.id) } { "Add to cart" }
                    }
                }
            }
        }
    };
    page("Products", chrome, content)
}

/// The cart: a line per product with a "Remove" form, and the total.
pub fn cart(chrome: &Chrome, lines: &[CartLine]) -> Markup {
    if lines.is_empty() {
        let content = html! {
            p #empty-cart { "Your cart is empty. " a href="/" { "Browse the teas." } }
        };
        return page("Your cart", chrome, content);
    }
    // A product the shop stopped selling still shows, at no price, so it can be removed.
    let rows: Vec<(&CartLine, &str, u64, u64)> = lines
        .iter()
        .map(|line| {
            let (name, each) = match catalog::find(&line.product) {
                Some(product) => (product.name, u64::from(product.price_cents)),
                None => ("(no longer sold)", 0),
            };
            (line, name, each, each * u64::from(line.qty))
        })
        .collect();
    let total: u64 = rows.iter().map(|&(.., subtotal)| subtotal).sum();
    let content = html! {
        table.cart {
            thead {
                tr {
                    th { "Product" } th { "Qty" } th.num { "Each" } th.num { "Subtotal" } th {}
                }
            }
            tbody {
                @for &(line, name, each, subtotal) in &rows {
                    tr.line id={ "line-" (line.product) } {
                        td { (name) }
                        td.qty { (line.qty) }
                        td.num { (catalog::price(each)) }
                        td.num { (catalog::price(subtotal)) }
                        td {
                            form method="post" action="/cart/remove" {
                                (csrf_field(chrome))
                                input type="hidden" name="product" value=(line.product);
                                button.secondary type="submit" id={ "remove-" (line.product) } {
                                    "Remove"
                                }
                            }
                        }
                    }
                }
            }
            tfoot {
                tr {
                    th colspan="3" { "Total" }
                    th.num #total { (catalog::price(total)) }
                    th {}
                }
            }
        }
    };
    page("Your cart", chrome, content)
}

/// The sign-in form; `next` is where it goes once signed in.
pub fn login(chrome: &Chrome, next: Option<&str>) -> Markup {
    let content = html! {
        form.login method="post" action="/login" {
            (csrf_field(chrome))
            @if let Some(next) = next {
                input type="hidden" name="next" value=(next);
            }
            label {
                "Name "
                input #username name="username" autocomplete="username" required;
            }
            label {
                "Password "
                input #password name="password" type="password"
                    autocomplete="current-password" required;
            }
            button #login type="submit" { "Sign in" }
        }
        p.hint { "Demo: any name, password " code { (super::DEMO_PASSWORD) } "." }
    };
    page("Sign in", chrome, content)
}

/// The signed-in user's account: the form that changes the password.
pub fn account(chrome: &Chrome, name: &str) -> Markup {
    let content = html! {
        p #account-name { "Signed in as " b { (name) } "." }
        form method="post" action="/account/password" {
            (csrf_field(chrome))
            button #change-password type="submit" { "Change password" }
        }
        p.hint {
            "Changing the password signs out every other session of " (name)
            " (in the demo the password stays " code { (super::DEMO_PASSWORD) } ")."
        }
    };
    page("Your account", chrome, content)
}

/// The signed-in user's sessions (`true`: this one), with a form that signs out the others.
pub fn devices(chrome: &Chrome, sessions: &[(typed_sessions::store::SessionInfo, bool)]) -> Markup {
    let content = html! {
        table #devices {
            tr { th { "Device" } th { "Address" } th { "Signed in" } th { "Last seen" } th {} }
            @for (info, current) in sessions {
                tr.device data-handle=(info.handle.short()) {
                    td { (info.meta.user_agent.as_deref().unwrap_or("unknown")) }
                    td { (info.meta.ip.as_deref().unwrap_or("unknown")) }
                    td { (when(info.created)) }
                    td { (when(info.last_seen)) }
                    td { @if *current { strong.current { "this device" } } }
                }
            }
        }
        form method="post" action="/devices/sign-out-others" {
            (csrf_field(chrome))
            button #sign-out-others type="submit" { "Sign out everywhere else" }
        }
    };
    page("Your devices", chrome, content)
}

/// A store's time (Unix seconds) as an HTTP date (`Thu, 03 Dec 2026 17:23:13 GMT`); a time
/// no date can show (before 1970, after 9999, not a number) as the number it is.
fn when(unix_seconds: f64) -> String {
    /// 9999-12-31 23:59:59 and one second: `httpdate` formats the times before it.
    const YEAR_10000: f64 = 253_402_300_800.0;
    if !(0.0..YEAR_10000).contains(&unix_seconds) {
        return unix_seconds.to_string();
    }
    let since_epoch = std::time::Duration::from_secs(unix_seconds as u64);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + since_epoch)
}

/// What the session holds, for learning how it works.
pub fn session(
    chrome: &Chrome,
    facts: &[(&str, String)],
    state_json: &str,
    cookie: &str,
) -> Markup {
    let content = html! {
        p {
            "This is the session as the server decoded it from your cookie, before this page "
            "took its flash messages and made its CSRF token."
        }
        table.facts {
            @for (name, value) in facts {
                tr { th { (name) } td { (value) } }
            }
        }
        h2 { "State" }
        pre #state { (state_json) }
        h2 { "The cookie your browser sent" }
        p {
            "URL-safe base64 of an HMAC-SHA512 signature followed by the JSON "
            code { "[accessed, created, state]" }
            ". Change one character and the signature fails: the server starts a new, "
            "empty session."
        }
        // `id` before `class`, as written (shorthands would put the class first).
        pre id="cookie" class="wrap" { (cookie) }
    };
    page("Your session", chrome, content)
}

/// The page for a request whose session changed while it ran (signed out elsewhere, or
/// expired): its change was not kept, and the page says so instead of "done".
pub fn conflict() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Your session changed · Tea Shop" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "Your session changed" }
                    p #session-changed {
                        "Your session ended or changed while this request ran (you signed out "
                        "in another tab, or it expired), so nothing was changed. Go "
                        a href="/" { "back to the shop" } " and try again."
                    }
                }
            }
        }
    }
}

/// The page for a form whose CSRF token does not match the session's.
pub fn forbidden() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Forbidden · Tea Shop" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "Forbidden" }
                    p #csrf-error {
                        "The form's CSRF token does not match your session, so nothing was "
                        "changed. Go " a href="/" { "back to the shop" } " and try again."
                    }
                }
            }
        }
    }
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
  #user { margin-right: 1rem; }
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

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn times_show_as_dates_or_as_the_number_they_are() {
        assert_eq!(when(0.0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(when(1_796_318_593.78), "Thu, 03 Dec 2026 17:23:13 GMT");
        assert_eq!(when(253_402_300_799.0), "Fri, 31 Dec 9999 23:59:59 GMT");
        for odd in [-1.0, 253_402_300_800.0, f64::NAN, f64::INFINITY, f64::MAX] {
            assert_eq!(when(odd), odd.to_string());
        }
    }
}
