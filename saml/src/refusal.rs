//! Why a SAML response (or request) was refused: a stable code for audit events and problem
//! details, and a message an administrator can act on. Neither ever contains the assertion.

use std::fmt;

/// Why [`crate::verify_response`] or [`crate::authn_request_redirect_url`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Not base64, not XML, not a SAML Response, or a required element is missing.
    Malformed(String),
    /// Larger than [`crate::MAX_RESPONSE_BYTES`] once decoded.
    TooLarge,
    /// A DTD or entity declaration (XXE, entity expansion).
    DtdForbidden,
    /// Neither the response nor its assertion carries a signature.
    NotSigned,
    /// The signature names a certificate other than the configured one.
    WrongSigner,
    /// A signature does not verify against the configured certificate.
    SignatureInvalid,
    /// A signature or digest algorithm that is too weak (SHA-1, MD5).
    WeakAlgorithm(String),
    /// A signature, canonicalisation or transform algorithm we do not accept.
    UnsupportedAlgorithm(String),
    /// The signature does not cover the assertion that would be used (XML signature wrapping).
    Wrapped(&'static str),
    /// The assertion is encrypted; no encryption key is advertised.
    EncryptedAssertion,
    /// An `Issuer` is not the configured IdP entity ID.
    WrongIssuer { found: String },
    /// No `Audience` names this service provider.
    WrongAudience,
    /// The bearer confirmation's `Recipient` is not our ACS URL.
    WrongRecipient { found: String },
    /// The response's `Destination` is not our ACS URL.
    WrongDestination { found: String },
    /// `InResponseTo` does not match the request this browser was sent with.
    WrongInResponseTo,
    /// `NotBefore` is in the future (beyond the allowed skew).
    NotYetValid,
    /// `NotOnOrAfter` has passed (beyond the allowed skew).
    Expired,
    /// The IdP answered with a status other than Success.
    StatusNotSuccess { status: String },
    /// The configured IdP settings are unusable (certificate, SSO URL).
    InvalidSettings(String),
    /// Our own request parameters are unusable (request ID, RelayState).
    InvalidRequest(String),
}

impl Refusal {
    /// The stable snake_case code: audit events and API errors carry it, so never change one.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge => "too_large",
            Self::DtdForbidden => "dtd_forbidden",
            Self::NotSigned => "not_signed",
            Self::WrongSigner => "wrong_signer",
            Self::SignatureInvalid => "signature_invalid",
            Self::WeakAlgorithm(_) => "weak_algorithm",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::Wrapped(_) => "wrapped",
            Self::EncryptedAssertion => "encrypted_assertion",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongRecipient { .. } => "wrong_recipient",
            Self::WrongDestination { .. } => "wrong_destination",
            Self::WrongInResponseTo => "wrong_in_response_to",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::StatusNotSuccess { .. } => "status_not_success",
            Self::InvalidSettings(_) => "invalid_settings",
            Self::InvalidRequest(_) => "invalid_request",
        }
    }
}

/// Values echoed from a response are attacker-controlled: shown short and printable only.
fn shown(value: &str) -> String {
    const MAX: usize = 120;
    let mut out: String = value
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(MAX)
        .collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(detail) => write!(f, "the SAML response is malformed: {detail}"),
            Self::TooLarge => write!(
                f,
                "the SAML response is larger than {} KiB; ask the IdP administrator to release fewer attributes",
                crate::MAX_RESPONSE_BYTES / 1024
            ),
            Self::DtdForbidden => write!(f, "the SAML response contains a DTD or entity declaration, which is never accepted"),
            Self::NotSigned => write!(
                f,
                "the SAML response is not signed; configure the IdP to sign the assertion (or the response)"
            ),
            Self::WrongSigner => write!(
                f,
                "the SAML response is signed with a certificate other than the one configured for this connection; \
                 update the connection's certificate if the IdP rotated its key"
            ),
            Self::SignatureInvalid => write!(
                f,
                "the SAML response's signature does not verify against the connection's certificate \
                 (altered in transit, or signed by another key)"
            ),
            Self::WeakAlgorithm(alg) => write!(
                f,
                "the SAML response is signed with a weak algorithm ({}); configure the IdP to sign with RSA-SHA256 or stronger",
                shown(alg)
            ),
            Self::UnsupportedAlgorithm(alg) => write!(
                f,
                "the SAML response uses an unsupported algorithm ({}); use exclusive C14N with RSA or ECDSA and SHA-256 or stronger",
                shown(alg)
            ),
            Self::Wrapped(why) => write!(
                f,
                "the SAML response's signature does not cover the assertion it carries ({why}); possible signature wrapping attack"
            ),
            Self::EncryptedAssertion => write!(
                f,
                "the SAML assertion is encrypted; turn off assertion encryption for this service provider at the IdP"
            ),
            Self::WrongIssuer { found } => write!(
                f,
                "the SAML issuer `{}` is not this connection's IdP entity ID",
                shown(found)
            ),
            Self::WrongAudience => write!(
                f,
                "the SAML assertion is not addressed to this service provider (Audience); check the SP entity ID configured at the IdP"
            ),
            Self::WrongRecipient { found } => write!(
                f,
                "the SAML assertion's Recipient `{}` is not this service provider's ACS URL; check the ACS URL configured at the IdP",
                shown(found)
            ),
            Self::WrongDestination { found } => write!(
                f,
                "the SAML response's Destination `{}` is not this service provider's ACS URL; check the ACS URL configured at the IdP",
                shown(found)
            ),
            Self::WrongInResponseTo => write!(
                f,
                "the SAML response does not answer the sign-in this browser started (InResponseTo); start the sign-in again"
            ),
            Self::NotYetValid => write!(
                f,
                "the SAML assertion is not valid yet; check that the IdP's clock is correct"
            ),
            Self::Expired => write!(
                f,
                "the SAML assertion has expired; sign in again (and check the IdP's clock if this repeats)"
            ),
            Self::StatusNotSuccess { status } => write!(
                f,
                "the IdP did not authenticate the user (status {})",
                shown(status)
            ),
            Self::InvalidSettings(detail) => write!(f, "the SAML connection settings are invalid: {detail}"),
            Self::InvalidRequest(detail) => write!(f, "the SAML request cannot be built: {detail}"),
        }
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_values_are_shortened_and_printable() {
        let refusal = Refusal::WrongIssuer {
            found: format!("evil\n{}", "x".repeat(500)),
        };
        let text = refusal.to_string();
        assert!(!text.contains('\n'));
        assert!(text.len() < 300, "{text}");
        assert_eq!(refusal.code(), "wrong_issuer");
    }
}
