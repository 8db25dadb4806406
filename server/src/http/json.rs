//! A JSON extractor whose rejections are our problem details, naming the field at fault.
//!
//! It is also the one place where limits that hold for every body are enforced, so no route can
//! forget them: no string holds a control character (PostgreSQL cannot store a NUL and answered
//! 500), no string is longer than [`MAX_STRING_BYTES`], no array longer than [`MAX_ARRAY_ITEMS`].
//! Fields have tighter limits of their own (`validate`); these bound what any of them can cost.

use std::fmt;

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::ApiError;
use statuspulse_api::validate::is_refused_char;

/// Longest string any field may hold, in bytes (the longest field limit is 2,000 characters).
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// Most elements any array may hold (the longest field limit is 100 ids).
pub const MAX_ARRAY_ITEMS: usize = 1000;

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

/// Parses a JSON body; syntax errors are 400; wrong fields or types, and strings or arrays past
/// the limits every body shares, are 422 with the field path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The limits first, on their own pass: a value that breaks them is refused whatever the
    // route's type would have made of it, and the typed pass keeps serde's strictness
    // (duplicate fields, unknown fields) intact.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let scan = serde_path_to_error::deserialize::<_, WithinLimits>(&mut de);
    let integral_floats = match scan {
        Ok(scan) => scan.integral_floats,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if let Some(violation) = Violation::from_message(&inner.to_string()) {
                let error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    violation.code(),
                    violation.detail(),
                );
                return Err(if path == "." {
                    error
                } else {
                    error.with_field(path)
                });
            }
            // Anything else (bad syntax, trailing bytes) is the typed pass's to name.
            false
        }
    };
    // JSON Schema's `integer` is any number without a fractional part, `1531.0` and `1e3`
    // included, so a client following the document may send one; serde would refuse it for an
    // integer field. Such a body is re-encoded with those numbers written as integers, then
    // parsed as any other, so every other rule (duplicate and unknown fields, field order in
    // errors) stays the typed pass's.
    if integral_floats {
        if let Ok(normalized) = serde_json::from_slice::<Normalized>(bytes) {
            if let Ok(rewritten) = serde_json::to_vec(&normalized) {
                return parse_typed(&rewritten);
            }
        }
    }
    parse_typed(bytes)
}

/// The typed pass of [`parse`].
fn parse_typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object. serde would also build a struct from an array of its fields in
    // order (`[null, null]` was an accepted PATCH), which no client means and no schema allows.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "body_not_an_object",
            "the body must be a JSON object",
        ));
    }
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
            let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message);
            Err(match field {
                Some(field) => error.with_field(field),
                None => error,
            })
        }
    }
}

/// A limit every body shares, broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Violation {
    ControlCharacter,
    StringTooLong,
    TooManyItems,
}

impl Violation {
    const ALL: [Violation; 3] = [
        Violation::ControlCharacter,
        Violation::StringTooLong,
        Violation::TooManyItems,
    ];

    fn code(self) -> &'static str {
        match self {
            Violation::ControlCharacter => "control_character",
            Violation::StringTooLong => "string_too_long",
            Violation::TooManyItems => "too_many_items",
        }
    }

    fn detail(self) -> String {
        match self {
            Violation::ControlCharacter => "strings must not contain control characters".into(),
            Violation::StringTooLong => format!("strings are limited to {MAX_STRING_BYTES} bytes"),
            Violation::TooManyItems => format!("arrays are limited to {MAX_ARRAY_ITEMS} items"),
        }
    }

    /// serde carries a visitor's error as its message; the code is the message.
    fn from_message(message: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| message.starts_with(v.code()))
    }

    fn into_error<E: de::Error>(self) -> E {
        E::custom(self.code())
    }
}

/// Any JSON value whose strings and arrays keep the limits, and whether it holds an integral
/// float (`3.0`). Visiting it allocates nothing.
#[derive(Clone, Copy, Default)]
struct WithinLimits {
    integral_floats: bool,
}

impl WithinLimits {
    fn and(self, other: WithinLimits) -> WithinLimits {
        WithinLimits {
            integral_floats: self.integral_floats || other.integral_floats,
        }
    }
}

impl<'de> Deserialize<'de> for WithinLimits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WithinLimits::default())
    }
}

/// The integer a float stands for, if it has no fractional part and fits a `u64` or `i64`
/// (written out in full and read back, so no cast can round).
fn integral(v: f64) -> Option<Integer> {
    if v.fract() != 0.0 || !v.is_finite() {
        return None;
    }
    let digits = format!("{v:.0}");
    digits
        .parse::<u64>()
        .map(Integer::U)
        .or_else(|_| digits.parse::<i64>().map(Integer::I))
        .ok()
}

enum Integer {
    U(u64),
    I(i64),
}

