"""Schemathesis hooks for StatusPulse Auth (loaded through `SCHEMATHESIS_HOOKS`).

Two things a generic fuzzer cannot know about this API, and one check made stricter:

1. `Idempotency-Key` is a client's promise that two requests with the same key are the same
   request. A generator that reuses one value for different bodies is refused with
   `422 idempotency_key_reused`, as the contract says; so each generated request gets a fresh
   key, as every real client sends. Our own tests cover reuse (`tests/api/idempotency.rs`).
2. The run's own credential is not revoked, rotated or narrowed by the run (ids in
   `STATUSPULSE_PROTECTED_IDS`): the request is sent for an id that does not exist instead
   (a documented 404), so the rest of the run is not a wall of 401s.
3. `positive_data_acceptance_by_code` replaces Schemathesis's `positive_data_acceptance`: a
   request the document allows must not be refused (400 or 422), except for the refusals listed
   in `STATE_OR_CROSS_FIELD` below, each a rule no JSON Schema can state (it depends on other
   objects, on the operator's configuration, or on two query parameters together). Any other
   code, on any operation, fails the run. The list names codes, not statuses, so it cannot hide a
   new refusal.
"""

import json
import os
import re
import uuid

import schemathesis

PROTECTED = [i for i in os.environ.get("STATUSPULSE_PROTECTED_IDS", "").split(",") if i]
IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")

# (method, path template) -> {code: why the document cannot forbid it}
STATE_OR_CROSS_FIELD = {
    ("POST", "/v1/api-keys"): {
        "admin_all_forbidden": "depends on the workspace policy",
        "scopes_exceed_bindings": "depends on the service account's role bindings",
        "unknown_cluster": "depends on the workspace's environment clusters",
        "cluster_not_in_bindings": "depends on the service account's role bindings",
        "cluster_environment_mismatch": "depends on the named cluster's environment",
        "unknown_service_account": "depends on which service accounts exist",
    },
    ("POST", "/v1/api-keys/check"): "POST /v1/api-keys",
    ("PATCH", "/v1/api-keys/{id}"): "POST /v1/api-keys",
    ("POST", "/v1/role-bindings"): {
        "admin_all_forbidden": "depends on the workspace policy",
        "unknown_cluster": "depends on the workspace's environment clusters",
        "scopes_exceed_caller": "depends on what the caller holds",
        "unknown_service_account": "depends on which service accounts exist",
    },
    ("PATCH", "/v1/role-bindings/{id}"): "POST /v1/role-bindings",
    ("POST", "/v1/workload-identities"): {
        "unknown_service_account": "depends on which service accounts exist",
        "tenant_not_pinned": "depends on the issuer: shared issuers (GitHub, GitLab.com) need a tenant claim",
        "scope_beyond_bindings": "depends on the service account's role bindings",
        "invalid_url": "URL grammar (RFC 3986 host and port) is more than a pattern states; the document says `https://…`",
    },
    ("PATCH", "/v1/workload-identities/{id}"): "POST /v1/workload-identities",
    ("POST", "/v1/workspaces"): {"unknown_tier": "tiers are the operator's configuration (--rate-limit-tiers)"},
    ("PATCH", "/v1/workspaces/{id}"): "POST /v1/workspaces",
    ("PATCH", "/v1/anomaly-rules/{id}"): {
        "not_applicable": "depends on the stored rule's kind",
        "out_of_range": "the least threshold depends on the stored rule's kind",
    },
    ("POST", "/v1/access-policies"): {
        "unknown_client": "depends on which OAuth clients exist",
        "invalid_cidr": "a CIDR block has no host bits (10.0.0.0/8, not 10.0.0.1/8) and valid octets",
    },
    ("PATCH", "/v1/access-policies/{id}"): {
        "conditions_required": "depends on the stored policy's conditions",
        "unknown_client": "depends on which OAuth clients exist",
        "invalid_cidr": "a CIDR block has no host bits (10.0.0.0/8, not 10.0.0.1/8) and valid octets",
    },
    ("POST", "/v1/oauth-clients"): {"invalid_redirect_uri": "URL grammar (RFC 3986 host and port) is more than a pattern states; the document says `https://…`"},
    ("PATCH", "/v1/oauth-clients/{id}"): "POST /v1/oauth-clients",
    ("POST", "/v1/audit-sinks"): {
        "credentials_incomplete": "a new key id needs its secret; the settings schema is shared with updates, which may keep the stored one",
        "invalid_url": "URL grammar (RFC 3986 host and port) is more than a pattern states; the document says `https://…`",
    },
    ("PATCH", "/v1/audit-sinks/{id}"): {
        "invalid_url": "URL grammar (RFC 3986 host and port) is more than a pattern states; the document says `https://…`",
        "kind_immutable": "depends on the stored sink's destination kind",
        "credentials_incomplete": "a changed access key id needs its secret unless the stored one is kept",
    },
    ("POST", "/v1/audit-sinks/{id}/replay"): {
        "invalid_from_seq": "depends on the last sequence number recorded",
    },
    ("PATCH", "/v1/sso-connections/{id}"): {
        "kind_immutable": "depends on the stored connection's kind",
        "block_required": "depends on the stored connection's kind",
        "block_not_for_kind": "depends on the stored connection's kind",
        "field_not_for_kind": "depends on the stored connection's kind",
        "client_id_required": "depends on the stored connection's kind",
        "allowed_tenants_required": "depends on the stored connection's tenant",
        "allowed_tenants_not_for_single_tenant": "depends on the stored connection's tenant",
        "invalid_certificate": "a PEM block must hold a certificate that parses (X.509)",
        "invalid_url": "URL grammar (RFC 3986 host and port) is more than a pattern states; the document says `https://…`",
    },
    ("POST", "/v1/sso-connections"): {
        "invalid_certificate": "a PEM block must hold a certificate that parses (X.509)",
        "invalid_domain": "a DNS host name (labels, lengths, a dot) is more than a pattern states",
        "invalid_url": "URL grammar (RFC 3986 host and port) is more than a pattern states; the document says `https://…`",
    },
    ("GET", "/v1/effective-access"): {
        "principal_required": "exactly one of four query parameters",
        "circumstances_for_people_only": "client_id, mfa, amr, ip and region go with user_id or group only",
        "unknown_client": "depends on which OAuth clients exist",
    },
    ("GET", "/v1/audit-events/export"): {"invalid_seq": "to_seq must not be before from_seq"},
    ("GET", "/v1/sso/login"): {
        "connection_or_email_required": "exactly one of two query parameters",
    },
    ("GET", "/oauth2/authorize"): {
        "invalid_client": "depends on which OAuth clients exist",
    },
    ("GET", "/oauth2/callback"): {
        "state_invalid": "depends on a sign-in in progress",
        "state_expired": "depends on a sign-in in progress",
        "browser_mismatch": "depends on the browser's sign-in cookie",
    },
    ("POST", "/v1/sso/saml/acs"): "GET /oauth2/callback",
}


