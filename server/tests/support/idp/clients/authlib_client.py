"""A second real OAuth client written by others: PyPI Authlib's requests `OAuth2Session`.

The Rust test (server/tests/api/oauth.rs) plays the browser up to the redirect back to the
client; this script is the client from there: the code exchange with the PKCE verifier, a
refresh, and RFC 7009 revocation. Input, one JSON argument:
  {client_id, client_secret, redirect_uri, scope, token_endpoint, revocation_endpoint,
   callback_url, code_verifier, state}
Output, one JSON line: each step's answer (or the error it raised).
"""

import json
import os
import sys

# Our test server speaks plain http on loopback; Authlib refuses that unless told.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

given = json.loads(sys.argv[1])
out = {}


def attempt(name, step):
    try:
        out[name] = step()
    except Exception as error:  # reported, the test decides
        out[name] = {"error": type(error).__name__, "message": str(error)}
    return out[name]


session = OAuth2Session(
    given["client_id"],
    given["client_secret"],
    scope=given["scope"],
    redirect_uri=given["redirect_uri"],
    state=given["state"],
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
token = attempt(
    "code",
    lambda: dict(
        session.fetch_token(
            given["token_endpoint"],
            authorization_response=given["callback_url"],
            code_verifier=given["code_verifier"],
        )
    ),
)
if "refresh_token" in token:
    refreshed = attempt(
        "refresh",
        lambda: dict(session.refresh_token(given["token_endpoint"], refresh_token=token["refresh_token"])),
    )
    if "refresh_token" in refreshed:
        attempt(
            "revocation",
            lambda: {
                "status": session.revoke_token(
                    given["revocation_endpoint"],
                    token=refreshed["refresh_token"],
                    token_type_hint="refresh_token",
                ).status_code
            },
        )
        attempt(
            "refresh_after_revocation",
            lambda: dict(session.refresh_token(given["token_endpoint"], refresh_token=refreshed["refresh_token"])),
        )
print(json.dumps(out))