impl<'de> Visitor<'de> for WithinLimits {
    type Value = WithinLimits;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self, E> {
        Ok(WithinLimits {
            integral_floats: integral(v).is_some(),
        })
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self, E> {
        if v.len() > MAX_STRING_BYTES {
            return Err(Violation::StringTooLong.into_error());
        }
        if v.chars().any(is_refused_char) {
            return Err(Violation::ControlCharacter.into_error());
        }
        Ok(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        let mut items = 0;
        let mut scan = self;
        while let Some(item) = seq.next_element::<WithinLimits>()? {
            scan = scan.and(item);
            items += 1;
            if items > MAX_ARRAY_ITEMS {
                return Err(Violation::TooManyItems.into_error());
            }
        }
        Ok(scan)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut entries = 0;
        let mut scan = self;
        while map.next_key::<WithinLimits>()?.is_some() {
            scan = scan.and(map.next_value::<WithinLimits>()?);
            entries += 1;
            if entries > MAX_ARRAY_ITEMS {
                return Err(Violation::TooManyItems.into_error());
            }
        }
        Ok(scan)
    }
}

/// A JSON value kept as written (member order and repeated members included) but for its
/// integral floats, which become integers: what [`parse`] re-encodes a body into.
enum Normalized {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<Normalized>),
    Object(Vec<(String, Normalized)>),
}

impl<'de> Deserialize<'de> for Normalized {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NormalizedVisitor;
        impl<'de> Visitor<'de> for NormalizedVisitor {
            type Value = Normalized;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Normalized, E> {
                Ok(Normalized::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Normalized, E> {
                Ok(Normalized::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Normalized, E> {
                Ok(Normalized::U64(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Normalized, E> {
                Ok(Normalized::I64(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Normalized, E> {
                Ok(match integral(v) {
                    Some(Integer::U(u)) => Normalized::U64(u),
                    Some(Integer::I(i)) => Normalized::I64(i),
                    None => Normalized::F64(v),
                })
            }
            fn visit_str<E>(self, v: &str) -> Result<Normalized, E> {
                Ok(Normalized::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Normalized, E> {
                Ok(Normalized::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Normalized, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Normalized::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Normalized, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(Normalized::Object(members))
            }
        }
        deserializer.deserialize_any(NormalizedVisitor)
    }
}

impl serde::Serialize for Normalized {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Normalized::Null => serializer.serialize_unit(),
            Normalized::Bool(v) => serializer.serialize_bool(*v),
            Normalized::U64(v) => serializer.serialize_u64(*v),
            Normalized::I64(v) => serializer.serialize_i64(*v),
            Normalized::F64(v) => serializer.serialize_f64(*v),
            Normalized::String(v) => serializer.serialize_str(v),
            Normalized::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Normalized::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> Option<(&'static str, Option<String>)> {
        let error = parse::<serde_json::Value>(body.as_bytes()).err()?;
        Some((error.code(), error.field().map(str::to_owned)))
    }

    #[test]
    fn a_body_is_an_object_never_an_array_of_fields() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Update {
            name: Option<String>,
            description: Option<String>,
        }
        for body in [
            "[null, null]",
            r#"["n", "d"]"#,
            "null",
            "1",
            r#""x""#,
            " [] ",
        ] {
            let error = parse::<Update>(body.as_bytes()).unwrap_err();
            assert_eq!(error.code(), "body_not_an_object", "{body}");
        }
        assert!(parse::<Update>(br#" {"name": "n"}"#).is_ok());
        assert_eq!(
            parse::<Update>(br#"{"name":"#).unwrap_err().code(),
            "invalid_json"
        );
    }

    #[test]
    fn control_characters_are_refused_raw_or_escaped_with_their_field() {
        for (body, field) in [
            (r#"{"a":"x\u0000"}"#, "a"),
            (r#"{"a":{"b":"\u001b[31m"}}"#, "a.b"),
            (r#"{"s":["ok","\b"]}"#, "s[1]"),
            ("{\"a\":\"\u{85}\"}", "a"),
            ("{\"a\":\"\x7f\"}", "a"),
        ] {
            assert_eq!(
                refusal(body),
                Some(("control_character", Some(field.into()))),
                "{body}"
            );
        }
    }

    #[test]
    fn text_that_only_looks_like_a_control_character_is_accepted() {
        for body in [
            r#"{"a":"\\u0000 is text"}"#,
            r#"{"a":"line\nbreak\ttab"}"#,
            "{\"a\":\"caf\u{e9} \u{1F600}\"}",
        ] {
            assert_eq!(refusal(body), None, "{body}");
        }
    }

    #[test]
    fn integral_floats_are_integers_and_nothing_else_changes() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            limit: u32,
            offset: Option<i64>,
            ratio: Option<f64>,
            nested: Option<Vec<u8>>,
        }
        let body = parse::<Body>(
            br#"{"limit": 1531.0, "offset": -2e3, "ratio": 2.0, "nested": [1, 2.0, 3e0]}"#,
        )
        .unwrap();
        assert_eq!(
            body,
            Body {
                limit: 1531,
                offset: Some(-2000),
                ratio: Some(2.0),
                nested: Some(vec![1, 2, 3]),
            }
        );
        for (body, code, field) in [
            (r#"{"limit": 1.5}"#, "invalid_field", Some("limit")),
            (r#"{"limit": 1e30}"#, "invalid_field", Some("limit")),
            // As without a float: serde names the duplicate in the detail.
            (r#"{"limit": 1.0, "limit": 2.0}"#, "invalid_field", None),
            (
                r#"{"limit": 1.0, "other": 1}"#,
                "invalid_field",
                Some("other"),
            ),
            (r#"{"limit": -1.0}"#, "invalid_field", Some("limit")),
        ] {
            let error = parse::<Body>(body.as_bytes()).unwrap_err();
            assert_eq!(
                (error.code(), error.field()),
                (code, field),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn long_strings_and_long_arrays_are_refused_wherever_they_are() {
        let long = format!(r#"{{"a":{{"b":"{}"}}}}"#, "x".repeat(MAX_STRING_BYTES + 1));
        assert_eq!(
            refusal(&long),
            Some(("string_too_long", Some("a.b".into())))
        );
        let items = vec!["1"; MAX_ARRAY_ITEMS + 1].join(",");
        assert_eq!(
            refusal(&format!(r#"{{"ids":[{items}]}}"#)),
            Some(("too_many_items", Some("ids".into())))
        );
        let exact = vec!["1"; MAX_ARRAY_ITEMS].join(",");
        assert_eq!(refusal(&format!(r#"{{"ids":[{exact}]}}"#)), None);
    }
}
