//! Problem details (RFC 9457), the body of every error answer (`application/problem+json`).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};

/// Problem details (RFC 9457) as sent on the wire.
// Reading is lenient (every member may be missing or null): a client must still make sense of an
// error that a proxy, not the server, produced. The server always sends every member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `urn:statuspulse:problem:<code>`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub problem_type: String,
    /// The HTTP status's reason phrase, for example `Unprocessable Entity`.
    #[serde(default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = String))]
    pub title: Cow<'static, str>,
    /// The HTTP status code of the answer.
    #[serde(default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub status: u16,
    /// Stable machine-readable code, for example `unknown_scope`.
    #[serde(default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = String))]
    pub code: Cow<'static, str>,
    /// What went wrong, for a human.
    #[serde(default, deserialize_with = "null_as_default")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub detail: String,
    /// The request field (same name as the Terraform attribute) at fault, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// The `type` URI of a problem `code`.
    pub fn type_uri(code: &str) -> String {
        format!("urn:statuspulse:problem:{code}")
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_round_trips_and_omits_a_missing_field() {
        let problem = Problem {
            problem_type: Problem::type_uri("invalid_name"),
            title: "Unprocessable Entity".into(),
            status: 422,
            code: "invalid_name".into(),
            detail: "name must be 1 to 200 characters".into(),
            field: None,
        };
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "urn:statuspulse:problem:invalid_name");
        assert!(json.get("field").is_none());
        assert_eq!(serde_json::from_value::<Problem>(json).unwrap(), problem);
    }

    #[test]
    fn partial_or_null_members_still_parse() {
        let problem: Problem =
            serde_json::from_str(r#"{"code":"invalid_name","detail":null,"field":"name"}"#)
                .unwrap();
        assert_eq!(problem.code, "invalid_name");
        assert_eq!(problem.detail, "");
        assert_eq!(problem.field.as_deref(), Some("name"));
    }
}
