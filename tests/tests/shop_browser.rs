//! The shop demo in a real browser: headless Chromium, driven through chromedriver with
//! fantoccini, keeps the session in its own cookie jar while it adds to the cart, sees the
//! flash once, signs in and out. Saves screenshots of the cart page to
//! `target/artifacts/shop-cart.png`, and of the products and session pages beside it. A
//! second test signs in with user names that are markup and checks that every page shows
//! them as text and that none of their scripts runs. The shop is opened at
//! `http://localhost:PORT`, the URL the shop binaries print: its session cookie is `Secure`,
//! which Chromium keeps over plain HTTP for `localhost` and `127.0.0.1` only (a third test
//! checks which hosts). And the devices page, on both shops (axum, actix-web) on a memory
//! store: the browser and an HTTP client signed in as one user; the page lists both, the
//! browser's marked "this device"; its "Sign out everywhere else" button signs the HTTP
//! client out, and the page then lists one session.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/browser.sh` installs them);
//! `CHROME_BIN` and `CHROMEDRIVER` override where they are looked for. Without them the
//! tests fail, saying how to install them; `SKIP_BROWSER=1` skips them on purpose, with a
//! loud message. Each test's chromedriver log is `target/artifacts/chromedriver-<test>.log`.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::net::TcpListener;
use typed_sessions::store::MemoryStore;
use typed_sessions_examples::shop::ShopFactory;
use typed_sessions_examples::{actix_shop, shop};

const SECRET: &str = "a secret of at least thirty-two bytes, for tests";

/// Where test artifacts go: `$CARGO_TARGET_DIR/artifacts`, else the workspace's
/// `target/artifacts`.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("artifacts");
    std::fs::create_dir_all(&dir).expect("cannot create the artifacts directory");
    dir
}

/// The first of `names` found on `PATH`, or the path in env `var` if set.
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver, listening on a free loopback port; killed on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start(program: &Path, log: &Path) -> Self {
        let port = StdListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("no free loopback port")
            .port();
        let log_file = std::fs::File::create(log).expect("cannot create the chromedriver log");
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within 20 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh, empty browser profile directory; removed on drop.
struct Profile(PathBuf);

impl Profile {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("shop-browser-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One Chromium at a time: the machine has two cores, and each test starts its own.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Serves the axum shop `app` on a port the system picks, telling it each client's address
/// (as the `shop` binary does); its base URL, at `localhost`.
async fn serve_axum(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Serves the actix-web shop on `factory` in an actix-web `System` on a thread of its own
/// (as the `actix_shop` binary runs it); its base URL, at `localhost`.
fn serve_actix<F: ShopFactory>(factory: F) -> String {
    let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_shop::server_with(factory, listener)
                .unwrap()
                .await
                .unwrap();
        });
    });
    base
}

/// Starts the shop on the signed cookie, chromedriver and a headless Chromium, and runs
/// `steps` with the browser, the shop's base URL and the artifacts directory (see
/// [`in_browser_on`]).
async fn in_browser<F, Fut>(test: &str, steps: F)
where
    F: FnOnce(Client, String, PathBuf) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = || serve_axum(shop::app(shop::factory(SECRET).unwrap()));
    in_browser_on(test, start, steps).await;
}

/// Starts a shop (`start`: its base URL), chromedriver and a headless Chromium, and runs
/// `steps` with the browser, the shop's base URL and the artifacts directory, within 120 s.
/// The browser is closed whatever the steps do; a failed assertion in them fails the test.
/// Without Chromium the test fails; `SKIP_BROWSER=1` skips it (and says so loudly).
async fn in_browser_on<S, Started, F, Fut>(test: &str, start: S, steps: F)
where
    S: FnOnce() -> Started,
    Started: Future<Output = String>,
    F: FnOnce(Client, String, PathBuf) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var_os("SKIP_BROWSER").is_some_and(|skip| skip == "1") {
        // Straight to stderr, past the test harness's capture: a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!!! SKIPPED shop_browser {test}: SKIP_BROWSER=1 !!!!!!!!!!\n"
        );
        return;
    }
    let chrome = find_program("CHROME_BIN", &["chromium", "chromium-browser"]);
    let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]);
    let (Some(chrome), Some(chromedriver)) = (chrome, chromedriver) else {
        panic!(
            "chromium and chromedriver are needed for the browser test: run \
             `bash scripts/browser.sh` (Debian packages `chromium`, `chromium-driver`), set \
             CHROME_BIN and CHROMEDRIVER, or skip the test on purpose with SKIP_BROWSER=1"
        );
    };
    let _one_browser = ONE_BROWSER.lock().await;

    let base = start().await;

    let artifacts = artifacts_dir();
    let driver = ChromeDriver::start(
        &chromedriver,
        &artifacts.join(format!("chromedriver-{test}.log")),
    );
    let profile = Profile::new();
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chrome,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1100,800",
                // A name that is not localhost, for the loopback server: see
                // `secure_cookies_over_plain_http_are_kept_for_localhost_and_127_0_0_1`.
                format!("--host-resolver-rules=MAP {NOT_LOCALHOST} 127.0.0.1"),
                format!("--user-data-dir={}", profile.0.display()),
            ],
        },
    });
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .unwrap_or_else(|err| panic!("cannot start a Chromium session: {err}"));

    // Run the steps in their own task so that a failed assertion still closes the browser.
    let steps = tokio::spawn(tokio::time::timeout(
        Duration::from_secs(120),
        steps(client.clone(), base, artifacts),
    ));
    let outcome = steps.await;
    let _ = client.close().await;
    drop(driver);
    drop(profile);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the browser steps took over 120 s"),
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => panic!("the browser steps did not finish: {err}"),
    }
}

