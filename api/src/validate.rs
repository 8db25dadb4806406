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

// ---------------------------------------------------------------------------------------------
// SSO connections (`/v1/sso-connections`, the `statuspulse_sso_connection` resource).

/// Most email domains on one connection.
pub const MAX_EMAIL_DOMAINS: usize = 100;
/// Most entries of `allowed_groups`, `group_mappings` or `allowed_tenants`.
pub const MAX_GROUPS: usize = 500;
/// Most `acr_values` or `scopes`.
pub const MAX_SSO_TOKENS: usize = 32;
/// Longest URL, in bytes.
pub const MAX_URL: usize = 2048;
/// Longest client secret, in bytes.
pub const MAX_CLIENT_SECRET: usize = 4096;
/// Longest IdP certificate (PEM), in bytes.
pub const MAX_CERTIFICATE: usize = 16 * 1024;

/// Whether `host` (as the `url` crate parsed it) is a loopback address or `localhost`.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => *d == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// An absolute URL the server will call or send browsers to: `https`, or `http` only on a
/// loopback address (tests and local IdPs); no credentials, query or fragment.
pub fn https_url(field: &str, value: &str) -> Result<String, FieldError> {
    let bad = |detail: String| Err(FieldError::new(field, "invalid_url", detail));
    if value.chars().any(char::is_control) {
        return Err(control_characters(field));
    }
    if value.is_empty() || value.len() > MAX_URL {
        return bad(format!("{field} must be a URL of 1 to {MAX_URL} bytes"));
    }
    let Ok(parsed) = url::Url::parse(value) else {
        return bad(format!("{field} is not an absolute URL: `{value}`"));
    };
    let Some(host) = parsed.host() else {
        return bad(format!("{field} must name a host"));
    };
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return bad(format!(
                "{field} must use https (plain http is allowed only on a loopback address)"
            ))
        }
        other => return bad(format!("{field} must use https, not `{other}`")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return bad(format!("{field} must not carry credentials"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return bad(format!("{field} must not have a query or a fragment"));
    }
    Ok(value.to_owned())
}

/// A DNS host name: lowercase labels of `a-z 0-9 -`, at least two, no label starting or ending
/// with `-`, a top-level label that is not all digits.
fn host_name(
    field: &str,
    value: &str,
    code: &'static str,
    what: &str,
) -> Result<String, FieldError> {
    let labels: Vec<&str> = value.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(value.to_owned())
    } else if value.chars().any(char::is_control) {
        Err(control_characters(field))
    } else {
        Err(FieldError::new(
            field,
            code,
            format!(
                "`{value}` is not {what}: use lowercase labels of a-z 0-9 - separated by dots, \
                 like example.com"
            ),
        ))
    }
}

/// An email domain (`example.com`): lowercase, well-formed.
pub fn email_domain(field: &str, value: &str) -> Result<String, FieldError> {
    host_name(field, value, "invalid_email_domain", "an email domain")
}

/// A connection's email domains: each an [`email_domain`], at most 100, sorted, no repeats.
pub fn email_domains(values: &[String]) -> Result<Vec<String>, FieldError> {
    let list = (MAX_EMAIL_DOMAINS, "too_many_email_domains", "domains");
    bounded_list("email_domains", values, list, email_domain).map(sorted_unique)
}

/// At most `max` values, each checked by `item`, in the order given; a longer list is refused
/// whole with `too_many` ("`field` holds at most `max` `noun`").
fn bounded_list(
    field: &str,
    values: &[String],
    (max, too_many, noun): (usize, &'static str, &str),
    item: impl Fn(&str, &str) -> Result<String, FieldError>,
) -> Result<Vec<String>, FieldError> {
    if values.len() > max {
        return Err(FieldError::new(
            field,
            too_many,
            format!("{field} holds at most {max} {noun}"),
        ));
    }
    values.iter().map(|v| item(field, v)).collect()
}

/// Sorted without repeats, so that equal sets compare equal.
fn sorted_unique(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    values
}

/// A GUID in its lowercase 8-4-4-4-12 form (Azure AD tenant ids).
pub fn guid(field: &str, value: &str) -> Result<String, FieldError> {
    let groups: Vec<&str> = value.split('-').collect();
    let ok = groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, len)| {
            g.len() == len && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "invalid_tenant_id",
            format!("`{value}` is not a tenant id: use the lowercase GUID form 00000000-0000-0000-0000-000000000000"),
        ))
    }
}

/// A short opaque value (client id, IdP entity id, attribute name): 1 to `max` bytes, no control
/// characters, no leading or trailing whitespace.
pub fn opaque(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    if value.chars().any(char::is_control) {
        return Err(control_characters(field));
    }
    if value.is_empty() || value.len() > max || value.trim() != value {
        return Err(FieldError::new(
            field,
            "invalid_value",
            format!("{field} must be 1 to {max} bytes without leading or trailing spaces"),
        ));
    }
    Ok(value.to_owned())
}

/// An OAuth scope or `acr` value token (RFC 6749 §3.3: printable ASCII but space, `"` and `\`).
fn scope_token(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    if ok {
        Ok(value.to_owned())
    } else if value.chars().any(char::is_control) {
        Err(control_characters(field))
    } else {
        Err(FieldError::new(
            field,
            "invalid_token",
            format!("`{value}` is not a valid {field} value: printable ASCII without spaces, quotes or backslashes"),
        ))
    }
}

/// The scopes asked of the IdP: tokens, at most 32, must include `openid`; sorted, no repeats.
pub fn sso_scopes(values: &[String]) -> Result<Vec<String>, FieldError> {
    let list = (MAX_SSO_TOKENS, "too_many_scopes", "values");
    let scopes = bounded_list("scopes", values, list, scope_token)?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(FieldError::new(
            "scopes",
            "openid_scope_required",
            "scopes must include `openid`: sign-in needs an ID token",
        ));
    }
    Ok(sorted_unique(scopes))
}

