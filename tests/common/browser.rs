//! A real browser for the portal tests: Debian's `chromium`, headless,
//! driven over W3C WebDriver by a `chromedriver` this harness starts on a
//! free loopback port (and kills on drop). `tests/run.sh` installs both
//! packages; a missing one fails the test with a message saying so.
//!
//! On a failed test the page is saved as a screenshot under the host's
//! directory ([`Browser::screenshot_on_panic`]).

use base64::Engine;
use hookmesh_test_support::local::{find_on_path, free_port};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key WebDriver names elements by.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page lasts.
pub const PAGE_WAIT: Duration = Duration::from_secs(20);

/// One browser at a time: the tests run in parallel on small machines,
/// and a browser is the heaviest thing they start.
static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A chromedriver process and one browser session.
pub struct Browser {
    _turn: tokio::sync::SemaphorePermit<'static>,
    driver: Child,
    base: String,
    http: reqwest::Client,
    /// Where a failing test's screenshot goes.
    shots: PathBuf,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// The first of `names` found on `PATH`.
fn find_binary(names: &[&str]) -> PathBuf {
    names
        .iter()
        .find_map(|name| find_on_path(name))
        .unwrap_or_else(|| panic!("none of {names:?} is on PATH: install Debian's chromium and chromium-driver (tests/run.sh does)"))
}

impl Browser {
    /// Starts chromedriver and a headless chromium `width` pixels wide;
    /// screenshots of failures go to `shots`.
    pub async fn start(width: u32, shots: &Path) -> Self {
        let turn = ONE_AT_A_TIME
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let driver_bin = find_binary(&["chromedriver"]);
        let chromium = find_binary(&["chromium", "chromium-browser"]);
        let port = free_port();
        // Its own process group, so the browser it starts dies with it.
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser = Self {
            _turn: turn,
            driver,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            shots: shots.to_path_buf(),
        };
        browser.wait_for_driver().await;
        // A window is at least 500 px wide: narrower ones are emulated.
        let mut options = json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", format!("--window-size={},900", width.max(500))],
        });
        if width < 500 {
            options["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": width, "height": 800, "pixelRatio": 1.0 } });
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let session = browser.call("POST", "/session", Some(caps)).await;
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"));
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    async fn wait_for_driver(&self) {
        let deadline = Instant::now() + PAGE_WAIT;
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(format!("{}/status", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {}", self.base);
    }

    /// One WebDriver command; its `value`.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request
            .send()
            .await
            .map_err(|e| json!({ "message": format!("chromedriver did not answer: {e}") }))?;
        let ok = response.status().is_success();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        match ok {
            true => Ok(value),
            false => Err(value),
        }
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    /// The first element matching `css` now, if any.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let found = self
            .try_call(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .ok()?;
        found[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_string()))
    }

    /// Every element matching `css` now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .call(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for an element matching `css`.
    pub async fn wait(&self, css: &str) -> Element {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            if let Some(found) = self.find(css).await {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no `{css}` on the page after {PAGE_WAIT:?}; the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of the element matching `css` contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            if let Some(found) = self.find(css).await {
                let text = self.text(&found).await;
                if text.contains(needle) {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never said `{needle}`; the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Clicks the element matching `css` (waiting for it, and trying
    /// again while the page replaces it).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let element = self.wait(css).await;
            if self.click_element(&element).await {
                return;
            }
            assert!(Instant::now() < deadline, "`{css}` could not be clicked");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks an element; false when it is gone from the page (stale).
    pub async fn click_element(&self, element: &Element) -> bool {
        self.try_call("POST", &format!("/element/{}/click", element.0), None)
            .await
            .is_ok()
    }

    /// The button whose text is `label`.
    pub async fn button(&self, label: &str) -> Option<Element> {
        for button in self.find_all("button").await {
            if self.text(&button).await.trim() == label {
                return Some(button);
            }
        }
        None
    }

    /// Clicks the button labelled `label` (waiting for it).
    pub async fn click_button(&self, label: &str) {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            if let Some(button) = self.button(label).await {
                if self.click_element(&button).await {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no button `{label}`; the page says: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Replaces the value of the field matching `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait(css).await;
        self.call("POST", &format!("/element/{}/clear", field.0), None)
            .await;
        self.call(
            "POST",
            &format!("/element/{}/value", field.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Chooses `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.wait(css).await;
        self.script(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
             s.dispatchEvent(new Event('change', { bubbles: true }));",
            json!([css, value]),
        )
        .await;
    }

    /// An element's visible text (empty when the page replaced it).
    pub async fn text(&self, element: &Element) -> String {
        self.try_call("GET", &format!("/element/{}/text", element.0), None)
            .await
            .ok()
            .and_then(|text| text.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        match self.find("body").await {
            Some(body) => self.text(&body).await,
            None => String::new(),
        }
    }

    /// Runs `script` in the page with `args`; its result.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The text of an open `alert`/`confirm` dialog, if one is open.
    pub async fn open_dialog(&self) -> Option<String> {
        let text = self.try_call("GET", "/alert/text", None).await.ok()?;
        text.as_str().map(str::to_string)
    }

    /// The browser console's entries at level SEVERE so far.
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .try_call("POST", "/se/log", Some(json!({ "type": "browser" })))
            .await
            .unwrap_or(Value::Null);
        entries
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves the page as `<name>.png` in the screenshot directory.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let shot = self.call("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::create_dir_all(&self.shots).expect("screenshot dir");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Saves the page as `docs/screenshots/<name>.png` when
    /// `HOOKMESH_SCREENSHOTS` names that directory (`docs/screenshots.sh`
    /// sets it to refresh the README's pictures); nothing otherwise.
    pub async fn keep(&self, name: &str) {
        let Some(dir) = std::env::var_os("HOOKMESH_SCREENSHOTS") else {
            return;
        };
        let shot = self.screenshot(name).await;
        let kept = PathBuf::from(dir).join(format!("{name}.png"));
        std::fs::create_dir_all(kept.parent().expect("a directory")).expect("screenshot dir");
        std::fs::copy(&shot, &kept).expect("copy the screenshot");
    }

    /// Runs `steps`; when they panic, saves a screenshot named `name`
    /// first and says where, then panics on.
    pub async fn screenshot_on_panic<F>(&self, name: &str, steps: F)
    where
        F: std::future::Future<Output = ()>,
    {
        use futures_util::FutureExt;
        if let Err(panic) = std::panic::AssertUnwindSafe(steps).catch_unwind().await {
            let path = self.screenshot(name).await;
            eprintln!("screenshot of the failed page: {}", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
