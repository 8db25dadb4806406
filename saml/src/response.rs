//! Verifying the IdP's answer (HTTP-POST binding). The order of the checks and the reasons for
//! it are in the crate documentation.

use std::collections::HashSet;

use base64::Engine;
use roxmltree::{Document, Node, ParsingOptions};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, CryptoProvider, ReduceMode, XmlSec,
};

use crate::xml::{child, children, is, parse_instant, text, DSIG, SAML, SAMLP};
use crate::{
    IdpSettings, Refusal, SamlIdentity, SpContext, CLOCK_SKEW_SECONDS, MAX_RESPONSE_BYTES,
};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Accepted SignatureMethods: RSA (PKCS#1 v1.5) and ECDSA with SHA-256 or stronger.
const SIGNATURE_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Attribute names that carry the email address, first match wins (compared ignoring case).
const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "mail",
    "emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
];
/// Attribute names that carry a display name, first match wins (compared ignoring case).
const NAME_ATTRIBUTES: &[&str] = &[
    "displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "name",
    "cn",
    "urn:oid:2.5.4.3",
];
/// Attribute names that carry groups when the connection does not name one (ignoring case).
const GROUP_ATTRIBUTES: &[&str] = &[
    "groups",
    "memberof",
    "ismemberof",
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "http://schemas.xmlsoap.org/claims/group",
];

/// Verifies a `SAMLResponse` form value and returns the identity its signed assertion carries.
pub fn verify_response(
    idp: &IdpSettings,
    sp: &SpContext<'_>,
    saml_response_b64: &str,
) -> Result<SamlIdentity, Refusal> {
    let certificate = certificate_der(&idp.certificate_pem)?;
    let xml = decode(saml_response_b64)?;
    let document = parse(&xml)?;
    let response = document.root_element();
    if !is(response, SAMLP, "Response") {
        return Err(Refusal::Malformed(
            "the document is not a SAML Response".into(),
        ));
    }
    check_status(response)?;
    let assertion_id = check_shape(response, &certificate)?;

    // Only now does the document reach libxml2 and xmlsec1.
    let signed_xml = XmlSec::reduce_xml_to_signed_with_allowed_algorithms(
        &xml,
        &[CertificateDer::from(certificate)],
        ReduceMode::PreDigest,
        Some(SIGNATURE_ALGORITHMS),
    )
    .map_err(|_| Refusal::SignatureInvalid)?;
    let signed_document = parse(&signed_xml)?;
    let (signed_response, assertion) =
        signed_assertion(signed_document.root_element(), response, &assertion_id)?;

    // The response envelope is read from the signed bytes when the response is signed; when only
    // the assertion is, from the document (its checks can then only refuse more).
    check_envelope(signed_response.unwrap_or(response), idp, sp)?;
    identity(assertion, idp, sp)
}

/// The DER of the configured certificate (PEM, or bare base64 as IdP metadata shows it).
fn certificate_der(pem: &str) -> Result<Vec<u8>, Refusal> {
    let body = match (
        pem.find("-----BEGIN CERTIFICATE-----"),
        pem.find("-----END CERTIFICATE-----"),
    ) {
        (Some(begin), Some(end)) if begin < end => {
            &pem[begin + "-----BEGIN CERTIFICATE-----".len()..end]
        }
        (None, None) => pem,
        _ => {
            return Err(Refusal::InvalidSettings(
                "the IdP certificate is not a PEM certificate".into(),
            ))
        }
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        // A DER certificate is a SEQUENCE.
        Ok(der) if der.first() == Some(&0x30) => Ok(der),
        _ => Err(Refusal::InvalidSettings(
            "the IdP certificate is not a PEM certificate".into(),
        )),
    }
}

/// Base64 to UTF-8 text, bounded before and after decoding.
fn decode(b64: &str) -> Result<String, Refusal> {
    let max_encoded = MAX_RESPONSE_BYTES.div_ceil(3) * 4;
    // Line breaks inside the base64 are allowed (some IdPs wrap at 76), but not unbounded.
    if b64.len() > max_encoded * 2 {
        return Err(Refusal::TooLarge);
    }
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > max_encoded {
        return Err(Refusal::TooLarge);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Refusal::Malformed("SAMLResponse is not base64".into()))?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(Refusal::TooLarge);
    }
    String::from_utf8(bytes)
        .map_err(|_| Refusal::Malformed("the SAML response is not UTF-8".into()))
}

