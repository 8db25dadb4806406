"""What scripts/tf-bench.py and scripts/tf-bench-ab.py share: a fresh server, a Terraform CLI
configuration whose dev override points at one provider build, timed Terraform runs, and the
benchmark's configurations."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path


def start_server(server_bin, work):
    """Fresh SQLite server in `work` on port 0 with its bootstrap admin key: (process, url, key)."""
    env = dict(os.environ, STATUSPULSE_DATABASE_URL=f"sqlite://{work}/bench.db?mode=rwc", NO_COLOR="1")
    key = subprocess.run(
        [server_bin, "bootstrap", "--workspace-name", "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    env["STATUSPULSE_LISTEN"] = "127.0.0.1:0"
    log = open(work / "server.log", "w")
    proc = subprocess.Popen([server_bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        match = re.search(r"listening on (http://[0-9.:]+)", (work / "server.log").read_text())
        if match:
            return proc, match.group(1), key
        time.sleep(0.1)
    raise SystemExit("server did not start; see " + str(work / "server.log"))


def provider_env(work, name, provider_bin, tools, url, key):
    """The environment for Terraform runs with `provider_bin` (copied to a plugin folder of its
    own, named `name`) and the null provider from the tools' mirror: (env, copied binary)."""
    plugins = work / f"plugins-{name}"
    plugins.mkdir()
    provider = plugins / "terraform-provider-statuspulse"
    shutil.copy(provider_bin, provider)
    cli_config = work / f"terraformrc-{name}"
    cli_config.write_text(f"""
provider_installation {{
  dev_overrides {{
    "statuspulse/statuspulse" = "{plugins}"
  }}
  filesystem_mirror {{
    path    = "{Path(tools) / 'mirror'}"
    include = ["registry.terraform.io/hashicorp/null"]
  }}
}}
""")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), CHECKPOINT_DISABLE="1",
               TF_IN_AUTOMATION="1", STATUSPULSE_ENDPOINT=url, STATUSPULSE_API_KEY=key)
    return env, provider


def terraform(binary, path, env, *args):
    """Runs `terraform ARGS -no-color -input=false` in `path`; its wall time in seconds. A plan
    must change nothing (exit 0 with -detailed-exitcode); anything else that fails stops all."""
    started = time.perf_counter()
    run = subprocess.run([binary, *args, "-no-color", "-input=false"], cwd=path, env=env,
                         capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode not in (0, 2) or (args[0] == "plan" and run.returncode != 0):
        raise SystemExit(f"terraform {' '.join(args)} in {path} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return elapsed


NULL_HEAD = 'terraform {\n  required_providers {\n    null = { source = "hashicorp/null", version = "2.1.2" }\n  }\n}\n'
STATUSPULSE_HEAD = 'terraform {\n  required_providers {\n    statuspulse = { source = "statuspulse/statuspulse" }\n  }\n}\n'

# A key's 20 attribute names with values of a key's lengths: the null provider holding these as
# triggers keeps as much state as an API key (618 bytes against a key's 583).
KEY_SIZED_TRIGGERS = {
    "alert_route_ids": "", "check_group_ids": "", "created_at": "2026-11-30T19:43:43.772Z",
    "environment": "live", "environment_clusters": "", "expires_at": "2027-11-30T19:43:43.772Z",
    "expires_in_days": "365", "id": "key_01a22dfc109c723cb128b1a23948e9ee", "keepers": "",
    "key": "sp_live_" + "x" * 64, "key_id": "YMwOetviVTNjtx_j", "name": "bench-${count.index}",
    "revoke_grace_period_hours": "24", "rotate_after": "2027-02-28T19:43:43.772Z",
    "rotation_days": "90", "rotation_due": "false", "scopes": "read:checks", "secret_store": "",
    "service_account_id": "", "status": "active",
}


def null_config(count, triggers=None):
    body = ""
    if triggers:
        lines = "\n".join(f'    {name} = "{value}"' for name, value in triggers.items())
        body = f"  triggers = {{\n{lines}\n  }}\n"
    return NULL_HEAD + f'resource "null_resource" "n" {{\n  count = {count}\n{body}}}\n'


def service_account_config(count):
    return STATUSPULSE_HEAD + (f'resource "statuspulse_service_account" "sa" {{\n  count = {count}\n'
                               '  name  = "bench-${count.index}"\n}\n')


def api_key_config(count):
    return STATUSPULSE_HEAD + (f'resource "statuspulse_api_key" "k" {{\n  count = {count}\n'
                               '  name        = "bench-${count.index}"\n  environment = "live"\n'
                               '  scopes      = ["read:checks"]\n}\n')


def workdir(work, name, config):
    """A folder `name` in `work` holding `config` as main.tf."""
    path = work / name
    path.mkdir()
    (path / "main.tf").write_text(config)
    return path
