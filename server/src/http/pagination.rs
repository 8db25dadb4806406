//! `?limit=&cursor=` of every list endpoint, and the page it answers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// `?limit=&cursor=` of every list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(?:(?:[A-Za-z0-9_-]{4}){0,100}|(?:[A-Za-z0-9_-]{4}){0,99}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]))$"
    )]
    pub cursor: Option<String>,
}

pub const MAX_PAGE: i64 = 200;

/// The longest cursor accepted; issued cursors are under 100 characters.
pub const MAX_CURSOR: usize = 400;

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(
                "limit",
                "invalid_limit",
                "limit must be between 1 and 200",
            )),
        }
    }

    /// The position after which the page starts ("" for the first page).
    pub fn after(&self) -> Result<String, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(String::new());
        };
        // Exactly what `CURSOR_PATTERN` in the document allows: canonical unpadded base64url of at
        // most 400 characters. Any such cursor is a position (bytes that are not UTF-8 become
        // one that sorts somewhere), so a client that follows the document is never refused.
        (cursor.len() <= MAX_CURSOR)
            .then(|| URL_SAFE_NO_PAD.decode(cursor).ok())
            .flatten()
            // PostgreSQL text holds no NUL; U+FFFD sorts where the NUL's neighbours put it.
            .map(|b| String::from_utf8_lossy(&b).replace('\0', "\u{FFFD}"))
            .ok_or_else(|| {
                ApiError::invalid(
                    "cursor",
                    "invalid_cursor",
                    "cursor is not one this API issued",
                )
            })
    }
}

pub use statuspulse_api::v1::Page;

/// Builds a page from `limit + 1` fetched rows (the extra row only says that more exist),
/// converting each row kept with `view`.
pub fn page_of<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    position: impl Fn(&R) -> String,
    view: impl FnMut(R) -> T,
) -> Page<T> {
    // A row count beyond `i64` is more than any limit; a negative limit keeps every row.
    let more = i64::try_from(rows.len()).map_or(true, |n| n > limit);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|last| URL_SAFE_NO_PAD.encode(position(last)))
        })
        .flatten();
    Page {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}
