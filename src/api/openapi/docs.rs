//! The readable references, `/docs` (merchant API) and `/ops/docs` (ops API). The reader, Scalar's
//! API reference, is built into the binary (`assets/scalar`) and served from here, because custody
//! deployments usually run on networks without internet access: the page loads nothing from outside.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::AppState;

/// `@scalar/api-reference` 1.76.0, `dist/browser/standalone.js` (see `assets/scalar/README.md`).
const SCALAR_JS: &str = include_str!("../../../assets/scalar/standalone.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/docs", get(merchant_docs))
        .route("/ops/docs", get(ops_docs))
        .route("/docs/scalar.js", get(scalar_js))
}

async fn merchant_docs() -> Html<String> {
    // Relative URLs, so that the page also works behind a reverse proxy that adds a path prefix.
    page(
        "custody-gateway merchant API",
        "openapi.json",
        "docs/scalar.js",
    )
}

async fn ops_docs() -> Html<String> {
    page(
        "custody-gateway ops API",
        "openapi.json",
        "../docs/scalar.js",
    )
}

async fn scalar_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        SCALAR_JS,
    )
}

/// The page: the reader, pointed at the description. No web fonts, telemetry, AI agent or developer
/// tools, which are requests to the internet or hosted services.
fn page(title: &str, spec_url: &str, script_url: &str) -> Html<String> {
    Html(format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<div id="app"></div>
<script src="{script_url}"></script>
<script>
Scalar.createApiReference("#app", {{
  url: "{spec_url}",
  withDefaultFonts: false,
  telemetry: false,
  agent: {{ disabled: true }},
  showDeveloperTools: "never",
}});
</script>
</body>
</html>
"##
    ))
}