/// Parses with DTDs refused. The text scan catches a DTD wherever it hides; the declared encoding
/// must be UTF-8 so that roxmltree and libxml2 read the same characters.
fn parse(xml: &str) -> Result<Document<'_>, Refusal> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(Refusal::DtdForbidden);
    }
    if let Some(declaration) = xml.trim_start_matches('\u{feff}').strip_prefix("<?xml") {
        let declaration = declaration
            .split("?>")
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if declaration.contains("encoding") && !declaration.contains("utf-8") {
            return Err(Refusal::Malformed(
                "the SAML response must be encoded in UTF-8".into(),
            ));
        }
    }
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => Refusal::DtdForbidden,
        _ => Refusal::Malformed("the SAML response is not well-formed XML".into()),
    })
}

fn check_status(response: Node<'_, '_>) -> Result<(), Refusal> {
    let code = child(response, SAMLP, "Status")
        .and_then(|s| child(s, SAMLP, "StatusCode"))
        .and_then(|c| c.attribute("Value").map(|v| (c, v)));
    match code {
        Some((_, SUCCESS)) => Ok(()),
        Some((code, value)) => {
            // The second-level code says why (AuthnFailed, RequestDenied, NoPassive...).
            let status = match child(code, SAMLP, "StatusCode").and_then(|c| c.attribute("Value")) {
                Some(detail) => format!("{value} / {detail}"),
                None => value.to_owned(),
            };
            Err(Refusal::StatusNotSuccess { status })
        }
        None => Err(Refusal::Malformed("the response has no StatusCode".into())),
    }
}

/// Structure of the whole document before any cryptography; returns the assertion's ID.
fn check_shape(response: Node<'_, '_>, certificate: &[u8]) -> Result<String, Refusal> {
    if response
        .descendants()
        .any(|n| is(n, SAML, "EncryptedAssertion"))
    {
        return Err(Refusal::EncryptedAssertion);
    }
    // libxml2 finds `ID` attributes whatever their namespace, so uniqueness is checked the same way:
    // two elements with one ID would let the reference resolve to one and the reader to the other.
    let mut ids = HashSet::new();
    for node in response.descendants().filter(Node::is_element) {
        for attribute in node.attributes().filter(|a| a.name() == "ID") {
            if !ids.insert(attribute.value()) {
                return Err(Refusal::Wrapped("two elements share one ID"));
            }
        }
    }

    let assertions: Vec<_> = response
        .descendants()
        .filter(|n| is(*n, SAML, "Assertion"))
        .collect();
    let assertion = match assertions.as_slice() {
        [] => {
            return Err(Refusal::Malformed(
                "the response carries no assertion".into(),
            ))
        }
        [one] => *one,
        _ => {
            return Err(Refusal::Wrapped(
                "the response carries more than one assertion",
            ))
        }
    };
    if assertion.parent_element() != Some(response) {
        return Err(Refusal::Wrapped(
            "the assertion is not a direct child of the response",
        ));
    }
    let assertion_id = assertion
        .attribute("ID")
        .ok_or_else(|| Refusal::Malformed("the assertion has no ID".into()))?;

    let signatures: Vec<_> = response
        .descendants()
        .filter(|n| is(*n, DSIG, "Signature"))
        .collect();
    if signatures.is_empty() {
        return Err(Refusal::NotSigned);
    }
    for signature in signatures {
        match signature.parent_element() {
            Some(parent) if parent == response || parent == assertion => {
                check_signature(signature, parent, certificate)?;
            }
            _ => {
                return Err(Refusal::Wrapped(
                    "a signature is outside the response and its assertion",
                ))
            }
        }
    }
    Ok(assertion_id.to_owned())
}