# Every list: a cursor is only ever one the server handed out.
LISTS = {"invalid_cursor": "a cursor is one the server handed out"}


def allowed_codes(method, path):
    if method == "GET" and (method, path) not in STATE_OR_CROSS_FIELD:
        return LISTS
    entry = STATE_OR_CROSS_FIELD.get((method, path), {})
    if isinstance(entry, str):
        other_method, other_path = entry.split(" ", 1)
        entry = STATE_OR_CROSS_FIELD[(other_method, other_path)]
    if method == "GET":
        entry = {**LISTS, **entry}
    return entry


def _replace_protected(value):
    if isinstance(value, str):
        for protected in PROTECTED:
            if protected and protected in value:
                prefix = protected.split("_", 1)[0]
                value = value.replace(protected, prefix + "_" + "0" * 32)
        return value
    if isinstance(value, dict):
        return {k: _replace_protected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_protected(v) for v in value]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers if case.headers is not None else {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str):
            if IDEMPOTENCY_KEY.match(headers[name]):
                headers[name] = str(uuid.uuid4())
    if case.method.upper() != "GET" and PROTECTED:
        if case.path_parameters:
            case.path_parameters = _replace_protected(case.path_parameters)
        if isinstance(case.body, (dict, list, str)):
            case.body = _replace_protected(case.body)


def _code(response):
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    text = response.text or ""
    if "json" in content_type:
        try:
            return json.loads(text).get("code") or json.loads(text).get("error")
        except (ValueError, AttributeError):
            return None
    match = re.search(r'<code id="code">([^<]*)</code>', text)
    return match.group(1) if match else None


@schemathesis.check
def positive_data_acceptance_by_code(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    code = _code(response)
    allowed = allowed_codes(case.method.upper(), case.operation.path)
    if code in allowed:
        return None
    raise AssertionError(
        f"A request the document allows was refused: {response.status_code} `{code}` "
        f"({case.method.upper()} {case.operation.path}). Either the document should forbid it, "
        "or the rule depends on state and belongs in STATE_OR_CROSS_FIELD with its reason."
    )
