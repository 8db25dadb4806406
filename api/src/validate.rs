//! Field rules of the management API. Each failure names the field at fault (the same name as the
//! Terraform attribute), a stable machine-readable `code` and a human `detail`.
//!
//! The server maps a [`FieldError`] to a 422 problem; the provider runs the same functions at plan
//! time, so a value Terraform accepts is a value the server stores unchanged.

use std::fmt;

use crate::scopes::{Environment, Scopes};

/// Longest display name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Most check group or alert route ids on one key.
pub const MAX_RESTRICTION_IDS: usize = 100;
/// Longest check group or alert route id, in bytes.
pub const MAX_RESTRICTION_ID_LEN: usize = 128;
/// Longest environment cluster name (a DNS label).
pub const MAX_CLUSTER_NAME: usize = 63;

/// Longest lifetime of any key, and so the longest rotation period (docs/CONTRACT.md: at most 365 days).
pub const MAX_LIFETIME_DAYS: i64 = 365;
/// Rotation period of a key created without one.
pub const DEFAULT_ROTATION_DAYS: i64 = 90;
/// How long the old secret keeps working after a rotation, by default.
pub const DEFAULT_GRACE_HOURS: i64 = 24;
/// Longest grace period of a rotation (one week).
pub const MAX_GRACE_HOURS: i64 = 168;

/// A field value the API refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The request field, which is also the Terraform attribute name.
    pub field: String,
    /// Stable machine-readable code, for example `invalid_name`.
    pub code: &'static str,
    /// What is wrong, for a human.
    pub detail: String,
}

impl FieldError {
    /// A refusal of `field` with `code`.
    pub fn new(field: &str, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            detail: detail.into(),
        }
    }

    /// The same refusal reported on another field, for a rule applied to a differently named
    /// input (a query parameter, say).
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for FieldError {}

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

fn control_characters(field: &str) -> FieldError {
    FieldError::new(
        field,
        "control_character",
        format!("{field} must not contain control characters"),
    )
}