/// One `Signature`: it must sign exactly its parent, with algorithms we accept, and must not
/// name another signer's certificate.
fn check_signature(
    signature: Node<'_, '_>,
    parent: Node<'_, '_>,
    certificate: &[u8],
) -> Result<(), Refusal> {
    let signed_info = child(signature, DSIG, "SignedInfo").ok_or_else(incomplete_signature)?;

    let c14n = algorithm(child(signed_info, DSIG, "CanonicalizationMethod"))?;
    if c14n != EXC_C14N {
        return Err(algorithm_refusal(c14n));
    }
    let method = algorithm(child(signed_info, DSIG, "SignatureMethod"))?;
    if !SIGNATURE_ALGORITHMS
        .iter()
        .any(|a| a.signature_uri() == method)
    {
        return Err(algorithm_refusal(method));
    }
    let references: Vec<_> = children(signed_info, DSIG, "Reference").collect();
    let [reference] = references.as_slice() else {
        return Err(Refusal::Wrapped(
            "a signature must reference exactly one element",
        ));
    };
    let own_id = parent.attribute("ID").map(|id| format!("#{id}"));
    if own_id.is_none() || reference.attribute("URI") != own_id.as_deref() {
        return Err(Refusal::Wrapped(
            "a signature references an element other than the one it is in",
        ));
    }
    if let Some(transforms) = child(*reference, DSIG, "Transforms") {
        for transform in children(transforms, DSIG, "Transform") {
            let alg = algorithm(Some(transform))?;
            if alg != ENVELOPED && alg != EXC_C14N {
                return Err(algorithm_refusal(alg));
            }
        }
    }
    let digest = algorithm(child(*reference, DSIG, "DigestMethod"))?;
    if !SIGNATURE_ALGORITHMS
        .iter()
        .any(|a| a.digest_uri() == digest)
    {
        return Err(algorithm_refusal(digest));
    }

    // KeyInfo never chooses the key; a different certificate there only makes the refusal precise.
    let key_info = child(signature, DSIG, "KeyInfo");
    for embedded in key_info
        .into_iter()
        .flat_map(|k| k.descendants())
        .filter(|n| is(*n, DSIG, "X509Certificate"))
    {
        let compact: String = text(embedded)
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap_or_default();
        if der != certificate {
            return Err(Refusal::WrongSigner);
        }
    }
    Ok(())
}

fn incomplete_signature() -> Refusal {
    Refusal::Malformed("a Signature is incomplete".into())
}

/// The `Algorithm` of a SignedInfo child.
fn algorithm<'a>(node: Option<Node<'a, '_>>) -> Result<&'a str, Refusal> {
    node.and_then(|n| n.attribute("Algorithm"))
        .ok_or_else(incomplete_signature)
}

fn algorithm_refusal(algorithm: &str) -> Refusal {
    let lower = algorithm.to_ascii_lowercase();
    if lower.contains("sha1") || lower.contains("md5") {
        Refusal::WeakAlgorithm(algorithm.to_owned())
    } else {
        Refusal::UnsupportedAlgorithm(algorithm.to_owned())
    }
}

/// The assertion to read, taken from the signed bytes: the signed response's one assertion, or
/// the signed assertion itself. Returns the signed response too, when it is what was signed.
fn signed_assertion<'a, 'i>(
    signed: Node<'a, 'i>,
    response: Node<'_, '_>,
    assertion_id: &str,
) -> Result<(Option<Node<'a, 'i>>, Node<'a, 'i>), Refusal> {
    if is(signed, SAMLP, "Response") {
        if signed.attribute("ID").is_none() || signed.attribute("ID") != response.attribute("ID") {
            return Err(Refusal::Wrapped(
                "the signed response is not the response received",
            ));
        }
        let assertions: Vec<_> = children(signed, SAML, "Assertion").collect();
        match assertions.as_slice() {
            [one] if one.attribute("ID") == Some(assertion_id) => Ok((Some(signed), *one)),
            _ => Err(Refusal::Wrapped(
                "the signed response does not carry the response's assertion",
            )),
        }
    } else if is(signed, SAML, "Assertion") {
        if signed.attribute("ID") == Some(assertion_id) {
            Ok((None, signed))
        } else {
            Err(Refusal::Wrapped(
                "the signed assertion is not the response's assertion",
            ))
        }
    } else {
        Err(Refusal::Wrapped(
            "the signature covers neither the response nor its assertion",
        ))
    }
}

/// The response's own Issuer, Destination and InResponseTo (each optional in SAML).
fn check_envelope(
    response: Node<'_, '_>,
    idp: &IdpSettings,
    sp: &SpContext<'_>,
) -> Result<(), Refusal> {
    if let Some(issuer) = child(response, SAML, "Issuer") {
        check_issuer(issuer, idp)?;
    }
    if let Some(destination) = response.attribute("Destination") {
        if destination != sp.acs_url {
            return Err(Refusal::WrongDestination {
                found: destination.to_owned(),
            });
        }
    }
    if let Some(found) = response.attribute("InResponseTo") {
        if sp.expected_request_id != Some(found) {
            return Err(Refusal::WrongInResponseTo);
        }
    }
    Ok(())
}

fn check_issuer(issuer: Node<'_, '_>, idp: &IdpSettings) -> Result<(), Refusal> {
    let found = text(issuer);
    if found == idp.entity_id {
        Ok(())
    } else {
        Err(Refusal::WrongIssuer { found })
    }
}

