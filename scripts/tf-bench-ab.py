#!/usr/bin/env python3
"""A/B benchmark of two provider builds: no-op `terraform plan`s of COUNT statuspulse_api_key
against one state, alternating old, new, old, new, ... with the Go null provider's plan of
COUNT null_resource beside them, so that a shared machine's drift falls on both builds alike.

For a change that lightens Terraform's side of a plan (an encoding, the private state), whose
effect of a few percent a single tf-bench run cannot separate from drift. The state is created
once, with OLD; both builds must read it (same schema version).

Usage: tf-bench-ab.py SERVER_BIN OLD_PROVIDER NEW_PROVIDER TERRAFORM_BIN TOOLS_DIR [COUNT]
Invoked by scripts/tf-bench-ab.sh, which builds the server and installs what it needs.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_BIN, OLD, NEW, TERRAFORM_BIN, TOOLS = (Path(a) for a in sys.argv[1:6])
COUNT = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
RUNS = int(os.environ.get("TF_BENCH_PLAN_RUNS", "5"))
WORK = Path(tempfile.mkdtemp(prefix="statuspulse-bench-ab-"))


def start_server():
    env = dict(os.environ, STATUSPULSE_DATABASE_URL=f"sqlite://{WORK}/bench.db?mode=rwc", NO_COLOR="1")
    key = subprocess.run([SERVER_BIN, "bootstrap", "--workspace-name", "bench"],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    env["STATUSPULSE_LISTEN"] = "127.0.0.1:0"
    log = open(WORK / "server.log", "w")
    proc = subprocess.Popen([SERVER_BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        match = re.search(r"listening on (http://[0-9.:]+)", (WORK / "server.log").read_text())
        if match:
            return proc, match.group(1), key
        time.sleep(0.1)
    raise SystemExit("server did not start; see " + str(WORK / "server.log"))


def environment(name, provider, url, key):
    """A Terraform environment whose dev override points at `provider`."""
    plugins = WORK / f"plugins-{name}"
    plugins.mkdir()
    shutil.copy(provider, plugins / "terraform-provider-statuspulse")
    rc = WORK / f"terraformrc-{name}"
    rc.write_text(f"""
provider_installation {{
  dev_overrides {{
    "statuspulse/statuspulse" = "{plugins}"
  }}
  filesystem_mirror {{
    path    = "{TOOLS / 'mirror'}"
    include = ["registry.terraform.io/hashicorp/null"]
  }}
}}
""")
    return dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1",
                STATUSPULSE_ENDPOINT=url, STATUSPULSE_API_KEY=key)


def terraform(path, env, *args):
    started = time.perf_counter()
    run = subprocess.run([TERRAFORM_BIN, *args, "-no-color", "-input=false"], cwd=path, env=env,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"terraform {' '.join(args)} in {path} failed:\n{run.stdout}\n{run.stderr}")
    return time.perf_counter() - started


def main():
    server, url, key = start_server()
    try:
        old, new = environment("old", OLD, url, key), environment("new", NEW, url, key)
        null_dir, key_dir = WORK / "null", WORK / "api_keys"
        null_dir.mkdir()
        key_dir.mkdir()
        (null_dir / "main.tf").write_text(
            'terraform {\n  required_providers {\n    null = { source = "hashicorp/null", version = "2.1.2" }\n  }\n}\n'
            f'resource "null_resource" "n" {{\n  count = {COUNT}\n}}\n')
        (key_dir / "main.tf").write_text(
            'terraform {\n  required_providers {\n    statuspulse = { source = "statuspulse/statuspulse" }\n  }\n}\n'
            f'resource "statuspulse_api_key" "k" {{\n  count = {COUNT}\n'
            '  name        = "bench-${count.index}"\n  environment = "live"\n'
            '  scopes      = ["read:checks"]\n}\n')
        terraform(null_dir, old, "init")
        terraform(null_dir, old, "apply", "-auto-approve")
        terraform(key_dir, old, "apply", "-auto-approve")
        # Written once more by NEW, as its users' states would be after their first apply.
        terraform(key_dir, new, "apply", "-refresh-only", "-auto-approve")
        plans = {"null": [], "old": [], "new": []}
        for _ in range(RUNS):
            plans["null"].append(terraform(null_dir, old, "plan", "-detailed-exitcode"))
            plans["old"].append(terraform(key_dir, old, "plan", "-detailed-exitcode"))
            plans["new"].append(terraform(key_dir, new, "plan", "-detailed-exitcode"))
        terraform(key_dir, new, "destroy", "-auto-approve")
    finally:
        server.terminate()
        server.wait()

    median = {name: statistics.median(times) for name, times in plans.items()}
    print(f"\nno-op plan of {COUNT} API keys, median of {RUNS} alternating runs against one state")
    for name, label in (("null", "null_resource (baseline)"), ("old", str(OLD)), ("new", str(NEW))):
        runs = ", ".join(f"{t:.2f}" for t in plans[name])
        print(f"{label:<60} {median[name]:6.2f} s  x{median[name] / median['null']:.2f}  ({runs})")
    print(f"new vs old: {median['new'] / median['old']:.3f}")


if __name__ == "__main__":
    main()
