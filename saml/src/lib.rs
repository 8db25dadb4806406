//! SAML 2.0 service provider for StatusPulse Auth's `saml` SSO connections (SPEC "Sign-in",
//! "SSO and tokens"): the AuthnRequest (HTTP-Redirect binding), the SP metadata, and the
//! verification of the IdP's answer (HTTP-POST binding) into a [`SamlIdentity`] or a [`Refusal`].
//!
//! Pure: no I/O, no database, no clock. The caller passes the time, keeps the request ID it sent
//! (to match `InResponseTo`) and keeps a replay cache of [`SamlIdentity::assertion_id`] until
//! [`SamlIdentity::assertion_not_on_or_after`].
//!
//! # The XML signature library: `samael` (xmlsec1)
//! XML signatures are checked by [samael](https://crates.io/crates/samael) 0.0.22, which binds
//! libxmlsec1 and libxml2 (Debian `libxmlsec1-dev libxml2-dev`, bindgen needs `libclang-dev` and
//! `pkg-config`; `saml/scripts/install-build-deps.sh` installs them). Compared in November 2026:
//! - **samael / xmlsec1**: xmlsec1 is the reference XML-DSig implementation behind pysaml2, lasso
//!   and most SAML stacks, with twenty years of exclusive C14N and same-document reference
//!   (`#id`, registered ID attributes, duplicate IDs refused) in production. samael is maintained
//!   (releases through July 2026) and offers `ReduceMode::PreDigest`: after every signature in
//!   the document verifies against exactly the keys we pass, it returns the canonical bytes the
//!   digest was computed over. We read the identity from those bytes, so what we return is by
//!   construction what was signed (the XSW defence below). It also restricts the signature and
//!   digest algorithms before any cryptography runs. Cost: C libraries and a bindgen build step.
//! - **xml-sec** (pure Rust, structured-world): C14N, XMLDSig and XMLEnc, but its README calls
//!   itself an early-stage pre-release not for production, its API changed across four minor
//!   versions in eight months, and it needs Rust 1.92 (the workspace promises 1.85).
//! - **bergshamra** and the SAML crates built on it (`saml-rs`, its fork `risaml`): young,
//!   single-maintainer, Rust 1.88; no track record yet against the XSW literature.
//! - Writing our own restricted verifier (C14N over roxmltree + ring) would be small, but a
//!   canonicalisation bug there is a signature bypass; not something to add under a deadline.
//!
//! # Order of checks in [`verify_response`], and why
//! 1. Size (256 KiB decoded) and base64, before any parsing.
//! 2. No DTD at all (`dtd_forbidden`): SAML never needs one, and refusing it removes XXE and
//!    entity expansion (billion laughs) before libxml2 sees the document. roxmltree parses the
//!    document first, with DTDs disabled.
//! 3. `StatusCode` Success, so an IdP's refusal is reported as such rather than as "not signed".
//! 4. Shape, on the whole document: exactly one `Assertion`, a direct child of the `Response`; no
//!    two elements share an `ID`; every `Signature` is a direct child of the `Response` or of that
//!    assertion and references exactly its own parent (`wrapped` otherwise). Algorithms are
//!    exclusive C14N, enveloped-signature, RSA or ECDSA with SHA-256/384/512 (`weak_algorithm` for
//!    SHA-1). A certificate in `KeyInfo` other than the configured one is `wrong_signer`.
//! 5. Cryptography (xmlsec1): every signature must verify against the configured certificate only;
//!    `KeyInfo` is never used to find a key.
//! 6. The signed bytes (pre-digest) are parsed again and the identity is read from them: the
//!    signed `Response` (whose ID must be the document's) and its assertion, or the signed
//!    assertion (whose ID must be the one assertion of step 4). Nothing is looked up a second time
//!    by position or by ID in the unsigned document (XSW).
//! 7. SAML rules: issuers, audience, bearer `SubjectConfirmationData` (Recipient, NotOnOrAfter,
//!    InResponseTo), `Destination`, `Conditions` times, each with [`CLOCK_SKEW_SECONDS`].
//!
//! Encrypted assertions are refused (`encrypted_assertion`): the SP metadata advertises no
//! encryption key, so an IdP that encrypts is misconfigured.

mod mfa;
mod refusal;
mod request;
mod response;
mod xml;

pub use mfa::{is_mfa_context, MFA_CONTEXT_CLASSES};
pub use refusal::Refusal;
pub use request::{authn_request_redirect_url, new_request_id, sp_metadata};
pub use response::verify_response;

/// How far the IdP's clock may be from ours, in seconds, for every time check.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// The largest decoded `SAMLResponse` accepted. Real responses are a few KiB; this bounds the
/// work an unauthenticated POST can cause.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// One SAML identity provider, as an SSO connection of kind `saml` configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpSettings {
    /// The IdP's entity ID: every `Issuer` in its answers must equal it.
    pub entity_id: String,
    /// Its SingleSignOnService location for the HTTP-Redirect binding.
    pub sso_url: String,
    /// The one certificate its signatures must verify against (PEM, or the bare base64 of the
    /// DER as IdP metadata shows it).
    pub certificate_pem: String,
    /// The attribute carrying group names; `None` tries the usual names (see
    /// [`SamlIdentity::groups`]).
    pub groups_attribute: Option<String>,
}

/// This service provider, for one sign-in attempt.
#[derive(Debug, Clone, Copy)]
pub struct SpContext<'a> {
    /// Our entity ID (the audience the assertion must name).
    pub entity_id: &'a str,
    /// Our AssertionConsumerService URL (Recipient and Destination).
    pub acs_url: &'a str,
    /// The ID of the AuthnRequest this browser was sent with; `None` accepts only IdP-initiated
    /// responses (no `InResponseTo` at all).
    pub expected_request_id: Option<&'a str>,
    /// Now, in Unix seconds.
    pub now_unix: i64,
}

/// The verified identity in a SAML assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlIdentity {
    /// The `NameID` of the subject.
    pub subject: String,
    /// The first value of `email`, `mail`, `emailaddress` (any of their URI forms), or the
    /// `NameID` when its format is `emailAddress`.
    pub email: Option<String>,
    /// The first value of `displayName`, `name` or `cn` (any of their URI forms).
    pub name: Option<String>,
    /// Every value of the configured groups attribute, or else of `groups`, `memberOf`, `Group`
    /// or the Microsoft groups claim; sorted, without duplicates.
    pub groups: Vec<String>,
    /// The `AuthnContextClassRef` of the authentication statement (see [`is_mfa_context`]).
    pub authn_context_class: Option<String>,
    /// The assertion's `ID`, for the replay cache.
    pub assertion_id: String,
    /// The instant (Unix seconds, skew included) from which this assertion would be refused
    /// anyway: the replay cache may forget its ID then.
    pub assertion_not_on_or_after: i64,
    /// The IdP's `SessionNotOnOrAfter`, if it sets one: our session should not outlive it.
    pub session_not_on_or_after: Option<i64>,
}
