//! The console's script and stylesheet, compiled into the binary and served under names that
//! carry their hash, so they can be cached for a year and a new build is a new URL.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");
const ICON: &str = include_str!("assets/favicon.svg");

/// One compiled-in file and the name it is served under.
pub struct Asset {
    pub path: String,
    etag: String,
    body: &'static str,
    content_type: &'static str,
}

fn hashed(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let hash = hex::encode(&Sha256::digest(body.as_bytes())[..8]);
    Asset {
        path: format!("/console/assets/{stem}-{hash}.{ext}"),
        etag: format!("\"{hash}\""),
        body,
        content_type,
    }
}

/// The script's URL and body.
pub fn script() -> &'static Asset {
    static ASSET: OnceLock<Asset> = OnceLock::new();
    ASSET.get_or_init(|| hashed("console", "js", SCRIPT, "text/javascript; charset=utf-8"))
}

/// The stylesheet's URL and body.
pub fn style() -> &'static Asset {
    static ASSET: OnceLock<Asset> = OnceLock::new();
    ASSET.get_or_init(|| hashed("console", "css", STYLE, "text/css; charset=utf-8"))
}

/// The icon's URL and body (the browser asks for one; without it, a 404 in every console).
pub fn icon() -> &'static Asset {
    static ASSET: OnceLock<Asset> = OnceLock::new();
    ASSET.get_or_init(|| hashed("favicon", "svg", ICON, "image/svg+xml"))
}

/// `GET /console/assets/{name}`: only the current hashed names exist.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = [script(), style(), icon()]
        .into_iter()
        .find(|a| a.path.rsplit('/').next() == Some(name.as_str()))
    else {
        return super::pages::not_found();
    };
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes());
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        out.insert(header::ETAG, etag);
    }
    super::pages::secure_headers(out);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_carry_their_content_hash() {
        let js = script();
        assert!(js.path.starts_with("/console/assets/console-"));
        assert!(js.path.ends_with(".js"));
        assert!(js.path.contains(js.etag.trim_matches('"')));
        assert_ne!(script().path, style().path);
    }
}