/// `NotBefore` with the skew: refused while `now + skew < not_before`.
fn check_not_before(node: Node<'_, '_>, now: i64) -> Result<(), Refusal> {
    match node.attribute("NotBefore") {
        Some(value) if now + CLOCK_SKEW_SECONDS < parse_instant(value, "NotBefore")? => {
            Err(Refusal::NotYetValid)
        }
        _ => Ok(()),
    }
}

/// `NotOnOrAfter` with the skew: refused once `now - skew >= not_on_or_after`. Returns it.
fn check_not_on_or_after(value: &str, now: i64) -> Result<i64, Refusal> {
    let not_on_or_after = parse_instant(value, "NotOnOrAfter")?;
    if now - CLOCK_SKEW_SECONDS >= not_on_or_after {
        Err(Refusal::Expired)
    } else {
        Ok(not_on_or_after)
    }
}

/// One bearer `SubjectConfirmationData`: Recipient, times, InResponseTo. Returns its NotOnOrAfter.
fn check_confirmation(confirmation: Node<'_, '_>, sp: &SpContext<'_>) -> Result<i64, Refusal> {
    let data = child(confirmation, SAML, "SubjectConfirmationData").ok_or_else(|| {
        Refusal::Malformed("the bearer confirmation has no SubjectConfirmationData".into())
    })?;
    match data.attribute("Recipient") {
        Some(recipient) if recipient == sp.acs_url => {}
        found => {
            return Err(Refusal::WrongRecipient {
                found: found.unwrap_or("(none)").to_owned(),
            })
        }
    }
    check_not_before(data, sp.now_unix)?;
    let not_on_or_after = data
        .attribute("NotOnOrAfter")
        .ok_or_else(|| Refusal::Malformed("the bearer confirmation has no NotOnOrAfter".into()))?;
    let not_on_or_after = check_not_on_or_after(not_on_or_after, sp.now_unix)?;
    if data.attribute("InResponseTo") != sp.expected_request_id {
        return Err(Refusal::WrongInResponseTo);
    }
    Ok(not_on_or_after)
}

