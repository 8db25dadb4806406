//! A JSON extractor whose rejections are our problem details, naming the field at fault.
//!
//! It is also the one place where control characters in bodies are refused: no route can forget
//! it, and a NUL never reaches PostgreSQL (which cannot store it and would answer 500).

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::validate::is_refused_char;

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

/// Parses a JSON body; syntax errors are 400, wrong fields or types and control characters in
/// any string are 422 with the field path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| {
                ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
            })?;
            if has_refused_char(bytes) {
                let field = serde_json::from_slice(bytes)
                    .ok()
                    .and_then(|v| path_to_refused_char(&v, String::new()));
                let error = ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "control_character",
                    "strings must not contain control characters",
                );
                return Err(match field {
                    Some(field) => error.with_field(field),
                    None => error,
                });
            }
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

/// Whether valid JSON text holds a refused character, raw or escaped. Backslashes occur only
/// inside strings in valid JSON, so every `\\` starts an escape; raw control characters other
/// than DEL and C1 are already JSON syntax errors.
fn has_refused_char(bytes: &[u8]) -> bool {
    if String::from_utf8_lossy(bytes).chars().any(is_refused_char) {
        return true;
    }
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|b| *b == b'\\') {
        let escape = &rest[at + 1..];
        let refused = match escape.first() {
            Some(b'b' | b'f') => true,
            Some(b'u') => escape
                .get(1..5)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32)
                .is_some_and(is_refused_char),
            _ => false,
        };
        if refused {
            return true;
        }
        rest = escape.get(1..).unwrap_or_default();
    }
    false
}

/// The path (`scopes[2]`, `a.b`) of the first string, or object key, with a refused character.
fn path_to_refused_char(value: &serde_json::Value, path: String) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) => s.chars().any(is_refused_char).then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| path_to_refused_char(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.chars().any(is_refused_char) {
                Some(join(k))
            } else {
                path_to_refused_char(v, join(k))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_raw_or_escaped_but_not_in_escaped_backslashes() {
        assert!(has_refused_char(br#"{"a":"x\u0000"}"#));
        assert!(has_refused_char(br#"{"a":"\u001b[31m"}"#));
        assert!(has_refused_char(br#"{"a":"\b"}"#));
        assert!(has_refused_char("{\"a\":\"\u{85}\"}".as_bytes()));
        assert!(has_refused_char(b"{\"a\":\"\x7f\"}"));
        assert!(!has_refused_char(br#"{"a":"\\u0000 is text"}"#));
        assert!(!has_refused_char(br#"{"a":"line\nbreak\ttab"}"#));
        assert!(!has_refused_char(
            "{\"a\":\"caf\u{e9} \u{1F600}\"}".as_bytes()
        ));
    }

    #[test]
    fn a_control_character_is_refused_with_the_path_of_its_field() {
        let error =
            parse::<serde_json::Value>(br#"{"name":"ok","scopes":["a","b\u0000"]}"#).unwrap_err();
        assert_eq!(error.code(), "control_character");
        assert_eq!(error.status(), 422);
        let value: serde_json::Value =
            serde_json::from_slice(br#"{"x":{"y":["\u0001"]}}"#).unwrap();
        assert_eq!(
            path_to_refused_char(&value, String::new()).as_deref(),
            Some("x.y[0]")
        );
    }
}
