//! The web console: plain files (HTML, ES modules, CSS, SVG) from `console/`, embedded in
//! the binary, served at `/` and `/console/...`. There is no build step: what is in
//! `console/` is what the browser runs. The console calls `/v1` like any other client,
//! with the bearer token it gets from `/v1/auth/token` when authentication is on.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../console/", $path)),
        }
    };
}

/// Every file of `console/` (a test checks none is missing).
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/ui.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/streams.js", JS),
    asset!("js/stream.js", JS),
    asset!("js/actions.js", JS),
    asset!("js/records.js", JS),
    asset!("js/nodes.js", JS),
    asset!("js/security.js", JS),
    asset!("js/config.js", JS),
];

/// Only this origin's files and API: no inline script, no third-party fetch.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes: `/` (the page), `/console/{path}` (its files) and `/favicon.ico`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                serve(&path, &headers)
            }),
        )
        .route(
            "/favicon.ico",
            get(|headers: HeaderMap| async move { serve("favicon.svg", &headers) }),
        )
}

/// A strong validator per file: FNV-1a of its bytes (the files change only with the binary).
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let hash = a.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
                });
                format!("\"{hash:016x}\"")
            })
            .collect()
    })
}

/// With `WEIR_CONSOLE_DIR` set (to `services/weir-control-plane/console`), the embedded
/// files are read from there instead, so console changes show on reload without a
/// rebuild. Only the embedded files' paths are read.
fn from_disk(path: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("WEIR_CONSOLE_DIR")?;
    std::fs::read(std::path::Path::new(&dir).join(path)).ok()
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("No console file {path}."),
        )
            .into_response();
    };
    let asset = &ASSETS[index];
    if let Some(body) = from_disk(asset.path) {
        // Development: the files as they are on disk now, never cached.
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_SECURITY_POLICY, CSP),
            ],
            body,
        )
            .into_response();
    }
    let etag = &etags()[index];
    let common = [
        // Revalidate every time (cheap with the ETag): a new binary serves new files at
        // the same paths.
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            common,
            [(header::ETAG, etag_value)],
        )
            .into_response();
    }
    (
        StatusCode::OK,
        common,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, etag_value),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("console folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files(&path, base, out);
            } else {
                let relative = path.strip_prefix(base).expect("inside");
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_console_file_is_embedded_and_nothing_else() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        files(&base, &base, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn modules_import_only_embedded_files() {
        // A relative import of a file that is not embedded would 404 in the browser.
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(asset.body).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['"', '\'']).nth(1) else {
                    continue;
                };
                let target = spec.trim_start_matches("./");
                let target = format!("js/{target}");
                assert!(
                    ASSETS.iter().any(|a| a.path == target),
                    "{} imports {spec}, which is not embedded",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn nothing_is_fetched_from_another_origin() {
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            for needle in ["http://", "https://", "//fonts.", "@import url("] {
                let allowed = |at: usize| text[at..].starts_with("http://www.w3.org/2000/svg");
                let found = text.match_indices(needle).any(|(at, _)| !allowed(at));
                assert!(!found, "{} mentions {needle}", asset.path);
            }
        }
    }
}
