//! `GET /` and `/dashboard/*`: the page and its static files, embedded in the binary.
//!
//! The files live in `crates/sluice-gateway/dashboard/` as plain ES modules and CSS (no build
//! step, no CDN: the page works offline). They hold no data, so they need no key; every byte
//! the page shows comes from `/v1/dashboard/*` (`super::api`) and `/v1/*`. A strict
//! content-security-policy allows scripts, styles and connections to this origin only, and no
//! inline script or style at all.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// What the page may load and where it may connect: its own origin, nothing inline, no frames,
/// no form posted anywhere (the forms are handled by script; the key never becomes a URL).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
    require-trusted-types-for 'script'";

/// One embedded file: its path under `/dashboard/`, its bytes and a validator for `ETag`.
struct Asset {
    path: &'static str,
    body: &'static [u8],
    etag: u64,
}

/// An [`Asset`] read from `crates/sluice-gateway/dashboard/` at compile time.
macro_rules! asset {
    ($path:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../dashboard/", $path));
        Asset {
            path: $path,
            body: BODY,
            etag: fnv1a(BODY),
        }
    }};
}

/// Every file of the page. A file missing here is a 404 in the browser; the tests below check
/// that everything `index.html` and the modules refer to is listed.
static ASSETS: &[Asset] = &[
    asset!("index.html"),
    asset!("app.css"),
    asset!("icon.svg"),
    asset!("js/main.js"),
    asset!("js/api.js"),
    asset!("js/dom.js"),
    asset!("js/format.js"),
    asset!("js/sse.js"),
    asset!("js/live.js"),
    asset!("js/table.js"),
    asset!("js/charts.js"),
    asset!("js/overview.js"),
    asset!("js/spend.js"),
    asset!("js/requests.js"),
    asset!("js/keys.js"),
    asset!("js/chat.js"),
    asset!("js/playground.js"),
    asset!("vendor/uplot/uPlot.iife.min.js"),
    asset!("vendor/uplot/uPlot.min.css"),
    asset!("vendor/uplot/LICENSE"),
];

/// FNV-1a, 64 bits: enough to tell one build's file from another's for `If-None-Match`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/dashboard/{*path}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    respond("index.html", &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    respond(&path, &headers)
}

/// The file at `path` (relative to `/dashboard/`), a 304 when the client's copy is current, or a
/// 404 in the API's error shape.
fn respond(path: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return ApiError::not_found().into_response();
    };
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Not fingerprinted, so a browser must ask each time; the ETag makes asking cheap.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    res
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the page's files are served from (`/dashboard/<path>`).
    const PREFIX: &str = "/dashboard/";

    fn text(path: &str) -> &'static str {
        let asset = ASSETS.iter().find(|a| a.path == path).expect(path);
        std::str::from_utf8(asset.body).expect("utf-8")
    }

    /// The quoted targets of `marker` in `src`, e.g. every `src="..."`.
    fn targets<'a>(src: &'a str, marker: &str) -> Vec<&'a str> {
        src.match_indices(marker)
            .filter_map(|(at, m)| {
                let rest = &src[at + m.len()..];
                let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
                let end = rest[1..].find(quote)?;
                Some(&rest[1..=end])
            })
            .collect()
    }

    #[test]
    fn everything_the_page_refers_to_is_embedded() {
        let html = text("index.html");
        let mut wanted: Vec<String> = Vec::new();
        for marker in ["src=", "href="] {
            for target in targets(html, marker) {
                if let Some(path) = target.strip_prefix(PREFIX) {
                    wanted.push(path.to_owned());
                }
            }
        }
        assert!(wanted.iter().any(|p| p == "js/main.js"), "{wanted:?}");
        for asset in ASSETS.iter().filter(|a| a.path.starts_with("js/")) {
            for target in targets(text(asset.path), "from ") {
                let name = target.strip_prefix("./").expect("relative import");
                wanted.push(format!("js/{name}"));
            }
        }
        for path in &wanted {
            assert!(
                ASSETS.iter().any(|a| a.path == path.as_str()),
                "{path} is not embedded"
            );
        }
        // And nothing embedded is unreachable.
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            assert!(
                wanted.iter().any(|p| p == asset.path),
                "{} unused",
                asset.path
            );
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let html = text("index.html");
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').expect("tag end")];
            assert!(tag.contains(" src="), "inline script: {tag}");
        }
        assert!(!html.contains("<style"), "inline <style>");
        assert!(!html.contains(" style="), "inline style attribute");
        let handler = html.match_indices(" on").any(|(at, _)| {
            let name: String = html[at + 3..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
    }

    #[test]
    fn files_carry_their_type_policy_and_validator() {
        let res = respond("index.html", &HeaderMap::new());
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let js = respond("js/main.js", &HeaderMap::new());
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let css = respond("app.css", &HeaderMap::new());
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }

    #[test]
    fn a_current_copy_gets_304_and_a_stale_one_the_file() {
        let first = respond("app.css", &HeaderMap::new());
        let etag = first.headers()[header::ETAG].clone();
        let mut ask = HeaderMap::new();
        ask.insert(header::IF_NONE_MATCH, etag.clone());
        let again = respond("app.css", &ask);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
        ask.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"0\""));
        assert_eq!(respond("app.css", &ask).status(), StatusCode::OK);
    }

    #[test]
    fn unknown_and_hostile_paths_are_404() {
        for path in ["nope.js", "../Cargo.toml", "js/../../src/lib.rs", "", "js/"] {
            assert_eq!(
                respond(path, &HeaderMap::new()).status(),
                StatusCode::NOT_FOUND
            );
        }
    }
}