/// Every check on the signed assertion, then the identity it carries.
fn identity(
    assertion: Node<'_, '_>,
    idp: &IdpSettings,
    sp: &SpContext<'_>,
) -> Result<SamlIdentity, Refusal> {
    let now = sp.now_unix;
    let issuer = child(assertion, SAML, "Issuer")
        .ok_or_else(|| Refusal::Malformed("the assertion has no Issuer".into()))?;
    check_issuer(issuer, idp)?;

    // Conditions: the validity window and the audience (every AudienceRestriction must name us).
    let conditions = child(assertion, SAML, "Conditions").ok_or(Refusal::WrongAudience)?;
    check_not_before(conditions, now)?;
    let conditions_end = conditions
        .attribute("NotOnOrAfter")
        .map(|v| check_not_on_or_after(v, now))
        .transpose()?;
    let restrictions: Vec<_> = children(conditions, SAML, "AudienceRestriction").collect();
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| children(*r, SAML, "Audience").any(|a| text(a) == sp.entity_id))
    {
        return Err(Refusal::WrongAudience);
    }

    // Subject: the NameID and one bearer confirmation that holds (the first failure explains).
    let subject = child(assertion, SAML, "Subject")
        .ok_or_else(|| Refusal::Malformed("the assertion has no Subject".into()))?;
    let name_id = child(subject, SAML, "NameID")
        .ok_or_else(|| Refusal::Malformed("the subject has no NameID".into()))?;
    let subject_value = text(name_id);
    if subject_value.is_empty() {
        return Err(Refusal::Malformed("the NameID is empty".into()));
    }
    let mut confirmed = None;
    let mut first_failure = None;
    for confirmation in children(subject, SAML, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(BEARER))
    {
        match check_confirmation(confirmation, sp) {
            Ok(end) => {
                confirmed = Some(end);
                break;
            }
            Err(refusal) => {
                first_failure.get_or_insert(refusal);
            }
        }
    }
    let confirmation_end = match (confirmed, first_failure) {
        (Some(end), _) => end,
        (None, Some(refusal)) => return Err(refusal),
        (None, None) => {
            return Err(Refusal::Malformed(
                "the subject has no bearer SubjectConfirmation".into(),
            ))
        }
    };

    let statement = child(assertion, SAML, "AuthnStatement")
        .ok_or_else(|| Refusal::Malformed("the assertion has no AuthnStatement".into()))?;
    let authn_context_class = child(statement, SAML, "AuthnContext")
        .and_then(|c| child(c, SAML, "AuthnContextClassRef"))
        .map(text)
        .filter(|c| !c.is_empty());
    let session_not_on_or_after = statement
        .attribute("SessionNotOnOrAfter")
        .map(|v| parse_instant(v, "SessionNotOnOrAfter"))
        .transpose()?;

    let attributes: Vec<(String, Vec<String>)> = children(assertion, SAML, "AttributeStatement")
        .flat_map(|s| children(s, SAML, "Attribute"))
        .filter_map(|a| {
            let values = children(a, SAML, "AttributeValue")
                .map(text)
                .filter(|v| !v.is_empty());
            Some((a.attribute("Name")?.to_owned(), values.collect()))
        })
        .collect();
    let values_of = |name: &str| {
        attributes
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect::<Vec<_>>()
    };
    let first_of = |names: &[&str]| names.iter().find_map(|n| values_of(n).into_iter().next());

    let email = first_of(EMAIL_ATTRIBUTES).or_else(|| {
        (name_id.attribute("Format") == Some(NAME_ID_EMAIL)).then(|| subject_value.clone())
    });
    let mut groups = match &idp.groups_attribute {
        Some(name) => values_of(name),
        None => GROUP_ATTRIBUTES
            .iter()
            .map(|n| values_of(n))
            .find(|v| !v.is_empty())
            .unwrap_or_default(),
    };
    groups.sort();
    groups.dedup();

    let assertion_id = assertion
        .attribute("ID")
        .ok_or_else(|| Refusal::Malformed("the assertion has no ID".into()))?;
    // Refused from the earlier of the two ends, plus the skew: the replay cache may forget it then.
    let end = conditions_end.map_or(confirmation_end, |c| c.min(confirmation_end));
    Ok(SamlIdentity {
        subject: subject_value,
        email,
        name: first_of(NAME_ATTRIBUTES),
        groups,
        authn_context_class,
        assertion_id: assertion_id.to_owned(),
        assertion_not_on_or_after: end + CLOCK_SKEW_SECONDS,
        session_not_on_or_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response skeleton: `{sig}` marks where a signature template goes, `{body}` the rest.
    fn response(response_sig: &str, body: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xmlns:ds="{DSIG}" ID="_r"><saml:Issuer>idp</saml:Issuer>{response_sig}<samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>{body}</samlp:Response>"#
        )
    }

    fn signature(uri: &str, method: &str, digest: &str) -> String {
        format!(
            r#"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"#
        )
    }

    const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

    fn good_signature(uri: &str) -> String {
        signature(uri, RSA_SHA256, SHA256)
    }

    fn assertion(id: &str, sig: &str) -> String {
        format!(
            r#"<saml:Assertion xmlns:saml="{SAML}" ID="{id}"><saml:Issuer>idp</saml:Issuer>{sig}<saml:Subject/></saml:Assertion>"#
        )
    }

    fn shape(xml: &str) -> Result<String, Refusal> {
        let doc = parse(xml).unwrap();
        check_shape(doc.root_element(), &[0x30])
    }

    #[test]
    fn a_signature_on_the_response_or_its_assertion_has_an_acceptable_shape() {
        let signed_assertion = response("", &assertion("_a", &good_signature("#_a")));
        assert_eq!(shape(&signed_assertion).unwrap(), "_a");
        let signed_response = response(&good_signature("#_r"), &assertion("_a", ""));
        assert_eq!(shape(&signed_response).unwrap(), "_a");
    }

    #[test]
    fn a_signature_referencing_another_element_is_wrapping() {
        // The assertion's signature pointing at the response, and one with two references.
        let elsewhere = response("", &assertion("_a", &good_signature("#_r")));
        assert_eq!(shape(&elsewhere).unwrap_err().code(), "wrapped");
        let two = good_signature("#_a").replace(
            "</ds:SignedInfo>",
            r##"<ds:Reference URI="#_r"/></ds:SignedInfo>"##,
        );
        let two = response("", &assertion("_a", &two));
        assert_eq!(shape(&two).unwrap_err().code(), "wrapped");
        let whole_document = response("", &assertion("_a", &good_signature("")));
        assert_eq!(shape(&whole_document).unwrap_err().code(), "wrapped");
    }

    #[test]
    fn a_signature_outside_the_response_and_its_assertion_is_wrapping() {
        let in_extensions = format!(
            r#"<samlp:Extensions><saml:Thing ID="_x">{}</saml:Thing></samlp:Extensions>{}"#,
            good_signature("#_x"),
            assertion("_a", "")
        );
        assert_eq!(
            shape(&response("", &in_extensions)).unwrap_err().code(),
            "wrapped"
        );
    }

    #[test]
    fn an_id_repeated_even_in_another_namespace_is_wrapping() {
        // libxml2 registers `x:ID` as an ID too (it ignores the namespace).
        let body = format!(
            r#"<samlp:Extensions xmlns:x="urn:x" x:ID="_a"/>{}"#,
            assertion("_a", &good_signature("#_a"))
        );
        assert_eq!(shape(&response("", &body)).unwrap_err().code(), "wrapped");
    }

    #[test]
    fn sha1_is_weak_and_inclusive_c14n_unsupported() {
        let sha1 = signature("#_a", "http://www.w3.org/2000/09/xmldsig#rsa-sha1", SHA256);
        assert_eq!(
            shape(&response("", &assertion("_a", &sha1)))
                .unwrap_err()
                .code(),
            "weak_algorithm"
        );
        let sha1_digest = signature("#_a", RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#sha1");
        assert_eq!(
            shape(&response("", &assertion("_a", &sha1_digest)))
                .unwrap_err()
                .code(),
            "weak_algorithm"
        );
        let inclusive = good_signature("#_a").replace(
            &format!(r#"<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>"#),
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>"#,
        );
        assert_eq!(
            shape(&response("", &assertion("_a", &inclusive)))
                .unwrap_err()
                .code(),
            "unsupported_algorithm"
        );
        let xslt =
            good_signature("#_a").replace(ENVELOPED, "http://www.w3.org/TR/1999/REC-xslt-19991116");
        assert_eq!(
            shape(&response("", &assertion("_a", &xslt)))
                .unwrap_err()
                .code(),
            "unsupported_algorithm"
        );
    }

    #[test]
    fn the_identity_is_read_from_the_signed_bytes_not_from_the_document() {
        // Even if the document had slipped two assertions past check_shape, the assertion read is
        // the one in the signed bytes, and a signed assertion with another ID is refused.
        let document = response(
            "",
            &format!("{}{}", assertion("_evil", ""), assertion("_a", "")),
        );
        let document = parse(&document).unwrap();
        let signed = assertion("_a", "");
        let signed = parse(&signed).unwrap();
        let (envelope, chosen) =
            signed_assertion(signed.root_element(), document.root_element(), "_a").unwrap();
        assert!(envelope.is_none());
        assert_eq!(chosen.attribute("ID"), Some("_a"));
        let err =
            signed_assertion(signed.root_element(), document.root_element(), "_evil").unwrap_err();
        assert_eq!(err.code(), "wrapped");
    }

    #[test]
    fn a_signed_response_must_be_the_received_response_with_its_assertion() {
        let received = response("", &assertion("_a", ""));
        let received = parse(&received).unwrap();
        let other_response =
            response("", &assertion("_a", "")).replace(r#"ID="_r""#, r#"ID="_other""#);
        let other_response = parse(&other_response).unwrap();
        let err = signed_assertion(other_response.root_element(), received.root_element(), "_a")
            .unwrap_err();
        assert_eq!(err.code(), "wrapped");
        let (envelope, chosen) =
            signed_assertion(received.root_element(), received.root_element(), "_a").unwrap();
        assert!(envelope.is_some());
        assert_eq!(chosen.attribute("ID"), Some("_a"));
    }

    #[test]
    fn the_certificate_is_accepted_as_pem_or_bare_base64() {
        let pem = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert_eq!(certificate_der(pem).unwrap(), [0x30, 0]);
        assert_eq!(certificate_der(" MAA= ").unwrap(), [0x30, 0]);
        assert_eq!(
            certificate_der("not a cert").unwrap_err().code(),
            "invalid_settings"
        );
        assert_eq!(
            certificate_der("-----BEGIN CERTIFICATE-----\nMAA=")
                .unwrap_err()
                .code(),
            "invalid_settings"
        );
    }

    #[test]
    fn a_dtd_is_refused_before_parsing() {
        let xxe = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe).unwrap_err().code(), "dtd_forbidden");
        assert_eq!(
            parse("<r><!ENTITY x 'y'></r>").unwrap_err().code(),
            "dtd_forbidden"
        );
    }
}