/// `acr` values, in order of preference (kept as given), at most 32.
pub fn acr_values(values: &[String]) -> Result<Vec<String>, FieldError> {
    let list = (MAX_SSO_TOKENS, "too_many_acr_values", "values");
    bounded_list("acr_values", values, list, scope_token)
}

/// An IdP group name: 1 to 256 bytes, no control characters, no surrounding spaces.
fn idp_group(field: &str, value: &str) -> Result<String, FieldError> {
    opaque(field, value, 256)
}

/// `allowed_groups`: IdP group names, at most 500, sorted, no repeats.
pub fn allowed_groups(values: &[String]) -> Result<Vec<String>, FieldError> {
    let list = (MAX_GROUPS, "too_many_groups", "groups");
    bounded_list("allowed_groups", values, list, idp_group).map(sorted_unique)
}

/// `group_mappings`: IdP group → StatusPulse group, which must be a valid role binding `group`
/// (a [`name`] stored as written).
pub fn group_mappings(
    values: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, FieldError> {
    if values.len() > MAX_GROUPS {
        return Err(FieldError::new(
            "group_mappings",
            "too_many_groups",
            format!("group_mappings holds at most {MAX_GROUPS} entries"),
        ));
    }
    for (idp, ours) in values {
        idp_group("group_mappings", idp)?;
        if name("group_mappings", ours)? != *ours {
            return Err(FieldError::new(
                "group_mappings",
                "invalid_name",
                format!("the group `{ours}` has leading or trailing spaces"),
            ));
        }
    }
    Ok(values.clone())
}

/// A client secret: 1 to 4096 bytes, no control characters. The value is never echoed.
pub fn client_secret(value: &str) -> Result<(), FieldError> {
    if value.chars().any(char::is_control) {
        return Err(control_characters("client_secret"));
    }
    if value.is_empty() || value.len() > MAX_CLIENT_SECRET {
        return Err(FieldError::new(
            "client_secret",
            "invalid_client_secret",
            format!("client_secret must be 1 to {MAX_CLIENT_SECRET} bytes"),
        ));
    }
    Ok(())
}

/// A PEM X.509 certificate: the PEM framing, base64 DER, and a DER structure that parses as a
/// certificate (`rustls-webpki`). Returns the value as given (a heredoc's final newline kept, so
/// what Terraform configured reads back unchanged).
pub fn pem_certificate(field: &str, value: &str) -> Result<String, FieldError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let bad = |detail: &str| {
        Err(FieldError::new(
            field,
            "invalid_certificate",
            format!("{field} is not a PEM X.509 certificate: {detail}"),
        ))
    };
    let trimmed = value.trim();
    if trimmed.len() > MAX_CERTIFICATE {
        return bad("it is too long");
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r'))
    {
        return Err(control_characters(field));
    }
    if !trimmed.starts_with("-----BEGIN CERTIFICATE-----")
        || !trimmed.ends_with("-----END CERTIFICATE-----")
    {
        return bad(
            "it must start with -----BEGIN CERTIFICATE----- and end with -----END CERTIFICATE-----",
        );
    }
    let Ok(der) = CertificateDer::from_pem_slice(trimmed.as_bytes()) else {
        return bad("the base64 between the markers does not decode");
    };
    if webpki::EndEntityCert::try_from(&der).is_err() {
        return bad("the decoded bytes are not an X.509 certificate");
    }
    Ok(value.to_owned())
}

fn field_not_for_kind(field: &str, kind: &str) -> FieldError {
    FieldError::new(
        field,
        "field_not_for_kind",
        format!("{field} does not apply to a connection of kind `{kind}`"),
    )
}

/// Checks a whole connection (a create, or a stored one with a change applied) and returns it as
/// stored: lists sorted, defaults filled, the secret left as given. The first fault is reported,
/// naming its attribute (`okta.domain`, `saml.idp_certificate`, ...).
pub fn sso_connection(
    body: &crate::v1::CreateSsoConnection,
) -> Result<crate::v1::CreateSsoConnection, FieldError> {
    use crate::v1::sso_connections::{DEFAULT_SCOPES, KINDS, NATIVE_KINDS};
    let mut out = body.clone();
    out.name = name("name", &body.name)?;
    let kind = body.kind.as_str();
    if !KINDS.contains(&kind) {
        return Err(FieldError::new(
            "kind",
            "invalid_kind",
            format!("kind must be one of {}", KINDS.join(", ")),
        ));
    }
    // Exactly the block of the kind.
    let blocks = [
        ("okta", body.okta.is_some()),
        ("azure_ad", body.azure_ad.is_some()),
        ("onelogin", body.onelogin.is_some()),
        ("oidc", body.oidc.is_some()),
        ("saml", body.saml.is_some()),
    ];
    for (block, present) in blocks {
        if present && block != kind {
            return Err(FieldError::new(
                block,
                "block_not_for_kind",
                format!("the {block} block does not apply to a connection of kind `{kind}`; give only the {kind} block"),
            ));
        }
        if !present && block == kind {
            return Err(FieldError::new(
                block,
                "block_required",
                format!("a connection of kind `{kind}` needs its {kind} block"),
            ));
        }
    }
    if let Some(okta) = &mut out.okta {
        okta.domain = host_name(
            "okta.domain",
            &okta.domain,
            "invalid_domain",
            "an Okta domain",
        )?;
        if let Some(server) = &okta.authorization_server_id {
            let ok = !server.is_empty()
                && server.len() <= 64
                && server.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                return Err(FieldError::new(
                    "okta.authorization_server_id",
                    "invalid_authorization_server_id",
                    "okta.authorization_server_id must be 1 to 64 letters and digits (e.g. `default` or `aus1a2b3c4`)",
                ));
            }
        }
    }
    if let Some(azure) = &mut out.azure_ad {
        let multi = matches!(azure.tenant_id.as_str(), "common" | "organizations");
        if !multi {
            guid("azure_ad.tenant_id", &azure.tenant_id)?;
        }
        if azure.allowed_tenants.len() > MAX_GROUPS {
            return Err(FieldError::new(
                "azure_ad.allowed_tenants",
                "too_many_tenants",
                format!("azure_ad.allowed_tenants holds at most {MAX_GROUPS} tenants"),
            ));
        }
        for t in &azure.allowed_tenants {
            guid("azure_ad.allowed_tenants", t)?;
        }
        azure.allowed_tenants.sort();
        azure.allowed_tenants.dedup();
        if multi && azure.allowed_tenants.is_empty() {
            return Err(FieldError::new(
                "azure_ad.allowed_tenants",
                "allowed_tenants_required",
                format!("with tenant_id `{}` any Azure AD tenant could sign in: list the tenant GUIDs allowed in azure_ad.allowed_tenants", azure.tenant_id),
            ));
        }
        if !multi && !azure.allowed_tenants.is_empty() {
            return Err(FieldError::new(
                "azure_ad.allowed_tenants",
                "allowed_tenants_not_for_single_tenant",
                "azure_ad.allowed_tenants applies only to tenant_id `common` or `organizations`",
            ));
        }
    }
    if let Some(onelogin) = &out.onelogin {
        let s = onelogin.subdomain.as_str();
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(FieldError::new(
                "onelogin.subdomain",
                "invalid_subdomain",
                format!("`{s}` is not a OneLogin subdomain: use 1 to 63 of a-z 0-9 - (the `example` of example.onelogin.com)"),
            ));
        }
    }
    if let Some(oidc) = &out.oidc {
        https_url("oidc.issuer", &oidc.issuer)?;
    }
    if let Some(saml) = &mut out.saml {
        opaque("saml.idp_entity_id", &saml.idp_entity_id, 1024)?;
        https_url("saml.idp_sso_url", &saml.idp_sso_url)?;
        saml.idp_certificate = pem_certificate("saml.idp_certificate", &saml.idp_certificate)?;
        if let Some(attribute) = &saml.groups_attribute {
            opaque("saml.groups_attribute", attribute, 256)?;
        }
    }
    if let Some(url) = &body.endpoint_override {
        if !NATIVE_KINDS.contains(&kind) {
            return Err(field_not_for_kind("endpoint_override", kind));
        }
        https_url("endpoint_override", url)?;
    }
    if kind == "saml" {
        for (field, present) in [
            ("client_id", body.client_id.is_some()),
            ("client_secret", body.client_secret.is_some()),
            ("scopes", body.scopes.is_some()),
        ] {
            if present {
                return Err(field_not_for_kind(field, kind));
            }
        }
    } else {
        match &body.client_id {
            Some(id) => {
                opaque("client_id", id, 512)?;
            }
            None => {
                return Err(FieldError::new(
                    "client_id",
                    "client_id_required",
                    format!("a connection of kind `{kind}` needs the client_id registered at the identity provider"),
                ))
            }
        }
        if let Some(secret) = &body.client_secret {
            client_secret(secret)?;
        }
        out.scopes = Some(match &body.scopes {
            Some(scopes) => sso_scopes(scopes)?,
            None => sso_scopes(
                &DEFAULT_SCOPES
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>(),
            )?,
        });
    }
    out.email_domains = email_domains(&body.email_domains)?;
    out.acr_values = acr_values(&body.acr_values)?;
    out.allowed_groups = allowed_groups(&body.allowed_groups)?;
    out.group_mappings = group_mappings(&body.group_mappings)?;
    Ok(out)
}

