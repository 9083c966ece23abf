//! A real browser for the pages people open: headless Chromium driven through chromedriver
//! (WebDriver), Debian's `chromium` and `chromium-driver`, which `.ci/run` installs. Without
//! them a browser test says so and passes, unless `LVYUE_TEST_BROWSER` is set (CI sets it):
//! then it fails.
//!
//! The browser can resolve no host but 127.0.0.1, as on an intranet with no internet: a page
//! that needs anything from outside the server shows it.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

/// How long chromedriver may take to answer after it starts.
const DRIVER_START: Duration = Duration::from_secs(20);

pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    /// A new headless browser, or `None` (with the reason printed) when Chromium is not
    /// installed and `LVYUE_TEST_BROWSER` is unset.
    ///
    /// # Panics
    /// When the browser is required but cannot be started.
    pub async fn start() -> Option<Browser> {
        let required = std::env::var_os("LVYUE_TEST_BROWSER").is_some();
        let driver = match tool("chromedriver") {
            Some(d) => d,
            None if required => panic!("LVYUE_TEST_BROWSER is set but chromedriver is missing"),
            None => {
                eprintln!(
                    "skipped: chromedriver is not installed (apt-get install chromium-driver)"
                );
                return None;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1280,900",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--lang=zh-CN",
        ];
        let mut options = json!({ "args": args });
        if let Some(binary) = tool("chromium") {
            options["binary"] = json!(binary);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() > DRIVER_START => {
                    panic!("chromedriver did not start a browser: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Browser {
            client,
            _driver: child,
        })
    }

    /// Saves what the browser shows as `<target>/screenshots/<name>.png`, for review.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Waits until `script` (the body of a function) returns true in the page.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let started = std::time::Instant::now();
        loop {
            let ok = self
                .client
                .execute(script, vec![])
                .await
                .expect("script runs");
            if ok == json!(true) {
                return;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let page = self
                    .client
                    .execute("return document.body.innerText", vec![])
                    .await
                    .unwrap_or_default();
                panic!("timed out waiting for {what}; the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every resource the page loaded (scripts, styles, calls), by URL.
    pub async fn loaded_urls(&self) -> Vec<String> {
        let urls = self
            .client
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                vec![],
            )
            .await
            .expect("resource timings");
        urls.as_array()
            .expect("a list")
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A program on the PATH (or in /usr/bin).
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The build's target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}
