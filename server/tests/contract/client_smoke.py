#!/usr/bin/env python3
"""Smoke test of a client generated from StatusPulse Auth's OpenAPI document.

    python client_smoke.py <base_url> <admin_key> <generated_client_dir>

<generated_client_dir> is the directory `openapi-python-client generate
--output-path` wrote (the one holding the `statuspulse_client` package); see
generate_client.sh. The script talks to the server ONLY through the generated
typed functions and models, as an integrator would, and checks status codes and
typed fields on the way:

  list scopes -> create a service account (Idempotency-Key, and its replay) ->
  get it -> update it -> a duplicate name (409) and a malformed name (422) come
  back as typed Problems -> create an environment cluster and a role binding ->
  effective access -> create an API key for the service account -> verify the
  new key with a client authenticated by it -> rotate it (the old key stops,
  the successor works) -> revoke the successor -> list audit events and verify
  the hash chain -> delete everything it created.

Every client is built with raise_on_unexpected_status=True, so a status code
the document does not declare for an operation fails the run too.

Exits 0 and prints one summary line on success; exits 1 with a message on the
first failure (after a best-effort clean-up of what it created).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

if len(sys.argv) != 4:
    sys.stderr.write(__doc__ or "")
    sys.exit(2)

BASE_URL, ADMIN_KEY, CLIENT_DIR = sys.argv[1].rstrip("/"), sys.argv[2].strip(), sys.argv[3]
sys.path.insert(0, os.path.abspath(CLIENT_DIR))

# Only the generated package from here on (no raw httpx).
from statuspulse_client import AuthenticatedClient  # noqa: E402
from statuspulse_client.api.access import (  # noqa: E402
    create_environment_cluster,
    create_role_binding,
    delete_environment_cluster,
    delete_role_binding,
    get_effective_access,
)
from statuspulse_client.api.api_keys import (  # noqa: E402
    create_api_key,
    get_api_key,
    revoke_api_key,
    rotate_api_key,
)
from statuspulse_client.api.audit import list_audit_events, verify_audit_chain  # noqa: E402
from statuspulse_client.api.scopes import list_scopes  # noqa: E402
from statuspulse_client.api.service_accounts import (  # noqa: E402
    create_service_account,
    delete_service_account,
    get_service_account,
    update_service_account,
)
from statuspulse_client.api.verification import verify_credential  # noqa: E402
from statuspulse_client.errors import UnexpectedStatus  # noqa: E402
from statuspulse_client.models import (  # noqa: E402
    ApiKeyView,
    ChainReport,
    CreateApiKey,
    CreatedApiKey,
    CreateEnvironmentCluster,
    CreateRoleBinding,
    CreateServiceAccount,
    EffectiveAccess,
    Environment,
    EnvironmentCluster,
    KeyStatus,
    PageAuditEvent,
    Problem,
    RevokeApiKey,
    RoleBinding,
    RotateApiKey,
    Scope,
    ScopeCatalog,
    ServiceAccount,
    UpdateServiceAccount,
    VerifiedCredential,
)
from statuspulse_client.types import Response  # noqa: E402

T = TypeVar("T")


class SmokeFailure(Exception):
    pass


def fail(msg: str) -> NoReturn:
    raise SmokeFailure(msg)


def check(cond: bool, msg: str) -> None:
    if not cond:
        fail(msg)


def expect(step: str, resp: Response[Any], status: int, model: type[T]) -> T:
    """The answer has `status` and parsed into `model`; returns the model."""
    body = resp.content.decode(errors="replace")[:500]
    if int(resp.status_code) != status:
        fail(f"{step}: expected HTTP {status}, got {int(resp.status_code)}: {body}")
    if not isinstance(resp.parsed, model):
        fail(f"{step}: expected a parsed {model.__name__}, got {type(resp.parsed).__name__}: {body}")
    return resp.parsed


def expect_no_content(step: str, resp: Response[Any]) -> None:
    if int(resp.status_code) != 204:
        body = resp.content.decode(errors="replace")[:500]
        fail(f"{step}: expected HTTP 204, got {int(resp.status_code)}: {body}")


def expect_problem(step: str, resp: Response[Any], status: int, code: str) -> Problem:
    problem = expect(step, resp, status, Problem)
    check(problem.code == code, f"{step}: expected Problem code {code!r}, got {problem.code!r} ({problem.detail})")
    check(problem.status == status, f"{step}: Problem.status {problem.status} != HTTP {status}")
    check(
        problem.type_ == f"urn:statuspulse:problem:{code}",
        f"{step}: Problem.type_ {problem.type_!r} does not match its code",
    )
    return problem


def client_for(token: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=BASE_URL, token=token, raise_on_unexpected_status=True, timeout=None)


def main(cleanup: list[tuple[str, Callable[[], Any]]]) -> str:
    admin = client_for(ADMIN_KEY)
    run = uuid.uuid4().hex[:10]
    steps = 0

    # 1. The scope catalog.
    catalog = expect("list scopes", list_scopes.sync_detailed(client=admin), 200, ScopeCatalog)
    names = [s.name for s in catalog.items]
    check("read:checks" in names, f"list scopes: read:checks missing from {names}")
    check(
        {s.value for s in Scope} == set(names),
        f"list scopes: catalog {sorted(names)} differs from the document's scope enum "
        f"{sorted(s.value for s in Scope)}",
    )
    steps += 1

    # 2. Create a service account, with an Idempotency-Key, and replay it.
    sa_name = f"smoke-{run}"
    idem = str(uuid.uuid4())
    create_body = CreateServiceAccount(name=sa_name, description="openapi-python-client smoke")
    sa = expect(
        "create service account",
        create_service_account.sync_detailed(client=admin, body=create_body, idempotency_key=idem),
        201,
        ServiceAccount,
    )
    cleanup.append(("delete service account", lambda: delete_service_account.sync_detailed(sa.id, client=admin)))
    check(sa.id.startswith("sa_"), f"create service account: id {sa.id!r} does not start with sa_")
    check(sa.name == sa_name, f"create service account: name {sa.name!r} != {sa_name!r}")
    check(sa.workspace_id.startswith("ws_"), f"create service account: workspace_id {sa.workspace_id!r}")
    replay = create_service_account.sync_detailed(client=admin, body=create_body, idempotency_key=idem)
    replayed = expect("replay create service account", replay, 201, ServiceAccount)
    check(replayed.id == sa.id, f"idempotent replay created a new account {replayed.id} (first {sa.id})")
    check(
        replay.headers.get("Idempotency-Replayed", "").lower() == "true",
        f"idempotent replay: no 'Idempotency-Replayed: true' header ({dict(replay.headers)})",
    )
    steps += 1

    # 3. Get it, update it.
    got = expect("get service account", get_service_account.sync_detailed(sa.id, client=admin), 200, ServiceAccount)
    check(got.id == sa.id and got.name == sa_name, f"get service account: got {got}")
    new_description = f"updated by smoke {run}"
    updated = expect(
        "update service account",
        update_service_account.sync_detailed(sa.id, client=admin, body=UpdateServiceAccount(description=new_description)),
        200,
        ServiceAccount,
    )
    check(updated.description == new_description, f"update service account: description {updated.description!r}")
    check(updated.name == sa_name, f"update service account: name changed to {updated.name!r}")
    steps += 1

    # 4. Bad requests come back as typed Problems.
    expect_problem(
        "duplicate service account name",
        create_service_account.sync_detailed(client=admin, body=CreateServiceAccount(name=sa_name)),
        409,
        "name_taken",
    )
    expect_problem(
        "malformed service account name",
        create_service_account.sync_detailed(client=admin, body=CreateServiceAccount(name="bad\u0000name")),
        422,
        "control_character",
    )
    steps += 1

    # 5. An environment cluster and a role binding granting read:checks there.
    cluster = expect(
        "create environment cluster",
        create_environment_cluster.sync_detailed(
            client=admin,
            body=CreateEnvironmentCluster(
                environment=Environment.LIVE, name=f"smoke-{run}", description="smoke"
            ),
            idempotency_key=str(uuid.uuid4()),
        ),
        201,
        EnvironmentCluster,
    )
    cleanup.append(
        ("delete environment cluster", lambda: delete_environment_cluster.sync_detailed(cluster.id, client=admin))
    )
    check(cluster.id.startswith("ec_"), f"create environment cluster: id {cluster.id!r}")
    check(cluster.environment == "live", f"create environment cluster: environment {cluster.environment!r}")

    # A key asking for a scope no binding grants is refused (and tells why).
    expect_problem(
        "key beyond the role bindings",
        create_api_key.sync_detailed(
            client=admin,
            body=CreateApiKey(
                environment=Environment.LIVE,
                name=f"smoke-{run}-refused",
                scopes=[Scope.READCHECKS],
                service_account_id=sa.id,
            ),
        ),
        422,
        "scopes_exceed_bindings",
    )

    binding = expect(
        "create role binding",
        create_role_binding.sync_detailed(
            client=admin,
            body=CreateRoleBinding(
                scopes=[Scope.READCHECKS],
                service_account_id=sa.id,
                environment_clusters=[cluster.name],
            ),
            idempotency_key=str(uuid.uuid4()),
        ),
        201,
        RoleBinding,
    )
    cleanup.append(("delete role binding", lambda: delete_role_binding.sync_detailed(binding.id, client=admin)))
    check(binding.id.startswith("rb_"), f"create role binding: id {binding.id!r}")
    check(binding.service_account_id == sa.id, f"create role binding: service_account_id {binding.service_account_id!r}")
    check(binding.scopes == ["read:checks"], f"create role binding: scopes {binding.scopes!r}")

    access = expect(
        "effective access",
        get_effective_access.sync_detailed(client=admin, service_account_id=sa.id),
        200,
        EffectiveAccess,
    )
    check(access.principal_type == "service_account", f"effective access: principal_type {access.principal_type!r}")
    check(access.principal_id == sa.id, f"effective access: principal_id {access.principal_id!r}")
    check(
        isinstance(access.scopes, list) and "read:checks" in access.scopes,
        f"effective access: scopes {access.scopes!r}",
    )
    steps += 1

    # 6. An API key for the service account, narrowed to the cluster.
    key = expect(
        "create api key",
        create_api_key.sync_detailed(
            client=admin,
            body=CreateApiKey(
                environment=Environment.LIVE,
                name=f"smoke-{run}",
                scopes=[Scope.READCHECKS],
                service_account_id=sa.id,
                environment_clusters=[cluster.name],
                expires_in_days=1,
            ),
            idempotency_key=str(uuid.uuid4()),
        ),
        201,
        CreatedApiKey,
    )
    cleanup.append(
        ("revoke api key", lambda: revoke_api_key.sync_detailed(client=admin, body=RevokeApiKey(id=key.id)))
    )
    check(key.id.startswith("key_"), f"create api key: id {key.id!r}")
    check(key.key.startswith("sp_live_"), "create api key: the secret does not start with sp_live_")
    check(key.key_id in key.key, "create api key: key_id is not embedded in the key")
    check(key.status == KeyStatus.ACTIVE, f"create api key: status {key.status!r}")
    check(key.service_account_id == sa.id, f"create api key: service_account_id {key.service_account_id!r}")
    check(key.scopes == ["read:checks"], f"create api key: scopes {key.scopes!r}")
    check(key.environment_clusters == [cluster.name], f"create api key: clusters {key.environment_clusters!r}")
    steps += 1

    # 7. Verify the new key with a client authenticated by it.
    as_key = client_for(key.key)
    verified = expect(
        "verify new key",
        verify_credential.sync_detailed(client=as_key, scope=Scope.READCHECKS, cluster=cluster.name),
        200,
        VerifiedCredential,
    )
    check(verified.principal.type_ == "service_account", f"verify new key: principal {verified.principal}")
    check(verified.principal.id == sa.id, f"verify new key: principal id {verified.principal.id!r}")
    check(verified.scopes == ["read:checks"], f"verify new key: scopes {verified.scopes!r}")
    check(verified.key_id == key.key_id, f"verify new key: key_id {verified.key_id!r} != {key.key_id!r}")
    check(verified.workspace_id == sa.workspace_id, f"verify new key: workspace {verified.workspace_id!r}")
    check(verified.environment == "live", f"verify new key: environment {verified.environment!r}")
    # The key was granted read:checks only: asking for more is refused.
    denied = verify_credential.sync_detailed(client=as_key, scope=Scope.WRITECHECKS)
    denied_problem = expect("verify new key for an ungranted scope", denied, 403, Problem)
    check(bool(denied_problem.code), "verify new key for an ungranted scope: empty Problem code")
    steps += 1

    # 8. Rotate it with no grace: the old key stops, the successor works.
    successor = expect(
        "rotate api key",
        rotate_api_key.sync_detailed(
            key.id, client=admin, body=RotateApiKey(grace_period_hours=0), idempotency_key=str(uuid.uuid4())
        ),
        201,
        CreatedApiKey,
    )
    cleanup.append(
        ("revoke successor key", lambda: revoke_api_key.sync_detailed(client=admin, body=RevokeApiKey(id=successor.id)))
    )
    check(successor.id.startswith("key_") and successor.id != key.id, f"rotate api key: successor id {successor.id!r}")
    check(successor.key != key.key, "rotate api key: the successor's secret equals the old one")
    check(successor.service_account_id == sa.id, f"rotate api key: successor service_account_id {successor.service_account_id!r}")
    old_view = expect("get rotated key", get_api_key.sync_detailed(key.id, client=admin), 200, ApiKeyView)
    check(old_view.successor_id == successor.id, f"get rotated key: successor_id {old_view.successor_id!r}")
    check(
        old_view.status in (KeyStatus.REVOKED, KeyStatus.ROTATING),
        f"get rotated key: status {old_view.status!r}",
    )
    old_verify = verify_credential.sync_detailed(client=as_key)
    expect("verify rotated-out key", old_verify, 401, Problem)
    as_successor = client_for(successor.key)
    verified2 = expect(
        "verify successor key",
        verify_credential.sync_detailed(client=as_successor, scope=Scope.READCHECKS, cluster=cluster.name),
        200,
        VerifiedCredential,
    )
    check(verified2.key_id == successor.key_id, f"verify successor key: key_id {verified2.key_id!r}")
    steps += 1

    # 9. Revoke the successor: it stops working.
    revoked = expect(
        "revoke api key",
        revoke_api_key.sync_detailed(client=admin, body=RevokeApiKey(id=successor.id, reason="client smoke test")),
        200,
        ApiKeyView,
    )
    check(revoked.id == successor.id, f"revoke api key: id {revoked.id!r}")
    check(revoked.status == KeyStatus.REVOKED, f"revoke api key: status {revoked.status!r}")
    check(revoked.revocation_reason == "client smoke test", f"revoke api key: reason {revoked.revocation_reason!r}")
    expect("verify revoked key", verify_credential.sync_detailed(client=as_successor), 401, Problem)
    steps += 1

    # 10. Audit: the events about the service account, and the chain.
    page = expect(
        "list audit events",
        list_audit_events.sync_detailed(client=admin, target_id=sa.id, limit=100),
        200,
        PageAuditEvent,
    )
    check(len(page.items) > 0, f"list audit events: none for target {sa.id}")
    seqs = [e.seq for e in page.items]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"list audit events: seq not increasing: {seqs}")
    for event in page.items:
        check(event.event_id.startswith("evt_"), f"list audit events: event_id {event.event_id!r}")
        check(event.workspace_id == sa.workspace_id, f"list audit events: workspace {event.workspace_id!r}")
        check(event.outcome in ("success", "failure"), f"list audit events: outcome {event.outcome!r}")
        check(len(event.hash_) > 0 and len(event.prev_hash) > 0, "list audit events: empty hash")
    types = {e.event_type for e in page.items}
    check(
        any(t.startswith("service_account.") for t in types),
        f"list audit events: no service_account.* event for {sa.id} (types: {sorted(types)})",
    )
    chain = expect("verify audit chain", verify_audit_chain.sync_detailed(client=admin), 200, ChainReport)
    check(chain.valid is True, f"verify audit chain: not valid, first broken seq {chain.first_broken_seq!r}")
    check(chain.events_checked >= len(page.items), f"verify audit chain: only {chain.events_checked} events checked")
    check(chain.head_seq >= max(seqs), f"verify audit chain: head_seq {chain.head_seq} < listed seq {max(seqs)}")
    steps += 1

    # 11. Clean up, in order: keys are revoked already; binding, cluster, account.
    cleanup.clear()
    expect_no_content("delete role binding", delete_role_binding.sync_detailed(binding.id, client=admin))
    expect_no_content("delete environment cluster", delete_environment_cluster.sync_detailed(cluster.id, client=admin))
    expect_no_content("delete service account", delete_service_account.sync_detailed(sa.id, client=admin))
    expect_problem(
        "get deleted service account", get_service_account.sync_detailed(sa.id, client=admin), 404, "not_found"
    )
    steps += 1

    return (
        f"client smoke OK: {steps} steps against {BASE_URL}; service account {sa.id}, key {key.key_id} "
        f"rotated to {successor.key_id} and revoked, {len(page.items)} audit events for it, "
        f"chain valid at seq {chain.head_seq}"
    )


def run() -> int:
    cleanup: list[tuple[str, Callable[[], Any]]] = []
    try:
        summary = main(cleanup)
    except (SmokeFailure, UnexpectedStatus) as exc:
        print(f"client smoke FAILED: {exc}", file=sys.stderr)
        for what, undo in reversed(cleanup):  # best effort
            try:
                undo()
            except Exception as undo_exc:  # noqa: BLE001
                print(f"  (clean-up {what} failed: {undo_exc})", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(run())
