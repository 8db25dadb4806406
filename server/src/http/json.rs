//! A JSON extractor whose rejections are our problem details, naming the field at fault.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a bad body is a problem+json answer with `code` and `field`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or_default().trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            })?;
        parse(&bytes).map(Json)
    }
}

/// Parses a JSON body; syntax errors are 400, wrong fields or types are 422 with the field path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| {
                ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
            })?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::bad_request(
                    "invalid_json",
                    format!("the body is not valid JSON: {inner}"),
                ));
            }
            let message = inner.to_string();
            // Unknown fields carry their name in the message, not in the path.
            let field = if path == "." {
                message
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split('`').next())
                    .map(str::to_owned)
                    .or_else(|| {
                        message
                            .strip_prefix("missing field `")
                            .and_then(|rest| rest.split('`').next())
                            .map(str::to_owned)
                    })
            } else {
                Some(path)
            };
            let error = ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                message,
            );
            Err(match field {
                Some(field) => error.with_field(field),
                None => error,
            })
        }
    }
}