#[tokio::test]
async fn a_browser_shops_signs_in_and_out() {
    in_browser("shops", |client, base, artifacts| async move {
        drive(client, base, artifacts.clone()).await;
        eprintln!(
            "shop_browser: screenshots in {} (shop-cart.png and more)",
            artifacts.display()
        );
    })
    .await;
}

/// The devices page on the axum shop, its sessions in memory.
#[tokio::test]
async fn a_browser_signs_the_other_device_out_on_the_axum_shop() {
    let start = || serve_axum(shop::app(memory_factory()));
    in_browser_on(
        "devices-axum",
        start,
        |client, base, artifacts| async move {
            sign_the_other_device_out(client, base, artifacts.join("shop-devices.png")).await;
        },
    )
    .await;
}

/// The devices page on the actix-web shop, its sessions in memory.
#[tokio::test]
async fn a_browser_signs_the_other_device_out_on_the_actix_shop() {
    let start = || async { serve_actix(memory_factory()) };
    in_browser_on(
        "devices-actix",
        start,
        |client, base, artifacts| async move {
            sign_the_other_device_out(client, base, artifacts.join("shop-devices-actix.png")).await;
        },
    )
    .await;
}

fn memory_factory() -> typed_sessions::ServerSessionFactory<MemoryStore> {
    shop::server_factory(SECRET, MemoryStore::new()).unwrap()
}

/// The `User-Agent` of the HTTP client that plays the user's other device.
const OTHER_DEVICE: &str = "shop_browser, the other device";

/// An HTTP client (the other device) and the browser sign in as one user; the browser's
/// devices page lists both, itself marked; its button signs the other out. Saves a
/// screenshot of the page with both sessions to `screenshot`.
async fn sign_the_other_device_out(client: Client, base: String, screenshot: PathBuf) {
    let user = "grace";
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(OTHER_DEVICE)
        .build()
        .unwrap();
    let login = other.get(format!("{base}/login")).send().await.unwrap();
    let token = typed_sessions_tests::shop_pages::csrf_token(&login.text().await.unwrap());
    let signed_in = other
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", user),
            ("password", shop::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), reqwest::StatusCode::SEE_OTHER);
    let devices = other.get(format!("{base}/devices")).send().await.unwrap();
    assert_eq!(
        devices.status(),
        reqwest::StatusCode::OK,
        "the other device is signed in"
    );

    client.goto(&format!("{base}/login")).await.unwrap();
    sign_in(&client, user).await;
    assert_eq!(path(&client).await, "/");
    client.goto(&format!("{base}/devices")).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "Your devices · Tea Shop");
    let rows = device_rows(&client).await;
    assert_eq!(rows.len(), 2, "both sessions listed: {rows:?}");
    let browser_agent = client
        .execute("return navigator.userAgent", vec![])
        .await
        .unwrap();
    let browser_agent = browser_agent.as_str().unwrap();
    let marked: Vec<&String> = rows
        .iter()
        .filter(|row| row.contains("this device"))
        .collect();
    assert_eq!(marked.len(), 1, "one session marked: {rows:?}");
    assert!(
        marked[0].contains(browser_agent),
        "the browser's own: {rows:?}"
    );
    let unmarked = rows
        .iter()
        .find(|row| !row.contains("this device"))
        .unwrap();
    assert!(unmarked.contains(OTHER_DEVICE), "{rows:?}");
    for row in &rows {
        assert!(row.contains("127.0.0.1"), "the peer's address: {row}");
    }
    save_screenshot(&client, &screenshot).await;

    click(&client, "#sign-out-others").await;
    assert_eq!(path(&client).await, "/devices");
    assert_eq!(flashes(&client).await, ["Signed out 1 other session(s)."]);
    let rows = device_rows(&client).await;
    assert_eq!(rows.len(), 1, "one session left: {rows:?}");
    assert!(rows[0].contains("this device"), "{rows:?}");

    // The other device's next request is signed out.
    let devices = other.get(format!("{base}/devices")).send().await.unwrap();
    assert_eq!(devices.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(
        devices.headers().get(reqwest::header::LOCATION).unwrap(),
        "/login"
    );
    let home = other.get(format!("{base}/")).send().await.unwrap();
    let home = home.text().await.unwrap();
    assert!(!home.contains("Signed in as"), "{home}");
    // The browser stays signed in.
    assert_eq!(
        text_of(&client, "#user").await,
        format!("Signed in as {user}")
    );
}

