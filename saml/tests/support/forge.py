"""Forges SAML responses for statuspulse-saml's refusal tests.

Reads one JSON spec on stdin (or as the first argument) and prints the response, base64 encoded,
as an IdP would POST it. Signatures are made by pysaml2's xmlsec1 backend (the `xmlsec1` binary),
so they are real XML signatures made by an implementation independent of the one under test.

Spec keys (all optional except the ones the test cares about; times are Unix seconds):
  key, cert          PEM files of the signer (cert goes into KeyInfo)
  sign               "assertion" (default), "response", "both" or "none"
  algorithm          "rsa-sha256" (default), "rsa-sha1", "ecdsa-sha256"
  issuer, audience, recipient, destination, in_response_to   (null omits the attribute/element)
  response_issuer, response_in_response_to   the Response's own, when they should differ
  now, not_before, not_on_or_after, subject_not_on_or_after, session_not_on_or_after
  status             StatusCode value (default Success)
  name_id, email, name, groups (list), authn_context_class (null omits the AuthnContext)
  attack             null, or one of ATTACKS below; evil_name_id is the identity it smuggles in
  assertion_id       the assertion's ID (default: random)
"""

import base64
import datetime
import json
import re
import sys
import uuid

from saml2 import xmldsig as ds
from saml2.sigver import CryptoBackendXmlSec1, get_xmlsec_binary, pre_signature_part

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
ASSERTION_NODE = f"{SAML}:Assertion"
RESPONSE_NODE = f"{SAMLP}:Response"
ALGORITHMS = {
    "rsa-sha256": (ds.SIG_RSA_SHA256, ds.DIGEST_SHA256),
    "rsa-sha1": (ds.SIG_RSA_SHA1, ds.DIGEST_SHA1),
    "ecdsa-sha256": ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", ds.DIGEST_SHA256),
}
ATTACKS = (
    "evil_before",  # unsigned evil assertion before the signed one
    "evil_after",  # ... after it
    "evil_wraps_signed",  # evil assertion containing the signed one
    "signed_in_extensions",  # signed assertion moved into samlp:Extensions, evil one in its place
    "signed_in_object",  # evil assertion carries the signature, signed one inside its ds:Object
    "response_wrapping",  # signed response inside an evil response's Extensions
    "response_signature_moved",  # signed response's Signature moved to an evil root (XSW1)
    "duplicate_id",  # evil assertion reusing the signed assertion's ID
    "doctype_xxe",  # DOCTYPE with an external entity used in the NameID
    "billion_laughs",  # DOCTYPE with nested entity expansion
    "comment_in_name_id",  # XML comment inserted into the signed NameID text after signing
    "tamper_name_id",  # signed NameID changed after signing
    "encrypted_assertion",  # the assertion replaced by an EncryptedAssertion
)


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def attr(name, value):
    return "" if value is None else f' {name}="{value}"'


def pem_body(path):
    text = open(path).read()
    return "".join(line for line in text.splitlines() if line and not line.startswith("-----"))


def signature_template(ident, spec):
    sign_alg, digest_alg = ALGORITHMS[spec.get("algorithm", "rsa-sha256")]
    sig = pre_signature_part(ident, pem_body(spec["cert"]), digest_alg=digest_alg, sign_alg=sign_alg)
    return sig.to_string(nspair={"ds": DS}).decode()