/// `POST /v1/oauth-clients`: the body with its name trimmed, or the first bad field.
pub fn oauth_client(
    body: &crate::v1::CreateOAuthClient,
) -> Result<crate::v1::CreateOAuthClient, FieldError> {
    Ok(crate::v1::CreateOAuthClient {
        name: name("name", &body.name)?,
        public: body.public,
        redirect_uris: redirect_uris(&body.redirect_uris)?,
        allowed_scopes: oauth_scopes("allowed_scopes", &body.allowed_scopes)?,
        signing_alg: Some(
            signing_alg(body.signing_alg.as_deref())?
                .as_str()
                .to_owned(),
        ),
    })
}

/// The `signing_alg` of an OAuth client: exactly `ES256` or `RS256`; absent means `ES256`.
/// Anything else (`none`, `HS256`, `es256`) is refused rather than guessed at.
pub fn signing_alg(value: Option<&str>) -> Result<crate::v1::SigningAlg, FieldError> {
    let Some(value) = value else {
        return Ok(crate::v1::SigningAlg::default());
    };
    value.parse().map_err(|()| {
        FieldError::new(
            "signing_alg",
            "invalid_signing_alg",
            format!(
                "signing_alg must be one of {}",
                crate::v1::SigningAlg::ALL
                    .map(|a| format!("`{a}`"))
                    .join(", ")
            ),
        )
    })
}