/// The texts of the devices page's rows (`tr.device`).
async fn device_rows(client: &Client) -> Vec<String> {
    text_of(client, "#devices").await;
    let mut rows = Vec::new();
    for row in client.find_all(Locator::Css("tr.device")).await.unwrap() {
        rows.push(row.text().await.unwrap());
    }
    rows
}

/// A host name Chromium resolves to the loopback server but does not treat as local.
const NOT_LOCALHOST: &str = "shop.test";

/// Where Chromium keeps the shop's `Secure` cookie over plain HTTP: at `localhost` and
/// `127.0.0.1` (both potentially trustworthy origins), not at another name for the same
/// loopback address.
#[tokio::test]
async fn secure_cookies_over_plain_http_are_kept_for_localhost_and_127_0_0_1() {
    in_browser("hosts", |client, base, _| async move {
        let port = base.rsplit(':').next().unwrap().to_owned();
        for (host, kept) in [
            ("localhost", true),
            ("127.0.0.1", true),
            (NOT_LOCALHOST, false),
        ] {
            client
                .goto(&format!("http://{host}:{port}/"))
                .await
                .unwrap();
            // The shop answered (not an error page), and set its cookie.
            assert_eq!(text_of(&client, "#cart-count").await, "0", "{host}");
            let cookie = client.get_named_cookie("session").await.ok();
            assert_eq!(cookie.is_some(), kept, "http://{host}:{port}/");
            if let Some(cookie) = cookie {
                assert_eq!(cookie.secure(), Some(true), "{host}");
            }
            eprintln!(
                "shop_browser: Chromium {} the Secure cookie at http://{host}:{port}/",
                if kept { "keeps" } else { "drops" }
            );
        }
    })
    .await;
}

/// User names that are markup. The first is short; the second is at the shop's
/// 40-character cap and ends in an entity, which must show as written.
const HOSTILE_NAMES: [&str; 2] = [
    r#"<img src=x onerror="window.__pwned=1">"#,
    r#""><script>window.__pwned=1</script>&amp;"#,
];

#[tokio::test]
async fn a_hostile_user_name_shows_as_text_and_runs_nothing() {
    assert_eq!(HOSTILE_NAMES[1].chars().count(), 40, "at the cap");
    in_browser("hostile", |client, base, _| async move {
        for name in HOSTILE_NAMES {
            hostile_name(&client, &base, name).await;
        }
    })
    .await;
}

