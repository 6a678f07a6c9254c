//! The API references render in a real browser that can reach nothing but this machine, as on the
//! closed networks custody gateways run on: the reader comes from the gateway itself. A control
//! page that loads the reader from a CDN, as `/docs` once did, must stay blank under the same
//! browser flags, which proves that the network really is cut off.
//!
//! Needs Chromium (`apt-get install -y chromium`, or `CHROMIUM=/path/to/chrome`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::response::Html;
use axum::routing::get;
use common::TestApp;
use reqwest::StatusCode;

fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "this test needs Chromium: install it (`apt-get install -y chromium`, as .ci/run does) \
         or point CHROMIUM at a Chrome or Chromium binary"
    );
}

/// The page's text once its scripts have run, in a headless Chromium whose every request to
/// anything but 127.0.0.1 fails: names do not resolve, and whatever is not loopback goes to a
/// proxy that is not there.
fn rendered_text(browser: &Path, url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("cg-chromium-{}", uuid::Uuid::new_v4()));
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    visible_text(&String::from_utf8_lossy(&output.stdout))
}

/// The DOM without scripts and styles (an embedded description would otherwise count as
/// rendered), tags and runs of whitespace.
fn visible_text(dom: &str) -> String {
    let mut text = String::new();
    let mut rest = dom;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        text.push(' ');
        let tag = &rest[start..];
        let skipped = ["script", "style"].into_iter().find_map(|name| {
            tag.strip_prefix('<')?.starts_with(name).then(|| {
                tag.find(&format!("</{name}>"))
                    .map(|end| end + name.len() + 3)
            })?
        });
        let end = skipped.or_else(|| tag.find('>').map(|end| end + 1));
        match end {
            Some(end) => rest = &tag[end..],
            None => {
                rest = "";
            }
        }
    }
    text.push_str(rest);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs the browser off the test's runtime, which keeps serving the gateway meanwhile.
async fn render(url: String) -> String {
    let browser = chromium();
    tokio::task::spawn_blocking(move || rendered_text(&browser, &url))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_merchant_reference_renders_without_internet_access() {
    let app = TestApp::spawn().await;
    let text = render(format!("{}/docs", app.url)).await;
    assert!(text.contains("custody-gateway merchant API"), "{text}");
    assert!(text.contains("/v1/addresses"), "{text}");
    assert!(text.contains("deposit address for the chain"), "{text}");
    for tag in ["withdrawals", "deposits", "webhooks", "assets"] {
        assert!(text.contains(tag), "tag {tag} missing: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ops_reference_renders_without_internet_access() {
    let app = TestApp::spawn().await;
    let text = render(format!("{}/ops/docs", app.url)).await;
    assert!(text.contains("custody-gateway ops API"), "{text}");
    assert!(text.contains("/ops/accounts"), "{text}");
    assert!(
        text.contains("The configured provider accounts, their assets and callback URLs"),
        "{text}"
    );
    for tag in ["orders", "callbacks", "webhooks", "withdrawals"] {
        assert!(text.contains(tag), "tag {tag} missing: {text}");
    }
}

/// The control: the page `/docs` served before, which loads its reader from cdn.jsdelivr.net,
/// shows nothing of the API under the same flags. If it did, the browser reached the internet and
/// the two tests above would prove nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_loaded_from_a_cdn_stays_blank_under_these_flags() {
    let app = TestApp::spawn().await;
    let spec: serde_json::Value = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = utoipa_scalar::Scalar::new(spec).to_html();
    assert!(page.contains("https://cdn.jsdelivr.net/"), "{page}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/docs", get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let text = render(format!("http://{addr}/docs")).await;
    assert!(!text.contains("/v1/addresses"), "{text}");
    assert!(!text.contains("deposit address for the chain"), "{text}");
}

#[tokio::test]
async fn the_reader_is_served_by_the_gateway() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/ops/docs"] {
        let page = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains("scalar.js"), "{path}: {html}");
        assert!(
            !html.contains("https://"),
            "{path} loads from outside: {html}"
        );
    }
    let script = app
        .http
        .get(format!("{}/docs/scalar.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().contains("createApiReference"));
}

/// No source file points at a CDN or a web-font service: what the gateway serves comes from the
/// binary.
#[test]
fn no_source_points_at_a_cdn() {
    let mut offenders = Vec::new();
    scan(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &mut offenders,
    );
    assert!(offenders.is_empty(), "{offenders:?}");
}

fn scan(dir: &Path, offenders: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, offenders);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for needle in ["cdn.", "unpkg.com", "cdnjs.", "fonts.googleapis"] {
            if text.contains(needle) {
                offenders.push(format!("{} mentions {needle}", path.display()));
            }
        }
    }
}