/// A display name: trimmed, 1 to 200 characters, no control or invisible characters. Returns the
/// trimmed name, which is what the server stores.
pub fn name(field: &str, value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME {
        return Err(FieldError::new(
            field,
            "invalid_name",
            format!("{field} must be 1 to {MAX_NAME} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(control_characters(field));
    }
    if trimmed.chars().any(is_invisible_char) {
        return Err(FieldError::new(
            field,
            "invisible_character",
            format!("{field} must not contain invisible or bidirectional-override characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Free text: at most 2000 characters; line breaks and tabs allowed, other controls refused.
pub fn description(field: &str, value: &str) -> Result<String, FieldError> {
    if value.chars().count() > MAX_DESCRIPTION {
        return Err(FieldError::new(
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

/// `live` or `test`.
pub fn environment(value: &str) -> Result<Environment, FieldError> {
    value.parse().map_err(|()| {
        FieldError::new(
            "environment",
            "invalid_environment",
            "environment must be `live` or `test`",
        )
    })
}

/// Scope names from the catalog; an empty set grants nothing and is refused.
pub fn scopes(values: &[String]) -> Result<Scopes, FieldError> {
    let scopes = Scopes::parse(values.iter().map(String::as_str)).map_err(|e| {
        FieldError::new(
            "scopes",
            "unknown_scope",
            format!("{e}; see GET /v1/scopes"),
        )
    })?;
    if scopes.is_empty() {
        return Err(FieldError::new(
            "scopes",
            "scopes_required",
            "give at least one scope",
        ));
    }
    Ok(scopes)
}

/// One check group or alert route id: 1 to 128 of `[A-Za-z0-9_.:-]`.
pub fn restriction_id(field: &str, value: &str) -> Result<(), FieldError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_RESTRICTION_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "invalid_id",
            format!("`{value}` is not a valid id: use 1 to 128 of A-Z a-z 0-9 _ . : -"),
        ))
    }
}

/// Check group or alert route ids: each a [`restriction_id`], at most 100, deduplicated and
/// sorted so that equal sets compare equal.
pub fn restriction_ids(field: &str, values: &[String]) -> Result<Vec<String>, FieldError> {
    if values.len() > MAX_RESTRICTION_IDS {
        return Err(FieldError::new(
            field,
            "too_many_ids",
            format!("{field} holds at most {MAX_RESTRICTION_IDS} ids"),
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        restriction_id(field, v)?;
        ids.push(v.clone());
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// A cluster name: 1 to 63 of `a-z 0-9 -`, starting with a letter or digit (DNS-label style,
/// since gateways put it in URLs and headers).
pub fn cluster_name(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_CLUSTER_NAME
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "invalid_cluster_name",
            format!(
                "`{value}` is not a cluster name: use 1 to 63 of a-z 0-9 -, not starting with -"
            ),
        ))
    }
}

/// An `environment_clusters` list: each a valid [`cluster_name`], sorted and deduplicated so that
/// equal sets compare (and are stored) equal.
pub fn cluster_names(values: &[String]) -> Result<Vec<String>, FieldError> {
    let mut names = values
        .iter()
        .map(|v| cluster_name("environment_clusters", v))
        .collect::<Result<Vec<_>, _>>()?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// A whole number within bounds.
pub fn within(field: &str, value: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be between {min} and {max}"),
        ))
    }
}

/// A rotation period in days: 1 to [`MAX_LIFETIME_DAYS`].
pub fn rotation_days(value: i64) -> Result<i64, FieldError> {
    within("rotation_days", value, 1, MAX_LIFETIME_DAYS)
}

/// The field rules above as JSON Schema patterns (ECMA-262 syntax, which OpenAPI 3.1 uses), for
/// the OpenAPI document: a client that follows the document sends what the server accepts, and
/// the document already forbids what the server refuses. Each is tested against its rule.
///
/// Character classes spell the sets out: Rust's `char::is_whitespace` (Unicode `White_Space`),
/// `char::is_control` (`Cc`) and [`is_invisible_char`]. They are written for regex engines that
/// work on Unicode scalar values (Rust's `regex`, which validators such as `jsonschema-rs` use):
/// lone surrogates are no string's characters there, so no class names them.
pub mod patterns {
    /// [`super::name`] in a JSON body: trimmed of white space, 1 to 200 characters, no control
    /// or invisible character (white space inside is kept). The body parser already refuses
    /// every control character but tab and line breaks in any string, so the white space a name
    /// may be trimmed of excludes the other control characters.
    pub const NAME: &str = "^[\\t\\n\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[^\\x00-\\x20\\x7f-\\xa0\\xad\\u1680\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u2069\\u3000\\ufeff](?:[^\\x00-\\x1f\\x7f-\\x9f\\xad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]{0,198}[^\\x00-\\x20\\x7f-\\xa0\\xad\\u1680\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u2069\\u3000\\ufeff])?[\\t\\n\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$";
    /// [`super::description`]: up to 2000 characters, no control character but tab and line
    /// breaks. Without the length, [`TEXT`] is any string a body may carry.
    pub const DESCRIPTION: &str = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]{0,2000}$";
    /// Any string in a JSON body: no control character but tab and line breaks
    /// ([`super::is_refused_char`]).
    pub const TEXT: &str = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$";
    /// [`super::cluster_name`].
    pub const CLUSTER_NAME: &str = "^[a-z0-9][a-z0-9-]{0,62}$";
    /// [`super::restriction_id`], and the shape of every object id in a path.
    pub const ID: &str = "^[A-Za-z0-9_.:-]{1,128}$";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_refuse_controls_and_invisible_characters() {
        assert_eq!(name("name", "  ci  ").unwrap(), "ci");
        assert_eq!(name("name", " ").unwrap_err().code, "invalid_name");
        assert_eq!(
            name("name", "a\u{7}").unwrap_err().code,
            "control_character"
        );
        let err = name("name", "fx-sa\u{200b}").unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("name", "invisible_character")
        );
    }

    #[test]
    fn descriptions_keep_line_breaks_but_refuse_other_controls() {
        assert!(description("description", "a\nb\tc\r").is_ok());
        assert_eq!(
            description("description", "a\u{1b}[31m").unwrap_err().code,
            "control_character"
        );
    }

    #[test]
    fn scopes_must_be_known_and_not_empty() {
        assert_eq!(scopes(&[]).unwrap_err().code, "scopes_required");
        let err = scopes(&["read:everything".to_owned()]).unwrap_err();
        assert_eq!((err.field.as_str(), err.code), ("scopes", "unknown_scope"));
        assert!(err.detail.contains("read:everything"));
    }

    #[test]
    fn cluster_names_are_dns_labels_sorted_and_deduplicated() {
        let names = ["b-1".to_owned(), "a".to_owned(), "b-1".to_owned()];
        assert_eq!(cluster_names(&names).unwrap(), ["a", "b-1"]);
        assert!(cluster_name("name", "-a").is_err());
        assert!(cluster_name("name", "EU").is_err());
        assert!(cluster_name("name", &"a".repeat(64)).is_err());
    }

    #[test]
    fn restriction_ids_allow_dots_and_colons_up_to_128_bytes() {
        assert!(restriction_id("check_group_ids", "grp:eu.prod-1_a").is_ok());
        assert!(restriction_id("check_group_ids", &"a".repeat(129)).is_err());
        let many = vec!["a".to_owned(); MAX_RESTRICTION_IDS + 1];
        assert_eq!(
            restriction_ids("alert_route_ids", &many).unwrap_err().code,
            "too_many_ids"
        );
    }

    /// Each pattern accepts exactly what its rule accepts, on strings built from the characters
    /// where the rules draw their lines (white space, controls, invisible characters, the
    /// allowed punctuation) and anything else, at lengths around the limits.
    mod patterns_match_rules {
        use super::super::{
            cluster_name, description, is_refused_char, name, patterns, restriction_id,
        };
        use proptest::prelude::*;

        use std::collections::HashMap;
        use std::sync::{LazyLock, Mutex};

        /// The Rust regex of a pattern, compiled once.
        fn compile(pattern: &'static str) -> regex::Regex {
            static COMPILED: LazyLock<Mutex<HashMap<&'static str, regex::Regex>>> =
                LazyLock::new(Mutex::default);
            COMPILED
                .lock()
                .unwrap()
                .entry(pattern)
                .or_insert_with(|| regex::Regex::new(pattern).unwrap())
                .clone()
        }

        fn text(max: usize) -> impl Strategy<Value = String> {
            let interesting = prop::sample::select(vec![
                '\t', '\n', '\u{b}', '\u{c}', '\r', ' ', '\u{0}', '\u{1f}', '\u{7f}', '\u{85}',
                '\u{9f}', '\u{a0}', '\u{ad}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{200b}',
                '\u{200f}', '\u{2028}', '\u{202a}', '\u{202f}', '\u{205f}', '\u{2060}', '\u{2065}',
                '\u{2066}', '\u{3000}', '\u{feff}', 'a', 'z', 'A', '0', '9', '-', '_', '.', ':',
                'é', '日', '😀',
            ]);
            let c = prop_oneof![4 => interesting, 1 => any::<char>()];
            prop::collection::vec(c, 0..max).prop_map(|v| v.into_iter().collect())
        }

        fn long(c: char, n: usize) -> String {
            std::iter::repeat_n(c, n).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1500))]
            #[test]
            fn name_pattern(s in text(8)) {
                // What a body may carry at all, then the name rule.
                let accepted = !s.chars().any(is_refused_char) && name("n", &s).is_ok();
                prop_assert_eq!(compile(patterns::NAME).is_match(&s), accepted, "{:?}", s);
            }
            #[test]
            fn description_pattern(s in text(8)) {
                prop_assert_eq!(compile(patterns::DESCRIPTION).is_match(&s), description("d", &s).is_ok(), "{:?}", s);
            }
            #[test]
            fn text_pattern(s in text(8)) {
                prop_assert_eq!(compile(patterns::TEXT).is_match(&s), !s.chars().any(is_refused_char), "{:?}", s);
            }
            #[test]
            fn cluster_name_pattern(s in text(6)) {
                prop_assert_eq!(compile(patterns::CLUSTER_NAME).is_match(&s), cluster_name("c", &s).is_ok(), "{:?}", s);
            }
            #[test]
            fn id_pattern(s in text(6)) {
                prop_assert_eq!(compile(patterns::ID).is_match(&s), restriction_id("i", &s).is_ok(), "{:?}", s);
            }
        }

        #[test]
        fn the_patterns_hold_at_the_length_limits() {
            let (n, d) = (compile(patterns::NAME), compile(patterns::DESCRIPTION));
            for (s, ok) in [
                (long('a', 200), true),
                (long('a', 201), false),
                (format!("  {}  ", long('a', 200)), true),
                (format!("a{}a", long(' ', 198)), true),
                (format!("a{}a", long(' ', 199)), false),
            ] {
                assert_eq!(n.is_match(&s), ok, "{}", s.len());
                assert_eq!(name("n", &s).is_ok(), ok);
            }
            assert!(d.is_match(&long('x', 2000)) && !d.is_match(&long('x', 2001)));
            let (c, i) = (compile(patterns::CLUSTER_NAME), compile(patterns::ID));
            assert!(c.is_match(&long('a', 63)) && !c.is_match(&long('a', 64)));
            assert!(i.is_match(&long('a', 128)) && !i.is_match(&long('a', 129)));
        }
    }
}