/// Redirect URIs of an OAuth client: 1 to 10, each `https` (or `http` on loopback, RFC 8252),
/// absolute, without fragment or credentials, unique. Compared byte for byte at authorization.
pub fn redirect_uris(uris: &[String]) -> Result<Vec<String>, FieldError> {
    use crate::v1::oauth_clients::MAX_REDIRECT_URIS;
    let field = "redirect_uris";
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(FieldError::new(
            field,
            "invalid_redirect_uris",
            format!("{field} must list 1 to {MAX_REDIRECT_URIS} URIs"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        if uri.chars().any(char::is_control) {
            return Err(control_characters(field));
        }
        let bad = |detail: String| FieldError::new(field, "invalid_redirect_uri", detail);
        if uri.len() > MAX_URL {
            return Err(bad(format!("a redirect URI is at most {MAX_URL} bytes")));
        }
        let parsed =
            url::Url::parse(uri).map_err(|_| bad(format!("`{uri}` is not an absolute URI")))?;
        let host = parsed
            .host()
            .ok_or_else(|| bad(format!("`{uri}` names no host")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            _ => {
                return Err(bad(format!(
                    "`{uri}` must use https (http only on a loopback address)"
                )))
            }
        }
        if parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(bad(format!(
                "`{uri}` must not have a fragment or credentials"
            )));
        }
        if out.contains(uri) {
            return Err(bad(format!("`{uri}` is listed twice")));
        }
        out.push(uri.clone());
    }
    Ok(out)
}

/// OAuth scopes a client may ask for: at least one, each known, no duplicates, sorted.
pub fn oauth_scopes(field: &str, scopes: &[String]) -> Result<Vec<String>, FieldError> {
    if scopes.is_empty() {
        return Err(FieldError::new(
            field,
            "invalid_scopes",
            format!("{field} must list at least one scope"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if crate::scopes::oauth_scope(scope).is_none() {
            return Err(FieldError::new(
                field,
                "unknown_scope",
                format!(
                    "`{}` is not an OAuth scope; use {}",
                    scope
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(64)
                        .collect::<String>(),
                    crate::scopes::OAUTH_SCOPES
                        .iter()
                        .map(|(n, _)| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// A conditional access policy: a name, at least one OAuth scope governed and at least one
/// condition; every list bounded, sorted and without repeats (so that equal sets compare equal).
pub fn access_policy(
    body: &crate::v1::CreateAccessPolicy,
) -> Result<crate::v1::CreateAccessPolicy, FieldError> {
    use crate::v1::access_policies::MAX_CONDITION_ENTRIES as MAX;
    let groups = bounded_list(
        "groups",
        &body.groups,
        (MAX, "too_many_groups", "groups"),
        |f, v| {
            let group = name(f, v)?;
            if group != v {
                return Err(FieldError::new(
                    f,
                    "invalid_name",
                    format!("the group `{group}` has leading or trailing spaces"),
                ));
            }
            Ok(group)
        },
    )?;
    let client_ids = bounded_list(
        "client_ids",
        &body.client_ids,
        (MAX, "too_many_clients", "client ids"),
        |f, v| {
            if crate::ids::has_prefix(v, crate::ids::OAUTH_CLIENT) {
                Ok(v.to_owned())
            } else {
                Err(FieldError::new(
                    f,
                    "invalid_client_id",
                    format!(
                        "`{}` is not an OAuth client id (`oc_…`)",
                        v.chars()
                            .filter(|c| !c.is_control())
                            .take(64)
                            .collect::<String>()
                    ),
                ))
            }
        },
    )?;
    let amr = bounded_list(
        "amr",
        &body.amr,
        (MAX, "too_many_methods", "methods"),
        |f, v| {
            let ok = (1..=32).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if ok {
                Ok(v.to_owned())
            } else {
                Err(FieldError::new(
                f,
                "invalid_amr",
                "an authentication method is 1 to 32 letters, digits, `-`, `_` or `.` (RFC 8176: `hwk`, `otp`, `mfa`, …)",
            ))
            }
        },
    )?;
    let networks = bounded_list(
        "networks",
        &body.networks,
        (MAX, "too_many_networks", "networks"),
        cidr,
    )?;
    let regions = bounded_list(
        "regions",
        &body.regions,
        (MAX, "too_many_regions", "regions"),
        region,
    )?;
    let validated = crate::v1::CreateAccessPolicy {
        name: name("name", &body.name)?,
        description: description("description", &body.description)?,
        enabled: body.enabled,
        scopes: oauth_scopes("scopes", &body.scopes)?,
        groups: sorted_unique(groups),
        client_ids: sorted_unique(client_ids),
        require_mfa: body.require_mfa,
        amr: sorted_unique(amr),
        networks: sorted_unique(networks),
        regions: sorted_unique(regions),
    };
    if validated.conditions().is_empty() {
        return Err(FieldError::new(
            "groups",
            "conditions_required",
            "a policy needs at least one condition (groups, client_ids, require_mfa, amr, \
             networks or regions): without one it restricts nothing",
        ));
    }
    Ok(validated)
}

/// Issuers whose tokens anyone can obtain (any repository, any project), and the claims of which
/// a trust policy for them must condition on at least one, or every tenant of that platform could
/// exchange its tokens for this workspace's.
pub const SHARED_ISSUERS: &[(&str, &[&str])] = &[
    (
        "https://token.actions.githubusercontent.com",
        &[
            "repository",
            "repository_id",
            "repository_owner",
            "repository_owner_id",
            "sub",
        ],
    ),
    (
        "https://gitlab.com",
        &[
            "project_path",
            "project_id",
            "namespace_path",
            "namespace_id",
            "sub",
        ],
    ),
    (
        "https://oidc.circleci.com/org",
        &["aud", "sub", "oidc.circleci.com/project-id"],
    ),
    ("https://agent.buildkite.com", &["organization_slug", "sub"]),
];

/// A workload identity trust policy: the issuer a URL, at least one condition (each a claim name
/// and an exact value or a glob other than a bare `*`), catalog scopes without `admin:all`, a
/// lifetime within bounds. Conditions on a shared issuer (GitHub, GitLab.com, …) must pin the
/// tenant ([`SHARED_ISSUERS`]).
pub fn workload_identity(
    body: &crate::v1::CreateWorkloadIdentity,
) -> Result<crate::v1::CreateWorkloadIdentity, FieldError> {
    use crate::v1::workload_identities::{
        MAX_CONDITIONS, MAX_TOKEN_LIFETIME_SECONDS, MIN_TOKEN_LIFETIME_SECONDS,
    };
    let issuer = https_url("issuer", body.issuer.trim_end_matches('/'))?;
    let audience = opaque("audience", &body.audience, 512)?;
    if body.conditions.is_empty() || body.conditions.len() > MAX_CONDITIONS {
        return Err(FieldError::new(
            "conditions",
            "invalid_conditions",
            format!(
                "conditions must name 1 to {MAX_CONDITIONS} claims: without one, every token \
                 of the issuer with this audience could be exchanged"
            ),
        ));
    }
    for (claim, pattern) in &body.conditions {
        let claim_ok = (1..=128).contains(&claim.len())
            && claim
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b));
        if !claim_ok {
            return Err(FieldError::new(
                "conditions",
                "invalid_claim_name",
                "a condition's claim name is 1 to 128 letters, digits, `_`, `.`, `:`, `/` or `-`",
            ));
        }
        opaque("conditions", pattern, 1024)?;
        if pattern.chars().all(|c| c == '*') {
            return Err(FieldError::new(
                "conditions",
                "condition_matches_anything",
                format!("the condition on `{claim}` matches any value: name what it must be"),
            ));
        }
    }
    if let Some((_, pinning)) = SHARED_ISSUERS.iter().find(|(i, _)| *i == issuer) {
        let pinned = pinning.iter().any(|claim| {
            body.conditions
                .get(*claim)
                .is_some_and(|p| !p.starts_with('*'))
        });
        if !pinned {
            return Err(FieldError::new(
                "conditions",
                "tenant_not_pinned",
                format!(
                    "anyone can get a token from `{issuer}`: condition on one of {} (without a \
                     leading `*`) so that only your own repositories or projects can exchange",
                    pinning
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if !crate::ids::has_prefix(&body.service_account_id, crate::ids::SERVICE_ACCOUNT) {
        return Err(FieldError::new(
            "service_account_id",
            "invalid_id",
            "service_account_id must be a service account id (`sa_…`)",
        ));
    }
    let parsed = scopes(&body.scopes)?;
    if parsed.contains(crate::scopes::Scope::AdminAll) {
        return Err(FieldError::new(
            "scopes",
            "admin_all_refused",
            "`admin:all` is never given to a workload: name the scopes it needs",
        ));
    }
    let token_lifetime_seconds = within(
        "token_lifetime_seconds",
        body.token_lifetime_seconds,
        MIN_TOKEN_LIFETIME_SECONDS,
        MAX_TOKEN_LIFETIME_SECONDS,
    )?;
    Ok(crate::v1::CreateWorkloadIdentity {
        name: name("name", &body.name)?,
        issuer,
        audience,
        conditions: body.conditions.clone(),
        service_account_id: body.service_account_id.clone(),
        scopes: parsed.names(),
        token_lifetime_seconds,
    })
}

/// Whether `value` matches a condition: exactly, or as a glob where `*` matches any run of
/// characters (including none) and every other character itself.
pub fn glob_matches(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.as_bytes(), value.as_bytes());
    // Iterative matching with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
}

/// A CIDR block in canonical form, `10.0.0.0/8` or `2001:db8::/32`: the network address with
/// no host bits, then the prefix length. A bare address or a block with host bits set is
/// refused with the canonical form to write instead (stored as written, so state never drifts).
pub fn cidr(field: &str, value: &str) -> Result<String, FieldError> {
    use std::net::IpAddr;
    let shown: String = value.chars().filter(|c| !c.is_control()).take(64).collect();
    let bad = |detail: String| FieldError::new(field, "invalid_cidr", detail);
    let (addr, prefix) = value
        .split_once('/')
        .ok_or_else(|| bad(format!("`{shown}` is not a CIDR block; a single address is `{shown}/32` (IPv4) or `{shown}/128` (IPv6)")))?;
    let addr: IpAddr = addr.parse().map_err(|_| {
        bad(format!(
            "`{shown}` is not a CIDR block such as `10.0.0.0/8`"
        ))
    })?;
    let bits: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| {
            *p <= bits && !prefix.starts_with('+') && (prefix == "0" || !prefix.starts_with('0'))
        })
        .ok_or_else(|| {
            bad(format!(
                "`{shown}` has an invalid prefix length (0 to {bits})"
            ))
        })?;
    let network = match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    };
    let canonical = format!("{network}/{prefix}");
    if canonical != value {
        return Err(bad(format!("write `{shown}` as `{canonical}`")));
    }
    Ok(canonical)
}

/// A region name: 1 to 64 lowercase letters, digits, `-` or `_` (`eu-west-1`, `de`).
pub fn region(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "invalid_region",
            "a region is 1 to 64 lowercase letters, digits, `-` or `_` (`eu-west-1`, `de`)",
        ))
    }
}

/// An anomaly rule: a known kind, a name, and only the thresholds its kind takes, each in range;
/// thresholds left out take the kind's defaults.
pub fn anomaly_rule(
    body: &crate::v1::CreateAnomalyRule,
) -> Result<crate::v1::anomaly_rules::ValidAnomalyRule, FieldError> {
    use crate::v1::anomaly_rules::{
        AnomalyKind, ValidAnomalyRule, MAX_KEY_AGE_HOURS, MAX_THRESHOLD, MAX_WINDOW_MINUTES,
    };
    let name = name("name", &body.name)?;
    let kind = AnomalyKind::parse(&body.kind).ok_or_else(|| {
        FieldError::new(
            "kind",
            "unknown_kind",
            format!("kind must be one of {}", AnomalyKind::NAMES.join(", ")),
        )
    })?;
    let defaults = kind.defaults();
    let not_applicable = |field: &str| {
        FieldError::new(
            field,
            "not_applicable",
            format!("{field} does not apply to a `{}` rule", kind.as_str()),
        )
    };
    let threshold = match (defaults.threshold, body.threshold) {
        (None, Some(_)) => return Err(not_applicable("threshold")),
        (None, None) => None,
        (Some(default), given) => Some(within(
            "threshold",
            given.unwrap_or(default),
            defaults.min_threshold,
            MAX_THRESHOLD,
        )?),
    };
    let min_key_age_hours = match (defaults.min_key_age_hours, body.min_key_age_hours) {
        (None, Some(_)) => return Err(not_applicable("min_key_age_hours")),
        (None, None) => None,
        (Some(default), given) => Some(within(
            "min_key_age_hours",
            given.unwrap_or(default),
            0,
            MAX_KEY_AGE_HOURS,
        )?),
    };
    let window_minutes = within(
        "window_minutes",
        body.window_minutes.unwrap_or(defaults.window_minutes),
        1,
        MAX_WINDOW_MINUTES,
    )?;
    Ok(ValidAnomalyRule {
        name,
        kind,
        enabled: body.enabled,
        threshold,
        window_minutes,
        min_key_age_hours,
    })
}

/// An audit sink's event type pattern: `*`, a family `auth.*`, or an exact `api_key.revoked`
/// (lowercase letters and `_`). Whether it names a known event is the server's check.
pub fn event_type_pattern(value: &str) -> Result<String, FieldError> {
    let part = |p: &str| {
        !p.is_empty() && p.len() <= 64 && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    };
    let ok = value == "*"
        || value
            .split_once('.')
            .is_some_and(|(family, rest)| part(family) && (rest == "*" || part(rest)));
    if ok {
        Ok(value.to_owned())
    } else if value.chars().any(char::is_control) {
        Err(control_characters("event_types"))
    } else {
        Err(FieldError::new(
            "event_types",
            "invalid_event_type",
            format!("`{value}` is not an event type pattern: use `*`, a family such as `auth.*`, or a type such as `api_key.revoked`"),
        ))
    }
}

/// A Standard Webhooks signing secret: `whsec_` and the base64 of 24 to 64 bytes.
pub fn webhook_secret(value: &str) -> Result<(), FieldError> {
    use crate::v1::audit_sinks::WEBHOOK_SECRET_PREFIX;
    use base64::Engine as _;
    let decoded = value
        .strip_prefix(WEBHOOK_SECRET_PREFIX)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
    match decoded {
        Some(bytes) if (24..=64).contains(&bytes.len()) => Ok(()),
        _ => Err(FieldError::new(
            "webhook.secret",
            "invalid_secret",
            "webhook.secret must be `whsec_` followed by the base64 of 24 to 64 random bytes \
             (omit it and the server generates one)",
        )),
    }
}

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
/// An AWS region name such as `eu-west-1` or `us-gov-west-1`: it becomes a host name and part of
/// every SigV4 signature, so anything else is refused before a request is signed.
pub fn aws_region(field: &str, value: &str) -> Result<String, FieldError> {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = value.len() <= 32
        && parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "invalid_region",
            format!("`{value}` is not an AWS region: use a name such as eu-west-1"),
        ))
    }
}

/// A CloudWatch Logs group or stream name: 1 to 512 characters of the set AWS allows.
fn log_name(field: &str, value: &str, extra: &[u8]) -> Result<String, FieldError> {
    let ok = (1..=512).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b) || extra.contains(&b));
    if ok {
        Ok(value.to_owned())
    } else if value.chars().any(char::is_control) {
        Err(control_characters(field))
    } else {
        Err(FieldError::new(
            field,
            "invalid_log_name",
            format!("{field} must be 1 to 512 letters, digits or `._-/#`"),
        ))
    }
}

/// The `cloudwatch` block. Credentials are all-or-nothing: an access key id with its secret.
pub fn cloudwatch_settings(
    body: &crate::v1::CloudWatchSettingsInput,
) -> Result<crate::v1::CloudWatchSettingsInput, FieldError> {
    let mut out = body.clone();
    out.region = aws_region("cloudwatch.region", &body.region)?;
    out.log_group = log_name("cloudwatch.log_group", &body.log_group, b"")?;
    out.log_stream = log_name("cloudwatch.log_stream", &body.log_stream, b"=@+,")?;
    if let Some(id) = &body.access_key_id {
        let ok = (16..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(FieldError::new(
                "cloudwatch.access_key_id",
                "invalid_access_key_id",
                "cloudwatch.access_key_id must be an AWS access key id (16 to 128 uppercase letters and digits)",
            ));
        }
    }
    if let Some(secret) = &body.secret_access_key {
        // AWS secret keys are printable ASCII (40 characters today).
        if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(
                "cloudwatch.secret_access_key",
                "invalid_secret",
                "cloudwatch.secret_access_key must be 16 to 128 printable ASCII characters",
            ));
        }
        if body.access_key_id.is_none() {
            return Err(FieldError::new(
                "cloudwatch.access_key_id",
                "credentials_incomplete",
                "a secret_access_key needs its access_key_id",
            ));
        }
    }
    if let Some(arn) = &body.role_arn {
        let ok = arn.split_once(":iam::").is_some_and(|(partition, rest)| {
            partition.starts_with("arn:aws")
                && rest.split_once(":role/").is_some_and(|(account, name)| {
                    account.len() == 12
                        && account.bytes().all(|b| b.is_ascii_digit())
                        && (1..=512).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_/-".contains(&b))
                })
        });
        if !ok {
            return Err(FieldError::new(
                "cloudwatch.role_arn",
                "invalid_role_arn",
                format!("`{arn}` is not an IAM role ARN: use arn:aws:iam::<12-digit account>:role/<name>"),
            ));
        }
    }
    if let Some(external_id) = &body.external_id {
        let ok = (2..=1224).contains(&external_id.len())
            && external_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b));
        if !ok {
            return Err(FieldError::new(
                "cloudwatch.external_id",
                "invalid_external_id",
                "cloudwatch.external_id must be 2 to 1224 letters, digits or `+=,.@:/_-`",
            ));
        }
        if body.role_arn.is_none() {
            return Err(FieldError::new(
                "cloudwatch.external_id",
                "external_id_without_role",
                "an external_id applies only with a role_arn",
            ));
        }
    }
    if let Some(endpoint) = &body.endpoint_override {
        out.endpoint_override = Some(https_url(
            "cloudwatch.endpoint_override",
            endpoint.trim_end_matches('/'),
        )?);
    }
    Ok(out)
}

