//! Field checks shared by the management routes; each failure names its field.

use crate::error::ApiError;
use crate::scopes::{Environment, Scopes};

pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 2000;
const MAX_RESTRICTION_IDS: usize = 100;

/// Characters refused in any text the API takes, wherever it comes from (JSON bodies, query
/// strings, paths): C0 and C1 controls, DEL. PostgreSQL cannot store NUL in text at all, and the
/// others only serve to hide or forge content in logs and terminals. Tab, line feed and carriage
/// return stay allowed so free text (descriptions) can span lines.
pub fn is_refused_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Characters that render as nothing or reorder what follows (bidi overrides and isolates,
/// zero-width spaces and joiners, BOM, word joiner). In a name they would let `fx-sa` and
/// `fx-sa\u{200b}` coexist and look identical, so names refuse them.
pub fn is_invisible_char(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{00AD}')
}

fn control_characters(field: &str) -> ApiError {
    ApiError::invalid(
        field,
        "control_character",
        format!("{field} must not contain control characters"),
    )
}

/// A display name: trimmed, 1 to 200 characters, no control or invisible characters.
pub fn name(field: &str, value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME {
        return Err(ApiError::invalid(
            field,
            "invalid_name",
            format!("{field} must be 1 to {MAX_NAME} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(control_characters(field));
    }
    if trimmed.chars().any(is_invisible_char) {
        return Err(ApiError::invalid(
            field,
            "invisible_character",
            format!("{field} must not contain invisible or bidirectional-override characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

pub fn description(field: &str, value: &str) -> Result<String, ApiError> {
    if value.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid(
            field,
            "invalid_description",
            format!("{field} is limited to {MAX_DESCRIPTION} characters"),
        ));
    }
    if value.chars().any(is_refused_char) {
        return Err(control_characters(field));
    }
    Ok(value.to_owned())
}

pub fn environment(value: &str) -> Result<Environment, ApiError> {
    value.parse().map_err(|()| {
        ApiError::invalid(
            "environment",
            "invalid_environment",
            "environment must be `live` or `test`",
        )
    })
}

/// Scope names from the catalog; an empty set grants nothing and is refused.
pub fn scopes(values: &[String]) -> Result<Scopes, ApiError> {
    let scopes = Scopes::parse(values.iter().map(String::as_str)).map_err(|e| {
        ApiError::invalid(
            "scopes",
            "unknown_scope",
            format!("{e}; see GET /v1/scopes"),
        )
    })?;
    if scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "scopes_required",
            "give at least one scope",
        ));
    }
    Ok(scopes)
}

/// Check group or alert route ids: 1 to 128 of `[A-Za-z0-9_.:-]`, at most 100, deduplicated and
/// sorted so that equal sets compare equal.
pub fn restriction_ids(field: &str, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.len() > MAX_RESTRICTION_IDS {
        return Err(ApiError::invalid(
            field,
            "too_many_ids",
            format!("{field} holds at most {MAX_RESTRICTION_IDS} ids"),
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
        if !ok {
            return Err(ApiError::invalid(
                field,
                "invalid_id",
                format!("`{v}` is not a valid id: use 1 to 128 of A-Z a-z 0-9 _ . : -"),
            ));
        }
        ids.push(v.clone());
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// A whole number within bounds.
pub fn within(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            field,
            "out_of_range",
            format!("{field} must be between {min} and {max}"),
        ))
    }
}