def assertion_xml(spec, ident, name_id, with_sig):
    now = spec["now"]
    attributes = []
    if spec.get("email") is not None:
        attributes.append(("email", [spec["email"]]))
    if spec.get("name") is not None:
        attributes.append(("displayName", [spec["name"]]))
    if spec.get("groups"):
        attributes.append((spec.get("groups_attribute", "groups"), spec["groups"]))
    attribute_xml = "".join(
        f'<saml:Attribute Name="{n}">'
        + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in vals)
        + "</saml:Attribute>"
        for n, vals in attributes
    )
    context = spec.get("authn_context_class", "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
    context_xml = (
        "" if context is None else f"<saml:AuthnContext><saml:AuthnContextClassRef>{context}</saml:AuthnContextClassRef></saml:AuthnContext>"
    )
    audience = spec.get("audience")
    audience_xml = (
        ""
        if audience is None
        else f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
    )
    return (
        f'<saml:Assertion xmlns:saml="{SAML}" ID="{ident}" Version="2.0" IssueInstant="{iso(now)}">'
        f"<saml:Issuer>{spec['issuer']}</saml:Issuer>"
        + (signature_template(ident, spec) if with_sig else "")
        + "<saml:Subject>"
        f'<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>'
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        "<saml:SubjectConfirmationData"
        + attr("NotOnOrAfter", iso(spec.get("subject_not_on_or_after", now + 300)))
        + attr("Recipient", spec.get("recipient"))
        + attr("InResponseTo", spec.get("in_response_to"))
        + "/></saml:SubjectConfirmation></saml:Subject>"
        "<saml:Conditions"
        + attr("NotBefore", iso(spec.get("not_before", now - 30)))
        + attr("NotOnOrAfter", iso(spec.get("not_on_or_after", now + 300)))
        + f">{audience_xml}</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{iso(now)}"'
        + attr("SessionNotOnOrAfter", iso(spec["session_not_on_or_after"]) if "session_not_on_or_after" in spec else None)
        + f' SessionIndex="_s{uuid.uuid4().hex}">{context_xml}</saml:AuthnStatement>'
        + (f"<saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>" if attribute_xml else "")
        + "</saml:Assertion>"
    )


def response_xml(spec, ident, inner, with_sig, extensions=""):
    response_issuer = spec.get("response_issuer", spec["issuer"])
    return (
        f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{ident}" Version="2.0"'
        f' IssueInstant="{iso(spec["now"])}"'
        + attr("Destination", spec.get("destination"))
        + attr("InResponseTo", spec.get("response_in_response_to", spec.get("in_response_to")))
        + ">"
        + (f"<saml:Issuer>{response_issuer}</saml:Issuer>" if response_issuer else "")
        + (signature_template(ident, spec) if with_sig else "")
        + extensions
        + f'<samlp:Status><samlp:StatusCode Value="{spec.get("status", "urn:oasis:names:tc:SAML:2.0:status:Success")}"/></samlp:Status>'
        + inner
        + "</samlp:Response>"
    )


def sign(xml, node, ident, spec):
    backend = CryptoBackendXmlSec1(get_xmlsec_binary())
    out = backend.sign_statement(xml, node, spec["key"], ident)
    # xmlsec1 prints an XML declaration; the IdPs we meet send none, and it does not matter.
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", out)


def element(xml, tag, ident):
    """The complete element `<tag ... ID="ident" ...>...</tag>` (not nested in itself)."""
    match = re.search(rf'<{tag}\b[^>]*\bID="{re.escape(ident)}".*?</{tag}>', xml, re.S)
    if not match:
        raise SystemExit(f"forge: no {tag} with ID {ident}")
    return match.group(0)


def forge(spec):
    attack = spec.get("attack")
    if attack is not None and attack not in ATTACKS:
        raise SystemExit(f"forge: unknown attack {attack}")
    mode = spec.get("sign", "assertion")
    rid = f"_r{uuid.uuid4().hex}"
    # A fixed assertion id lets a test replay one assertion inside a second, valid response.
    aid = spec.get("assertion_id") or f"_a{uuid.uuid4().hex}"
    evil_name = spec.get("evil_name_id", "mallory-admin@example.com")
    evil_aid = aid if attack == "duplicate_id" else f"_e{uuid.uuid4().hex}"
    if attack == "response_wrapping" or attack == "response_signature_moved":
        mode = "response"

    assertion = assertion_xml(spec, aid, spec.get("name_id", "alice@example.com"), mode in ("assertion", "both"))
    xml = response_xml(spec, rid, assertion, mode in ("response", "both"))
    if mode in ("assertion", "both"):
        xml = sign(xml, ASSERTION_NODE, aid, spec)
    if mode in ("response", "both"):
        xml = sign(xml, RESPONSE_NODE, rid, spec)

    evil = assertion_xml(spec, evil_aid, evil_name, False)
    signed_assertion = element(xml, "saml:Assertion", aid)
    if attack in ("evil_before", "duplicate_id"):
        xml = xml.replace(signed_assertion, evil + signed_assertion)
    elif attack == "evil_after":
        xml = xml.replace(signed_assertion, signed_assertion + evil)
    elif attack == "evil_wraps_signed":
        wrapper = evil.replace("</saml:Assertion>", signed_assertion + "</saml:Assertion>")
        xml = xml.replace(signed_assertion, wrapper)
    elif attack == "signed_in_extensions":
        xml = xml.replace(signed_assertion, evil)
        xml = xml.replace("<samlp:Status>", f"<samlp:Extensions>{signed_assertion}</samlp:Extensions><samlp:Status>", 1)
    elif attack == "signed_in_object":
        signature = re.search(r"<ds:Signature\b.*?</ds:Signature>", signed_assertion, re.S).group(0)
        bare = signed_assertion.replace(signature, "")
        moved = signature.replace("</ds:Signature>", f"<ds:Object>{bare}</ds:Object></ds:Signature>")
        xml = xml.replace(signed_assertion, evil.replace("<saml:Subject>", moved + "<saml:Subject>", 1))
    elif attack == "response_wrapping":
        outer_spec = dict(spec)
        xml = response_xml(outer_spec, f"_w{uuid.uuid4().hex}", evil, False, extensions=f"<samlp:Extensions>{xml}</samlp:Extensions>")
    elif attack == "response_signature_moved":
        signature = re.search(r"<ds:Signature\b.*?</ds:Signature>", xml, re.S).group(0)
        bare = xml.replace(signature, "")
        moved = signature.replace("</ds:Signature>", f"<ds:Object>{bare}</ds:Object></ds:Signature>")
        outer = response_xml(spec, f"_w{uuid.uuid4().hex}", evil, False)
        xml = outer.replace("</saml:Issuer>", "</saml:Issuer>" + moved, 1)
    elif attack == "doctype_xxe":
        xml = '<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>' + xml.replace(
            spec.get("name_id", "alice@example.com") + "</saml:NameID>", "&xxe;</saml:NameID>", 1
        )
    elif attack == "billion_laughs":
        entities = '<!ENTITY lol0 "lol">' + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
        )
        xml = f"<!DOCTYPE samlp:Response [{entities}]>" + xml.replace("</saml:Issuer>", "&lol9;</saml:Issuer>", 1)
    elif attack == "comment_in_name_id":
        name_id = spec.get("name_id", "alice@example.com")
        cut = spec.get("comment_after", name_id)
        xml = xml.replace(f">{name_id}</saml:NameID>", f">{cut}<!---->{name_id[len(cut):]}</saml:NameID>", 1)
    elif attack == "tamper_name_id":
        name_id = spec.get("name_id", "alice@example.com")
        xml = xml.replace(f">{name_id}</saml:NameID>", f">{evil_name}</saml:NameID>", 1)
    elif attack == "encrypted_assertion":
        xml = xml.replace(
            signed_assertion,
            '<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">'
            "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>"
            "</xenc:EncryptedData></saml:EncryptedAssertion>",
        )
    return base64.b64encode(xml.encode()).decode()


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    print(forge(json.loads(raw)))


if __name__ == "__main__":
    main()