/// A sink's filter (or the workspace's default one): 1 to 64 distinct event type patterns.
pub fn event_types(field: &str, list: &[String]) -> Result<Vec<String>, FieldError> {
    use crate::v1::audit_sinks::MAX_EVENT_TYPES;
    if list.is_empty() || list.len() > MAX_EVENT_TYPES {
        return Err(FieldError::new(
            field,
            "invalid_event_types",
            format!("{field} must hold 1 to {MAX_EVENT_TYPES} patterns (`*` forwards every event)"),
        ));
    }
    let mut patterns = Vec::with_capacity(list.len());
    for pattern in list {
        let pattern = event_type_pattern(pattern).map_err(|e| e.with_field(field))?;
        if patterns.contains(&pattern) {
            // Refused rather than dropped: what is stored must be what was asked for.
            return Err(FieldError::new(
                field,
                "duplicate_event_type",
                format!("`{pattern}` is listed twice in {field}"),
            ));
        }
        patterns.push(pattern);
    }
    Ok(patterns)
}

/// A sink create (or an update merged over the stored sink): name, patterns, exactly one block.
pub fn audit_sink(
    body: &crate::v1::CreateAuditSink,
) -> Result<crate::v1::CreateAuditSink, FieldError> {
    let mut out = body.clone();
    out.name = name("name", &body.name)?;
    out.event_types = body
        .event_types
        .as_deref()
        .map(|list| event_types("event_types", list))
        .transpose()?;
    match (&body.webhook, &body.cloudwatch) {
        (Some(webhook), None) => {
            let mut webhook = webhook.clone();
            webhook.url = https_url("webhook.url", &webhook.url)?;
            if let Some(secret) = &webhook.secret {
                webhook_secret(secret)?;
            }
            out.webhook = Some(webhook);
        }
        (None, Some(cloudwatch)) => out.cloudwatch = Some(cloudwatch_settings(cloudwatch)?),
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "cloudwatch",
                "one_destination",
                "a sink has one destination: give either a webhook block or a cloudwatch block",
            ))
        }
        (None, None) => {
            return Err(FieldError::new(
                "webhook",
                "destination_required",
                "a sink needs a destination: a webhook block or a cloudwatch block",
            ))
        }
    }
    Ok(out)
}

