//! Which `AuthnContextClassRef` values mean the user passed more than one factor.

/// The multi-factor `AuthnContextClassRef` values recognised by [`is_mfa_context`]:
/// - SAML 2.0 authentication context classes (OASIS saml-authn-context-2.0-os) defined as two
///   factors: `MobileTwoFactorContract`, `MobileTwoFactorUnregistered`, `TimeSyncToken` (a token
///   plus a PIN or password) and `SmartcardPKI` (the card plus its PIN);
/// - Microsoft Entra ID / AD FS: `http://schemas.microsoft.com/claims/multipleauthn`;
/// - REFEDS MFA profile (research and education federations, Shibboleth): `https://refeds.org/profile/mfa`;
/// - Okta's step-up assurance levels for two factors: `urn:okta:loa:2fa:any` and the
///   phishing-resistant `phr` / `phrh`.
///
/// `Smartcard`, `X509`, `Kerberos`, `PasswordProtectedTransport` and anything unknown are single
/// factor: a connection that requires MFA refuses them.
pub const MFA_CONTEXT_CLASSES: &[&str] = &[
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
    "http://schemas.microsoft.com/claims/multipleauthn",
    "https://refeds.org/profile/mfa",
    "urn:okta:loa:2fa:any",
    "phr",
    "phrh",
];

/// Whether `class_ref` (an `AuthnContextClassRef`) is one of [`MFA_CONTEXT_CLASSES`]. Exact
/// comparison after trimming: a prefix or a look-alike is not MFA.
#[must_use]
pub fn is_mfa_context(class_ref: &str) -> bool {
    MFA_CONTEXT_CLASSES.contains(&class_ref.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_factor_classes_are_mfa() {
        for class in MFA_CONTEXT_CLASSES {
            assert!(is_mfa_context(class), "{class}");
        }
        assert!(is_mfa_context(" https://refeds.org/profile/mfa\n"));
    }

    #[test]
    fn password_and_look_alikes_are_not_mfa() {
        for class in [
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
            "https://refeds.org/profile/mfa-not-really",
            "http://refeds.org/profile/mfa",
            "",
        ] {
            assert!(!is_mfa_context(class), "{class}");
        }
    }
}