/// Signs in as `name`, then checks on every page that the header shows it as text and that
/// no script ran; signs out.
async fn hostile_name(client: &Client, base: &str, name: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    click(client, "#login-link").await;
    sign_in(client, name).await;
    assert_eq!(path(client).await, "/", "{name} was refused");
    assert_no_script_ran(client).await;
    assert_eq!(flashes(client).await, [format!("Welcome, {name}!")]);

    for page in ["/", "/cart", "/login", "/session"] {
        if page != "/" {
            client.goto(&format!("{base}{page}")).await.unwrap();
            assert_no_script_ran(client).await;
        }
        assert_eq!(text_of(client, "#user b").await, name, "on {page}");
        assert_eq!(
            text_of(client, "#user").await,
            format!("Signed in as {name}"),
            "on {page}"
        );
    }
    // Still on /session: the state's JSON holds the name as a JSON string.
    let state = text_of(client, "#state").await;
    let as_json = serde_json::to_string(name).unwrap();
    assert!(state.contains(&format!(r#""user": {as_json}"#)), "{state}");

    click(client, "#logout").await;
    assert_no_script_ran(client).await;
    assert_eq!(flashes(client).await, ["You are signed out."]);
}

/// Fills in the sign-in form (the current page) as `name` and submits it.
async fn sign_in(client: &Client, name: &str) {
    client
        .find(Locator::Css("#username"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(shop::DEMO_PASSWORD)
        .await
        .unwrap();
    click(client, "#login").await;
}

/// Checks that no script of a hostile name ran on the current page: `window.__pwned` is
/// still undefined once the page has loaded. An `<img onerror>` handler runs before the
/// document is complete (a broken image delays the load event), so waiting for that makes
/// the check see it.
async fn assert_no_script_ran(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = client
            .execute("return document.readyState", vec![])
            .await
            .unwrap();
        if state == "complete" {
            break;
        }
        assert!(Instant::now() < deadline, "the page did not finish loading");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let pwned = client
        .execute("return typeof window.__pwned", vec![])
        .await
        .unwrap();
    assert_eq!(
        pwned,
        "undefined",
        "a script from the user name ran on {}",
        path(client).await
    );
}

/// Texts of the flash messages on the current page.
async fn flashes(client: &Client) -> Vec<String> {
    let mut texts = Vec::new();
    for element in client.find_all(Locator::Css(".flash")).await.unwrap() {
        texts.push(element.text().await.unwrap());
    }
    texts
}

async fn text_of(client: &Client, css: &str) -> String {
    let found = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await;
    match found {
        Ok(element) => element.text().await.unwrap(),
        Err(err) => panic!("no `{css}` on {}: {err}", path(client).await),
    }
}

/// Clicks the link or submit button `css` and waits until the browser has left the page.
async fn click(client: &Client, css: &str) {
    let page = client.find(Locator::Css("html")).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no `{css}` to click: {err}"))
        .click()
        .await
        .unwrap();
    // The old page's root goes stale once the next page replaces it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while page.tag_name().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "clicking `{css}` did not leave the page"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_owned()
}

async fn save_screenshot(client: &Client, file: &Path) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    std::fs::write(file, png).unwrap();
}

async fn drive(client: Client, base: String, artifacts: PathBuf) {
    client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "Products · Tea Shop");
    assert_eq!(text_of(&client, "#cart-count").await, "0");
    assert!(flashes(&client).await.is_empty());

    // Add to cart: the form posts, the shop redirects, the flash shows once.
    click(&client, "#add-sencha").await;
    assert_eq!(path(&client).await, "/");
    assert_eq!(
        flashes(&client).await,
        ["Added Sencha green tea to your cart."]
    );
    assert_eq!(text_of(&client, "#cart-count").await, "1");
    save_screenshot(&client, &artifacts.join("shop-products.png")).await;
    client.refresh().await.unwrap();
    assert!(
        flashes(&client).await.is_empty(),
        "the flash is gone on reload"
    );
    assert_eq!(text_of(&client, "#cart-count").await, "1");

    // Sign in.
    click(&client, "#login-link").await;
    assert_eq!(path(&client).await, "/login");
    sign_in(&client, "ada").await;
    assert_eq!(path(&client).await, "/");
    assert_eq!(flashes(&client).await, ["Welcome, ada!"]);
    assert_eq!(text_of(&client, "#user").await, "Signed in as ada");

    // The cart survives signing in; add more and look at it.
    click(&client, "#add-teapot").await;
    click(&client, "#add-teapot").await;
    click(&client, "#add-mug").await;
    assert_eq!(text_of(&client, "#cart-count").await, "4");
    click(&client, "#cart-link").await;
    assert_eq!(path(&client).await, "/cart");
    assert_eq!(
        client
            .find_all(Locator::Css("tr.line"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(text_of(&client, "#total").await, "$98.50");
    save_screenshot(&client, &artifacts.join("shop-cart.png")).await;

    click(&client, "#remove-sencha").await;
    assert_eq!(path(&client).await, "/cart");
    assert_eq!(
        flashes(&client).await,
        ["Removed Sencha green tea from your cart."]
    );
    assert_eq!(text_of(&client, "#cart-count").await, "3");

    // The session page shows what the cookie holds.
    click(&client, "a[href='/session']").await;
    let state = text_of(&client, "#state").await;
    assert!(state.contains(r#""user": "ada""#), "{state}");
    assert!(state.contains(r#""product": "teapot""#), "{state}");
    save_screenshot(&client, &artifacts.join("shop-session.png")).await;

    // The browser holds the session in a Secure, HttpOnly, SameSite=Lax cookie, and sent
    // it back at `localhost` over plain HTTP: the cart above is in it.
    let cookie = client.get_named_cookie("session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
    assert!(base.starts_with("http://localhost:"), "{base}");

    // Sign out: the session is invalidated.
    click(&client, "#logout").await;
    assert_eq!(path(&client).await, "/");
    assert_eq!(flashes(&client).await, ["You are signed out."]);
    assert_eq!(text_of(&client, "#cart-count").await, "0");
    assert!(
        client
            .find_all(Locator::Css("#user"))
            .await
            .unwrap()
            .is_empty()
    );
    text_of(&client, "#login-link").await;
    client.refresh().await.unwrap();
    assert!(flashes(&client).await.is_empty());
}