/// Whether an event type is matched by a sink's pattern (`*`, `family.*` or exact).
pub fn event_type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(family) => event_type.split_once('.').is_some_and(|(f, _)| f == family),
        None => pattern == event_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_alg_is_es256_or_rs256_exactly_and_absent_means_es256() {
        use crate::v1::SigningAlg;
        assert_eq!(signing_alg(None).unwrap(), SigningAlg::Es256);
        assert_eq!(signing_alg(Some("ES256")).unwrap(), SigningAlg::Es256);
        assert_eq!(signing_alg(Some("RS256")).unwrap(), SigningAlg::Rs256);
        for bad in ["rs256", "none", "HS256", "PS256", "", " RS256"] {
            let err = signing_alg(Some(bad)).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("signing_alg", "invalid_signing_alg"),
                "{bad}"
            );
        }
    }

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
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUVvWLuDGaj6njTy0ZKjGNdBD27dMwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPaWRwLmV4YW1wbGUuY29tMB4XDTI2MTEyOTIyMTkyM1oXDTM2
MTEyNjIyMTkyM1owGjEYMBYGA1UEAwwPaWRwLmV4YW1wbGUuY29tMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEi75AcJtZIY6hn+Jowf/+2k6r/5u2QtuDDV2QXmCq
hbdFqPbKej5h2YWooBjiN80KXu6NOcgGEc1Byn2NnXni9KNTMFEwHQYDVR0OBBYE
FOfIpZnEPU2C+LzSJRsBQKa/hiimMB8GA1UdIwQYMBaAFOfIpZnEPU2C+LzSJRsB
QKa/hiimMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgfkxo7m4v
ztfwBkNxod8Y6MbKj7/7YciDeWf7VKlKp/sCIHp3qabdhKVksZbjgACIVooqm/+K
mAid9EdNwTAOhpr8
-----END CERTIFICATE-----";

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://idp.example.com",
            "https://idp.example.com/realms/x",
            "http://127.0.0.1:8080/",
            "http://[::1]:9000",
            "http://localhost:3000/oidc",
        ] {
            assert!(https_url("oidc.issuer", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com",
            "http://127.0.0.1.example.com",
            "ftp://idp.example.com",
            "https://user:pw@idp.example.com",
            "https://idp.example.com/?x=1",
            "https://idp.example.com/#f",
            "idp.example.com",
            "",
        ] {
            let err = https_url("oidc.issuer", bad).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("oidc.issuer", "invalid_url"),
                "{bad}"
            );
        }
    }

    #[test]
    fn email_domains_are_lowercase_host_names_sorted_without_repeats() {
        let domains = [
            "b.example".to_owned(),
            "a.example.com".to_owned(),
            "b.example".to_owned(),
        ];
        assert_eq!(
            email_domains(&domains).unwrap(),
            ["a.example.com", "b.example"]
        );
        for bad in [
            "Example.com",
            "example",
            "-a.example.com",
            "a-.example.com",
            "a..b",
            "user@example.com",
            "example.123",
            "ex ample.com",
        ] {
            assert_eq!(
                email_domain("email_domains", bad).unwrap_err().code,
                "invalid_email_domain",
                "{bad}"
            );
        }
    }

    #[test]
    fn certificates_must_parse_as_x509() {
        assert_eq!(pem_certificate("c", CERT).unwrap(), CERT);
        assert!(
            pem_certificate("c", &format!("{CERT}\n")).is_ok(),
            "a heredoc's newline"
        );
        for bad in [
            "MIIB",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            assert_eq!(
                pem_certificate("c", bad).unwrap_err().code,
                "invalid_certificate",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_connection_has_exactly_the_block_of_its_kind() {
        use crate::v1::{AzureAdSettings, CreateSsoConnection, OidcSettings, OktaSettings};
        let oidc = CreateSsoConnection {
            name: "corp".into(),
            kind: "oidc".into(),
            oidc: Some(OidcSettings {
                issuer: "https://idp.example.com".into(),
            }),
            client_id: Some("c".into()),
            ..CreateSsoConnection::default()
        };
        let stored = sso_connection(&oidc).unwrap();
        assert_eq!(stored.scopes.unwrap(), ["email", "openid", "profile"]);
        let mut both = oidc.clone();
        both.okta = Some(OktaSettings {
            domain: "x.okta.com".into(),
            authorization_server_id: None,
        });
        let err = sso_connection(&both).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("okta", "block_not_for_kind")
        );
        let azure = CreateSsoConnection {
            kind: "azure_ad".into(),
            oidc: None,
            azure_ad: Some(AzureAdSettings {
                tenant_id: "common".into(),
                allowed_tenants: vec![],
            }),
            ..oidc.clone()
        };
        let err = sso_connection(&azure).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("azure_ad.allowed_tenants", "allowed_tenants_required")
        );
        let mut saml_with_secret = oidc;
        saml_with_secret.kind = "saml".into();
        assert_eq!(sso_connection(&saml_with_secret).unwrap_err().field, "oidc");
    }
    #[test]
    fn cidr_blocks_must_be_canonical_and_say_what_to_write_instead() {
        assert_eq!(cidr("networks", "10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(cidr("networks", "2001:db8::/32").unwrap(), "2001:db8::/32");
        assert_eq!(cidr("networks", "0.0.0.0/0").unwrap(), "0.0.0.0/0");
        let err = cidr("networks", "10.1.2.3/8").unwrap_err();
        assert_eq!(err.code, "invalid_cidr");
        assert!(err.detail.contains("`10.0.0.0/8`"), "{}", err.detail);
        assert!(cidr("networks", "203.0.113.7")
            .unwrap_err()
            .detail
            .contains("/32"));
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "x/8",
            "2001:DB8::/32",
            "::/129",
        ] {
            assert!(cidr("networks", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_access_policy_needs_a_condition_and_known_scopes() {
        let policy = |v: serde_json::Value| access_policy(&serde_json::from_value(v).unwrap());
        let ok = policy(
            serde_json::json!({"name": "mfa", "scopes": ["statuspulse:alerts:manage"],
            "require_mfa": true, "regions": ["eu-west-1", "de", "de"]}),
        )
        .unwrap();
        assert!(ok.enabled);
        assert_eq!(ok.regions, ["de", "eu-west-1"]);
        let err = policy(serde_json::json!({"name": "none", "scopes": ["openid"]})).unwrap_err();
        assert_eq!(err.code, "conditions_required");
        let err = policy(
            serde_json::json!({"name": "x", "scopes": ["read:checks"], "require_mfa": true}),
        )
        .unwrap_err();
        assert_eq!((err.field.as_str(), err.code), ("scopes", "unknown_scope"));
        let err = policy(serde_json::json!({"name": "x", "scopes": ["openid"], "regions": ["EU"]}))
            .unwrap_err();
        assert_eq!(err.code, "invalid_region");
        let err =
            policy(serde_json::json!({"name": "x", "scopes": ["openid"], "client_ids": ["sa_1"]}))
                .unwrap_err();
        assert_eq!(err.code, "invalid_client_id");
    }
    #[test]
    fn globs_match_runs_of_characters_and_nothing_else() {
        assert!(glob_matches(
            "repo:acme/infra:ref:refs/heads/*",
            "repo:acme/infra:ref:refs/heads/main"
        ));
        assert!(glob_matches("a*c*e", "abcde"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(!glob_matches("acme/*", "acme-evil/x"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("a*b", "a"));
        // No exponential blow-up on adversarial input.
        let long = "a".repeat(10_000);
        assert!(!glob_matches(&format!("{}b", "*a".repeat(50)), &long));
    }

    #[test]
    fn a_github_trust_policy_must_pin_the_repository_or_owner() {
        let policy = |conditions: serde_json::Value| {
            workload_identity(
                &serde_json::from_value(serde_json::json!({
                "name": "ci", "issuer": "https://token.actions.githubusercontent.com",
                "audience": "statuspulse", "conditions": conditions,
                "service_account_id": "sa_1", "scopes": ["read:checks"]}))
                .unwrap(),
            )
        };
        assert_eq!(
            policy(serde_json::json!({"ref": "refs/heads/main"}))
                .unwrap_err()
                .code,
            "tenant_not_pinned"
        );
        assert_eq!(
            policy(serde_json::json!({"repository": "*/infra"}))
                .unwrap_err()
                .code,
            "tenant_not_pinned"
        );
        assert_eq!(
            policy(serde_json::json!({"repository": "*"}))
                .unwrap_err()
                .code,
            "condition_matches_anything"
        );
        assert_eq!(
            policy(serde_json::json!({})).unwrap_err().code,
            "invalid_conditions"
        );
        let ok =
            policy(serde_json::json!({"repository": "acme/infra", "ref": "refs/heads/*"})).unwrap();
        assert_eq!(ok.token_lifetime_seconds, 900);
    }
}
